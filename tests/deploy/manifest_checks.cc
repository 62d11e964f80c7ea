#include "tests/deploy/manifest_checks.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <sstream>

#include "common/duration.h"
#include "common/http_endpoint.h"
#include "common/strings.h"

namespace hami::deploy {
namespace {

// yaml-cpp's Node::operator= assigns through the handle (it would rewrite the document), so
// nodes are only ever copy-constructed or re-pointed with reset(), never assigned.
YAML::Node Undefined() { return YAML::Node(YAML::NodeType::Undefined); }

YAML::Node Child(const YAML::Node& node, const std::string& key) {
  if (!node.IsDefined() || !node.IsMap()) return Undefined();
  YAML::Node child = node[key];
  if (!child.IsDefined()) return Undefined();
  return child;
}

YAML::Node At(const YAML::Node& node, std::initializer_list<std::string> path) {
  YAML::Node current(node);
  for (const std::string& key : path) current.reset(Child(current, key));
  return current;
}

std::string Str(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string();
}

bool IsTrue(const YAML::Node& node) { return Str(node) == "true"; }
bool IsFalse(const YAML::Node& node) { return Str(node) == "false"; }

std::vector<std::string> StrList(const YAML::Node& node) {
  std::vector<std::string> out;
  if (!node.IsDefined() || !node.IsSequence()) return out;
  for (const YAML::Node& item : node) out.push_back(Str(item));
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string Kind(const YAML::Node& object) { return Str(Child(object, "kind")); }
std::string Name(const YAML::Node& object) { return Str(At(object, {"metadata", "name"})); }
std::string Namespace(const YAML::Node& object) {
  return Str(At(object, {"metadata", "namespace"}));
}

struct Workload {
  std::string kind, name, ns;
  YAML::Node labels;  // the pod template's labels
  YAML::Node spec;    // the pod spec
  std::string Id() const { return kind + "/" + name; }
};

std::vector<Workload> Workloads(const Objects& objects) {
  std::vector<Workload> out;
  for (const YAML::Node& object : objects) {
    const std::string kind = Kind(object);
    YAML::Node pod = Undefined();
    if (kind == "Deployment" || kind == "DaemonSet" || kind == "StatefulSet" || kind == "Job") {
      pod.reset(At(object, {"spec", "template"}));
    } else if (kind == "CronJob") {
      pod.reset(At(object, {"spec", "jobTemplate", "spec", "template"}));
    } else {
      continue;
    }
    out.push_back({kind, Name(object), Namespace(object), At(pod, {"metadata", "labels"}),
                   Child(pod, "spec")});
  }
  return out;
}

struct Container {
  std::string name;
  YAML::Node node;
};

std::vector<Container> Containers(const Workload& workload) {
  std::vector<Container> out;
  for (const char* list : {"initContainers", "containers"}) {
    YAML::Node items = Child(workload.spec, list);
    if (!items.IsDefined() || !items.IsSequence()) continue;
    for (const YAML::Node& item : items) out.push_back({Str(Child(item, "name")), item});
  }
  return out;
}

std::string Where(const Workload& workload, const Container& container) {
  return workload.Id() + " container " + container.name;
}

std::string Image(const Container& container) { return Str(Child(container.node, "image")); }

std::vector<std::string> CommandLine(const Container& container) {
  std::vector<std::string> out = StrList(Child(container.node, "command"));
  for (std::string& arg : StrList(Child(container.node, "args"))) out.push_back(std::move(arg));
  return out;
}

// The value of --name (as --name=value or --name value); nullopt when absent, "" for a bare
// flag.
std::optional<std::string> Flag(const std::vector<std::string>& line, const std::string& name) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == name) {
      if (i + 1 < line.size() && line[i + 1].rfind("--", 0) != 0) return line[i + 1];
      return std::string();
    }
    if (line[i].rfind(name + "=", 0) == 0) return line[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

// The port of a bind-address flag, parsed as the binaries parse it; nullopt for a malformed
// address or port 0 (ephemeral: nothing a Service could target).
std::optional<int> PortOf(const std::string& host_port) {
  auto bind = ParseBindAddress(host_port);
  if (!bind.ok() || bind->second == 0) return std::nullopt;
  return bind->second;
}

int ToInt(const std::string& text) { return ParseInt32(text).value_or(-1); }

// A container's ports: name -> number.
std::map<std::string, int> ContainerPorts(const Container& container) {
  std::map<std::string, int> out;
  YAML::Node ports = Child(container.node, "ports");
  if (!ports.IsDefined() || !ports.IsSequence()) return out;
  for (const YAML::Node& port : ports) {
    const int number = ToInt(Str(Child(port, "containerPort")));
    const std::string name = Str(Child(port, "name"));
    out[name.empty() ? "#" + std::to_string(number) : name] = number;
  }
  return out;
}

bool HasPort(const std::map<std::string, int>& ports, const std::string& name_or_number) {
  const int number = ToInt(name_or_number);
  for (const auto& [name, value] : ports) {
    if (number > 0 ? value == number : name == name_or_number) return true;
  }
  return false;
}

// Port number behind a name or number among ports; -1 if none.
int ResolvePort(const std::map<std::string, int>& ports, const std::string& name_or_number) {
  const int number = ToInt(name_or_number);
  for (const auto& [name, value] : ports) {
    if (number > 0 ? value == number : name == name_or_number) return value;
  }
  return -1;
}

bool Selects(const YAML::Node& selector, const YAML::Node& labels) {
  if (!selector.IsDefined() || !selector.IsMap() || selector.size() == 0) return false;
  for (const auto& entry : selector) {
    if (Str(Child(labels, entry.first.Scalar())) != Str(entry.second)) return false;
  }
  return true;
}

const YAML::Node* FindObject(const Objects& objects, const std::string& kind, const std::string& ns,
                             const std::string& name) {
  for (const YAML::Node& object : objects) {
    if (Kind(object) == kind && Name(object) == name && (ns.empty() || Namespace(object) == ns))
      return &object;
  }
  return nullptr;
}

// Secrets a certificate Job creates: namespace/name -> keys.
std::map<std::string, std::set<std::string>> JobSecrets(const Objects& objects) {
  std::map<std::string, std::set<std::string>> out;
  for (const Workload& workload : Workloads(objects)) {
    if (workload.kind != "Job") continue;
    for (const Container& container : Containers(workload)) {
      YAML::Node env = Child(container.node, "env");
      if (!env.IsDefined() || !env.IsSequence()) continue;
      for (const YAML::Node& var : env) {
        if (Str(Child(var, "name")) == "SECRET_NAME" && !Str(Child(var, "value")).empty()) {
          out[workload.ns + "/" + Str(Child(var, "value"))] = {"ca.crt", "tls.crt", "tls.key"};
        }
      }
    }
  }
  return out;
}

// Keys of a rendered ConfigMap or Secret, or of a Job-made Secret; nullopt if there is none.
std::optional<std::set<std::string>> SourceKeys(const Objects& objects, const std::string& kind,
                                                const std::string& ns, const std::string& name,
                                                const ExternalSecrets& external = {}) {
  if (const YAML::Node* object = FindObject(objects, kind, ns, name)) {
    std::set<std::string> keys;
    for (const char* field : {"data", "binaryData", "stringData"}) {
      YAML::Node data = Child(*object, field);
      if (!data.IsDefined() || !data.IsMap()) continue;
      for (const auto& entry : data) keys.insert(entry.first.Scalar());
    }
    return keys;
  }
  if (kind == "Secret") {
    auto secrets = JobSecrets(objects);
    auto it = secrets.find(ns + "/" + name);
    if (it != secrets.end()) return it->second;
    auto made_outside = external.find(ns + "/" + name);
    if (made_outside != external.end()) return made_outside->second;
  }
  return std::nullopt;
}

// A file a container sees under a ConfigMap or Secret volume.
struct MountedFile {
  std::string kind, name, key;  // kind "ConfigMap" or "Secret"
};

std::optional<MountedFile> ResolveMount(const Workload& workload, const Container& container,
                                        const std::string& path) {
  YAML::Node mounts = Child(container.node, "volumeMounts");
  if (!mounts.IsDefined() || !mounts.IsSequence()) return std::nullopt;
  for (const YAML::Node& mount : mounts) {
    const std::string dir = Str(Child(mount, "mountPath"));
    const std::string sub_path = Str(Child(mount, "subPath"));
    std::string key;
    if (!sub_path.empty() && path == dir) {
      key = sub_path;
    } else if (sub_path.empty() && path.size() > dir.size() + 1 && path.rfind(dir + "/", 0) == 0) {
      key = path.substr(dir.size() + 1);
    } else {
      continue;
    }
    YAML::Node volumes = Child(workload.spec, "volumes");
    if (!volumes.IsDefined() || !volumes.IsSequence()) return std::nullopt;
    for (const YAML::Node& volume : volumes) {
      if (Str(Child(volume, "name")) != Str(Child(mount, "name"))) continue;
      MountedFile file;
      YAML::Node source = Child(volume, "configMap");
      if (source.IsDefined()) {
        file.kind = "ConfigMap";
        file.name = Str(Child(source, "name"));
      } else {
        source.reset(Child(volume, "secret"));
        if (!source.IsDefined()) return std::nullopt;
        file.kind = "Secret";
        file.name = Str(Child(source, "secretName"));
      }
      file.key = key;
      YAML::Node items = Child(source, "items");
      if (items.IsDefined() && items.IsSequence()) {
        for (const YAML::Node& item : items) {
          if (Str(Child(item, "path")) == key) file.key = Str(Child(item, "key"));
        }
      }
      return file;
    }
  }
  return std::nullopt;
}

std::string ConfigMapText(const Objects& objects, const std::string& ns, const MountedFile& file) {
  const YAML::Node* object = FindObject(objects, "ConfigMap", ns, file.name);
  return object != nullptr ? Str(At(*object, {"data", file.key})) : std::string();
}

// The first container (with its workload) whose image base name is `image`.
std::optional<std::pair<Workload, Container>> FindContainer(const Objects& objects,
                                                            const std::string& image) {
  for (const Workload& workload : Workloads(objects)) {
    for (const Container& container : Containers(workload)) {
      if (ImageBaseName(Image(container)) == image) return std::make_pair(workload, container);
    }
  }
  return std::nullopt;
}

bool ValidExtendedResourceName(const std::string& name) {
  static const std::regex kQualified(
      "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)/"
      "([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)");
  std::smatch match;
  if (!std::regex_match(name, match, kQualified)) return false;
  const std::string prefix = match[1].str();
  // Extended resources may not live in Kubernetes' own domains.
  if (prefix == "kubernetes.io" || prefix.ends_with(".kubernetes.io")) return false;
  return prefix.size() <= 253 && match[5].str().size() <= 63;
}

}  // namespace

Objects ParseDocuments(const std::string& text) {
  Objects out;
  for (const YAML::Node& document : YAML::LoadAll(text)) {
    if (document.IsDefined() && document.IsMap() && document.size() > 0) out.push_back(document);
  }
  return out;
}

std::string ImageBaseName(const std::string& image) {
  std::string name = image.substr(0, image.find('@'));
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    name.resize(colon);
  }
  const size_t last = name.rfind('/');
  return last == std::string::npos ? name : name.substr(last + 1);
}

Problems CheckResources(const Objects& objects) {
  Problems problems;
  for (const Workload& workload : Workloads(objects)) {
    for (const Container& container : Containers(workload)) {
      for (const char* section : {"requests", "limits"}) {
        for (const char* resource : {"cpu", "memory"}) {
          if (Str(At(container.node, {"resources", section, resource})).empty()) {
            problems.push_back(Where(workload, container) + ": no resources." + section + "." +
                               resource);
          }
        }
      }
    }
  }
  return problems;
}

Problems CheckSecurityContexts(const Objects& objects,
                               const std::set<std::string>& non_root_images) {
  Problems problems;
  for (const Workload& workload : Workloads(objects)) {
    YAML::Node pod = Child(workload.spec, "securityContext");
    for (const Container& container : Containers(workload)) {
      const std::string where = Where(workload, container);
      YAML::Node context = Child(container.node, "securityContext");
      if (!context.IsDefined() || !context.IsMap()) {
        problems.push_back(where + ": no securityContext");
        continue;
      }
      if (!IsTrue(Child(context, "readOnlyRootFilesystem"))) {
        problems.push_back(where + ": readOnlyRootFilesystem is not true");
      }
      if (IsTrue(Child(context, "privileged"))) {
        if (IsFalse(Child(context, "allowPrivilegeEscalation"))) {
          problems.push_back(where + ": privileged with allowPrivilegeEscalation false is invalid");
        }
      } else {
        if (!IsFalse(Child(context, "allowPrivilegeEscalation"))) {
          problems.push_back(where + ": allowPrivilegeEscalation is not false");
        }
        if (!Contains(StrList(At(context, {"capabilities", "drop"})), "ALL")) {
          problems.push_back(where + ": capabilities.drop lacks ALL");
        }
      }
      if (non_root_images.count(ImageBaseName(Image(container))) != 0) {
        YAML::Node own = Child(context, "runAsNonRoot");
        const bool non_root = own.IsDefined() ? IsTrue(own) : IsTrue(Child(pod, "runAsNonRoot"));
        YAML::Node user = Child(context, "runAsUser");
        if (!user.IsDefined()) user.reset(Child(pod, "runAsUser"));
        if (!non_root || Str(user) == "0") problems.push_back(where + ": may run as root");
      }
    }
  }
  return problems;
}

Problems CheckRbacRules(const Objects& objects, const std::vector<Grant>& allowed) {
  Problems problems;
  for (const YAML::Node& object : objects) {
    const std::string kind = Kind(object);
    if (kind != "Role" && kind != "ClusterRole") continue;
    const std::string role = kind + "/" + Name(object);
    YAML::Node rules = Child(object, "rules");
    if (!rules.IsDefined() || !rules.IsSequence()) continue;
    for (const YAML::Node& rule : rules) {
      const auto groups = StrList(Child(rule, "apiGroups"));
      const auto resources = StrList(Child(rule, "resources"));
      const auto verbs = StrList(Child(rule, "verbs"));
      const auto names = StrList(Child(rule, "resourceNames"));
      if (Child(rule, "nonResourceURLs").IsDefined()) {
        problems.push_back(role + ": grants nonResourceURLs");
      }
      for (const auto* list : {&groups, &resources, &verbs, &names}) {
        if (Contains(*list, "*")) problems.push_back(role + ": a rule has a wildcard");
      }
      for (const std::string& group : groups) {
        for (const std::string& resource : resources) {
          for (const std::string& verb : verbs) {
            const std::string what =
                role + " grants " + verb + " on " + resource + " (apiGroup \"" + group + "\")";
            auto entry = std::find_if(allowed.begin(), allowed.end(), [&](const Grant& grant) {
              return grant.role == role && grant.api_group == group && grant.resource == resource &&
                     grant.verb == verb;
            });
            if (entry == allowed.end()) {
              problems.push_back(what + ": not in the allow-list");
            } else if (!entry->resource_name.empty() &&
                       names != std::vector<std::string>{entry->resource_name}) {
              problems.push_back(what + ": must be limited to resourceNames [" +
                                 entry->resource_name + "]");
            }
          }
        }
      }
    }
  }
  return problems;
}

Problems CheckRbacGrantsPresent(const Objects& objects, const std::vector<Grant>& needed) {
  Problems problems;
  for (const Grant& grant : needed) {
    bool found = false;
    for (const YAML::Node& object : objects) {
      if (Kind(object) + "/" + Name(object) != grant.role) continue;
      YAML::Node rules = Child(object, "rules");
      if (!rules.IsDefined() || !rules.IsSequence()) continue;
      for (const YAML::Node& rule : rules) {
        const auto names = StrList(Child(rule, "resourceNames"));
        found = found || (Contains(StrList(Child(rule, "apiGroups")), grant.api_group) &&
                          Contains(StrList(Child(rule, "resources")), grant.resource) &&
                          Contains(StrList(Child(rule, "verbs")), grant.verb) &&
                          (names.empty() || Contains(names, grant.resource_name)));
      }
    }
    if (!found) {
      problems.push_back(grant.role + " lacks " + grant.verb + " on " + grant.resource +
                         " (apiGroup \"" + grant.api_group + "\")");
    }
  }
  return problems;
}

Problems CheckServiceAccounts(const Objects& objects,
                              const std::set<std::string>& builtin_cluster_roles) {
  Problems problems;
  std::set<std::string> accounts;  // namespace/name
  for (const YAML::Node& object : objects) {
    if (Kind(object) == "ServiceAccount") accounts.insert(Namespace(object) + "/" + Name(object));
  }
  std::set<std::string> bound;  // accounts bound to a role that exists
  for (const YAML::Node& object : objects) {
    const std::string kind = Kind(object);
    if (kind != "RoleBinding" && kind != "ClusterRoleBinding") continue;
    const std::string ns = kind == "RoleBinding" ? Namespace(object) : "";
    const std::string ref_kind = Str(At(object, {"roleRef", "kind"}));
    const std::string ref_name = Str(At(object, {"roleRef", "name"}));
    const bool role_exists =
        FindObject(objects, ref_kind, ref_kind == "Role" ? ns : "", ref_name) != nullptr ||
        (ref_kind == "ClusterRole" && builtin_cluster_roles.count(ref_name) != 0);
    if (!role_exists) {
      problems.push_back(kind + "/" + Name(object) + ": roleRef " + ref_kind + "/" + ref_name +
                         " is neither rendered nor an allowed built-in role");
    }
    YAML::Node subjects = Child(object, "subjects");
    if (!subjects.IsDefined() || !subjects.IsSequence()) continue;
    for (const YAML::Node& subject : subjects) {
      if (Str(Child(subject, "kind")) != "ServiceAccount") continue;
      std::string subject_ns = Str(Child(subject, "namespace"));
      if (subject_ns.empty()) subject_ns = ns;
      const std::string account = subject_ns + "/" + Str(Child(subject, "name"));
      if (accounts.count(account) == 0) {
        problems.push_back(kind + "/" + Name(object) + ": subject " + account + " is not rendered");
      }
      if (role_exists) bound.insert(account);
    }
  }
  for (const Workload& workload : Workloads(objects)) {
    const std::string name = Str(Child(workload.spec, "serviceAccountName"));
    if (name.empty() || name == "default") {
      problems.push_back(workload.Id() + ": runs as the namespace's default ServiceAccount");
      continue;
    }
    const std::string account = workload.ns + "/" + name;
    if (accounts.count(account) == 0) {
      problems.push_back(workload.Id() + ": ServiceAccount " + account + " is not rendered");
    } else if (bound.count(account) == 0) {
      problems.push_back(workload.Id() + ": ServiceAccount " + account + " is bound to no role");
    }
  }
  return problems;
}

Problems CheckPorts(const Objects& objects) {
  Problems problems;
  const std::vector<Workload> workloads = Workloads(objects);
  for (const Workload& workload : workloads) {
    for (const Container& container : Containers(workload)) {
      const auto ports = ContainerPorts(container);
      const auto line = CommandLine(container);
      for (const char* flag : {"--http_bind", "--metrics-bind-address"}) {
        auto value = Flag(line, flag);
        if (!value || value->empty()) continue;
        auto port = PortOf(*value);
        if (!port) {
          problems.push_back(Where(workload, container) + ": " + flag + "=" + *value +
                             " is not host:port");
        } else if (!HasPort(ports, std::to_string(*port))) {
          problems.push_back(Where(workload, container) + ": " + flag + " listens on " +
                             std::to_string(*port) + ", which is no containerPort");
        }
      }
      for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
        for (const char* handler : {"httpGet", "tcpSocket"}) {
          const std::string port = Str(At(container.node, {probe, handler, "port"}));
          if (!port.empty() && !HasPort(ports, port)) {
            problems.push_back(Where(workload, container) + ": " + probe + " port " + port +
                               " is no containerPort");
          }
        }
      }
    }
  }
  for (const YAML::Node& object : objects) {
    if (Kind(object) != "Service") continue;
    const std::string service = "Service/" + Name(object);
    YAML::Node selector = At(object, {"spec", "selector"});
    std::vector<const Workload*> selected;
    for (const Workload& workload : workloads) {
      if (workload.ns == Namespace(object) && Selects(selector, workload.labels)) {
        selected.push_back(&workload);
      }
    }
    if (selected.empty()) problems.push_back(service + ": selects no rendered workload");
    YAML::Node service_ports = At(object, {"spec", "ports"});
    if (!service_ports.IsDefined() || !service_ports.IsSequence()) continue;
    for (const YAML::Node& port : service_ports) {
      std::string target = Str(Child(port, "targetPort"));
      if (target.empty()) target = Str(Child(port, "port"));
      bool found = false;
      for (const Workload* workload : selected) {
        for (const Container& container : Containers(*workload)) {
          found = found || HasPort(ContainerPorts(container), target);
        }
      }
      if (!found && !selected.empty()) {
        problems.push_back(service + ": targetPort " + target + " is no port of its pods");
      }
    }
  }
  return problems;
}

