// Fuzz target: the GPU link score annotation (hami.io/node-nvidia-score) and what the scheduler
// builds from it. Properties: never crash; whatever decodes re-encodes to a string that decodes to
// the same list (when its strings are valid UTF-8); the link matrix built from it for the listed
// GPUs drives ChooseLinkedDevices to `count` distinct candidates in candidate order.
#include <cstddef>
#include <cstdint>
#include <set>

#include "device/pair_scores.h"
#include "fuzz_check.h"
#include "policy/topology.h"

namespace {

bool AllUtf8(const std::vector<hami::DevicePairScore>& scores) {
  for (const hami::DevicePairScore& s : scores) {
    if (!hami::fuzz::IsValidUtf8(s.uuid)) return false;
    for (const auto& [peer, score] : s.score) {
      if (!hami::fuzz::IsValidUtf8(peer)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::Result<std::vector<hami::DevicePairScore>> scores = hami::DecodePairScoresJson(text);
  if (!scores.ok()) {
    HAMI_FUZZ_CHECK(!scores.status().message().empty());
    return 0;
  }
  if (AllUtf8(*scores)) {
    const std::string json = hami::EncodePairScoresJson(*scores);
    hami::Result<std::vector<hami::DevicePairScore>> again = hami::DecodePairScoresJson(json);
    HAMI_FUZZ_CHECK(again.ok());
    HAMI_FUZZ_CHECK(*again == *scores);
  }
  // The node's GPUs: every UUID the value names, up to 12, plus one it does not.
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const hami::DevicePairScore& s : *scores) {
    if (ids.size() < 12 && seen.insert(s.uuid).second) ids.push_back(s.uuid);
  }
  ids.push_back("GPU-not-listed");
  const hami::policy::LinkScores links = hami::policy::LinkScores::FromAnnotation(ids, *scores);
  HAMI_FUZZ_CHECK(links.empty() || links.size() == ids.size());
  std::vector<int> candidates;
  for (size_t i = ids.size(); i-- > 0;) candidates.push_back(static_cast<int>(i));
  for (int count = 1; count < static_cast<int>(candidates.size()); ++count) {
    const std::vector<int> chosen = hami::policy::ChooseLinkedDevices(candidates, count, links);
    HAMI_FUZZ_CHECK(chosen.size() == static_cast<size_t>(count));
    HAMI_FUZZ_CHECK(std::set<int>(chosen.begin(), chosen.end()).size() == chosen.size());
    for (size_t i = 1; i < chosen.size(); ++i) HAMI_FUZZ_CHECK(chosen[i - 1] > chosen[i]);
  }
  return 0;
}
