// Each manifest check (manifest_checks.h) rejects a deliberately broken document: the checks
// that deploy_test.cc runs on the rendered manifests can fail.
#include "tests/deploy/manifest_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace hami::deploy {
namespace {

// A workload that passes every check; the tests below break one thing at a time.
constexpr const char* kGoodWorkload = R"(
apiVersion: v1
kind: ServiceAccount
metadata: {name: hami-scheduler, namespace: hami-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: hami-scheduler}
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: hami-scheduler}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: hami-scheduler}
subjects: [{kind: ServiceAccount, name: hami-scheduler, namespace: hami-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hami-device-config, namespace: hami-system}
data:
  device-config.yaml: |
    nvidia: {resourceCountName: nvidia.com/gpu}
---
apiVersion: v1
kind: Service
metadata: {name: hami-scheduler, namespace: hami-system}
spec:
  selector: {app: hami-scheduler}
  ports: [{name: https, port: 443, targetPort: extender}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hami-scheduler, namespace: hami-system}
spec:
  template:
    metadata: {labels: {app: hami-scheduler}}
    spec:
      serviceAccountName: hami-scheduler
      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      containers:
        - name: hami-scheduler
          image: r.example/hami/hami-scheduler:0.1.0
          args: ["--http_bind=0.0.0.0:443", "--cert_file=/tls/tls.crt",
                 "--device-config-file=/config/device-config.yaml"]
          ports: [{name: extender, containerPort: 443}]
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 100m, memory: 64Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: config, mountPath: /config}]
      volumes:
        - name: config
          configMap: {name: hami-device-config}
)";

const std::vector<Grant> kAllowed = {
    {"ClusterRole/hami-scheduler", "", "pods", "get", ""},
    {"ClusterRole/hami-scheduler", "", "pods", "list", ""},
    {"Role/hami-certgen", "", "secrets", "get", "hami-scheduler-tls"},
};

const std::map<std::string, std::string> kHelp = {
    {"hami-scheduler",
     "Options:\n  --http_bind TEXT\n  --cert_file TEXT\n  --device-config-file TEXT\n"
     "  --leader-elect\n  --leader-elect-resource-name TEXT\n"}};

// kGoodWorkload with `from` replaced by `to` (which must occur).
Objects Broken(const std::string& from, const std::string& to) {
  std::string text = kGoodWorkload;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return ParseDocuments(text);
}

bool Mentions(const Problems& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(), [&](const std::string& problem) {
    return problem.find(needle) != std::string::npos;
  });
}

TEST(ManifestChecks, TheGoodWorkloadPasses) {
  const Objects objects = ParseDocuments(kGoodWorkload);
  EXPECT_TRUE(CheckResources(objects).empty());
  EXPECT_TRUE(CheckSecurityContexts(objects, {"hami-scheduler"}).empty());
  EXPECT_TRUE(CheckRbacRules(objects, kAllowed).empty());
  EXPECT_TRUE(CheckServiceAccounts(objects, {}).empty());
  EXPECT_TRUE(CheckPorts(objects).empty());
  EXPECT_TRUE(CheckFlags(objects, kHelp).empty());
  EXPECT_TRUE(CheckVolumes(objects).empty());
  EXPECT_TRUE(CheckImages(objects, {"hami-scheduler"}).empty());
}

TEST(ManifestChecks, RbacRejectsAVerbOutsideTheAllowList) {
  const Problems problems = CheckRbacRules(
      Broken(R"(verbs: ["get", "list"])", R"(verbs: ["get", "list", "delete"])"), kAllowed);
  EXPECT_TRUE(Mentions(problems, "grants delete on pods")) << problems.size();
}

TEST(ManifestChecks, RbacRejectsAnotherResourceAndWildcards) {
  EXPECT_TRUE(Mentions(
      CheckRbacRules(Broken(R"(resources: ["pods"])", R"(resources: ["secrets"])"), kAllowed),
      "grants get on secrets"));
  EXPECT_TRUE(
      Mentions(CheckRbacRules(Broken(R"(verbs: ["get", "list"])", R"(verbs: ["*"])"), kAllowed),
               "wildcard"));
}

