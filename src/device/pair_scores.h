// HAMi's GPU link scores (node annotation hami.io/node-nvidia-score, spec §1.1): for every GPU of
// a node, a score per other GPU of the same node, higher = better interconnect (NVLink count x
// 100 plus 10..60 for the PCIe path, see deviceplugin/topology.h). Written by the device plugin
// when ENABLE_TOPOLOGY_SCORE=true, read by the scheduler's topology-aware GPU policy.
//
// Wire format (Go encoding/json of HAMi's []DeviceScore):
//   [{"uuid":"GPU-a","score":{"GPU-b":200,"GPU-c":20}},{"uuid":"GPU-b","score":{...}},...]
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami {

// One GPU's scores towards the other GPUs of its node.
struct DevicePairScore {
  std::string uuid;
  std::map<std::string, int32_t> score;  // other GPU's UUID -> link score

  bool operator==(const DevicePairScore&) const = default;
};

// Encodes as Go's encoding/json does: list order kept, "uuid" then "score", map keys sorted
// bytewise, no whitespace, strings escaped like Go's (HTML-safe). An empty list encodes as "[]".
std::string EncodePairScoresJson(const std::vector<DevicePairScore>& scores);

// Decodes the annotation value. Keys "uuid"/"score" match case-insensitively, the last
// duplicate wins and unknown keys are ignored (Go semantics); the literal `null` and a null
// "score" decode to nothing. Failure (InvalidArgument, quoting the input): not JSON, nesting
// deeper than 32, not an array, an element that is not an object, a uuid that is not a string
// or is empty, a score that is not an object, a score value that is not an integer within int32
// (Go would take any int64; no real score comes near int32's range).
Result<std::vector<DevicePairScore>> DecodePairScoresJson(std::string_view json);

}  // namespace hami
