// The container's GPUs in the shared region (device_num, uuids[]): the order they are recorded
// in (vgpu/device_uuids.h), and end to end, what libvgpu writes when the probe initialises NVML
// on the fake driver and the fake NVML, read back at the layout's offsets as HAMi's monitor
// reads the file.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/vgpu/probe_fixture.h"
#include "tests/vgpu/region_test_util.h"
#include "vgpu/device_uuids.h"
#include "vgpu/region_layout.h"
#include "vgpu/shared_region.h"

namespace hami::vgpu {
namespace {

struct OrderCase {
  const char* name;
  std::vector<std::string> nvml;
  std::vector<int> ordinals;
  int cuda_count;
  std::vector<std::string> want;
  bool want_cuda_order;
};

TEST(DevicesByCudaOrdinalTest, Table) {
  const std::vector<OrderCase> cases = {
      {"no CUDA: NVML's order", {"GPU-a", "GPU-b"}, {-1, -1}, -1, {"GPU-a", "GPU-b"}, false},
      {"same order", {"GPU-a", "GPU-b"}, {0, 1}, 2, {"GPU-a", "GPU-b"}, true},
      {"CUDA reorders",
       {"GPU-a", "GPU-b", "GPU-c"},
       {2, 0, 1},
       3,
       {"GPU-b", "GPU-c", "GPU-a"},
       true},
      {"CUDA sees a subset (CUDA_VISIBLE_DEVICES=1)",
       {"GPU-a", "GPU-b"},
       {-1, 0},
       1,
       {"GPU-b"},
       true},
      {"a CUDA device NVML lacks (MIG): NVML's order",
       {"GPU-a", "GPU-b"},
       {0, -1},
       2,
       {"GPU-a", "GPU-b"},
       false},
      {"a duplicate ordinal: the first wins, the second is left out",
       {"GPU-a", "GPU-b"},
       {0, 0},
       1,
       {"GPU-a"},
       true},
      {"ordinals beyond CUDA's count are ignored", {"GPU-a", "GPU-b"}, {0, 7}, 1, {"GPU-a"}, true},
      {"fewer ordinals than UUIDs count as unknown",
       {"GPU-a", "GPU-b"},
       {1},
       2,
       {"GPU-a", "GPU-b"},
       false},
      {"an unreadable UUID cannot be an ordinal's", {"", "GPU-b"}, {0, 1}, 2, {"", "GPU-b"}, false},
      {"CUDA without devices: NVML's order", {"GPU-a"}, {-1}, 0, {"GPU-a"}, false},
      {"no NVML devices", {}, {}, -1, {}, false},
  };
  for (const OrderCase& c : cases) {
    const RegionDevices got = DevicesByCudaOrdinal(c.nvml, c.ordinals, c.cuda_count);
    EXPECT_EQ(got.uuids, c.want) << c.name;
    EXPECT_EQ(got.cuda_order, c.want_cuda_order) << c.name;
  }
}

TEST(DevicesByCudaOrdinalTest, AtMostSixteenAreKept) {
  std::vector<std::string> nvml;
  std::vector<int> ordinals;
  for (int i = 0; i < 20; ++i) {
    nvml.push_back("GPU-" + std::to_string(i));
    ordinals.push_back(i);
  }
  EXPECT_EQ(DevicesByCudaOrdinal(nvml, ordinals, -1).uuids.size(), 16u);
  const RegionDevices cuda = DevicesByCudaOrdinal(nvml, ordinals, 20);
  ASSERT_EQ(cuda.uuids.size(), 16u);
  EXPECT_TRUE(cuda.cuda_order);
  EXPECT_EQ(cuda.uuids[15], "GPU-15");
}

#if defined(HAMI_LIBVGPU_PATH) && defined(HAMI_FAKE_CUDA_PATH) && defined(HAMI_VGPU_PROBE_PATH) && \
    defined(HAMI_FAKE_NVML_PATH)

using testing::ProbeRun;
using testing::ReadAt;

constexpr int kFakeGpus = 2;

std::string FakeUuid(int index) {
  return "GPU-fa4e0000-0000-0000-0000-00000000000" + std::to_string(index);
}

class RegionDevicesTest : public testing::ContainerProbeTest {
 protected:
  void SetUp() override {
    ContainerProbeTest::SetUp();
    region_ = dir_ + "/region.cache";
    env_["FAKEGPU_DEVICES"] = std::to_string(kFakeGpus);
  }

