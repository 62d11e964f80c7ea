// Invariants of the rendered install manifests (deploy/, `kubectl kustomize` output), as pure
// functions over parsed YAML documents so that tests can feed them broken documents too.
// Every check returns the problems it found, one readable line each; empty means it passed.
// Nothing here talks to a cluster; the flag check takes the binaries' --help texts as input.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace hami::deploy {

using Objects = std::vector<YAML::Node>;
using Problems = std::vector<std::string>;

// Splits a multi-document YAML stream into its non-empty documents. Throws YAML::Exception on
// malformed input (a test failure, not a crash: GoogleTest reports it).
Objects ParseDocuments(const std::string& text);

// Image name without registry, tag or digest: "r.io/a/hami-scheduler:0.1" -> "hami-scheduler".
std::string ImageBaseName(const std::string& image);

// Every container and init container of every Deployment, DaemonSet, StatefulSet and Job has
// requests and limits for cpu and memory.
Problems CheckResources(const Objects& objects);

// Every container has a securityContext with readOnlyRootFilesystem true and, unless
// privileged, allowPrivilegeEscalation false and capabilities.drop [ALL]; a privileged one
// must not set allowPrivilegeEscalation false (the API server rejects that). Containers whose
// image base name is in `non_root_images` must run with runAsNonRoot true (pod or container).
Problems CheckSecurityContexts(const Objects& objects,
                               const std::set<std::string>& non_root_images);

// One allowed (role, apiGroup, resource, verb) of a rendered Role/ClusterRole. `role` is
// "ClusterRole/<name>" or "Role/<name>"; `resource_name` non-empty: the rule must be limited
// to exactly that resourceName.
struct Grant {
  std::string role;
  std::string api_group;
  std::string resource;
  std::string verb;
  std::string resource_name;
};

// Every rule of every Role/ClusterRole is covered by `allowed` (an extra verb, resource or a
// missing resourceName limit is a problem); no "*" anywhere in a rule.
Problems CheckRbacRules(const Objects& objects, const std::vector<Grant>& allowed);

// Every entry of `needed` is granted by some rendered rule (the manifests did not lose a verb
// the code calls).
Problems CheckRbacGrantsPresent(const Objects& objects, const std::vector<Grant>& needed);

// Every ServiceAccount a workload runs as exists in the workload's namespace and is the subject
// of a RoleBinding/ClusterRoleBinding whose roleRef is a rendered role or one of
// `builtin_cluster_roles` (Kubernetes' own, e.g. system:kube-scheduler).
Problems CheckServiceAccounts(const Objects& objects,
                              const std::set<std::string>& builtin_cluster_roles);

// Ports: every port in a container's --http_bind / --metrics-bind-address is a containerPort of
// it; every probe's named port is one of its containerPorts; every Service selects some
// workload and each of its targetPorts is a containerPort of a selected pod.
Problems CheckPorts(const Objects& objects);

// Every --flag in the command/args of a container whose image base name is a key of
// `help_by_image` appears as a whole flag in that binary's --help text.
Problems CheckFlags(const Objects& objects,
                    const std::map<std::string, std::string>& help_by_image);

// The KubeSchedulerConfiguration mounted into the kube-scheduler container (its --config),
// with kube-scheduler's own rules (v1 types, positive weights, durations, at most one binder,
// known extender fields) and its agreement with the hami-scheduler container: extender URL on
// --http_bind's port, HTTPS iff --cert_file, profile name = --scheduler-name, lease =
// --leader-elect-resource-name/namespace, managedResources covering `resource_names`, none
// twice.
Problems CheckKubeSchedulerConfig(const Objects& objects,
                                  const std::set<std::string>& resource_names);

// The resource names of a device config: every `resource*Name` and `resourceName*` value of
// every vendor section, including the entries of list sections (iluvatars, vnpus.configs).
std::set<std::string> DeviceConfigResourceNames(const YAML::Node& device_config);

// The device config the hami-scheduler container reads (--device-config-file resolved through
// its volume mounts to a rendered ConfigMap key); sets *problems when it cannot be found.
std::string MountedDeviceConfig(const Objects& objects, Problems* problems);

// The device plugin registers the device config's nvidia.resourceCountName (--resource-name).
Problems CheckDevicePluginResourceName(const Objects& objects, const YAML::Node& device_config);

// Every webhook of every MutatingWebhookConfiguration: its Service and port are rendered and
// served over HTTPS, path /webhook, failurePolicy Ignore, sideEffects None, review version v1,
// pods CREATE, and both selectors skip hami.io/webhook=ignore.
Problems CheckWebhooks(const Objects& objects);

// A Secret made outside the rendered manifests on purpose (a user's TLS Secret, the one
// cert-manager writes for a rendered Certificate): "namespace/name" -> its keys.
using ExternalSecrets = std::map<std::string, std::set<std::string>>;

// Every ConfigMap volume names a rendered ConfigMap (with the keys its items name) and every
// Secret volume a rendered Secret, the one a certificate Job creates (env SECRET_NAME) or one
// of `external` (nothing else: an install that mounts a Secret nobody makes never starts).
Problems CheckVolumes(const Objects& objects, const ExternalSecrets& external = {});

// Every DaemonSet runs only on GPU nodes: nodeSelector gpu: "on".
Problems CheckGpuNodeSelector(const Objects& objects);

// Every image is pinned (a tag other than latest, or a digest) and is either one of
// `built_images` (by base name) or registry.k8s.io/kube-scheduler.
Problems CheckImages(const Objects& objects, const std::set<std::string>& built_images);

// The stage names of a Dockerfile ("FROM x AS name").
std::set<std::string> DockerfileTargets(const std::string& dockerfile);

}  // namespace hami::deploy