TEST(ManifestChecks, RbacRejectsAGrantWithoutItsResourceName) {
  const Objects objects = ParseDocuments(R"(
kind: Role
metadata: {name: hami-certgen, namespace: hami-system}
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get"]
)");
  EXPECT_TRUE(Mentions(CheckRbacRules(objects, kAllowed), "resourceNames [hami-scheduler-tls]"));
}

TEST(ManifestChecks, RbacNoticesAMissingGrant) {
  const Objects objects = ParseDocuments(kGoodWorkload);
  EXPECT_TRUE(CheckRbacGrantsPresent(objects, {kAllowed[0], kAllowed[1]}).empty());
  EXPECT_TRUE(Mentions(CheckRbacGrantsPresent(objects, kAllowed), "lacks get on secrets"));
}

TEST(ManifestChecks, FlagsRejectAnUnknownFlag) {
  const Problems problems =
      CheckFlags(Broken(R"("--cert_file=/tls/tls.crt")", R"("--cert-file=/tls/tls.crt")"), kHelp);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(Mentions(problems, "--cert-file is not a flag of hami-scheduler"));
}

TEST(ManifestChecks, FlagsRejectAPrefixOfARealFlagAndRepeats) {
  EXPECT_TRUE(Mentions(
      CheckFlags(Broken(R"("--cert_file=/tls/tls.crt")", R"("--leader-elect-resource=x")"), kHelp),
      "--leader-elect-resource is not a flag"));
  EXPECT_TRUE(Mentions(
      CheckFlags(Broken(R"("--cert_file=/tls/tls.crt")", R"("--http_bind=0.0.0.0:443")"), kHelp),
      "given twice"));
}

TEST(ManifestChecks, ResourcesRejectAMissingLimit) {
  EXPECT_TRUE(
      Mentions(CheckResources(Broken("limits: {cpu: 100m, memory: 64Mi}", "limits: {cpu: 100m}")),
               "no resources.limits.memory"));
}

TEST(ManifestChecks, SecurityContextsRejectEscalationAndRoot) {
  EXPECT_TRUE(
      Mentions(CheckSecurityContexts(
                   Broken("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"), {}),
               "allowPrivilegeEscalation is not false"));
  EXPECT_TRUE(
      Mentions(CheckSecurityContexts(Broken("runAsNonRoot: true, runAsUser: 65532", "runAsUser: 0"),
                                     {"hami-scheduler"}),
               "may run as root"));
  EXPECT_TRUE(Mentions(
      CheckSecurityContexts(Broken("allowPrivilegeEscalation: false",
                                   "privileged: true\n            allowPrivilegeEscalation: false"),
                            {}),
      "is invalid"));
}

TEST(ManifestChecks, ServiceAccountsRejectAnUnboundAccount) {
  EXPECT_TRUE(
      Mentions(CheckServiceAccounts(Broken("subjects: [{kind: ServiceAccount, name: hami-scheduler",
                                           "subjects: [{kind: ServiceAccount, name: other"),
                                    {}),
               "is bound to no role"));
}

TEST(ManifestChecks, PortsRejectAListenerWithoutContainerPort) {
  EXPECT_TRUE(Mentions(CheckPorts(Broken("--http_bind=0.0.0.0:443", "--http_bind=0.0.0.0:80")),
                       "listens on 80"));
  EXPECT_TRUE(Mentions(CheckPorts(Broken("targetPort: extender", "targetPort: metrics")),
                       "targetPort metrics"));
}

TEST(ManifestChecks, VolumesRejectAMissingConfigMapAndKey) {
  EXPECT_TRUE(Mentions(
      CheckVolumes(Broken("configMap: {name: hami-device-config}", "configMap: {name: nothing}")),
      "which nothing creates"));
  EXPECT_TRUE(Mentions(CheckVolumes(Broken("--device-config-file=/config/device-config.yaml",
                                           "--device-config-file=/config/other.yaml")),
                       "has no key other.yaml"));
}