  // What HAMi's monitor reads: device_num, then uuids[0 .. device_num).
  uint64_t DeviceNum() { return ReadAt<uint64_t>(region_, offsetof(layout::Region, device_num)); }
  std::string Uuid(int dev) {
    const auto raw = ReadAt<std::array<char, layout::kUuidBytes>>(
        region_, offsetof(layout::Region, uuids) + static_cast<size_t>(dev) * layout::kUuidBytes);
    return std::string(raw.data(), strnlen(raw.data(), raw.size()));
  }
  void ExpectFakeGpus(const ProbeRun& run) {
    ASSERT_EQ(DeviceNum(), static_cast<uint64_t>(kFakeGpus)) << run.errors;
    for (int i = 0; i < kFakeGpus; ++i) EXPECT_EQ(Uuid(i), FakeUuid(i)) << "device " << i;
    EXPECT_EQ(Uuid(kFakeGpus), "");
  }

  std::string region_;
};

// The bug: nothing ever wrote device_num or the UUIDs, so the monitor found no GPUs for a
// container running our libvgpu. nvmlInit (here without any CUDA in the process, as
// nvidia-smi) now records them.
TEST_F(RegionDevicesTest, NvmlInitRecordsTheGpusInTheRegion) {
  const ProbeRun run = Run({"nvml"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  ASSERT_EQ(run.Code("nvml"), 0) << run.errors;
  ExpectFakeGpus(run);
}

TEST_F(RegionDevicesTest, NvmlInitAfterCuInitRecordsTheGpusInCudasOrder) {
  const ProbeRun run = Run({"init", "nvml"});
  ASSERT_EQ(run.exit_code, 0) << run.errors;
  ASSERT_EQ(run.Code("nvml"), 0) << run.errors;
  ExpectFakeGpus(run);
}

// NVML's order is a guess; what a CUDA process of the container recorded stays. A CUDA
// process writes over anything.
TEST_F(RegionDevicesTest, AnNvmlOnlyProcessKeepsWhatIsRecordedACudaProcessReplacesIt) {
  {
    RegionInit init;  // as CUDA_DEVICE_MEMORY_LIMIT=1g makes it
    init.memory_limit_bytes.fill(testing::kGiB);
    auto created = SharedRegion::Open(region_, init);
    ASSERT_TRUE(created.ok()) << created.status().message();
    const std::vector<std::string_view> recorded = {"GPU-recorded-by-another-process"};
    ASSERT_TRUE(created.value()->SetDevices(recorded).ok());
  }
  const ProbeRun nvml_only = Run({"nvml"});
  ASSERT_EQ(nvml_only.Code("nvml"), 0) << nvml_only.errors;
  EXPECT_EQ(DeviceNum(), 1u);
  EXPECT_EQ(Uuid(0), "GPU-recorded-by-another-process");

  const ProbeRun with_cuda = Run({"init", "nvml"});
  ASSERT_EQ(with_cuda.Code("nvml"), 0) << with_cuda.errors;
  ExpectFakeGpus(with_cuda);
}

// A CUDA process that never touches NVML records them too, in CUDA's order.
TEST_F(RegionDevicesTest, CuInitRecordsTheGpusInTheRegion) {
  const ProbeRun run = Run({"init"});
  ASSERT_EQ(run.Code("init"), 0) << run.errors;
  ExpectFakeGpus(run);
}

#endif

}  // namespace
}  // namespace hami::vgpu
