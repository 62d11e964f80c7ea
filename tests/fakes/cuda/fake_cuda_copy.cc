// The fake driver's copies and memsets. There is no backing store: each call checks its
// pointers and extents as the driver does (a device range must lie inside one allocation or
// VMM mapping, else CUDA_ERROR_INVALID_VALUE), then returns. Blocking forms wait until this
// process's queued work on the context's device has finished, as the legacy default stream
// does; asynchronous forms only check their stream. The _ptds/_ptsz twins (per-thread default
// stream) behave the same: the fake has one timeline per device.
#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

constexpr CUdeviceptr kFakeVaLow = CUdeviceptr{1} << 40;  // device and VMM addresses
constexpr CUdeviceptr kFakeVaHigh = CUdeviceptr{96} << 40;

CUresult DevOk(CUdeviceptr p, size_t n) {
  return n == 0 || DeviceRangeOkLocked(p, n) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult HostOk(const void* p, size_t n) {
  return n == 0 || p != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// A unified-address pointer: device memory, or any host address outside the fake's VA.
CUresult AnyOk(CUdeviceptr p, size_t n) {
  if (n == 0 || DeviceRangeOkLocked(p, n)) return CUDA_SUCCESS;
  return p != 0 && (p < kFakeVaLow || p >= kFakeVaHigh) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// One side of a 2D/3D copy.
CUresult SideOk(CUmemorytype type, const void* host, CUdeviceptr dev, CUarray array, size_t x,
                size_t y, size_t z, size_t pitch, size_t height, size_t width, size_t rows,
                size_t depth) {
  if (type == CU_MEMORYTYPE_ARRAY) {
    return ArrayKnownLocked(array) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  }
  if (pitch < x + width && (rows > 1 || depth > 1)) return CUDA_ERROR_INVALID_VALUE;
  const size_t offset = x + y * pitch + z * pitch * height;
  const size_t extent = (depth - 1) * pitch * height + (rows - 1) * pitch + width;
  switch (type) {
    case CU_MEMORYTYPE_HOST:
      return HostOk(host, extent);
    case CU_MEMORYTYPE_DEVICE:
      return DevOk(dev + offset, extent);
    case CU_MEMORYTYPE_UNIFIED:
      return AnyOk(dev + offset, extent);
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

template <typename Copy>
CUresult Copy2DOk(const Copy* c) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (c->WidthInBytes == 0 || c->Height == 0) return CUDA_SUCCESS;
  if (CUresult rc = SideOk(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes,
                           c->srcY, 0, c->srcPitch, 0, c->WidthInBytes, c->Height, 1);
      rc != CUDA_SUCCESS) {
    return rc;
  }
  return SideOk(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY, 0,
                c->dstPitch, 0, c->WidthInBytes, c->Height, 1);
}

template <typename Copy>
CUresult Copy3DOk(const Copy* c) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (c->WidthInBytes == 0 || c->Height == 0 || c->Depth == 0) return CUDA_SUCCESS;
  const size_t src_h = c->srcHeight != 0 ? c->srcHeight : c->Height;
  const size_t dst_h = c->dstHeight != 0 ? c->dstHeight : c->Height;
  if (CUresult rc =
          SideOk(c->srcMemoryType, c->srcHost, c->srcDevice, c->srcArray, c->srcXInBytes, c->srcY,
                 c->srcZ, c->srcPitch, src_h, c->WidthInBytes, c->Height, c->Depth);
      rc != CUDA_SUCCESS) {
    return rc;
  }
  return SideOk(c->dstMemoryType, c->dstHost, c->dstDevice, c->dstArray, c->dstXInBytes, c->dstY,
                c->dstZ, c->dstPitch, dst_h, c->WidthInBytes, c->Height, c->Depth);
}

CUresult MemsetOk(CUdeviceptr dst, size_t elem, size_t pitch, size_t width, size_t height) {
  if (dst % elem != 0 || (height > 1 && pitch < width * elem)) return CUDA_ERROR_INVALID_VALUE;
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  return DevOk(dst, (height - 1) * pitch + width * elem);
}

// A blocking operation in the current context: check, then wait for the device.
template <typename Check>
CUresult Blocking(Check check) {
  int64_t deadline = 0;
  {
    std::lock_guard<std::mutex> lock(R().mu);
    Ctx* ctx = nullptr;
    if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
    if (CUresult rc = check(); rc != CUDA_SUCCESS) return rc;
    deadline = R().device_last_end_us[ctx->device];
  }
  WaitUntil(deadline);
  return CUDA_SUCCESS;
}

// An asynchronous operation on `stream`: check the stream and the pointers.
template <typename Check>
CUresult Async(CUstream stream, Check check) {
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  Stream* s = nullptr;
  if (CUresult rc = ResolveStreamLocked(stream, &ctx, &s); rc != CUDA_SUCCESS) return rc;
  return check();
}

CUresult PeerOk(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t n) {
  Ctx* a = nullptr;
  Ctx* b = nullptr;
  if (CUresult rc = CheckCtxLocked(dst_ctx, &a); rc != CUDA_SUCCESS) return rc;
  if (CUresult rc = CheckCtxLocked(src_ctx, &b); rc != CUDA_SUCCESS) return rc;
  if (CUresult rc = DevOk(dst, n); rc != CUDA_SUCCESS) return rc;
  return DevOk(src, n);
}

CUresult Peer3DOk(const CUDA_MEMCPY3D_PEER* c) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Ctx* ctx = nullptr;
  if (c->srcMemoryType != CU_MEMORYTYPE_ARRAY) {
    if (CUresult rc = CheckCtxLocked(c->srcContext, &ctx); rc != CUDA_SUCCESS) return rc;
  }
  if (c->dstMemoryType != CU_MEMORYTYPE_ARRAY) {
    if (CUresult rc = CheckCtxLocked(c->dstContext, &ctx); rc != CUDA_SUCCESS) return rc;
  }
  return Copy3DOk(c);
}

}  // namespace
}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Blocking copies (twins: _ptds)