// A Secret made outside the manifests (a user's TLS Secret, cert-manager's) is accepted only
// by namespace, name and keys.
TEST(ManifestChecks, VolumesAcceptOnlyTheNamedExternalSecret) {
  const Objects objects = Broken("configMap: {name: hami-device-config}",
                                 "configMap: {name: hami-device-config}\n"
                                 "        - name: tls\n"
                                 "          secret: {secretName: my-tls, items: [{key: tls.crt, "
                                 "path: c}]}");
  EXPECT_TRUE(Mentions(CheckVolumes(objects), "needs Secret my-tls, which nothing creates"));
  EXPECT_TRUE(CheckVolumes(objects, {{"hami-system/my-tls", {"tls.crt", "tls.key"}}}).empty());
  EXPECT_TRUE(Mentions(CheckVolumes(objects, {{"other/my-tls", {"tls.crt"}}}), "nothing creates"));
  EXPECT_TRUE(
      Mentions(CheckVolumes(objects, {{"hami-system/other", {"tls.crt"}}}), "nothing creates"));
  EXPECT_TRUE(Mentions(CheckVolumes(objects, {{"hami-system/my-tls", {"tls.key"}}}),
                       "Secret my-tls has no key tls.crt"));
}

TEST(ManifestChecks, ImagesRejectUnbuiltAndUnpinnedImages) {
  EXPECT_TRUE(
      Mentions(CheckImages(ParseDocuments(kGoodWorkload), {"hami-monitor"}), "is not built"));
  EXPECT_TRUE(Mentions(
      CheckImages(Broken("hami-scheduler:0.1.0", "hami-scheduler:latest"), {"hami-scheduler"}),
      "is not pinned"));
  EXPECT_EQ(ImageBaseName("localhost:5000/hami/hami-scheduler:0.1.0"), "hami-scheduler");
  EXPECT_EQ(ImageBaseName("hami-vgpu-lib"), "hami-vgpu-lib");
}

TEST(ManifestChecks, NodeSelectorMustBeAQuotedOn) {
  const std::string daemonset = R"(
kind: DaemonSet
metadata: {name: hami-monitor}
spec:
  template:
    spec:
      nodeSelector: {gpu: SELECTOR}
)";
  auto with = [&](const std::string& value) {
    std::string text = daemonset;
    text.replace(text.find("SELECTOR"), 8, value);
    return CheckGpuNodeSelector(ParseDocuments(text));
  };
  EXPECT_TRUE(with("\"on\"").empty());
  EXPECT_FALSE(with("on").empty());  // YAML 1.1's true
  EXPECT_FALSE(with("\"off\"").empty());
}

TEST(ManifestChecks, WebhookRejectsAMissingServiceAndPlainHttp) {
  const std::string webhook = R"(
---
kind: MutatingWebhookConfiguration
metadata: {name: hami-webhook}
webhooks:
  - name: vgpu.hami.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Ignore
    clientConfig:
      service: {name: hami-scheduler, namespace: hami-system, port: 443, path: /webhook}
    rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
    namespaceSelector:
      matchExpressions: [{key: hami.io/webhook, operator: NotIn, values: [ignore]}]
    objectSelector:
      matchExpressions: [{key: hami.io/webhook, operator: NotIn, values: [ignore]}]
)";
  const std::string good = std::string(kGoodWorkload) + webhook;
  EXPECT_TRUE(CheckWebhooks(ParseDocuments(good)).empty());
  std::string missing = good;
  missing.replace(missing.rfind("name: hami-scheduler, namespace"), 19, "name: nothing-here,");
  EXPECT_TRUE(Mentions(CheckWebhooks(ParseDocuments(missing)), "is not rendered"));
  std::string plain = good;
  plain.replace(plain.find("\"--cert_file=/tls/tls.crt\""), 26, "\"--debug\"");
  EXPECT_TRUE(Mentions(CheckWebhooks(ParseDocuments(plain)), "nothing serves HTTPS"));
  std::string failing = good;
  failing.replace(failing.find("failurePolicy: Ignore"), 21, "failurePolicy: Fail");
  EXPECT_TRUE(Mentions(CheckWebhooks(ParseDocuments(failing)), "failurePolicy"));
}

