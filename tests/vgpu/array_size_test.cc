#include "vgpu/array_size.h"

#include <cuda.h>
#include <gtest/gtest.h>

#include <cstdint>

namespace hami::vgpu {
namespace {

TEST(ArrayBytesTest, PlainFormatsAreTexelsTimesChannelBytes) {
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_FLOAT, 4, 1024, 1024, 0), 1024u * 1024 * 16);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_UNSIGNED_INT8, 1, 100, 0, 0), 100u);  // 1D
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_HALF, 2, 64, 64, 8), 64u * 64 * 8 * 4);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_SIGNED_INT16, 1, 10, 10, 1), 200u);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_UNSIGNED_INT32, 0, 10, 0, 0), 40u) << "0 channels count as 1";
}

TEST(ArrayBytesTest, FormatsThatCarryTheirOwnLayout) {
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_UNORM_INT8X4, 4, 16, 16, 0), 16u * 16 * 4);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_SNORM_INT16X2, 2, 16, 16, 0), 16u * 16 * 4);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_UNORM_INT16X1, 1, 16, 16, 0), 16u * 16 * 2);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_BC1_UNORM, 4, 16, 16, 0), 16u * 8);   // 16 blocks of 8 B
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_BC7_UNORM, 4, 17, 16, 0), 20u * 16);  // partial blocks round up
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_NV12, 1, 1920, 1080, 0), 1920u * 1080 * 3 / 2);
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_P016, 1, 64, 64, 0), 64u * 64 * 3);
  EXPECT_EQ(ArrayBytes(0x7777, 2, 10, 10, 0), 800u) << "unknown: 4 bytes per channel";
}

TEST(ArrayBytesTest, HugeDescriptorsSaturateInsteadOfWrapping) {
  EXPECT_EQ(ArrayBytes(CU_AD_FORMAT_FLOAT, 4, UINT64_MAX / 2, 4, 4), UINT64_MAX);
  EXPECT_EQ(MipmappedArrayBytes(CU_AD_FORMAT_FLOAT, 4, UINT64_MAX / 2, 4, 0, 3), UINT64_MAX);
}

TEST(MipmappedArrayBytesTest, EveryLevelHalvesEveryExtent) {
  // 8x8 float: 8x8 + 4x4 + 2x2 + 1x1 texels of 4 bytes.
  EXPECT_EQ(MipmappedArrayBytes(CU_AD_FORMAT_FLOAT, 1, 8, 8, 0, 4), (64u + 16 + 4 + 1) * 4);
  // More levels than the extents allow stop at 1x1.
  EXPECT_EQ(MipmappedArrayBytes(CU_AD_FORMAT_FLOAT, 1, 8, 8, 0, 10), (64u + 16 + 4 + 1) * 4);
  // 1D keeps height 0 (one row).
  EXPECT_EQ(MipmappedArrayBytes(CU_AD_FORMAT_UNSIGNED_INT8, 1, 8, 0, 0, 2), 8u + 4);
}

}  // namespace
}  // namespace hami::vgpu
