#include "tests/deploy/deploy_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hami::deploy {

const std::vector<Grant> kGrants = {
    // src/scheduler/binder.cc (re-read before bind), src/nodelock/node_locker.cc (lock owner)
    {"ClusterRole/hami-scheduler", "", "pods", "get", ""},
    // src/scheduler/daemon.cc: the pod watch cache behind the usage ledger
    {"ClusterRole/hami-scheduler", "", "pods", "list", ""},
    {"ClusterRole/hami-scheduler", "", "pods", "watch", ""},
    // src/scheduler/http_server.cc (/filter annotations), src/scheduler/binder.cc (bind-phase)
    {"ClusterRole/hami-scheduler", "", "pods", "patch", ""},
    // src/scheduler/binder.cc: KubeClient::CreateBinding
    {"ClusterRole/hami-scheduler", "", "pods/binding", "create", ""},
    // src/nodelock/node_locker.cc: re-read the node before taking or releasing the lock
    {"ClusterRole/hami-scheduler", "", "nodes", "get", ""},
    // src/scheduler/daemon.cc: the node watch cache (device registrations)
    {"ClusterRole/hami-scheduler", "", "nodes", "list", ""},
    {"ClusterRole/hami-scheduler", "", "nodes", "watch", ""},
    // src/scheduler/daemon.cc (handshake), src/nodelock/node_locker.cc (hami.io/mutex.lock)
    {"ClusterRole/hami-scheduler", "", "nodes", "patch", ""},
    // src/scheduler/binder.cc: KubeClient::CreateEvent (core/v1 events)
    {"ClusterRole/hami-scheduler", "", "events", "create", ""},
    // src/scheduler/daemon.cc: the ResourceQuota watch cache (quota enforcement, quota.h)
    {"ClusterRole/hami-scheduler", "", "resourcequotas", "list", ""},
    {"ClusterRole/hami-scheduler", "", "resourcequotas", "watch", ""},
    // the kube-scheduler container's leader election creates its Lease the first time
    {"Role/hami-scheduler-leader-election", "coordination.k8s.io", "leases", "create", ""},
    // src/scheduler/leader.cc (--leader-elect) and kube-scheduler's leader election
    {"Role/hami-scheduler-leader-election", "coordination.k8s.io", "leases", "get",
     "hami-scheduler"},
    // kube-scheduler's leader election renews the Lease
    {"Role/hami-scheduler-leader-election", "coordination.k8s.io", "leases", "update",
     "hami-scheduler"},
    // src/deviceplugin/allocator.cc (lock owner), src/nodelock/node_locker.cc (release)
    {"ClusterRole/hami-device-plugin", "", "nodes", "get", ""},
    // src/deviceplugin/daemon.cc (registration annotation), src/nodelock/node_locker.cc
    {"ClusterRole/hami-device-plugin", "", "nodes", "patch", ""},
    // src/deviceplugin/allocator.cc: the pod being allocated, its pending-pod search, its patch
    {"ClusterRole/hami-device-plugin", "", "pods", "get", ""},
    {"ClusterRole/hami-device-plugin", "", "pods", "list", ""},
    {"ClusterRole/hami-device-plugin", "", "pods", "patch", ""},
    // hami-monitor's pod informer (its node's pods, to name container directories)
    {"ClusterRole/hami-monitor", "", "pods", "list", ""},
    {"ClusterRole/hami-monitor", "", "pods", "watch", ""},
    // deploy/base/gen-certs.sh: create, read, repair the serving certificate's Secret
    {"Role/hami-certgen", "", "secrets", "create", ""},
    {"Role/hami-certgen", "", "secrets", "get", "hami-scheduler-tls"},
    {"Role/hami-certgen", "", "secrets", "patch", "hami-scheduler-tls"},
    // deploy/base/gen-certs.sh: check the webhook exists and set its caBundle
    {"ClusterRole/hami-certgen", "admissionregistration.k8s.io", "mutatingwebhookconfigurations",
     "get", "hami-webhook"},
    {"ClusterRole/hami-certgen", "admissionregistration.k8s.io", "mutatingwebhookconfigurations",
     "patch", "hami-webhook"},
};

// Kubernetes' own roles that the stock kube-scheduler container is bound to.
const std::set<std::string> kBuiltinClusterRoles = {"system:kube-scheduler",
                                                    "system:volume-scheduler"};

// Images whose containers must not run as root.
const std::set<std::string> kNonRootImages = {"kube-scheduler", "hami-scheduler", "hami-certgen"};

std::string Join(const Problems& problems) {
  std::string out;
  for (const std::string& problem : problems) out += "\n  " + problem;
  return out;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  char err_path[] = "/tmp/hami-deploy-test-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd < 0) return result;
  close(fd);
  FILE* pipe = popen((command + " 2>" + err_path).c_str(), "r");
  if (pipe != nullptr) {
    char buffer[4096];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  unlink(err_path);
  return result;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string FindKubectl() {
  if (const char* env = std::getenv("HAMI_KUBECTL"); env != nullptr && *env != '\0') return env;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/kubectl";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string Help(const char* binary) {
  const CommandResult result = RunCommand(ShellQuote(binary) + " --help");
  return result.exit_code == 0 ? result.out : std::string();
}

std::set<std::string> BuiltImages(const std::filesystem::path& source_dir) {
  return DockerfileTargets(ReadFile(source_dir / "docker/Dockerfile"));
}

std::vector<YAML::Node> OfKind(const Objects& objects, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const YAML::Node& object : objects) {
    if (object["kind"].as<std::string>() == kind) out.push_back(object);
  }
  return out;
}

// The command line of the first container running `image` (by base name).
std::vector<std::string> ContainerLine(const Objects& objects, const std::string& image) {
  for (const char* kind : {"Deployment", "DaemonSet", "Job"}) {
    for (const YAML::Node& object : OfKind(objects, kind)) {
      for (const YAML::Node& container : object["spec"]["template"]["spec"]["containers"]) {
        if (ImageBaseName(container["image"].as<std::string>()) != image) continue;
        std::vector<std::string> line;
        for (const char* field : {"command", "args"}) {
          if (!container[field]) continue;
          for (const YAML::Node& arg : container[field]) line.push_back(arg.as<std::string>());
        }
        return line;
      }
    }
  }
  return {};
}

bool HasArg(const std::vector<std::string>& line, const std::string& arg) {
  return std::find(line.begin(), line.end(), arg) != line.end();
}

namespace {

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (Executable(candidate)) return candidate;
  }
  return "";
}

}  // namespace

std::string FindHelm(const std::filesystem::path& source_dir,
                     const std::filesystem::path& build_dir) {
  if (const char* env = std::getenv("HAMI_HELM"); env != nullptr && *env != '\0') {
    return Executable(env) ? env : "";
  }
  for (const std::filesystem::path& candidate :
       {build_dir / "tools/helm", source_dir / "build/tools/helm"}) {
    if (Executable(candidate.string())) return candidate.string();
  }
  return OnPath("helm");
}

}  // namespace hami::deploy