Problems CheckFlags(const Objects& objects,
                    const std::map<std::string, std::string>& help_by_image) {
  Problems problems;
  auto in_help = [](const std::string& help, const std::string& flag) {
    for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
      const size_t end = at + flag.size();
      const char after = end < help.size() ? help[end] : ' ';
      const char before = at > 0 ? help[at - 1] : ' ';
      const bool word_end =
          !(std::isalnum(static_cast<unsigned char>(after)) || after == '-' || after == '_');
      if (word_end && (before == ' ' || before == ',' || before == '\n')) return true;
    }
    return false;
  };
  for (const Workload& workload : Workloads(objects)) {
    for (const Container& container : Containers(workload)) {
      auto help = help_by_image.find(ImageBaseName(Image(container)));
      if (help == help_by_image.end()) continue;
      std::set<std::string> seen;
      for (const std::string& token : CommandLine(container)) {
        if (token.rfind("--", 0) != 0) continue;
        const std::string flag = token.substr(0, token.find('='));
        if (!in_help(help->second, flag)) {
          problems.push_back(Where(workload, container) + ": " + flag + " is not a flag of " +
                             help->first);
        }
        if (!seen.insert(flag).second) {
          problems.push_back(Where(workload, container) + ": " + flag + " is given twice");
        }
      }
    }
  }
  return problems;
}

