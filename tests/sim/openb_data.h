// The openb traces of ../shared/data (HAMI_SHARED_DATA), for tests that measure on them.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "sim/trace.h"

namespace hami::sim::testing {

struct OpenbTrace {
  Cluster cluster;
  Workload workload;
};

// The openb GPU cluster with the pod list of `variant` ("default", "gpushare40", ...);
// nullopt when HAMI_SHARED_DATA/openb is not there or does not load (callers skip).
inline std::optional<OpenbTrace> LoadOpenb(const std::string& variant = "default") {
  const char* root = std::getenv("HAMI_SHARED_DATA");
  if (root == nullptr || !std::filesystem::exists(std::string(root) + "/openb")) {
    return std::nullopt;
  }
  const std::string dir = std::string(root) + "/openb/";
  auto nodes = LoadOpenbNodes(dir + "openb_node_list_gpu_node.csv");
  auto pods = LoadOpenbPods(dir + "openb_pod_list_" + variant + ".csv");
  if (!nodes.ok() || !pods.ok()) return std::nullopt;
  return OpenbTrace{std::move(*nodes), std::move(*pods)};
}

}  // namespace hami::sim::testing
