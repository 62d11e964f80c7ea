// The device memory a CUDA array takes, from its descriptor, so libvgpu can charge
// cuArrayCreate / cuArray3DCreate / cuMipmappedArrayCreate (HAMi-core charges none of them).
// Pure; the data size of the texels, without the driver's private padding or alignment.
#pragma once

#include <cstdint>

namespace hami::vgpu {

// Bytes of a width x height x depth array (height/depth 0 count as 1) of `format` (CUarray_format
// value) with `channels` channels. Block-compressed formats count 4x4 blocks; planar YUV formats
// their chroma planes. A format this code does not know is charged 4 bytes per channel per
// texel (the widest plain format). Saturates at UINT64_MAX instead of wrapping.
uint64_t ArrayBytes(unsigned int format, unsigned int channels, uint64_t width, uint64_t height,
                    uint64_t depth);

// The same for a mipmapped array of `levels` levels: each level halves every extent (at least 1).
uint64_t MipmappedArrayBytes(unsigned int format, unsigned int channels, uint64_t width,
                             uint64_t height, uint64_t depth, unsigned int levels);

}  // namespace hami::vgpu
