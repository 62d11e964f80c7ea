#include <gtest/gtest.h>

#include <string>

#include "device/codec.h"

namespace hami {
namespace {

ContainerDevice Dev(std::string uuid, int32_t mem, int32_t cores, std::string type = "NVIDIA") {
  return ContainerDevice{std::move(uuid), std::move(type), mem, cores};
}

// Spec §2.5 example: init container without GPU, container a with two GPUs, container b none.
constexpr char kSpecAllocated[] = ";GPU-aaa,NVIDIA,3000,30:GPU-bbb,NVIDIA,3000,30:;;";

TEST(PodDevicesTest, SpecExampleDecodesToThreeContainers) {
  Result<PodDevices> r = DecodePodDevices(kSpecAllocated);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const PodDevices want = {{}, {Dev("GPU-aaa", 3000, 30), Dev("GPU-bbb", 3000, 30)}, {}};
  EXPECT_EQ(*r, want);
  EXPECT_EQ(EncodePodDevices(*r), kSpecAllocated);
}

TEST(PodDevicesTest, AfterAllocationGroupsArePreservedEmpty) {
  Result<PodDevices> r = DecodePodDevices(kSpecAllocated);
  ASSERT_TRUE(r.ok());
  (*r)[1].clear();  // what the device plugin does after Allocate for container a
  EXPECT_EQ(EncodePodDevices(*r), ";;;");
  Result<PodDevices> empty = DecodePodDevices(";;;");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, (PodDevices{{}, {}, {}}));
}

struct RoundTrip {
  const char* canonical;
  PodDevices value;
};

class PodDevicesRoundTripTest : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(PodDevicesRoundTripTest, CanonicalStringsRoundTripByteIdentically) {
  Result<PodDevices> r = DecodePodDevices(GetParam().canonical);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, GetParam().value);
  EXPECT_EQ(EncodePodDevices(GetParam().value), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodDevicesRoundTripTest,
    ::testing::Values(RoundTrip{"", {}}, RoundTrip{";", {{}}}, RoundTrip{";;", {{}, {}}},
                      RoundTrip{"GPU-a,NVIDIA,1024,0:;", {{Dev("GPU-a", 1024, 0)}}},
                      RoundTrip{"GPU-a,NVIDIA,0,100:;;GPU-b,NVIDIA,5,5:;",
                                {{Dev("GPU-a", 0, 100)}, {}, {Dev("GPU-b", 5, 5)}}},
                      RoundTrip{"DCU-1,DCU,2048,50:;", {{Dev("DCU-1", 2048, 50, "DCU")}}},
                      RoundTrip{"u,,0,0:;", {{Dev("u", 0, 0, "")}}},
                      RoundTrip{"u,T,2147483647,2147483647:;",
                                {{Dev("u", 2147483647, 2147483647, "T")}}}));

TEST(PodDevicesTest, AcceptsNonCanonicalFormsLikeHami) {
  // Last group without ';', device without ':', empty pieces, extra fields, '+' sign.
  Result<PodDevices> r = DecodePodDevices("GPU-a,NVIDIA,1,2");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (PodDevices{{Dev("GPU-a", 1, 2)}}));
  EXPECT_EQ(EncodePodDevices(*r), "GPU-a,NVIDIA,1,2:;");

  r = DecodePodDevices("a,N,1,2::b,N,3,4,extra,fields:;c,N,+5,6");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (PodDevices{{Dev("a", 1, 2, "N"), Dev("b", 3, 4, "N")}, {Dev("c", 5, 6, "N")}}));
}

struct BadPod {
  const char* text;
  const char* message_part;
};

class PodDevicesBadTest : public ::testing::TestWithParam<BadPod> {};

TEST_P(PodDevicesBadTest, RejectsWithClearMessage) {
  Result<PodDevices> r = DecodePodDevices(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().message_part), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodDevicesBadTest,
    ::testing::Values(
        BadPod{"GPU-a,NVIDIA,1:;", "has 3 comma-separated fields, want at least 4"},
        BadPod{";;GPU-a,NVIDIA:;", "container 2: device \"GPU-a,NVIDIA\" has 2"},
        BadPod{"GPU-a:;", "has 1 comma-separated fields"},
        BadPod{"GPU-a,NVIDIA,x,1:;", "memory \"x\" is not a non-negative 32-bit integer"},
        BadPod{"GPU-a,NVIDIA,1.5,1:;", "memory \"1.5\""},
        BadPod{"GPU-a,NVIDIA,1,y:;", "cores \"y\" is not a non-negative 32-bit integer"},
        BadPod{"GPU-a,NVIDIA,1, 2:;", "cores \" 2\""},
        BadPod{"GPU-a,NVIDIA,-1,2:;", "memory \"-1\""},
        BadPod{"GPU-a,NVIDIA,2147483648,2:;", "memory \"2147483648\""},
        BadPod{",NVIDIA,1,2:;", "empty uuid"}));

TEST(ContainerDevicesTest, EncodesAndDecodesOneGroup) {
  ContainerDevices devs = {Dev("GPU-a", 3000, 30), Dev("GPU-b", 0, 0)};
  EXPECT_EQ(EncodeContainerDevices(devs), "GPU-a,NVIDIA,3000,30:GPU-b,NVIDIA,0,0:");
  EXPECT_EQ(EncodeContainerDevices({}), "");
  Result<ContainerDevices> r = DecodeContainerDevices("GPU-a,NVIDIA,3000,30:GPU-b,NVIDIA,0,0:");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, devs);
  Result<ContainerDevices> bad = DecodeContainerDevices("a,N,1,2:;");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("contains ';'"), std::string::npos);
}

}  // namespace
}  // namespace hami
