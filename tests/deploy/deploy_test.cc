// The install manifests (deploy/): renders deploy/base and every overlay with `kubectl
// kustomize` and checks them against the code (RBAC allow-list), the binaries (their --help
// lists every flag the manifests pass), the docker/Dockerfile targets (image names) and
// kube-scheduler's rules for its configuration. The checks themselves (manifest_checks.h) are
// also fed broken documents, so that each one is shown to fail.
//
// Needs kubectl on PATH (or $HAMI_KUBECTL; scripts/install-deps.sh installs Debian's when there
// is none); without it the rendering tests skip.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/deploy/deploy_support.h"
#include "tests/deploy/manifest_checks.h"

namespace hami::deploy {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = HAMI_SOURCE_DIR;

// The kustomizations a user may apply.
const std::vector<std::string> kKustomizations = {
    "deploy/base",
    "deploy/overlays/no-webhook",
    "deploy/overlays/custom-resource-names",
    "deploy/overlays/scheduler-policy",
    "deploy/overlays/prometheus-operator",
    "deploy/overlays/heterogeneous",
};

struct Rendering {
  std::string error;  // empty: rendered
  Objects objects;
};

const Rendering& Render(const std::string& dir) {
  static std::map<std::string, Rendering> cache;
  auto it = cache.find(dir);
  if (it != cache.end()) return it->second;
  Rendering rendering;
  const CommandResult result = RunCommand(ShellQuote(FindKubectl()) + " kustomize " +
                                          ShellQuote((kSourceDir / dir).string()));
  if (result.exit_code != 0) {
    rendering.error = "kubectl kustomize " + dir + " failed: " + result.err;
  } else {
    try {
      rendering.objects = ParseDocuments(result.out);
    } catch (const YAML::Exception& e) {
      rendering.error = "kubectl kustomize " + dir + " printed no YAML: " + e.what();
    }
  }
  return cache.emplace(dir, std::move(rendering)).first->second;
}

class RenderedTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (FindKubectl().empty()) {
      GTEST_SKIP() << "no kubectl on PATH or $HAMI_KUBECTL (scripts/install-deps.sh installs "
                      "Debian's kubernetes-client): deploy/ is not rendered";
    }
    const Rendering& rendering = Render(GetParam());
    ASSERT_TRUE(rendering.error.empty()) << rendering.error;
    ASSERT_FALSE(rendering.objects.empty());
    objects_ = &rendering.objects;
  }

  const Objects& objects() const { return *objects_; }

 private:
  const Objects* objects_ = nullptr;
};

