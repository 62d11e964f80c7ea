// Fuzz target: ResourceQuota objects from the watch (QuotaTracker::Apply, ParseResourceQuota).
// Properties: never crash; an accepted quota keeps only managed resources with non-negative
// limits; the binding limit of its namespace is no larger than any of its limits; checking a
// request against it is total (no overflow trap) and refuses a request above the limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "device/config.h"
#include "fuzz/fuzz_check.h"
#include "scheduler/quota.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hami::VendorRegistry registry =
      std::move(*hami::MakeVendorRegistry(hami::DefaultDeviceConfig()));
  const std::string_view text = hami::fuzz::AsText(data, size);
  const nlohmann::json quota = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (quota.is_discarded()) return 0;
  hami::scheduler::QuotaTracker tracker(registry);
  std::vector<std::string> warnings;
  auto parsed = hami::scheduler::ParseResourceQuota(quota, tracker.managed(), &warnings);
  auto applied = tracker.Apply(quota);
  HAMI_FUZZ_CHECK(parsed.ok() == applied.ok());
  if (!parsed.ok()) return 0;
  for (const std::string& w : warnings) HAMI_FUZZ_CHECK(!w.empty());
  const auto limits = tracker.Limits(parsed->ns);
  for (const auto& [resource, limit] : parsed->limits) {
    HAMI_FUZZ_CHECK(limit >= 0);
    HAMI_FUZZ_CHECK(std::find(tracker.managed().begin(), tracker.managed().end(), resource) !=
                    tracker.managed().end());
    auto binding = limits.find(resource);
    HAMI_FUZZ_CHECK(binding != limits.end() && binding->second.limit <= limit);
    const int64_t factor = tracker.factors().count(resource) ? tracker.factors().at(resource) : 1;
    const int64_t cap = limit > INT64_MAX / factor ? INT64_MAX : limit * factor;
    const hami::scheduler::QuotaAmounts huge = {{resource, INT64_MAX}};
    auto v = hami::scheduler::CheckQuotas(parsed->ns, std::span(&*parsed, 1), tracker.factors(),
                                          huge, huge);
    HAMI_FUZZ_CHECK(v.has_value() == (cap < INT64_MAX));
    if (cap < INT64_MAX) {
      auto over = hami::scheduler::CheckQuotas(parsed->ns, std::span(&*parsed, 1),
                                               tracker.factors(), {}, {{resource, cap + 1}});
      HAMI_FUZZ_CHECK(over.has_value() && over->limit == cap);
    }
  }
  tracker.Remove(quota);
  HAMI_FUZZ_CHECK(!tracker.HasQuotas(parsed->ns));
  return 0;
}
