// The name -> versioned entry point table behind the fake's cuGetProcAddress (internal).
#pragma once

#include <cstddef>

namespace fakecuda {

// `base` resolves to `fn` for a requested cudaVersion >= `version` (the highest such version
// wins), and to `per_thread` instead when the caller asks for per-thread default-stream
// semantics and cudaVersion >= `per_thread_version`. Versions are cudaTypedefs.h's PFN
// suffixes: the CUDA release that introduced that ABI.
struct ProcEntry {
  const char* base;
  int version;
  void* fn;
  void* per_thread;
  int per_thread_version;
};

#define P(base, version, fn) \
  { base, version, reinterpret_cast<void*>(&fn), nullptr, 0 }
#define PT(base, version, fn, twin, twin_version) \
  { base, version, reinterpret_cast<void*>(&fn), reinterpret_cast<void*>(&twin), twin_version }

extern const ProcEntry kStubProcs[];
extern const size_t kStubProcCount;

}  // namespace fakecuda
