#include "policy/fit.h"

#include <gtest/gtest.h>

#include "tests/policy/test_util.h"

namespace hami::policy {
namespace {

using testing::Gpu;
using testing::Req;
using testing::Used;

struct DeviceCase {
  const char* name;
  DeviceUsage device;
  ContainerDeviceRequest request;
  DeviceSelectors selectors;
  bool mutex;
  std::optional<FitReason> want;
};

DeviceSelectors Sel(std::vector<std::string> use_types = {},
                    std::vector<std::string> nouse_types = {},
                    std::vector<std::string> use_uuids = {},
                    std::vector<std::string> nouse_uuids = {}, std::string mode = "") {
  DeviceSelectors s;
  s.use_types = std::move(use_types);
  s.nouse_types = std::move(nouse_types);
  s.use_uuids = std::move(use_uuids);
  s.nouse_uuids = std::move(nouse_uuids);
  s.vgpu_mode = std::move(mode);
  return s;
}

DeviceUsage Unhealthy() {
  DeviceUsage d = Gpu("GPU-a", 0);
  d.info.health = false;
  return d;
}
DeviceUsage Cordoned() {
  DeviceUsage d = Gpu("GPU-a", 0);
  d.cordoned = true;
  return d;
}
DeviceUsage MigMode() {
  DeviceUsage d = Gpu("GPU-a", 0);
  d.info.mode = "mig";
  d.info.mig_profiles = {MigProfile{"1g.10gb", 9856, 15, 1, {{0, 1}}}};
  return d;
}

TEST(CheckDeviceTest, Table) {
  const DeviceUsage fresh = Gpu("GPU-a", 0);
  const std::vector<DeviceCase> cases = {
      {"fits empty", fresh, Req(1, 3000, 30), Sel(), false, std::nullopt},
      {"unhealthy", Unhealthy(), Req(1, 3000, 30), Sel(), false, FitReason::kCardNotHealth},
      {"cordoned", Cordoned(), Req(1, 3000, 30), Sel(), false, FitReason::kCardCordoned},
      {"use type matches case-insensitively", fresh, Req(1, 1, 1), Sel({"t4"}), false,
       std::nullopt},
      {"use type mismatch", fresh, Req(1, 1, 1), Sel({"A100", "V100"}), false,
       FitReason::kCardTypeMismatch},
      {"nouse type", fresh, Req(1, 1, 1), Sel({}, {"Tesla"}), false, FitReason::kCardTypeMismatch},
      {"mode is substring of annotation", MigMode(), Req(1, 1, 1), Sel({}, {}, {}, {}, "mig,mps"),
       false, std::nullopt},
      {"mode not in annotation", fresh, Req(1, 1, 1), Sel({}, {}, {}, {}, "mig"), false,
       FitReason::kCardTypeMismatch},
      {"mig GPU, pod names no mode", MigMode(), Req(1, 1, 1), Sel(), false,
       FitReason::kCardMigModeNotRequested},
      {"mig GPU, pod names another mode", MigMode(), Req(1, 1, 1), Sel({}, {}, {}, {}, "mps"),
       false, FitReason::kCardMigModeNotRequested},
      {"use uuid", fresh, Req(1, 1, 1), Sel({}, {}, {"GPU-a"}), false, std::nullopt},
      {"use uuid mismatch", fresh, Req(1, 1, 1), Sel({}, {}, {"GPU-b"}), false,
       FitReason::kCardUuidMismatch},
      {"nouse uuid", fresh, Req(1, 1, 1), Sel({}, {}, {}, {"GPU-a"}), false,
       FitReason::kCardUuidMismatch},
      {"slots exhausted", Used(fresh, 10, 100, 10), Req(1, 1, 1), Sel(), false,
       FitReason::kCardTimeSlicingExhausted},
      {"mutex policy and used", Used(fresh, 1, 100, 10), Req(1, 1, 1), Sel(), true,
       FitReason::kExclusiveDeviceAllocateConflict},
      {"memory exactly fits", Used(fresh, 1, 13384, 10), Req(1, 3000, 10), Sel(), false,
       std::nullopt},
      {"memory one MiB short", Used(fresh, 1, 13385, 10), Req(1, 3000, 10), Sel(), false,
       FitReason::kCardInsufficientMemory},
      {"percent resolves by floor", Used(fresh, 1, 8192, 0), Req(1, 0, 0, 50), Sel(), false,
       std::nullopt},
      {"percent too much", Used(fresh, 1, 8193, 0), Req(1, 0, 0, 50), Sel(), false,
       FitReason::kCardInsufficientMemory},
      {"cores exactly fit", Used(fresh, 1, 0, 70), Req(1, 1, 30), Sel(), false, std::nullopt},
      {"cores short", Used(fresh, 1, 0, 71), Req(1, 1, 30), Sel(), false,
       FitReason::kCardInsufficientCore},
      {"cores above 100 are clamped", fresh, Req(1, 1, 250), Sel(), false, std::nullopt},
      {"exclusive needs an unused device", Used(fresh, 1, 10, 0), Req(1, 1, 100), Sel(), false,
       FitReason::kExclusiveDeviceAllocateConflict},
      {"compute exhausted for zero-core request", Used(fresh, 2, 10, 100), Req(1, 1, 0), Sel(),
       false, FitReason::kCardComputeUnitsExhausted},
  };
  for (const DeviceCase& c : cases) {
    EXPECT_EQ(CheckDevice(c.device, c.request, c.selectors, c.mutex), c.want) << c.name;
  }
}

// A request fits only on its own vendor's devices (HAMi fits per vendor); a device without a
// known vendor (a simulated cluster) takes any request.
TEST(CheckDeviceTest, AnotherVendorsDeviceIsATypeMismatch) {
  DeviceUsage gpu = Gpu("GPU-0", 0);
  gpu.vendor = "NVIDIA";
  DeviceUsage dcu = Gpu("DCU-0", 1, 65520, "DCU-Z100L");
  dcu.vendor = "DCU";
  ContainerDeviceRequest nvidia = Req(1, 1000, 10);
  ContainerDeviceRequest hygon = Req(1, 1000, 10);
  hygon.type = "DCU";
  EXPECT_EQ(CheckDevice(gpu, nvidia, {}, false), std::nullopt);
  EXPECT_EQ(CheckDevice(dcu, hygon, {}, false), std::nullopt);
  EXPECT_EQ(CheckDevice(gpu, hygon, {}, false), FitReason::kCardTypeMismatch);
  EXPECT_EQ(CheckDevice(dcu, nvidia, {}, false), FitReason::kCardTypeMismatch);
  dcu.vendor.clear();
  EXPECT_EQ(CheckDevice(dcu, nvidia, {}, false), std::nullopt);

  dcu.vendor = "DCU";
  const std::vector<DeviceUsage> node = {gpu, dcu};
  const std::vector<int> order = {0, 1};
  FitFailure failure;
  auto chosen = FitContainer(node, order, hygon, {}, false, &failure);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, std::vector<int>{1});
  hygon.count = 2;
  EXPECT_FALSE(FitContainer(node, order, hygon, {}, false, &failure).has_value());
  EXPECT_NE(failure.ToString().find("1/2 CardTypeMismatch"), std::string::npos)
      << failure.ToString();
}

TEST(FitContainerTest, WalksOrderFromTheBackAndNeverRepeatsADevice) {
  std::vector<DeviceUsage> devices = {Gpu("GPU-0", 0), Gpu("GPU-1", 1), Gpu("GPU-2", 2)};
  std::vector<int> order = {0, 2, 1};
  auto chosen = FitContainer(devices, order, Req(2, 1000, 10), {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(*chosen, (std::vector<int>{1, 2}));
}

TEST(FitContainerTest, ReportsReasonsInHamiFormat) {
  std::vector<DeviceUsage> devices = {Used(Gpu("GPU-0", 0), 1, 16000, 10),
                                      Used(Gpu("GPU-1", 1), 1, 1000, 95)};
  std::vector<int> order = {0, 1};
  FitFailure failure;
  auto chosen = FitContainer(devices, order, Req(1, 1000, 10), {}, false, &failure);
  EXPECT_FALSE(chosen.has_value());
  // No device was picked: AllocatedCardsInsufficientRequest is not added (as HAMi).
  EXPECT_EQ(failure.ToString(), "1/2 CardInsufficientCore, 1/2 CardInsufficientMemory");
  // One device picked but two asked: it is.
  FitFailure too_few;
  devices[1] = Gpu("GPU-1", 1);
  EXPECT_FALSE(FitContainer(devices, order, Req(2, 1000, 10), {}, false, &too_few).has_value());
  EXPECT_NE(too_few.ToString().find("AllocatedCardsInsufficientRequest"), std::string::npos)
      << too_few.ToString();
}

TEST(FitContainerTest, TooFewDevicesOnNode) {
  std::vector<DeviceUsage> devices = {Gpu("GPU-0", 0)};
  std::vector<int> order = {0};
  FitFailure failure;
  EXPECT_FALSE(FitContainer(devices, order, Req(2, 1, 1), {}, false, &failure).has_value());
  EXPECT_EQ(failure.ToString(), "1/1 NodeInsufficientDevice");
}

TEST(FitContainerTest, NumaBindKeepsOneContainerOnOneNumaNode) {
  std::vector<DeviceUsage> devices = {
      Gpu("GPU-0", 0, 16384, "NVIDIA-T4", 0), Gpu("GPU-1", 1, 16384, "NVIDIA-T4", 1),
      Gpu("GPU-2", 2, 16384, "NVIDIA-T4", 1), Gpu("GPU-3", 3, 16384, "NVIDIA-T4", 0)};
  DeviceSelectors sel;
  sel.numa_bind = true;
  std::vector<int> order = {0, 3, 1, 2};  // grouped by NUMA
  auto chosen = FitContainer(devices, order, Req(2, 1, 1), sel, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(devices[(*chosen)[0]].info.numa, devices[(*chosen)[1]].info.numa);

  // Interleaved order: HAMi restarts the run at each NUMA change, so a container is never
  // split across NUMA nodes even if that means failing (OrderDevices groups by NUMA first).
  std::vector<int> interleaved = {0, 1, 3, 2};
  devices[2] = Used(devices[2], 10, 0, 0);  // GPU-2 full
  FitFailure failure;
  EXPECT_FALSE(FitContainer(devices, interleaved, Req(2, 1, 1), sel, false, &failure).has_value());
  EXPECT_EQ(failure.counts[static_cast<size_t>(FitReason::kNumaNotFit)], 2);
}

TEST(FitContainerTest, ZeroCountNeedsNothing) {
  std::vector<DeviceUsage> devices;
  std::vector<int> order;
  auto chosen = FitContainer(devices, order, Req(0, 0, 0), {}, false, nullptr);
  ASSERT_TRUE(chosen.has_value());
  EXPECT_TRUE(chosen->empty());
}

TEST(ResolveDemandTest, ExplicitMemoryWinsOverPercent) {
  DeviceUsage d = Gpu("GPU-0", 0, 15360);
  EXPECT_EQ(ResolveDemand(d, Req(1, 3000, 30, 50)).memory_mib, 3000);
  EXPECT_EQ(ResolveDemand(d, Req(1, 0, 30, 33)).memory_mib, 15360 * 33 / 100);
  EXPECT_EQ(ResolveDemand(d, Req(1, 0, 130)).cores_percent, 100);
  EXPECT_EQ(ResolveDemand(d, Req(1, 0, 0)).memory_mib, 0);
}

}  // namespace
}  // namespace hami::policy
