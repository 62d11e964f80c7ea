// What one registration pass reports for a node under a device config (ApplyNode's
// registration_errors: vendor key -> why that vendor's devices on the node were dropped), for
// the mixed-cluster vendor tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "device/vendor.h"
#include "scheduler/ledger.h"
#include "scheduler/state_sync.h"

namespace hami::scheduler::testing {

inline std::map<std::string, std::string> RegistrationErrorsOf(const DeviceConfig& config,
                                                               const nlohmann::json& node) {
  auto registry = MakeVendorRegistry(config);
  EXPECT_TRUE(registry.ok()) << registry.status().message();
  if (!registry.ok()) return {};
  UsageLedger ledger;
  AllocatableTracker tracker;
  return ApplyNode(*registry, ledger, tracker, node, 1'700'000'000, 0).registration_errors;
}

}  // namespace hami::scheduler::testing