namespace {

// A resource-name key of any vendor section: resource*Name (resourceCountName, resourceVCoreName,
// Ascend's resourceName, ...) or Enflame's resourceName* (resourceNameGCU, resourceNameGCUCore).
bool IsResourceNameKey(const std::string& key) {
  return key.rfind("resourceName", 0) == 0 ||
         (key.rfind("resource", 0) == 0 && key.ends_with("Name"));
}

// Walks maps and lists, so that list sections (iluvatars: [...], vnpus: {configs: [...]}) and
// sections added later are read like the flat ones.
void CollectResourceNames(const YAML::Node& node, std::set<std::string>* names) {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) CollectResourceNames(item, names);
    return;
  }
  if (!node.IsMap()) return;
  for (const auto& entry : node) {
    if (entry.second.IsScalar()) {
      if (IsResourceNameKey(entry.first.Scalar()) && !entry.second.Scalar().empty()) {
        names->insert(entry.second.Scalar());
      }
    } else {
      CollectResourceNames(entry.second, names);
    }
  }
}

}  // namespace

std::set<std::string> DeviceConfigResourceNames(const YAML::Node& device_config) {
  std::set<std::string> names;
  if (!device_config.IsDefined() || !device_config.IsMap()) return names;
  for (const auto& section : device_config) CollectResourceNames(section.second, &names);
  return names;
}