FAKE_TWIN(cuMemcpy, cuMemcpy_ptds, (CUdeviceptr dst, CUdeviceptr src, size_t n), {
  return Blocking([&] { return AnyOk(dst, n) != CUDA_SUCCESS ? AnyOk(dst, n) : AnyOk(src, n); });
})

FAKE_TWIN(cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds, (CUdeviceptr dst, const void* src, size_t n), {
  return Blocking([&] { return DevOk(dst, n) != CUDA_SUCCESS ? DevOk(dst, n) : HostOk(src, n); });
})

FAKE_TWIN(cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds, (void* dst, CUdeviceptr src, size_t n), {
  return Blocking([&] { return HostOk(dst, n) != CUDA_SUCCESS ? HostOk(dst, n) : DevOk(src, n); });
})

FAKE_TWIN(cuMemcpyDtoD_v2, cuMemcpyDtoD_v2_ptds, (CUdeviceptr dst, CUdeviceptr src, size_t n), {
  return Blocking([&] { return DevOk(dst, n) != CUDA_SUCCESS ? DevOk(dst, n) : DevOk(src, n); });
})

FAKE_TWIN(cuMemcpyPeer, cuMemcpyPeer_ptds,
          (CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t n),
          { return Blocking([&] { return PeerOk(dst, dst_ctx, src, src_ctx, n); }); })

FAKE_TWIN(cuMemcpy2D_v2, cuMemcpy2D_v2_ptds, (const CUDA_MEMCPY2D* c),
          { return Blocking([&] { return Copy2DOk(c); }); })

FAKE_TWIN(cuMemcpy2DUnaligned_v2, cuMemcpy2DUnaligned_v2_ptds, (const CUDA_MEMCPY2D* c),
          { return Blocking([&] { return Copy2DOk(c); }); })

FAKE_TWIN(cuMemcpy3D_v2, cuMemcpy3D_v2_ptds, (const CUDA_MEMCPY3D* c),
          { return Blocking([&] { return Copy3DOk(c); }); })

FAKE_TWIN(cuMemcpy3DPeer, cuMemcpy3DPeer_ptds, (const CUDA_MEMCPY3D_PEER* c),
          { return Blocking([&] { return Peer3DOk(c); }); })

FAKE_TWIN(cuMemcpyDtoA_v2, cuMemcpyDtoA_v2_ptds,
          (CUarray dst, size_t offset, CUdeviceptr src, size_t n), {
            (void)offset;
            return Blocking(
                [&] { return !ArrayKnownLocked(dst) ? CUDA_ERROR_INVALID_VALUE : DevOk(src, n); });
          })

FAKE_TWIN(cuMemcpyAtoD_v2, cuMemcpyAtoD_v2_ptds,
          (CUdeviceptr dst, CUarray src, size_t offset, size_t n), {
            (void)offset;
            return Blocking(
                [&] { return !ArrayKnownLocked(src) ? CUDA_ERROR_INVALID_VALUE : DevOk(dst, n); });
          })

// ---------------------------------------------------------------------------------------
// Asynchronous copies (twins: _ptsz)

FAKE_TWIN(cuMemcpyAsync, cuMemcpyAsync_ptsz,
          (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream), {
            return Async(stream, [&] {
              return AnyOk(dst, n) != CUDA_SUCCESS ? AnyOk(dst, n) : AnyOk(src, n);
            });
          })

FAKE_TWIN(cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz,
          (CUdeviceptr dst, const void* src, size_t n, CUstream stream), {
            return Async(stream, [&] {
              return DevOk(dst, n) != CUDA_SUCCESS ? DevOk(dst, n) : HostOk(src, n);
            });
          })

