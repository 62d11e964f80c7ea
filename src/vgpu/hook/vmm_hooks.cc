// The virtual memory management hooks (retained.h): a physical allocation is charged from
// cuMemCreate until it is both released and unmapped everywhere (VmmLedger), because the
// standard idiom releases the handle right after mapping it while the memory stays in use.
// One process-wide lock is held across each driver call, so a handle value or address the
// driver reuses at once is never confused with the one just released.
#include <cuda.h>

#include <mutex>
#include <new>

#include "vgpu/hook/charging.h"
#include "vgpu/hook/hooks.h"
#include "vgpu/hook/retained.h"
#include "vgpu/vmm_ledger.h"

namespace hami::vgpu::hook {
namespace {

struct Vmm {
  std::mutex mu;
  VmmLedger ledger;  // GUARDED_BY(mu)
};

Vmm& State() {
  static Vmm* vmm = new Vmm();  // leaked: hooks may run while static destructors do
  return *vmm;
}

// cuMemUnmap or cuMemAddressFree through `real`: when it succeeds, the mappings that start in
// [ptr, ptr + size) are gone, and the allocations they kept alive after their release with them.
CUresult Unmapping(CUresult (*real)(CUdeviceptr, size_t), CUdeviceptr ptr, size_t size) {
  Vmm& vmm = State();
  std::vector<DeviceBytes> freed;
  CUresult result;
  {
    std::lock_guard<std::mutex> lock(vmm.mu);
    result = real(ptr, size);
    if (result == CUDA_SUCCESS) freed = vmm.ledger.Unmapped(ptr, size);
  }
  for (const DeviceBytes& f : freed) Enforcer::Get().Uncharge(f.device, f.bytes);
  return result;
}

}  // namespace

void VmmAfterForkChild() {
  Vmm& vmm = State();
  new (&vmm.mu) std::mutex();
  vmm.ledger = VmmLedger();
}

}  // namespace hami::vgpu::hook

using namespace hami::vgpu::hook;  // NOLINT: the hooks below are the C ABI
using hami::vgpu::DeviceBytes;

HAMI_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                 const CUmemAllocationProp* prop, unsigned long long flags) {
  auto real = HAMI_REAL(cuMemCreate);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (handle == nullptr || prop == nullptr || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
    return real(handle, size, prop, flags);  // host memory, or an argument the driver refuses
  }
  Enforcer& enforcer = Enforcer::Get();
  const int device = prop->location.id;
  if (!enforcer.Charge(device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  Vmm& vmm = State();
  std::lock_guard<std::mutex> lock(vmm.mu);
  const CUresult result = real(handle, size, prop, flags);
  if (result == CUDA_SUCCESS) {
    vmm.ledger.Created(static_cast<uint64_t>(*handle), device, size);
  } else {
    enforcer.Uncharge(device, size);
  }
  return result;
}

HAMI_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  auto real = HAMI_REAL(cuMemRelease);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  Vmm& vmm = State();
  DeviceBytes freed;
  CUresult result;
  {
    std::lock_guard<std::mutex> lock(vmm.mu);
    result = real(handle);
    if (result == CUDA_SUCCESS) freed = vmm.ledger.Released(static_cast<uint64_t>(handle));
  }
  if (freed.device >= 0) Enforcer::Get().Uncharge(freed.device, freed.bytes);
  return result;
}

HAMI_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                              CUmemGenericAllocationHandle handle, unsigned long long flags) {
  auto real = HAMI_REAL(cuMemMap);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  Vmm& vmm = State();
  std::lock_guard<std::mutex> lock(vmm.mu);
  const CUresult result = real(ptr, size, offset, handle, flags);
  if (result == CUDA_SUCCESS) vmm.ledger.Mapped(ptr, size, static_cast<uint64_t>(handle));
  return result;
}

HAMI_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  auto real = HAMI_REAL(cuMemUnmap);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Unmapping(real, ptr, size);
}

// Freeing a reserved range drops whatever is still mapped in it.
HAMI_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  auto real = HAMI_REAL(cuMemAddressFree);
  if (real == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Unmapping(real, ptr, size);
}
