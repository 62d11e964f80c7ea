// What the deploy/ (kustomize) and charts/hami (Helm) tests share: the RBAC allow-list of what
// the code calls, the tools that render the manifests (found at run time, may be absent), a
// command runner and small accessors of rendered objects. Test support only.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/deploy/manifest_checks.h"

namespace hami::deploy {

// What the code calls on the API server, one entry per verb: a rendered rule outside this list
// fails (CheckRbacRules), and so does an entry no rendered rule grants (CheckRbacGrantsPresent).
extern const std::vector<Grant> kGrants;

// Kubernetes' own roles that the stock kube-scheduler container is bound to.
extern const std::set<std::string> kBuiltinClusterRoles;

// Images whose containers must not run as root.
extern const std::set<std::string> kNonRootImages;

// The problems, one indented line each (for a failure message).
std::string Join(const Problems& problems);

// `text` as one single-quoted shell word.
std::string ShellQuote(const std::string& text);

struct CommandResult {
  int exit_code = -1;  // -1: could not run or killed by a signal
  std::string out, err;
};

// Runs `command` with sh, capturing stdout and stderr. Blocks until it exits.
CommandResult RunCommand(const std::string& command);

// The whole file, empty when unreadable.
std::string ReadFile(const std::filesystem::path& path);

// kubectl: $HAMI_KUBECTL, else the first on PATH; empty when there is none.
std::string FindKubectl();

// helm: $HAMI_HELM, else <build>/tools/helm (`build_dir`), else <source>/build/tools/helm
// (scripts/install-deps.sh's default), else the first on PATH; empty when there is none.
std::string FindHelm(const std::filesystem::path& source_dir,
                     const std::filesystem::path& build_dir);

// The binary's --help text, empty when it fails.
std::string Help(const char* binary);

// docker/Dockerfile's target names under `source_dir`.
std::set<std::string> BuiltImages(const std::filesystem::path& source_dir);

// The rendered objects of one kind, in rendering order.
std::vector<YAML::Node> OfKind(const Objects& objects, const std::string& kind);

// The command line (command then args) of the first container running `image` (by base name)
// in a Deployment, DaemonSet or Job; empty when there is none.
std::vector<std::string> ContainerLine(const Objects& objects, const std::string& image);

bool HasArg(const std::vector<std::string>& line, const std::string& arg);

}  // namespace hami::deploy
