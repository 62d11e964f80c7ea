// Fuzz target: the JSON bodies the extender accepts (/filter ExtenderArgs, /bind
// ExtenderBindingArgs). Property: never crash; an accepted filter body re-decodes to the same
// node names after a round trip through the result encoder.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "scheduler/extender_types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  auto args = hami::scheduler::DecodeExtenderArgs(text);
  if (args.ok() && args->node_names) {
    hami::scheduler::ExtenderFilterResult result;
    result.node_names = args->node_names;
    const nlohmann::json encoded =
        nlohmann::json::parse(hami::scheduler::EncodeExtenderFilterResult(result));
    HAMI_FUZZ_CHECK(encoded["NodeNames"].get<std::vector<std::string>>() == *args->node_names);
  }
  auto binding = hami::scheduler::DecodeExtenderBindingArgs(text);
  if (binding.ok()) {
    HAMI_FUZZ_CHECK(!binding->pod_name.empty() && !binding->node.empty());
  }
  return 0;
}