TEST(ManifestChecks, KubeSchedulerConfigRejectsWhatKubeSchedulerWould) {
  const std::string pod = R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ns}
data:
  config.yaml: |
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 100
    profiles: [{schedulerName: hami-scheduler}]
    extenders:
      - urlPrefix: https://127.0.0.1:443
        filterVerb: filter
        bindVerb: bind
        weight: 1
        httpTimeout: 30s
        enableHTTPS: true
        tlsConfig: {insecure: true}
        managedResources: [{name: nvidia.com/gpu, ignoredByScheduler: true}]
---
kind: Deployment
metadata: {name: s, namespace: ns}
spec:
  template:
    spec:
      containers:
        - name: kube-scheduler
          image: registry.k8s.io/kube-scheduler:v1.31.4
          command: [kube-scheduler, --config=/etc/ks/config.yaml]
          volumeMounts: [{name: c, mountPath: /etc/ks}]
        - name: hami-scheduler
          image: hami-scheduler:1
          args: [--http_bind=0.0.0.0:443, --cert_file=/tls/tls.crt]
      volumes: [{name: c, configMap: {name: cfg}}]
)";
  const std::set<std::string> names = {"nvidia.com/gpu"};
  auto check = [&](const std::string& from, const std::string& to) {
    std::string text = pod;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return CheckKubeSchedulerConfig(ParseDocuments(text), names);
  };
  EXPECT_TRUE(check("weight: 1", "weight: 1").empty());
  EXPECT_TRUE(Mentions(check("weight: 1", "weight: 0"), "weight"));
  EXPECT_TRUE(Mentions(check("httpTimeout: 30s", "httpTimeout: 30"), "not a duration"));
  EXPECT_TRUE(Mentions(check("weight: 1", "weight: 1\n        nodeCacheable: true"),
                       "unknown extender field nodeCacheable"));
  EXPECT_TRUE(Mentions(check("ignoredByScheduler: true", "ignoredByScheduler: false"),
                       "not ignoredByScheduler"));
  EXPECT_TRUE(Mentions(check("name: nvidia.com/gpu,", "name: gpu,"), "not a valid"));
  EXPECT_TRUE(Mentions(check("name: nvidia.com/gpu,", "name: example.com/x,"),
                       "managedResources lack nvidia.com/gpu"));
  EXPECT_TRUE(Mentions(check("https://127.0.0.1:443", "https://127.0.0.1:80"), "--http_bind"));
  EXPECT_TRUE(Mentions(check("enableHTTPS: true", "enableHTTPS: false"), "--cert_file"));
  EXPECT_TRUE(Mentions(check("schedulerName: hami-scheduler", "schedulerName: other"),
                       "no profile is named hami-scheduler"));
  // Above 100 nodes the extender would only see a sample of the nodes.
  EXPECT_TRUE(
      Mentions(check("    percentageOfNodesToScore: 100\n", ""), "percentageOfNodesToScore"));
  EXPECT_TRUE(Mentions(check("percentageOfNodesToScore: 100", "percentageOfNodesToScore: 50"),
                       "percentageOfNodesToScore"));
  EXPECT_TRUE(Mentions(check("profiles: [{schedulerName: hami-scheduler}]",
                             "profiles: [{schedulerName: hami-scheduler, "
                             "percentageOfNodesToScore: 30}]"),
                       "scores 30 % of the nodes"));
  EXPECT_TRUE(
      Mentions(check("kubescheduler.config.k8s.io/v1", "kubescheduler.config.k8s.io/v1beta2"),
               "apiVersion"));
  const std::string second =
      "\n      - urlPrefix: http://other:80\n        filterVerb: f\n"
      "        bindVerb: b\n        weight: 1\n";
  EXPECT_TRUE(Mentions(
      check("managedResources: [{name: nvidia.com/gpu, ignoredByScheduler: true}]",
            "managedResources: [{name: nvidia.com/gpu, ignoredByScheduler: true}]" + second),
      "more than one extender has a bindVerb"));
  EXPECT_TRUE(Mentions(check("managedResources: [{name: nvidia.com/gpu, ignoredByScheduler: true}]",
                             "managedResources: [{name: nvidia.com/gpu, ignoredByScheduler: true}, "
                             "{name: nvidia.com/gpu, ignoredByScheduler: true}]"),
                       "managed resource nvidia.com/gpu twice"));
}