TEST_P(RenderedTest, EveryContainerHasRequestsAndLimits) {
  const Problems problems = CheckResources(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, SecurityContextsDropEverythingTheyCan) {
  const Problems problems = CheckSecurityContexts(objects(), kNonRootImages);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, RbacRulesAreOnlyWhatTheCodeCalls) {
  const Problems problems = CheckRbacRules(objects(), kGrants);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, ServiceAccountsExistAndAreBound) {
  const Problems problems = CheckServiceAccounts(objects(), kBuiltinClusterRoles);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, PortsMatchTheListeners) {
  const Problems problems = CheckPorts(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, OurBinariesAcceptEveryFlag) {
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

TEST_P(RenderedTest, KubeSchedulerConfigIsValidAndCoversTheDeviceConfig) {
  Problems problems;
  const std::string text = MountedDeviceConfig(objects(), &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems);
  const std::set<std::string> names = DeviceConfigResourceNames(YAML::Load(text));
  EXPECT_GE(names.size(), 5u) << text;
  problems = CheckKubeSchedulerConfig(objects(), names);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, DeviceConfigIsValidAndMatchesTheDevicePlugin) {
  Problems problems;
  const std::string text = MountedDeviceConfig(objects(), &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems);
  problems = CheckDevicePluginResourceName(objects(), YAML::Load(text));
  EXPECT_TRUE(problems.empty()) << Join(problems);
  char path[] = "/tmp/hami-device-config-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  const CommandResult result =
      RunCommand(ShellQuote(HAMI_CLI_BIN) + " config validate " + ShellQuote(path));
  unlink(path);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

TEST_P(RenderedTest, WebhookCallsARenderedHttpsService) {
  const Problems problems = CheckWebhooks(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, VolumesReferToObjectsThatExist) {
  const Problems problems = CheckVolumes(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, DaemonSetsRunOnGpuNodesOnly) {
  EXPECT_EQ(OfKind(objects(), "DaemonSet").size(), 2u);
  const Problems problems = CheckGpuNodeSelector(objects());
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, ImagesAreTheDockerfilesTargets) {
  const std::set<std::string> built = BuiltImages(kSourceDir);
  ASSERT_TRUE(built.count("hami-scheduler") != 0) << "docker/Dockerfile has no hami-scheduler";
  const Problems problems = CheckImages(objects(), built);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_P(RenderedTest, EverythingLivesInHamiSystem) {
  static const std::set<std::string> kClusterScoped = {"Namespace", "ClusterRole",
                                                       "ClusterRoleBinding", "RuntimeClass",
                                                       "MutatingWebhookConfiguration"};
  EXPECT_EQ(OfKind(objects(), "Namespace").size(), 1u);
  for (const YAML::Node& object : objects()) {
    const std::string kind = object["kind"].as<std::string>();
    if (kClusterScoped.count(kind) != 0) continue;
    EXPECT_EQ(object["metadata"]["namespace"].as<std::string>(""), "hami-system")
        << kind << "/" << object["metadata"]["name"].as<std::string>();
  }
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(info.param.rfind('/') + 1);
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Deploy, RenderedTest, ::testing::ValuesIn(kKustomizations), TestName);

// Per-overlay expectations.
class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindKubectl().empty()) GTEST_SKIP() << "no kubectl on PATH or $HAMI_KUBECTL";
  }
  static const Objects& Rendered(const std::string& dir) {
    const Rendering& rendering = Render(dir);
    EXPECT_TRUE(rendering.error.empty()) << rendering.error;
    return rendering.objects;
  }
};

TEST_F(OverlayTest, BaseHasTheWebhookHttpsAndEveryGrantTheCodeNeeds) {
  const Objects& objects = Rendered("deploy/base");
  EXPECT_EQ(OfKind(objects, "MutatingWebhookConfiguration").size(), 1u);
  EXPECT_EQ(OfKind(objects, "Job").size(), 1u);
  EXPECT_TRUE(OfKind(objects, "ServiceMonitor").empty()) << "the base must apply without CRDs";
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--http_bind=0.0.0.0:443"));
  EXPECT_TRUE(HasArg(line, "--cert_file=/tls/tls.crt"));
  const Problems problems = CheckRbacGrantsPresent(objects, kGrants);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST_F(OverlayTest, NoWebhookServesPlainHttpOnPort80) {
  const Objects& objects = Rendered("deploy/overlays/no-webhook");
  EXPECT_TRUE(OfKind(objects, "MutatingWebhookConfiguration").empty());
  EXPECT_TRUE(OfKind(objects, "Job").empty());
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--http_bind=0.0.0.0:80"));
  for (const std::string& arg : line) EXPECT_EQ(arg.find("--cert_file"), std::string::npos);
}

TEST_F(OverlayTest, CustomResourceNamesAgreeEverywhere) {
  const Objects& objects = Rendered("deploy/overlays/custom-resource-names");
  Problems problems;
  const YAML::Node config = YAML::Load(MountedDeviceConfig(objects, &problems));
  ASSERT_TRUE(problems.empty()) << Join(problems);
  EXPECT_EQ(config["nvidia"]["resourceCountName"].as<std::string>(), "example.com/vgpu");
  EXPECT_EQ(DeviceConfigResourceNames(config).count("nvidia.com/gpumem"), 0u);
  EXPECT_TRUE(
      HasArg(ContainerLine(objects, "hami-device-plugin"), "--resource-name=example.com/vgpu"));
  // The rest (managedResources, the plugin's name) is what the parameterised checks verify.
}

TEST_F(OverlayTest, SchedulerPolicySetsBothPolicies) {
  const auto line = ContainerLine(Rendered("deploy/overlays/scheduler-policy"), "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--node-scheduler-policy=spread"));
  EXPECT_TRUE(HasArg(line, "--gpu-scheduler-policy=binpack"));
}

// "line N: <a> != <b>" for the first line where two texts differ (a whole device config in a
// failure message hides the one line that changed).
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::istringstream in_a(a), in_b(b);
  std::string line_a, line_b;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(in_a, line_a));
    const bool more_b = static_cast<bool>(std::getline(in_b, line_b));
    if (!more_a && !more_b) return "the same lines";
    if (!more_a) line_a = "<end>";
    if (!more_b) line_b = "<end>";
    if (line_a != line_b) {
      return "line " + std::to_string(line) + ": \"" + line_a + "\" != \"" + line_b + "\"";
    }
  }
}

// The names in the rendered kube-scheduler configuration's extender managedResources.
std::set<std::string> ManagedResources(const Objects& objects) {
  std::set<std::string> names;
  for (const YAML::Node& map : OfKind(objects, "ConfigMap")) {
    if (map["metadata"]["name"].as<std::string>() != "hami-scheduler-config") continue;
    const YAML::Node config = YAML::Load(map["data"]["config.yaml"].as<std::string>());
    for (const YAML::Node& extender : config["extenders"]) {
      for (const YAML::Node& resource : extender["managedResources"]) {
        names.insert(resource["name"].as<std::string>());
      }
    }
  }
  return names;
}

TEST_F(OverlayTest, HeterogeneousSchedulesEveryVendorWithTheChartDefaults) {
  const Objects& objects = Rendered("deploy/overlays/heterogeneous");
  Problems problems;
  const std::string text = MountedDeviceConfig(objects, &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems);
  // Exactly the chart's rendering, so a change to the defaults cannot leave the overlay behind
  // (regenerate: hami config default --all-vendors > deploy/overlays/heterogeneous/...).
  const CommandResult chart =
      RunCommand(ShellQuote(HAMI_CLI_BIN) + " config default --all-vendors");
  ASSERT_EQ(chart.exit_code, 0) << chart.err;
  EXPECT_TRUE(text == chart.out) << FirstDifference(text, chart.out);
  const YAML::Node config = YAML::Load(text);
  for (const char* section :
       {"nvidia", "cambricon", "hygon", "metax", "enflame", "mthreads", "iluvatars", "kunlun",
        "awsneuron", "amd", "vastai", "biren", "vnpus"}) {
    EXPECT_TRUE(config[section].IsDefined()) << "no " << section << " section";
  }
  EXPECT_GE(config["iluvatars"].size(), 1u);
  EXPECT_GE(config["vnpus"]["configs"].size(), 1u);
  const auto line = ContainerLine(objects, "hami-scheduler");
  EXPECT_TRUE(HasArg(line, "--enable-iluvatar"));
  EXPECT_TRUE(HasArg(line, "--enable-ascend"));
  EXPECT_TRUE(HasArg(line, "--http_bind=0.0.0.0:443")) << "the base's args are kept";
  // Covering is what the parameterised check verifies; here also nothing beyond the config, so
  // the list and the config are trimmed together.
  EXPECT_EQ(ManagedResources(objects), DeviceConfigResourceNames(config));
}

TEST_F(OverlayTest, PrometheusOperatorScrapesBothMetricsServices) {
  const Objects& objects = Rendered("deploy/overlays/prometheus-operator");
  const auto monitors = OfKind(objects, "ServiceMonitor");
  ASSERT_EQ(monitors.size(), 2u);
  for (const YAML::Node& monitor : monitors) {
    const std::string name = monitor["metadata"]["name"].as<std::string>();
    bool scraped = false;
    for (const YAML::Node& service : OfKind(objects, "Service")) {
      bool selected = true;
      for (const auto& label : monitor["spec"]["selector"]["matchLabels"]) {
        const YAML::Node value = service["metadata"]["labels"][label.first.as<std::string>()];
        selected = selected && value && value.as<std::string>() == label.second.as<std::string>();
      }
      if (!selected) continue;
      for (const YAML::Node& endpoint : monitor["spec"]["endpoints"]) {
        for (const YAML::Node& port : service["spec"]["ports"]) {
          scraped =
              scraped || port["name"].as<std::string>("") == endpoint["port"].as<std::string>();
        }
      }
    }
    EXPECT_TRUE(scraped) << "ServiceMonitor " << name << " selects no Service port";
  }
}

// Debian 12's kubectl 1.20 embeds kustomize v2.0.3: only fields it knows (and kustomize v5
// still reads) may appear in any kustomization.
TEST(Kustomizations, UseOnlyFieldsOldAndNewKustomizeKnow) {
  static const std::set<std::string> kFields = {"namespace",
                                                "resources",
                                                "bases",
                                                "commonLabels",
                                                "patchesStrategicMerge",
                                                "patchesJson6902",
                                                "configMapGenerator",
                                                "generatorOptions",
                                                "images"};
  int seen = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kSourceDir / "deploy")) {
    if (entry.path().filename() != "kustomization.yaml") continue;
    ++seen;
    const YAML::Node kustomization = YAML::LoadFile(entry.path().string());
    for (const auto& field : kustomization) {
      EXPECT_EQ(kFields.count(field.first.as<std::string>()), 1u)
          << entry.path() << ": " << field.first.as<std::string>();
    }
  }
  EXPECT_GE(seen, 6);
}

}  // namespace
}  // namespace hami::deploy
