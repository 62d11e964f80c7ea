// The Helm chart (charts/hami): `helm lint --strict` and `helm template` with the default values
// and every charts/hami/ci/*-values.yaml; each rendering passes the checks tests/deploy applies
// to deploy/ (manifest_checks.h), renders what its values file is for, and the renderings with a
// kustomize equivalent describe the same objects as `kubectl kustomize` of it (manifest_diff.h).
// Also: values.schema.json refuses wrong values naming the key, and the chart's copy of
// gen-certs.sh is deploy/base's.
//
// Needs helm ($HAMI_HELM, <build>/tools/helm, <source>/build/tools/helm or PATH; installed by
// scripts/install-deps.sh); without it these tests skip. The diff also needs kubectl.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/deploy/deploy_support.h"
#include "tests/deploy/manifest_checks.h"
#include "tests/deploy/manifest_diff.h"

namespace hami::deploy {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = HAMI_SOURCE_DIR;
const fs::path kChart = kSourceDir / "charts/hami";
const std::string kNamespace = "hami-system";

// One values file of the matrix. `overlay`: the kustomization that must render the same objects
// (empty: none). `external`: Secrets the install expects to be made outside the chart.
struct ValuesCase {
  std::string name;         // test name; "default" for the chart's own values
  std::string values_file;  // relative to the chart; empty for the defaults
  std::string overlay;
  ExternalSecrets external;
};

void PrintTo(const ValuesCase& values, std::ostream* out) {
  *out << (values.values_file.empty() ? "values.yaml" : values.values_file);
}

const std::vector<ValuesCase> kCases = {
    {"default", "", "deploy/base", {}},
    {"no_webhook", "ci/no-webhook-values.yaml", "deploy/overlays/no-webhook", {}},
    {"custom_resource_names",
     "ci/custom-resource-names-values.yaml",
     "deploy/overlays/custom-resource-names",
     {}},
    {"policies", "ci/policies-values.yaml", "deploy/overlays/scheduler-policy", {}},
    {"hami_frag", "ci/hami-frag-values.yaml", "", {}},
    {"web_ui", "ci/web-ui-values.yaml", "deploy/overlays/web-ui", {}},
    {"prometheus_operator",
     "ci/prometheus-operator-values.yaml",
     "deploy/overlays/prometheus-operator",
     {}},
    {"heterogeneous", "ci/heterogeneous-values.yaml", "deploy/overlays/heterogeneous", {}},
    // The user's Secret (kubernetes.io/tls keys).
    {"existing_tls_secret",
     "ci/existing-tls-secret-values.yaml",
     "",
     {{"hami-system/my-hami-tls", {"tls.crt", "tls.key"}}}},
    // cert-manager writes the rendered Certificate's secretName (ca.crt, tls.crt, tls.key).
    {"cert_manager",
     "ci/cert-manager-values.yaml",
     "",
     {{"hami-system/hami-scheduler-tls", {"ca.crt", "tls.crt", "tls.key"}}}},
};

std::string Helm() { return FindHelm(kSourceDir, HAMI_BINARY_DIR); }

#define SKIP_WITHOUT_HELM()                                                                   \
  if (Helm().empty()) {                                                                       \
    GTEST_SKIP() << "no helm ($HAMI_HELM, " HAMI_BINARY_DIR                                   \
                    "/tools/helm, build/tools/helm or "                                       \
                    "PATH; scripts/install-deps.sh installs it): charts/hami is not checked"; \
  }

std::string ValuesArgs(const std::string& values_file) {
  return values_file.empty() ? std::string() : " -f " + ShellQuote((kChart / values_file).string());
}

struct Rendering {
  std::string error;  // empty: rendered
  Objects objects;
};

Rendering Parse(const CommandResult& result, const std::string& what) {
  Rendering rendering;
  if (result.exit_code != 0) {
    rendering.error = what + " failed (" + std::to_string(result.exit_code) + "): " + result.err;
    return rendering;
  }
  try {
    rendering.objects = ParseDocuments(result.out);
  } catch (const YAML::Exception& e) {
    rendering.error = what + " printed no YAML: " + e.what();
  }
  return rendering;
}

// `helm template hami charts/hami -n hami-system [-f values] [extra]`, once per argument list.
const Rendering& HelmTemplate(const std::string& values_file, const std::string& extra = "") {
  static std::map<std::string, Rendering> cache;
  const std::string args = ValuesArgs(values_file) + extra;
  auto it = cache.find(args);
  if (it != cache.end()) return it->second;
  const std::string command = ShellQuote(Helm()) + " template hami " + ShellQuote(kChart.string()) +
                              " -n " + kNamespace + args;
  return cache.emplace(args, Parse(RunCommand(command), "helm template" + args)).first->second;
}

const Rendering& Kustomize(const std::string& dir) {
  static std::map<std::string, Rendering> cache;
  auto it = cache.find(dir);
  if (it != cache.end()) return it->second;
  const std::string command =
      ShellQuote(FindKubectl()) + " kustomize " + ShellQuote((kSourceDir / dir).string());
  return cache.emplace(dir, Parse(RunCommand(command), "kubectl kustomize " + dir)).first->second;
}

std::string Str(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string();
}

// The extender's managedResources in the rendered KubeSchedulerConfiguration.
std::set<std::string> ManagedResources(const Objects& objects) {
  std::set<std::string> names;
  for (const YAML::Node& map : OfKind(objects, "ConfigMap")) {
    if (Str(map["metadata"]["name"]) != "hami-scheduler-config") continue;
    const YAML::Node config = YAML::Load(Str(map["data"]["config.yaml"]));
    for (const YAML::Node& extender : config["extenders"]) {
      for (const YAML::Node& resource : extender["managedResources"]) {
        names.insert(Str(resource["name"]));
      }
    }
  }
  return names;
}

YAML::Node DeviceConfig(const Objects& objects) {
  Problems problems;
  const std::string text = MountedDeviceConfig(objects, &problems);
  EXPECT_TRUE(problems.empty()) << Join(problems);
  return YAML::Load(text);
}

// The Secret names of the hami-scheduler Deployment's secret volumes.
std::set<std::string> SchedulerSecretVolumes(const Objects& objects) {
  std::set<std::string> names;
  for (const YAML::Node& deployment : OfKind(objects, "Deployment")) {
    for (const YAML::Node& volume : deployment["spec"]["template"]["spec"]["volumes"]) {
      if (volume["secret"]) names.insert(Str(volume["secret"]["secretName"]));
    }
  }
  return names;
}

class ChartTest : public ::testing::TestWithParam<ValuesCase> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_HELM();
    const Rendering& rendering = HelmTemplate(GetParam().values_file);
    ASSERT_TRUE(rendering.error.empty()) << rendering.error;
    ASSERT_FALSE(rendering.objects.empty());
    objects_ = &rendering.objects;
  }

  const Objects& objects() const { return *objects_; }

 private:
  const Objects* objects_ = nullptr;
};

