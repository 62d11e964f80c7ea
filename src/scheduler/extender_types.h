// The kube-scheduler extender wire types (k8s.io/kube-scheduler/extender/v1) as JSON.
//
// kube-scheduler encodes them with Go's field names (no json tags: "Pod", "NodeNames",
// "FailedNodes", ...) and Go decodes keys case-insensitively, so the decoders here accept any
// case and the encoders write Go's names. Pure functions; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami::scheduler {

// Bodies larger than this are refused before parsing (HAMi reads at most 1 MiB; a NodeList
// of thousands of nodes in simulation mode needs more, so we allow 64 MiB).
inline constexpr size_t kMaxExtenderBodyBytes = 64u << 20;

struct ExtenderArgs {
  nlohmann::json pod;                                // v1.Pod
  std::optional<std::vector<nlohmann::json>> nodes;  // NodeList items; set => simulation mode
  std::optional<std::vector<std::string>> node_names;
};

struct ExtenderFilterResult {
  std::optional<std::vector<nlohmann::json>> nodes;  // encoded as {"items":[...]} or null
  std::optional<std::vector<std::string>> node_names;
  std::map<std::string, std::string> failed_nodes;
  std::map<std::string, std::string> failed_and_unresolvable;
  std::string error;
};

struct ExtenderBindingArgs {
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string node;
};

// Failure: InvalidArgument for non-JSON, a non-object body, a missing or non-object Pod,
// wrong-typed Nodes/NodeNames, or a body over kMaxExtenderBodyBytes.
Result<ExtenderArgs> DecodeExtenderArgs(std::string_view body);
std::string EncodeExtenderFilterResult(const ExtenderFilterResult& result);

// Failure: InvalidArgument for non-JSON or missing/empty PodName, PodNamespace or Node.
Result<ExtenderBindingArgs> DecodeExtenderBindingArgs(std::string_view body);
std::string EncodeExtenderBindingResult(const std::string& error);

}  // namespace hami::scheduler
