// DiffRenderings on small hand-made renderings: what it forgives and what it reports.
#include "tests/deploy/manifest_diff.h"

#include <gtest/gtest.h>

namespace hami::deploy {
namespace {

const char* const kKustomize = R"(
apiVersion: v1
kind: Namespace
metadata:
  name: hami-system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: hami-system
data:
  config.yaml: |
    # kustomize's comment
    kind: KubeSchedulerConfiguration
    extenders:
      - managedResources:
          - name: a/x
          - name: b/y
  plain: "text"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sched
  namespace: hami-system
  labels:
    app.kubernetes.io/name: hami
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: hami
  template:
    metadata:
      labels:
        app.kubernetes.io/name: hami
    spec:
      containers:
        - name: kube-scheduler
          image: registry.k8s.io/kube-scheduler:v1.31.4
        - name: hami
          image: r/hami-scheduler:0.1
          args: ["--http_bind=0.0.0.0:443", "--leader-elect"]
          ports:
            - containerPort: 443
)";

const char* const kHelm = R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: hami-system
  labels:
    app.kubernetes.io/component: hami-scheduler
    helm.sh/chart: hami-0.1.0
data:
  config.yaml: |
    kind: KubeSchedulerConfiguration
    # helm's comment
    extenders:
      - managedResources:
          - name: b/y
          - name: a/x
  plain: "text
    "
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sched
  namespace: hami-system
  labels:
    app.kubernetes.io/name: hami
    app.kubernetes.io/instance: hami
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/version: "0.1.0"
    helm.sh/chart: hami-0.1.0
  annotations:
    checksum/config: abc
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: hami
      app.kubernetes.io/instance: hami
  template:
    metadata:
      labels:
        app.kubernetes.io/name: hami
        app.kubernetes.io/instance: hami
      annotations:
        checksum/config: abc
    spec:
      containers:
        - name: kube-scheduler
          image: registry.k8s.io/kube-scheduler:v1.31.4
          imagePullPolicy: IfNotPresent
        - name: hami
          image: r/hami-scheduler:0.1
          imagePullPolicy: IfNotPresent
          args: ["--http_bind=0.0.0.0:443", "--leader-elect"]
          ports:
            - containerPort: 443
)";

DiffOptions Options() {
  DiffOptions options;
  options.kustomize_only = {"Namespace/hami-system"};
  return options;
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

Problems Diff(const std::string& kustomize, const std::string& helm,
              const DiffOptions& options = Options()) {
  return DiffRenderings(ParseDocuments(kustomize), ParseDocuments(helm), options);
}

std::string Join(const Problems& problems) {
  std::string out;
  for (const std::string& problem : problems) out += "\n  " + problem;
  return out;
}

TEST(DiffRenderings, ForgivesHelmsLabelsFormattingDefaultsAndManagedResourcesOrder) {
  const Problems problems = Diff(kKustomize, kHelm);
  EXPECT_TRUE(problems.empty()) << Join(problems);
}

TEST(DiffRenderings, NamesThePathOfAChangedArgument) {
  const Problems problems =
      Diff(kKustomize, Replaced(kHelm, "\"--leader-elect\"", "\"--leader-elect=false\""));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_EQ(problems[0],
            "Deployment/hami-system/sched: .spec.template.spec.containers[1].args[1]: kustomize "
            "\"--leader-elect\", helm \"--leader-elect=false\"");
}

TEST(DiffRenderings, ShowsWholeListsOfDifferentLengths) {
  const Problems problems = Diff(kKustomize, Replaced(kHelm, ", \"--leader-elect\"]", "]"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find(".containers[1].args: kustomize [\"--http_bind=0.0.0.0:443\","
                             "\"--leader-elect\"], helm [\"--http_bind=0.0.0.0:443\"]"),
            std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, ReportsMissingAndExtraObjects) {
  Problems problems = Diff(kKustomize, Replaced(kHelm, "name: cfg", "name: other"));
  ASSERT_EQ(problems.size(), 2u) << Join(problems);
  EXPECT_EQ(problems[0], "ConfigMap/hami-system/cfg: only in kustomize");
  EXPECT_EQ(problems[1], "ConfigMap/hami-system/other: only in helm");
  // The Namespace is forgiven only when named.
  problems = Diff(kKustomize, kHelm, DiffOptions{});
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_EQ(problems[0], "Namespace/hami-system: only in kustomize");
}

TEST(DiffRenderings, ComparesTypesNotJustText) {
  const Problems problems =
      Diff(kKustomize, Replaced(kHelm, "- containerPort: 443", "- containerPort: \"443\""));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find("containerPort: kustomize 443, helm \"443\""), std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, ComparesEmbeddedConfigurationParsed) {
  const Problems problems = Diff(kKustomize, Replaced(kHelm, "- name: b/y", "- name: c/z"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find("ConfigMap/hami-system/cfg: .data[\"config.yaml\"]"),
            std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, PodTemplateLabelsAndSelectorsMustMatch) {
  const Problems problems = Diff(
      kKustomize, Replaced(kHelm, "      labels:\n        app.kubernetes.io/name: hami\n",
                           "      labels:\n        app.kubernetes.io/name: hami\n        x: y\n"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find(".spec.template.metadata.labels.x: kustomize <absent>, helm \"y\""),
            std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, TheChartMayNotDropOrChangeAnObjectsLabel) {
  const Problems problems = Diff(
      kKustomize,
      Replaced(kHelm, "  labels:\n    app.kubernetes.io/name: hami\n    app.kubernetes.io/instance",
               "  labels:\n    app.kubernetes.io/name: hami-x\n    app.kubernetes.io/instance"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find(".metadata.labels[\"app.kubernetes.io/name\"]: kustomize \"hami\", "
                             "helm \"hami-x\""),
            std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, PortsCompareAsASet) {
  const std::string two_ports =
      "            - containerPort: 443\n            - containerPort: 9395\n";
  const std::string reversed =
      "            - containerPort: 9395\n            - containerPort: 443\n";
  const std::string kustomize =
      Replaced(kKustomize, "            - containerPort: 443\n", two_ports);
  EXPECT_TRUE(
      Diff(kustomize, Replaced(kHelm, "            - containerPort: 443\n", reversed)).empty());
  const Problems problems = Diff(
      kustomize, Replaced(kHelm, "            - containerPort: 443\n",
                          "            - containerPort: 9395\n            - containerPort: 444\n"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find("containerPort: kustomize 443, helm 444"), std::string::npos)
      << problems[0];
}

TEST(DiffRenderings, LatestImagesHaveNoImpliedPullPolicy) {
  const Problems problems = Diff(Replaced(kKustomize, "r/hami-scheduler:0.1", "r/hami-scheduler"),
                                 Replaced(kHelm, "r/hami-scheduler:0.1", "r/hami-scheduler"));
  ASSERT_EQ(problems.size(), 1u) << Join(problems);
  EXPECT_NE(problems[0].find("imagePullPolicy: kustomize <absent>, helm \"IfNotPresent\""),
            std::string::npos)
      << problems[0];
}

}  // namespace
}  // namespace hami::deploy