TEST_P(ChartTest, LintsStrictly) {
  const CommandResult result =
      RunCommand(ShellQuote(Helm()) + " lint --strict " + ShellQuote(kChart.string()) +
                 ValuesArgs(GetParam().values_file));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

TEST_P(ChartTest, EveryContainerHasRequestsAndLimits) {
  const Problems problems = CheckResources(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, SecurityContextsDropEverythingTheyCan) {
  const Problems problems = CheckSecurityContexts(objects(), kNonRootImages);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, RbacRulesAreOnlyWhatTheCodeCalls) {
  const Problems problems = CheckRbacRules(objects(), kGrants);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, ServiceAccountsExistAndAreBound) {
  const Problems problems = CheckServiceAccounts(objects(), kBuiltinClusterRoles);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, PortsMatchTheListeners) {
  const Problems problems = CheckPorts(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, OurBinariesAcceptEveryFlag) {
  const std::string scheduler = Help(HAMI_SCHEDULER_BIN);
  const std::string plugin = Help(HAMI_DEVICE_PLUGIN_BIN);
  const std::string monitor = Help(HAMI_MONITOR_BIN);
  ASSERT_NE(scheduler.find("--http_bind"), std::string::npos) << HAMI_SCHEDULER_BIN " --help";
  ASSERT_NE(plugin.find("--resource-name"), std::string::npos) << HAMI_DEVICE_PLUGIN_BIN " --help";
  ASSERT_NE(monitor.find("--metrics-bind-address"), std::string::npos) << HAMI_MONITOR_BIN;
  const Problems problems = CheckFlags(
      objects(),
      {{"hami-scheduler", scheduler}, {"hami-device-plugin", plugin}, {"hami-monitor", monitor}});
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, KubeSchedulerConfigIsValidAndCoversTheDeviceConfig) {
  Problems problems;
  const std::string text = MountedDeviceConfig(objects(), &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems);
  const std::set<std::string> names = DeviceConfigResourceNames(YAML::Load(text));
  EXPECT_GE(names.size(), 5u) << text;
  problems = CheckKubeSchedulerConfig(objects(), names);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, DeviceConfigIsValidAndMatchesTheDevicePlugin) {
  Problems problems;
  const std::string text = MountedDeviceConfig(objects(), &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems);
  problems = CheckDevicePluginResourceName(objects(), YAML::Load(text));
  EXPECT_TRUE(problems.empty()) << Join(problems);
  char path[] = "/tmp/hami-chart-device-config-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  const CommandResult result =
      RunCommand(ShellQuote(HAMI_CLI_BIN) + " config validate " + ShellQuote(path));
  unlink(path);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

TEST_P(ChartTest, WebhookCallsARenderedHttpsService) {
  const Problems problems = CheckWebhooks(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, VolumesReferToObjectsThatExist) {
  const Problems problems = CheckVolumes(objects(), GetParam().external);
  EXPECT_TRUE(problems.empty()) << Join(problems);
  // Each Secret allowed as external is really the one mounted (not a blanket exemption).
  for (const auto& [id, keys] : GetParam().external) {
    EXPECT_EQ(SchedulerSecretVolumes(objects()).count(id.substr(id.find('/') + 1)), 1u) << id;
  }
}

TEST_P(ChartTest, DaemonSetsRunOnGpuNodesOnly) {
  EXPECT_EQ(OfKind(objects(), "DaemonSet").size(), 2u);
  const Problems problems = CheckGpuNodeSelector(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(ChartTest, ImagesAreTheDockerfilesTargets) {
  const std::set<std::string> built = BuiltImages(kSourceDir);
  ASSERT_TRUE(built.count("hami-scheduler") != 0) << "docker/Dockerfile has no hami-scheduler";
  const Problems problems = CheckImages(objects(), built);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

// The release namespace holds everything; the chart makes no Namespace (helm install
// --create-namespace, or namespace.create) by default.
TEST_P(ChartTest, EverythingLivesInTheReleaseNamespace) {
  static const std::set<std::string> kClusterScoped = {
      "ClusterRole", "ClusterRoleBinding", "RuntimeClass", "MutatingWebhookConfiguration"};
  EXPECT_TRUE(OfKind(objects(), "Namespace").empty());
  for (const YAML::Node& object : objects()) {
    const std::string kind = Str(object["kind"]);
    if (kClusterScoped.count(kind) != 0) continue;
    EXPECT_EQ(Str(object["metadata"]["namespace"]), kNamespace)
        << kind << "/" << Str(object["metadata"]["name"]);
  }
}

TEST_P(ChartTest, DescribesTheSameObjectsAsItsKustomization) {
  if (GetParam().overlay.empty()) GTEST_SKIP() << "no kustomize equivalent";
  if (FindKubectl().empty()) GTEST_SKIP() << "no kubectl on PATH or $HAMI_KUBECTL";
  const Rendering& kustomize = Kustomize(GetParam().overlay);
  ASSERT_TRUE(kustomize.error.empty()) << kustomize.error;
  DiffOptions options;
  options.kustomize_only = {"Namespace/hami-system"};  // the chart leaves it to helm/the user
  const Problems problems = DiffRenderings(kustomize.objects, objects(), options);
  EXPECT_TRUE(problems.empty()) << GetParam().overlay << " vs helm template"
                                << ValuesArgs(GetParam().values_file) << ":" << Join(problems);
}

std::string CaseName(const ::testing::TestParamInfo<ValuesCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Helm, ChartTest, ::testing::ValuesIn(kCases), CaseName);

// Every ci values file is in the matrix above (a new one cannot go unchecked).
TEST(HelmChart, EveryCiValuesFileIsInTheMatrix) {
  std::set<std::string> listed;
  for (const ValuesCase& values : kCases) listed.insert(values.values_file);
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(kChart / "ci")) {
    ++seen;
    const std::string relative = "ci/" + entry.path().filename().string();
    EXPECT_EQ(listed.count(relative), 1u) << relative << " is not in kCases";
  }
  EXPECT_GE(seen, 8);
}

// The certificate Job's script: kustomize and helm cannot read outside their directories, so
// there are two copies, which must not drift.
TEST(HelmChart, GenCertsScriptIsDeployBasesCopy) {
  const std::string chart = ReadFile(kChart / "files/gen-certs.sh");
  const std::string base = ReadFile(kSourceDir / "deploy/base/gen-certs.sh");
  ASSERT_FALSE(base.empty());
  EXPECT_TRUE(chart == base) << "charts/hami/files/gen-certs.sh differs from "
                                "deploy/base/gen-certs.sh: cp deploy/base/gen-certs.sh "
                                "charts/hami/files/";
}

// Per values file: what it is for.
class ChartValuesTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_HELM(); }
  static const Objects& Rendered(const std::string& values_file) {
    const Rendering& rendering = HelmTemplate(values_file);
    EXPECT_TRUE(rendering.error.empty()) << rendering.error;
    return rendering.objects;
  }
};

TEST_F(ChartValuesTest, DefaultHasTheWebhookTheCertificateJobAndEveryGrant) {
  const Objects& objects = Rendered("");
  EXPECT_EQ(OfKind(objects, "MutatingWebhookConfiguration").size(), 1u);
  EXPECT_EQ(OfKind(objects, "Job").size(), 1u);
  EXPECT_TRUE(OfKind(objects, "ServiceMonitor").empty()) << "the default must install without CRDs";
  EXPECT_TRUE(OfKind(objects, "Certificate").empty());
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--http_bind=0.0.0.0:443"));
  EXPECT_TRUE(HasArg(line, "--cert_file=/tls/tls.crt"));
  const Problems problems = CheckRbacGrantsPresent(objects, kGrants);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_F(ChartValuesTest, NoWebhookHasNoWebhookNoJobAndPlainHttp) {
  const Objects& objects = Rendered("ci/no-webhook-values.yaml");
  EXPECT_TRUE(OfKind(objects, "MutatingWebhookConfiguration").empty());
  EXPECT_TRUE(OfKind(objects, "Job").empty());
  for (const YAML::Node& role : OfKind(objects, "Role")) {
    EXPECT_NE(Str(role["metadata"]["name"]), "hami-certgen") << "certificate RBAC without its Job";
  }
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--http_bind=0.0.0.0:80"));
  for (const std::string& arg : line) EXPECT_EQ(arg.find("--cert_file"), std::string::npos);
  EXPECT_TRUE(SchedulerSecretVolumes(objects).empty());
}

TEST_F(ChartValuesTest, CustomResourceNamesReachTheDeviceConfigAndManagedResources) {
  const Objects& objects = Rendered("ci/custom-resource-names-values.yaml");
  const YAML::Node config = DeviceConfig(objects);
  EXPECT_EQ(Str(config["nvidia"]["resourceCountName"]), "example.com/vgpu");
  EXPECT_EQ(Str(config["nvidia"]["resourceMemoryName"]), "example.com/vgpu-memory");
  EXPECT_EQ(Str(config["nvidia"]["resourceMemoryPercentageName"]),
            "example.com/vgpu-memory-percentage");
  EXPECT_EQ(Str(config["nvidia"]["resourceCoreName"]), "example.com/vgpu-cores");
  EXPECT_EQ(Str(config["nvidia"]["resourcePriorityName"]), "example.com/vgpu-priority");
  const std::set<std::string> managed = ManagedResources(objects);
  for (const char* name : {"example.com/vgpu", "example.com/vgpu-memory",
                           "example.com/vgpu-memory-percentage", "example.com/vgpu-cores"}) {
    EXPECT_EQ(managed.count(name), 1u) << name << " not in managedResources";
  }
  for (const std::string& name : managed) {
    EXPECT_NE(name.rfind("nvidia.com/", 0), 0u) << name << " still managed";
  }
  EXPECT_TRUE(
      HasArg(ContainerLine(objects, "hami-device-plugin"), "--resource-name=example.com/vgpu"));
}

TEST_F(ChartValuesTest, PoliciesSetTheSchedulerFlags) {
  auto line = ContainerLine(Rendered("ci/policies-values.yaml"), "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--node-scheduler-policy=spread"));
  EXPECT_TRUE(HasArg(line, "--gpu-scheduler-policy=binpack"));
  line = ContainerLine(Rendered("ci/hami-frag-values.yaml"), "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--node-scheduler-policy=hami-frag"));
  EXPECT_TRUE(HasArg(line, "--gpu-scheduler-policy=binpack,numa"));
  EXPECT_TRUE(HasArg(line, "--node-lock-timeout=2m"));
  // values.yaml's defaults (binpack, spread) are the binary's: no flag, as in deploy/base.
  const std::string help = Help(HAMI_SCHEDULER_BIN);
  EXPECT_NE(help.find("--node-scheduler-policy TEXT=binpack"), std::string::npos) << help;
  EXPECT_NE(help.find("--gpu-scheduler-policy TEXT=spread"), std::string::npos) << help;
  for (const std::string& arg : ContainerLine(Rendered(""), "hami-scheduler")) {
    EXPECT_EQ(arg.find("-scheduler-policy"), std::string::npos) << arg;
  }
}

TEST_F(ChartValuesTest, PrometheusOperatorScrapesBothMetricsServices) {
  const Objects& objects = Rendered("ci/prometheus-operator-values.yaml");
  const auto monitors = OfKind(objects, "ServiceMonitor");
  ASSERT_EQ(monitors.size(), 2u);
  for (const YAML::Node& monitor : monitors) {
    const std::string name = Str(monitor["metadata"]["name"]);
    EXPECT_EQ(Str(monitor["metadata"]["labels"]["release"]), "prometheus") << name;
    bool scraped = false;
    for (const YAML::Node& service : OfKind(objects, "Service")) {
      bool selected = true;
      for (const auto& label : monitor["spec"]["selector"]["matchLabels"]) {
        selected = selected && Str(service["metadata"]["labels"][label.first.as<std::string>()]) ==
                                   label.second.as<std::string>();
      }
      if (!selected) continue;
      for (const YAML::Node& endpoint : monitor["spec"]["endpoints"]) {
        for (const YAML::Node& port : service["spec"]["ports"]) {
          scraped = scraped || Str(port["name"]) == Str(endpoint["port"]);
        }
      }
    }
    EXPECT_TRUE(scraped) << "ServiceMonitor " << name << " selects no Service port";
  }
}

TEST_F(ChartValuesTest, ExistingTlsSecretIsMountedWithoutAJob) {
  const Objects& objects = Rendered("ci/existing-tls-secret-values.yaml");
  EXPECT_TRUE(OfKind(objects, "Job").empty());
  EXPECT_TRUE(OfKind(objects, "Certificate").empty());
  EXPECT_EQ(SchedulerSecretVolumes(objects), std::set<std::string>{"my-hami-tls"});
  const auto hooks = OfKind(objects, "MutatingWebhookConfiguration");
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(Str(hooks[0]["webhooks"][0]["clientConfig"]["caBundle"]),
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==");
  EXPECT_TRUE(HasArg(ContainerLine(objects, "hami-scheduler"), "--cert_file=/tls/tls.crt"));
}

TEST_F(ChartValuesTest, CertManagerIssuesTheMountedSecretAndInjectsTheCa) {
  const Objects& objects = Rendered("ci/cert-manager-values.yaml");
  EXPECT_TRUE(OfKind(objects, "Job").empty());
  const auto issuers = OfKind(objects, "Issuer");
  const auto certificates = OfKind(objects, "Certificate");
  ASSERT_EQ(issuers.size(), 1u);
  ASSERT_EQ(certificates.size(), 1u);
  const YAML::Node& certificate = certificates[0];
  EXPECT_EQ(Str(certificate["spec"]["issuerRef"]["name"]), Str(issuers[0]["metadata"]["name"]));
  EXPECT_EQ(SchedulerSecretVolumes(objects),
            std::set<std::string>{Str(certificate["spec"]["secretName"])});
  bool names_service = false;
  for (const YAML::Node& dns : certificate["spec"]["dnsNames"]) {
    names_service = names_service || Str(dns) == "hami-scheduler.hami-system.svc";
  }
  EXPECT_TRUE(names_service) << "the webhook calls hami-scheduler.hami-system.svc";
  const auto hooks = OfKind(objects, "MutatingWebhookConfiguration");
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(Str(hooks[0]["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]),
            "hami-system/" + Str(certificate["metadata"]["name"]));
}

TEST_F(ChartValuesTest, HeterogeneousEnablesEveryVendor) {
  const Objects& objects = Rendered("ci/heterogeneous-values.yaml");
  const YAML::Node config = DeviceConfig(objects);
  for (const char* section :
       {"nvidia", "cambricon", "hygon", "metax", "enflame", "mthreads", "iluvatars", "kunlun",
        "awsneuron", "amd", "vastai", "biren", "vnpus"}) {
    EXPECT_TRUE(config[section].IsDefined()) << "no " << section << " section";
  }
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--enable-iluvatar"));
  EXPECT_TRUE(HasArg(line, "--enable-ascend"));
  EXPECT_EQ(ManagedResources(objects), DeviceConfigResourceNames(config));
}

// values.schema.json: a wrong value fails `helm template` with a message naming its key.
struct BadValue {
  std::string set;  // the --set argument
  std::string key;  // what the message must name (schema path)
};

void PrintTo(const BadValue& bad, std::ostream* out) { *out << "--set " << bad.set; }

class ChartSchemaTest : public ::testing::TestWithParam<BadValue> {
 protected:
  void SetUp() override { SKIP_WITHOUT_HELM(); }
};

TEST_P(ChartSchemaTest, RefusesWithTheKeyInTheMessage) {
  const CommandResult result =
      RunCommand(ShellQuote(Helm()) + " template hami " + ShellQuote(kChart.string()) + " -n " +
                 kNamespace + " --set " + ShellQuote(GetParam().set));
  EXPECT_NE(result.exit_code, 0) << "accepted --set " << GetParam().set;
  EXPECT_NE(result.err.find(GetParam().key), std::string::npos)
      << "the message does not name " << GetParam().key << ": " << result.err;
}

std::string BadValueName(const ::testing::TestParamInfo<BadValue>& info) {
  std::string name = info.param.set.substr(0, info.param.set.find('='));
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    Helm, ChartSchemaTest,
    ::testing::Values(BadValue{"devicePlugin.deviceSplitCount=ten",
                               "/devicePlugin/deviceSplitCount"},
                      BadValue{"scheduler.defaultSchedulerPolicy.nodeSchedulerPolicy=fastest",
                               "/scheduler/defaultSchedulerPolicy/nodeSchedulerPolicy"},
                      BadValue{"scheduler.defaultSchedulerPolicy.gpuSchedulerPolicy=random",
                               "/scheduler/defaultSchedulerPolicy/gpuSchedulerPolicy"},
                      BadValue{"scheduler.service.httpPort=-1", "/scheduler/service/httpPort"},
                      BadValue{"devicePlugin.monitor.port=70000", "/devicePlugin/monitor/port"},
                      BadValue{"scheduler.admissionWebhook.failurePolicy=Sometimes",
                               "/scheduler/admissionWebhook/failurePolicy"},
                      BadValue{"scheduler.leaderElect=maybe", "/scheduler/leaderElect"},
                      BadValue{"scheduler.replicas=two", "/scheduler/replicas"}),
    BadValueName);

// The schema cases above fail for the value, not for any --set: the same keys with good values
// render.
TEST_F(ChartValuesTest, GoodValuesForTheSchemaCasesRender) {
  const Rendering& rendering = HelmTemplate(
      "",
      " --set devicePlugin.deviceSplitCount=4 --set scheduler.service.httpPort=8443"
      " --set 'scheduler.defaultSchedulerPolicy.gpuSchedulerPolicy=binpack\\,numa'"
      " --set devicePlugin.monitor.port=9400 --set scheduler.leaderElect=false"
      " --set scheduler.admissionWebhook.failurePolicy=Fail --set scheduler.replicas=2");
  EXPECT_TRUE(rendering.error.empty()) << rendering.error;
}

}  // namespace
}  // namespace hami::deploy