FAKE_TWIN(cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz,
          (void* dst, CUdeviceptr src, size_t n, CUstream stream), {
            return Async(stream, [&] {
              return HostOk(dst, n) != CUDA_SUCCESS ? HostOk(dst, n) : DevOk(src, n);
            });
          })

FAKE_TWIN(cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync_v2_ptsz,
          (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream stream), {
            return Async(stream, [&] {
              return DevOk(dst, n) != CUDA_SUCCESS ? DevOk(dst, n) : DevOk(src, n);
            });
          })

FAKE_TWIN(cuMemcpyPeerAsync, cuMemcpyPeerAsync_ptsz,
          (CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx, size_t n,
           CUstream stream),
          { return Async(stream, [&] { return PeerOk(dst, dst_ctx, src, src_ctx, n); }); })

FAKE_TWIN(cuMemcpy2DAsync_v2, cuMemcpy2DAsync_v2_ptsz, (const CUDA_MEMCPY2D* c, CUstream stream),
          { return Async(stream, [&] { return Copy2DOk(c); }); })

FAKE_TWIN(cuMemcpy3DAsync_v2, cuMemcpy3DAsync_v2_ptsz, (const CUDA_MEMCPY3D* c, CUstream stream),
          { return Async(stream, [&] { return Copy3DOk(c); }); })

FAKE_TWIN(cuMemcpy3DPeerAsync, cuMemcpy3DPeerAsync_ptsz,
          (const CUDA_MEMCPY3D_PEER* c, CUstream stream),
          { return Async(stream, [&] { return Peer3DOk(c); }); })

// ---------------------------------------------------------------------------------------
// Memsets (blocking twins: _ptds; asynchronous twins: _ptsz)

FAKE_TWIN(cuMemsetD8_v2, cuMemsetD8_v2_ptds, (CUdeviceptr dst, unsigned char v, size_t n), {
  (void)v;
  return Blocking([&] { return MemsetOk(dst, 1, n, n, 1); });
})

FAKE_TWIN(cuMemsetD16_v2, cuMemsetD16_v2_ptds, (CUdeviceptr dst, unsigned short v, size_t n), {
  (void)v;
  return Blocking([&] { return MemsetOk(dst, 2, 2 * n, n, 1); });
})

FAKE_TWIN(cuMemsetD32_v2, cuMemsetD32_v2_ptds, (CUdeviceptr dst, unsigned int v, size_t n), {
  (void)v;
  return Blocking([&] { return MemsetOk(dst, 4, 4 * n, n, 1); });
})

FAKE_TWIN(cuMemsetD2D8_v2, cuMemsetD2D8_v2_ptds,
          (CUdeviceptr dst, size_t pitch, unsigned char v, size_t w, size_t h), {
            (void)v;
            return Blocking([&] { return MemsetOk(dst, 1, pitch, w, h); });
          })

FAKE_TWIN(cuMemsetD2D16_v2, cuMemsetD2D16_v2_ptds,
          (CUdeviceptr dst, size_t pitch, unsigned short v, size_t w, size_t h), {
            (void)v;
            return Blocking([&] { return MemsetOk(dst, 2, pitch, w, h); });
          })

FAKE_TWIN(cuMemsetD2D32_v2, cuMemsetD2D32_v2_ptds,
          (CUdeviceptr dst, size_t pitch, unsigned int v, size_t w, size_t h), {
            (void)v;
            return Blocking([&] { return MemsetOk(dst, 4, pitch, w, h); });
          })

FAKE_TWIN(cuMemsetD8Async, cuMemsetD8Async_ptsz,
          (CUdeviceptr dst, unsigned char v, size_t n, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 1, n, n, 1); });
          })

FAKE_TWIN(cuMemsetD16Async, cuMemsetD16Async_ptsz,
          (CUdeviceptr dst, unsigned short v, size_t n, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 2, 2 * n, n, 1); });
          })

FAKE_TWIN(cuMemsetD32Async, cuMemsetD32Async_ptsz,
          (CUdeviceptr dst, unsigned int v, size_t n, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 4, 4 * n, n, 1); });
          })

FAKE_TWIN(cuMemsetD2D8Async, cuMemsetD2D8Async_ptsz,
          (CUdeviceptr dst, size_t pitch, unsigned char v, size_t w, size_t h, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 1, pitch, w, h); });
          })

FAKE_TWIN(cuMemsetD2D16Async, cuMemsetD2D16Async_ptsz,
          (CUdeviceptr dst, size_t pitch, unsigned short v, size_t w, size_t h, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 2, pitch, w, h); });
          })

FAKE_TWIN(cuMemsetD2D32Async, cuMemsetD2D32Async_ptsz,
          (CUdeviceptr dst, size_t pitch, unsigned int v, size_t w, size_t h, CUstream stream), {
            (void)v;
            return Async(stream, [&] { return MemsetOk(dst, 4, pitch, w, h); });
          })