Problems CheckKubeSchedulerConfig(const Objects& objects,
                                  const std::set<std::string>& resource_names) {
  Problems problems;
  auto kube_scheduler = FindContainer(objects, "kube-scheduler");
  auto extender = FindContainer(objects, "hami-scheduler");
  if (!kube_scheduler || !extender) {
    return {"no kube-scheduler or hami-scheduler container is rendered"};
  }
  const auto& [workload, container] = *kube_scheduler;
  auto path = Flag(CommandLine(container), "--config");
  if (!path || path->empty()) return {"kube-scheduler has no --config"};
  auto file = ResolveMount(workload, container, *path);
  if (!file || file->kind != "ConfigMap") return {"kube-scheduler's --config is no ConfigMap file"};
  const std::string text = ConfigMapText(objects, workload.ns, *file);
  if (text.empty()) return {"ConfigMap " + file->name + " has no key " + file->key};
  YAML::Node config;
  try {
    config.reset(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return {"the KubeSchedulerConfiguration is not YAML: " + std::string(e.what())};
  }
  if (Str(Child(config, "apiVersion")) != "kubescheduler.config.k8s.io/v1") {
    problems.push_back("apiVersion is not kubescheduler.config.k8s.io/v1");
  }
  if (Str(Child(config, "kind")) != "KubeSchedulerConfiguration") {
    problems.push_back("kind is not KubeSchedulerConfiguration");
  }
  // Above 100 nodes kube-scheduler hands the extender a sample of the feasible nodes unless
  // every node is scored; a profile may not lower it again.
  if (Str(Child(config, "percentageOfNodesToScore")) != "100") {
    problems.push_back("percentageOfNodesToScore is not 100 (the extender would see a sample)");
  }
  const auto line = CommandLine(extender->second);
  const std::string scheduler_name = Flag(line, "--scheduler-name").value_or("hami-scheduler");
  YAML::Node profiles = Child(config, "profiles");
  std::set<std::string> profile_names;
  if (profiles.IsDefined() && profiles.IsSequence()) {
    for (const YAML::Node& profile : profiles) {
      const std::string name = Str(Child(profile, "schedulerName"));
      if (name.empty()) problems.push_back("a profile has no schedulerName");
      const std::string share = Str(Child(profile, "percentageOfNodesToScore"));
      if (!share.empty() && share != "100") {
        problems.push_back("profile " + name + " scores " + share + " % of the nodes, not 100");
      }
      if (!profile_names.insert(name).second) problems.push_back("profile " + name + " twice");
    }
  }
  if (profile_names.count(scheduler_name) == 0) {
    problems.push_back("no profile is named " + scheduler_name + " (--scheduler-name)");
  }
  if (IsTrue(At(config, {"leaderElection", "leaderElect"})) && Flag(line, "--leader-elect")) {
    if (Str(At(config, {"leaderElection", "resourceName"})) !=
            Flag(line, "--leader-elect-resource-name").value_or("kube-scheduler") ||
        Str(At(config, {"leaderElection", "resourceNamespace"})) !=
            Flag(line, "--leader-elect-resource-namespace").value_or("kube-system")) {
      problems.push_back("the extender watches another Lease than kube-scheduler holds");
    }
  }
  static const std::set<std::string> kExtenderFields = {
      "urlPrefix",   "filterVerb",       "preemptVerb",      "prioritizeVerb",
      "weight",      "bindVerb",         "enableHTTPS",      "tlsConfig",
      "httpTimeout", "nodeCacheCapable", "managedResources", "ignorable"};
  static const std::set<std::string> kTlsFields = {"insecure", "serverName", "certFile", "keyFile",
                                                   "caFile",   "certData",   "keyData",  "caData"};
  YAML::Node extenders = Child(config, "extenders");
  if (!extenders.IsDefined() || !extenders.IsSequence() || extenders.size() == 0) {
    problems.push_back("no extender");
    return problems;
  }
  const bool tls = Flag(line, "--cert_file").has_value();
  const std::optional<int> bind_port = PortOf(Flag(line, "--http_bind").value_or(""));
  int binders = 0;
  std::set<std::string> managed;
  for (const YAML::Node& ext : extenders) {
    for (const auto& field : ext) {
      if (kExtenderFields.count(field.first.Scalar()) == 0) {
        problems.push_back("unknown extender field " + field.first.Scalar());
      }
    }
    for (const auto& field : Child(ext, "tlsConfig")) {
      if (kTlsFields.count(field.first.Scalar()) == 0) {
        problems.push_back("unknown tlsConfig field " + field.first.Scalar());
      }
    }
    static const std::regex kUrl("(https?)://(127\\.0\\.0\\.1|localhost|[^:/]+):([0-9]+)(/.*)?");
    std::smatch url;
    const std::string prefix = Str(Child(ext, "urlPrefix"));
    if (!std::regex_match(prefix, url, kUrl)) {
      problems.push_back("urlPrefix \"" + prefix + "\" is not scheme://host:port");
    } else if (url[2] == "127.0.0.1" || url[2] == "localhost") {
      if (!bind_port || ToInt(url[3].str()) != *bind_port) {
        problems.push_back("urlPrefix " + prefix + " is not the extender's --http_bind port");
      }
      if ((url[1] == "https") != tls || IsTrue(Child(ext, "enableHTTPS")) != tls) {
        problems.push_back("urlPrefix/enableHTTPS disagree with the extender's --cert_file");
      }
    }
    if (Str(Child(ext, "filterVerb")).empty()) problems.push_back("an extender has no filterVerb");
    if (!Str(Child(ext, "bindVerb")).empty()) ++binders;
    if (ToInt(Str(Child(ext, "weight"))) <= 0) problems.push_back("extender weight is not > 0");
    const std::string timeout = Str(Child(ext, "httpTimeout"));
    if (!timeout.empty() && !ParseGoDuration(timeout).ok()) {
      problems.push_back("httpTimeout \"" + timeout + "\" is not a duration");
    }
    for (const YAML::Node& resource : Child(ext, "managedResources")) {
      const std::string name = Str(Child(resource, "name"));
      if (!ValidExtendedResourceName(name)) {
        problems.push_back("managed resource \"" + name + "\" is not a valid extended resource");
      }
      if (!IsTrue(Child(resource, "ignoredByScheduler"))) {
        problems.push_back("managed resource " + name + " is not ignoredByScheduler");
      }
      // kube-scheduler's validation refuses a name managed twice (by any extender).
      if (!managed.insert(name).second) problems.push_back("managed resource " + name + " twice");
    }
  }
  if (binders == 0) problems.push_back("no extender binds (bindVerb)");
  if (binders > 1) problems.push_back("more than one extender has a bindVerb");
  for (const std::string& name : resource_names) {
    if (managed.count(name) == 0) problems.push_back("managedResources lack " + name);
  }
  return problems;
}

std::string MountedDeviceConfig(const Objects& objects, Problems* problems) {
  auto extender = FindContainer(objects, "hami-scheduler");
  if (!extender) {
    problems->push_back("no hami-scheduler container");
    return "";
  }
  auto path = Flag(CommandLine(extender->second), "--device-config-file");
  if (!path || path->empty()) {
    problems->push_back("hami-scheduler has no --device-config-file");
    return "";
  }
  auto file = ResolveMount(extender->first, extender->second, *path);
  if (!file || file->kind != "ConfigMap") {
    problems->push_back("--device-config-file " + *path + " is not in a ConfigMap volume");
    return "";
  }
  std::string text = ConfigMapText(objects, extender->first.ns, *file);
  if (text.empty()) problems->push_back("ConfigMap " + file->name + " has no " + file->key);
  return text;
}

Problems CheckDevicePluginResourceName(const Objects& objects, const YAML::Node& device_config) {
  auto plugin = FindContainer(objects, "hami-device-plugin");
  if (!plugin) return {"no hami-device-plugin container"};
  const std::string registered =
      Flag(CommandLine(plugin->second), "--resource-name").value_or("nvidia.com/gpu");
  std::string configured = Str(At(device_config, {"nvidia", "resourceCountName"}));
  if (configured.empty()) configured = "nvidia.com/gpu";
  if (registered != configured) {
    return {"the device plugin registers " + registered + " but the device config counts " +
            configured};
  }
  return {};
}

Problems CheckWebhooks(const Objects& objects) {
  Problems problems;
  const std::vector<Workload> workloads = Workloads(objects);
  auto skips_ignore = [](const YAML::Node& selector) {
    YAML::Node expressions = Child(selector, "matchExpressions");
    if (!expressions.IsDefined() || !expressions.IsSequence()) return false;
    for (const YAML::Node& expression : expressions) {
      if (Str(Child(expression, "key")) == "hami.io/webhook" &&
          Str(Child(expression, "operator")) == "NotIn" &&
          Contains(StrList(Child(expression, "values")), "ignore")) {
        return true;
      }
    }
    return false;
  };
  for (const YAML::Node& object : objects) {
    if (Kind(object) != "MutatingWebhookConfiguration") continue;
    for (const YAML::Node& hook : Child(object, "webhooks")) {
      const std::string where = "webhook " + Str(Child(hook, "name"));
      if (Str(Child(hook, "failurePolicy")) != "Ignore") {
        problems.push_back(where + ": failurePolicy is not Ignore");
      }
      if (Str(Child(hook, "sideEffects")) != "None") {
        problems.push_back(where + ": sideEffects is not None");
      }
      if (!Contains(StrList(Child(hook, "admissionReviewVersions")), "v1")) {
        problems.push_back(where + ": admissionReviewVersions lack v1");
      }
      bool pods_create = false;
      for (const YAML::Node& rule : Child(hook, "rules")) {
        pods_create = pods_create || (Contains(StrList(Child(rule, "resources")), "pods") &&
                                      Contains(StrList(Child(rule, "operations")), "CREATE"));
      }
      if (!pods_create) problems.push_back(where + ": no rule for pods CREATE");
      if (!skips_ignore(Child(hook, "namespaceSelector")) ||
          !skips_ignore(Child(hook, "objectSelector"))) {
        problems.push_back(where + ": a selector does not skip hami.io/webhook=ignore");
      }
      YAML::Node service_ref = At(hook, {"clientConfig", "service"});
      if (Str(Child(service_ref, "path")) != "/webhook") {
        problems.push_back(where + ": path is not /webhook");
      }
      const std::string port =
          Str(Child(service_ref, "port")).empty() ? "443" : Str(Child(service_ref, "port"));
      const YAML::Node* service =
          FindObject(objects, "Service", Str(Child(service_ref, "namespace")),
                     Str(Child(service_ref, "name")));
      if (service == nullptr) {
        problems.push_back(where + ": Service " + Str(Child(service_ref, "namespace")) + "/" +
                           Str(Child(service_ref, "name")) + " is not rendered");
        continue;
      }
      std::string target;
      for (const YAML::Node& service_port : At(*service, {"spec", "ports"})) {
        if (Str(Child(service_port, "port")) != port) continue;
        target = Str(Child(service_port, "targetPort"));
        if (target.empty()) target = port;
      }
      if (target.empty()) {
        problems.push_back(where + ": its Service has no port " + port);
        continue;
      }
      bool https = false;
      for (const Workload& workload : workloads) {
        if (workload.ns != Namespace(*service) ||
            !Selects(At(*service, {"spec", "selector"}), workload.labels)) {
          continue;
        }
        for (const Container& container : Containers(workload)) {
          const int number = ResolvePort(ContainerPorts(container), target);
          const auto line = CommandLine(container);
          https = https || (number > 0 && Flag(line, "--cert_file").has_value() &&
                            PortOf(Flag(line, "--http_bind").value_or("")) == number);
        }
      }
      if (!https) problems.push_back(where + ": nothing serves HTTPS behind its Service port");
    }
  }
  return problems;
}

Problems CheckVolumes(const Objects& objects, const ExternalSecrets& external) {
  Problems problems;
  for (const Workload& workload : Workloads(objects)) {
    YAML::Node volumes = Child(workload.spec, "volumes");
    if (volumes.IsDefined() && volumes.IsSequence()) {
      for (const YAML::Node& volume : volumes) {
        struct Source {
          const char* field;
          const char* kind;
          const char* name_field;
        };
        for (const auto& [field, kind, name_field] :
             {Source{"configMap", "ConfigMap", "name"}, Source{"secret", "Secret", "secretName"}}) {
          YAML::Node source = Child(volume, field);
          if (!source.IsDefined() || IsTrue(Child(source, "optional"))) continue;
          const std::string name = Str(Child(source, name_field));
          auto keys = SourceKeys(objects, kind, workload.ns, name, external);
          if (!keys) {
            problems.push_back(workload.Id() + ": volume " + Str(Child(volume, "name")) +
                               " needs " + kind + " " + name + ", which nothing creates");
            continue;
          }
          for (const YAML::Node& item : Child(source, "items")) {
            if (keys->count(Str(Child(item, "key"))) == 0) {
              problems.push_back(workload.Id() + ": " + kind + " " + name + " has no key " +
                                 Str(Child(item, "key")));
            }
          }
        }
      }
    }
    // Files named in flags (--config=/etc/..., --device-config-file=/config/...) exist.
    for (const Container& container : Containers(workload)) {
      for (const std::string& token : CommandLine(container)) {
        const size_t eq = token.find('=');
        if (token.rfind("--", 0) != 0 || eq == std::string::npos || token[eq + 1] != '/') continue;
        auto file = ResolveMount(workload, container, token.substr(eq + 1));
        if (!file) continue;
        auto keys = SourceKeys(objects, file->kind, workload.ns, file->name, external);
        if (keys && keys->count(file->key) == 0) {
          problems.push_back(Where(workload, container) + ": " + token + ": " + file->kind + " " +
                             file->name + " has no key " + file->key);
        }
      }
    }
  }
  return problems;
}

Problems CheckGpuNodeSelector(const Objects& objects) {
  Problems problems;
  for (const Workload& workload : Workloads(objects)) {
    if (workload.kind != "DaemonSet") continue;
    YAML::Node gpu = At(workload.spec, {"nodeSelector", "gpu"});
    // A plain `on` is YAML 1.1's boolean true, which the API server rejects: it must be quoted.
    if (Str(gpu) != "on" || gpu.Tag() != "!") {
      problems.push_back(workload.Id() + ": nodeSelector is not gpu: \"on\"");
    }
  }
  return problems;
}

Problems CheckImages(const Objects& objects, const std::set<std::string>& built_images) {
  Problems problems;
  for (const Workload& workload : Workloads(objects)) {
    for (const Container& container : Containers(workload)) {
      const std::string image = Image(container);
      const std::string repository = image.substr(0, image.find_first_of("@"));
      const size_t colon = repository.rfind(':');
      const size_t slash = repository.rfind('/');
      const bool tagged = colon != std::string::npos &&
                          (slash == std::string::npos || colon > slash) &&
                          repository.substr(colon + 1) != "latest";
      if (!tagged && image.find('@') == std::string::npos) {
        problems.push_back(Where(workload, container) + ": image " + image + " is not pinned");
      }
      const std::string name = repository.substr(0, tagged ? colon : repository.size());
      if (built_images.count(ImageBaseName(image)) == 0 &&
          name != "registry.k8s.io/kube-scheduler") {
        problems.push_back(Where(workload, container) + ": image " + image +
                           " is not built by docker/Dockerfile");
      }
    }
  }
  return problems;
}

std::set<std::string> DockerfileTargets(const std::string& dockerfile) {
  static const std::regex kFrom("^\\s*FROM\\s+\\S+\\s+AS\\s+(\\S+)\\s*$", std::regex::icase);
  std::set<std::string> out;
  std::istringstream lines(dockerfile);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, match, kFrom)) out.insert(match[1].str());
  }
  return out;
}

}  // namespace hami::deploy