// Every vendor section's names are read: flat sections with HAMi's key spellings (Enflame's
// resourceName* included), list sections (iluvatars, vnpus.configs); other keys are not names.
TEST(ManifestChecks, DeviceConfigResourceNamesReadEveryVendorSection) {
  struct Case {
    const char* config;
    std::set<std::string> names;
  };
  const std::vector<Case> cases = {
      {"nvidia: {resourceCountName: a/gpu, resourceMemoryPercentageName: a/pct, "
       "runtimeClassName: rc, migProfileAllowlist: [{models: [A30], profiles: [1g.6gb]}]}",
       {"a/gpu", "a/pct"}},
      {"metax: {resourceCountName: m/gpu, resourceVCountName: m/sgpu, resourceVMemoryName: m/vm, "
       "resourceVCoreName: m/vc, sgpuTopologyAware: false}",
       {"m/gpu", "m/sgpu", "m/vm", "m/vc"}},
      {"enflame: {resourceNameGCU: e/gcu, resourceNameDRSGCU: e/drs, resourceNameGCUMemory: e/m, "
       "resourceNameGCUCore: e/c}",
       {"e/gcu", "e/drs", "e/m", "e/c"}},
      {"mthreads: {resourceCountName: t/vgpu, memoryPerCard: [96]}", {"t/vgpu"}},
      {"iluvatars: [{chipName: A, commonWord: A, resourceCountName: i/A-vgpu, "
       "resourceMemoryName: i/A.vMem, resourceCoreName: i/A.vCore}, {chipName: B, "
       "resourceCountName: i/B-vgpu}]",
       {"i/A-vgpu", "i/A.vMem", "i/A.vCore", "i/B-vgpu"}},
      {"vnpus: {hamiVnpuCore: false, configs: [{chipName: 910B3, commonWord: Ascend910B3, "
       "resourceName: h/Ascend910B3, resourceMemoryName: h/Ascend910B3-memory, "
       "resourceCoreName: h/Ascend910B3-core, templates: [{name: vir05, memory: 16384}]}]}",
       {"h/Ascend910B3", "h/Ascend910B3-memory", "h/Ascend910B3-core"}},
      {"vastai: {resourceCountName: v/va}\nbiren: {resourceCountName: \"\"}", {"v/va"}},
      {"[nvidia]", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DeviceConfigResourceNames(YAML::Load(c.config)), c.names) << c.config;
  }
}

TEST(ManifestChecks, DevicePluginMustRegisterTheConfiguredCountName) {
  const Objects objects = ParseDocuments(R"(
kind: DaemonSet
metadata: {name: p}
spec:
  template:
    spec:
      containers:
        - name: device-plugin
          image: hami-device-plugin:1
          args: [--resource-name=example.com/vgpu]
)");
  EXPECT_TRUE(CheckDevicePluginResourceName(
                  objects, YAML::Load("nvidia: {resourceCountName: example.com/vgpu}"))
                  .empty());
  EXPECT_FALSE(CheckDevicePluginResourceName(objects, YAML::Load("nvidia: {}")).empty());
}

TEST(ManifestChecks, DockerfileTargetsAreTheStageNames) {
  EXPECT_EQ(DockerfileTargets("ARG X=1\nFROM debian:bookworm AS builder\nRUN x\n"
                              "FROM builder as hami-scheduler\n"),
            (std::set<std::string>{"builder", "hami-scheduler"}));
}

}  // namespace
}  // namespace hami::deploy
