#include "vgpu/array_size.h"

#include <algorithm>

namespace hami::vgpu {
namespace {

uint64_t MulSat(uint64_t a, uint64_t b) {
  uint64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

// CUarray_format values (cuda.h), as numbers: this file does not need the driver header.
enum : unsigned int {
  kU8 = 0x01,
  kU16 = 0x02,
  kU32 = 0x03,
  kS8 = 0x08,
  kS16 = 0x09,
  kS32 = 0x0a,
  kHalf = 0x10,
  kFloat = 0x20,
  kNv12 = 0xb0,
  kBc1 = 0x91,
  kBc1Srgb = 0x92,
  kBc4U = 0x97,
  kBc4S = 0x98,
  kBcFirst = 0x91,
  kBcLast = 0x9e,
  kP010 = 0x9f,
  kP016 = 0xa1,
  kNv16 = 0xa2,
  kP210 = 0xa3,
  kP216 = 0xa4,
  kUnorm8x1 = 0xc0,
  kSnorm16x4 = 0xcb,
};

}  // namespace

uint64_t ArrayBytes(unsigned int format, unsigned int channels, uint64_t width, uint64_t height,
                    uint64_t depth) {
  height = std::max<uint64_t>(height, 1);
  depth = std::max<uint64_t>(depth, 1);
  const uint64_t plane = MulSat(width, height);
  const uint64_t texels = MulSat(plane, depth);
  if (format >= kBcFirst && format <= kBcLast) {
    // 4x4 texel blocks of 8 bytes (BC1, BC4) or 16 bytes (the others).
    const uint64_t blocks = MulSat(MulSat((width + 3) / 4, (height + 3) / 4), depth);
    const bool small = format == kBc1 || format == kBc1Srgb || format == kBc4U || format == kBc4S;
    return MulSat(blocks, small ? 8 : 16);
  }
  switch (format) {
    case kNv12:  // 8-bit luma plane + half-size interleaved chroma
      return MulSat(texels, 3) / 2;
    case kP010:
    case kP016:  // 16-bit samples, 4:2:0
      return MulSat(texels, 3);
    case kNv16:  // 8-bit, 4:2:2
      return MulSat(texels, 2);
    case kP210:
    case kP216:  // 16-bit, 4:2:2
      return MulSat(texels, 4);
    default:
      break;
  }
  if (format >= kUnorm8x1 && format <= kSnorm16x4) {
    // UNORM/SNORM INT8/INT16 with the channel count in the format: X1, X2, X4.
    const unsigned int step = format - kUnorm8x1;  // 0..11: [u8x1 u8x2 u8x4 u16x1 u16x2 u16x4]x2
    const unsigned int in_family = step % 6;
    const uint64_t bytes_per_channel = in_family < 3 ? 1 : 2;
    const uint64_t format_channels = in_family % 3 == 0 ? 1 : in_family % 3 == 1 ? 2 : 4;
    return MulSat(texels, bytes_per_channel * format_channels);
  }
  uint64_t bytes_per_channel = 4;  // 32-bit formats and anything unknown
  switch (format) {
    case kU8:
    case kS8:
      bytes_per_channel = 1;
      break;
    case kU16:
    case kS16:
    case kHalf:
      bytes_per_channel = 2;
      break;
    case kU32:
    case kS32:
    case kFloat:
    default:
      break;
  }
  return MulSat(texels, MulSat(bytes_per_channel, std::max(channels, 1u)));
}

uint64_t MipmappedArrayBytes(unsigned int format, unsigned int channels, uint64_t width,
                             uint64_t height, uint64_t depth, unsigned int levels) {
  uint64_t total = 0;
  for (unsigned int level = 0; level < std::max(levels, 1u); ++level) {
    const uint64_t bytes = ArrayBytes(format, channels, width, height, depth);
    total = total > UINT64_MAX - bytes ? UINT64_MAX : total + bytes;
    if (width <= 1 && height <= 1 && depth <= 1) break;
    width = std::max<uint64_t>(width / 2, 1);
    height = height == 0 ? 0 : std::max<uint64_t>(height / 2, 1);
    depth = depth == 0 ? 0 : std::max<uint64_t>(depth / 2, 1);
  }
  return total;
}

}  // namespace hami::vgpu
