// The fake driver's execution: kernel launches, streams, stream capture, events and graph
// launches (modules and graphs themselves: fake_cuda_module.cc). A launch queues its duration on
// the device's shared timeline (fake_gpu_state.h, EnqueueLocked) and returns at once; synchronising
// calls sleep until the work they wait for has ended, so a launch-and-sync loop is bound by the
// simulated device. A graph launch first runs the graph's memory nodes (fake_cuda_graph_memory.cc:
// reserving graph memory can fail with OUT_OF_MEMORY, and then nothing is launched), then queues
// its kernels as one submission.
//
// Kernel duration, first that applies: a function named "fakegpu_us_<N>" runs N µs; else
// FAKEGPU_KERNEL_US; else ceil(blocks / (SMs * blocksPerSM)) waves of FAKEGPU_WAVE_US each,
// blocksPerSM = clamp(threadsPerSM / threadsPerBlock, 1, 32).
#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

constexpr int kMaxBlocksPerSm = 32;

bool IsDefaultStream(CUstream h) {
  return h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD;
}

int64_t BlocksPerSm(uint64_t block_threads) {
  int64_t per_sm = static_cast<int64_t>(Cfg().threads_per_sm) /
                   static_cast<int64_t>(block_threads == 0 ? 1 : block_threads);
  if (per_sm < 1) per_sm = 1;
  return per_sm > kMaxBlocksPerSm ? kMaxBlocksPerSm : per_sm;
}

int64_t KernelUs(const KernelWork& w) {
  if (w.function != nullptr && w.function->fixed_us >= 0) return w.function->fixed_us;
  if (Cfg().kernel_us > 0) return Cfg().kernel_us;
  const uint64_t blocks = uint64_t{w.grid[0]} * w.grid[1] * w.grid[2];
  const uint64_t threads = uint64_t{w.block[0]} * w.block[1] * w.block[2];
  const uint64_t per_wave = static_cast<uint64_t>(Cfg().sms) * BlocksPerSm(threads);
  return static_cast<int64_t>((blocks + per_wave - 1) / per_wave) * Cfg().wave_us;
}

}  // namespace

CUresult CheckLaunchDims(const KernelWork& w, bool cooperative) {
  const uint64_t threads = uint64_t{w.block[0]} * w.block[1] * w.block[2];
  if (w.grid[0] == 0 || w.grid[1] == 0 || w.grid[2] == 0 || threads == 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (threads > 1024 || w.block[0] > 1024 || w.block[1] > 1024 || w.block[2] > 64 ||
      w.grid[1] > 65535 || w.grid[2] > 65535 || w.grid[0] > 2147483647u) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (cooperative) {
    const uint64_t blocks = uint64_t{w.grid[0]} * w.grid[1] * w.grid[2];
    if (blocks > static_cast<uint64_t>(Cfg().sms) * BlocksPerSm(threads)) {
      return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
    }
  }
  return CUDA_SUCCESS;
}

GraphNode* AddGraphNodeLocked(Graph* g) {
  auto* n = new GraphNode();
  n->graph = g;
  Register(n);
  g->nodes.push_back(n);
  return n;
}

namespace {

// Queues `duration_us` of this process's work on the stream's device.
void EnqueueLocked(Ctx* ctx, Stream* stream, int64_t duration_us) {
  Runtime& r = R();
  int64_t end = 0;
  {
    fakegpu::Locked shared(r.state);
    end = fakegpu::EnqueueLocked(r.state, ctx->device, r.pid, duration_us);
  }
  if (stream != nullptr) stream->last_end_us = end;
  if (end > r.device_last_end_us[ctx->device]) r.device_last_end_us[ctx->device] = end;
}

CUresult LaunchLocked(CUfunction handle, const KernelWork& dims, CUstream hstream,
                      bool cooperative) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Function* f = Lookup<Function>(handle, Kind::kFunction);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Ctx* ctx = nullptr;
  Stream* stream = nullptr;
  if (CUresult rc = ResolveStreamLocked(hstream, &ctx, &stream); rc != CUDA_SUCCESS) return rc;
  KernelWork w = dims;
  w.function = f;
  if (CUresult rc = CheckLaunchDims(w, cooperative); rc != CUDA_SUCCESS) return rc;
  if (stream != nullptr && stream->capture != nullptr) {  // recorded, not run
    AddGraphNodeLocked(stream->capture)->kind = NodeKind::kKernel;
    stream->capture->nodes.back()->work = w;
    return CUDA_SUCCESS;
  }
  EnqueueLocked(ctx, stream, KernelUs(w));
  return CUDA_SUCCESS;
}

CUresult LaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                      unsigned bz, CUstream stream, bool cooperative) {
  KernelWork w;
  w.grid[0] = gx, w.grid[1] = gy, w.grid[2] = gz;
  w.block[0] = bx, w.block[1] = by, w.block[2] = bz;
  std::lock_guard<std::mutex> lock(R().mu);
  return LaunchLocked(f, w, stream, cooperative);
}

CUresult LaunchKernelEx(const CUlaunchConfig* config, CUfunction f) {
  if (config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  bool cooperative = false;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE &&
        config->attrs[i].value.cooperative != 0) {
      cooperative = true;
    }
  }
  return LaunchKernel(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                      config->blockDimY, config->blockDimZ, config->hStream, cooperative);
}

// ---------------------------------------------------------------------------------------
// Streams

CUresult StreamCreateLocked(CUstream* ph, unsigned flags, int priority) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (ph == nullptr || (flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto* s = new Stream();
  s->ctx = ctx;
  s->flags = flags;
  s->priority = priority < -5 ? -5 : (priority > 0 ? 0 : priority);  // clamped like CUDA
  s->id = R().next_stream_id++;
  Register(s);
  *ph = reinterpret_cast<CUstream>(s);
  return CUDA_SUCCESS;
}

CUresult StreamDestroyLocked(CUstream h) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Stream* s = Lookup<Stream>(h, Kind::kStream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Unregister(s);
  delete s;  // queued work still completes: it is on the device timeline
  return CUDA_SUCCESS;
}

CUresult StreamSynchronize(CUstream h) {
  int64_t deadline = 0;
  {
    std::lock_guard<std::mutex> lock(R().mu);
    if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
    Ctx* ctx = nullptr;
    Stream* s = nullptr;
    if (CUresult rc = ResolveStreamLocked(h, &ctx, &s); rc != CUDA_SUCCESS) return rc;
    if (s != nullptr && s->capture != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    deadline = StreamDoneUsLocked(ctx, s);
    TrimPoolsLocked(ctx->device);
  }
  WaitUntil(deadline);
  return CUDA_SUCCESS;
}

CUresult StreamQuery(CUstream h) {
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  Stream* s = nullptr;
  if (CUresult rc = ResolveStreamLocked(h, &ctx, &s); rc != CUDA_SUCCESS) return rc;
  return fakegpu::MonotonicUs() < StreamDoneUsLocked(ctx, s) ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

template <typename Fn>
CUresult WithStream(CUstream h, Fn fn) {
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Ctx* ctx = nullptr;
  Stream* s = nullptr;
  if (CUresult rc = ResolveStreamLocked(h, &ctx, &s); rc != CUDA_SUCCESS) return rc;
  return fn(ctx, s);
}

CUresult BeginCapture(CUstream h, CUstreamCaptureMode mode) {
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    if (s == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // default streams
    if (s->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
    if (mode < CU_STREAM_CAPTURE_MODE_GLOBAL || mode > CU_STREAM_CAPTURE_MODE_RELAXED) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    auto* g = new Graph();
    Register(g);
    s->capture = g;
    s->capture_mode = mode;
    return CUDA_SUCCESS;
  });
}

CUresult EndCapture(CUstream h, CUgraph* graph) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    if (s == nullptr || s->capture == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
    *graph = reinterpret_cast<CUgraph>(s->capture);
    s->capture = nullptr;
    return CUDA_SUCCESS;
  });
}

CUresult IsCapturing(CUstream h, CUstreamCaptureStatus* status) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    *status = s != nullptr && s->capture != nullptr ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                                                    : CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
  });
}

// ---------------------------------------------------------------------------------------
// Events

CUresult EventRecord(CUevent e, CUstream h, unsigned flags) {
  if (flags != 0 && flags != CU_EVENT_RECORD_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx* ctx, Stream* s) -> CUresult {
    Event* ev = Lookup<Event>(e, Kind::kEvent);
    if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    const int64_t now = fakegpu::MonotonicUs(), done = StreamDoneUsLocked(ctx, s);
    ev->time_us = done > now ? done : now;
    ev->recorded = true;
    return CUDA_SUCCESS;
  });
}

CUresult EventDestroyLocked(CUevent e) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Event* ev = Lookup<Event>(e, Kind::kEvent);
  if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Unregister(ev);
  delete ev;
  return CUDA_SUCCESS;
}

CUresult ElapsedLocked(float* ms, CUevent a, CUevent b) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const Event* start = Lookup<Event>(a, Kind::kEvent);
  const Event* end = Lookup<Event>(b, Kind::kEvent);
  if (start == nullptr || end == nullptr || !start->recorded || !end->recorded ||
      ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) != 0) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  const int64_t now = fakegpu::MonotonicUs();
  if (start->time_us > now || end->time_us > now) return CUDA_ERROR_NOT_READY;
  *ms = static_cast<float>(end->time_us - start->time_us) / 1000.0f;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Graph launches

CUresult GraphLaunch(CUgraphExec exec, CUstream h) {
  return WithStream(h, [&](Ctx* ctx, Stream* s) -> CUresult {
    const GraphExec* e = Lookup<GraphExec>(exec, Kind::kGraphExec);
    if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (s != nullptr && s->capture != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    int64_t total = 0;
    for (const KernelWork& w : e->kernels) {
      if (Lookup<Function>(w.function, Kind::kFunction) == nullptr) return CUDA_ERROR_INVALID_VALUE;
      total += KernelUs(w);
    }
    if (CUresult rc = GraphMemLaunchLocked(ctx, e); rc != CUDA_SUCCESS) return rc;
    EnqueueLocked(ctx, s, total);  // one interval: a graph runs as one submission
    return CUDA_SUCCESS;
  });
}

CUresult GraphUpload(CUgraphExec exec, CUstream h) {
  return WithStream(h, [&](Ctx*, Stream*) -> CUresult {
    return Lookup<GraphExec>(exec, Kind::kGraphExec) != nullptr ? CUDA_SUCCESS
                                                                : CUDA_ERROR_INVALID_VALUE;
  });
}

}  // namespace

CUresult ResolveStreamLocked(CUstream h, Ctx** ctx, Stream** stream) {
  if (IsDefaultStream(h)) {
    *stream = nullptr;
    return CurrentCtxLocked(ctx);
  }
  Stream* s = Lookup<Stream>(h, Kind::kStream);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (Lookup<Ctx>(s->ctx, Kind::kContext) == nullptr || !s->ctx->alive) {
    return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  }
  *ctx = s->ctx;
  *stream = s;
  return CUDA_SUCCESS;
}

int64_t StreamDoneUsLocked(Ctx* ctx, Stream* stream) {
  // The default (legacy) stream waits for all blocking work of the process on the device.
  return stream != nullptr ? stream->last_end_us : R().device_last_end_us[ctx->device];
}

void FreeCtxExecLocked(Ctx* ctx) {
  std::vector<Object*> doomed;
  for (const auto& [handle, kind] : R().handles) {
    auto* o = static_cast<Object*>(const_cast<void*>(handle));
    if ((kind == Kind::kStream && static_cast<Stream*>(o)->ctx == ctx) ||
        (kind == Kind::kEvent && static_cast<Event*>(o)->ctx == ctx) ||
        (kind == Kind::kModule && static_cast<Module*>(o)->ctx == ctx)) {
      doomed.push_back(o);
    }
  }
  for (Object* o : doomed) {
    if (o->kind == Kind::kModule) {
      ModuleDestroyLocked(static_cast<Module*>(o));
    } else {
      Unregister(o);
      if (o->kind == Kind::kStream)
        delete static_cast<Stream*>(o);
      else
        delete static_cast<Event*>(o);
    }
  }
}

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Launches

FAKE_TWIN(cuLaunchKernel, cuLaunchKernel_ptsz,
          (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
           unsigned int by, unsigned int bz, unsigned int shared_bytes, CUstream stream,
           void** params, void** extra),
          {
            (void)shared_bytes;
            (void)params;
            (void)extra;
            return LaunchKernel(f, gx, gy, gz, bx, by, bz, stream, false);
          })

FAKE_TWIN(cuLaunchKernelEx, cuLaunchKernelEx_ptsz,
          (const CUlaunchConfig* config, CUfunction f, void** params, void** extra), {
            (void)params;
            (void)extra;
            return LaunchKernelEx(config, f);
          })

FAKE_TWIN(cuLaunchCooperativeKernel, cuLaunchCooperativeKernel_ptsz,
          (CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
           unsigned int by, unsigned int bz, unsigned int shared_bytes, CUstream stream,
           void** params),
          {
            (void)shared_bytes;
            (void)params;
            return LaunchKernel(f, gx, gy, gz, bx, by, bz, stream, true);
          })

// ---------------------------------------------------------------------------------------
// Streams

FAKE_API CUresult cuStreamCreate(CUstream* ph, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return StreamCreateLocked(ph, flags, 0);
}

FAKE_API CUresult cuStreamCreateWithPriority(CUstream* ph, unsigned int flags, int priority) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return StreamCreateLocked(ph, flags, priority);
}

FAKE_API CUresult cuStreamDestroy_v2(CUstream h) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return StreamDestroyLocked(h);
}

FAKE_API CUresult cuStreamDestroy(CUstream h) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return StreamDestroyLocked(h);
}

FAKE_TWIN(cuStreamSynchronize, cuStreamSynchronize_ptsz, (CUstream h),
          { return StreamSynchronize(h); })

FAKE_TWIN(cuStreamQuery, cuStreamQuery_ptsz, (CUstream h), { return StreamQuery(h); })

FAKE_TWIN(cuStreamWaitEvent, cuStreamWaitEvent_ptsz, (CUstream h, CUevent e, unsigned int flags), {
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    const Event* ev = Lookup<Event>(e, Kind::kEvent);
    if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (flags != 0 && flags != CU_EVENT_WAIT_EXTERNAL) return CUDA_ERROR_INVALID_VALUE;
    if (s != nullptr && ev->recorded && ev->time_us > s->last_end_us) {
      s->last_end_us = ev->time_us;
    }
    return CUDA_SUCCESS;
  });
})

FAKE_TWIN(cuStreamGetPriority, cuStreamGetPriority_ptsz, (CUstream h, int* priority), {
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    *priority = s != nullptr ? s->priority : 0;
    return CUDA_SUCCESS;
  });
})

FAKE_TWIN(cuStreamGetFlags, cuStreamGetFlags_ptsz, (CUstream h, unsigned int* flags), {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    *flags = s != nullptr ? s->flags : 0;
    return CUDA_SUCCESS;
  });
})

FAKE_TWIN(cuStreamGetCtx, cuStreamGetCtx_ptsz, (CUstream h, CUcontext* pctx), {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx* ctx, Stream*) -> CUresult {
    *pctx = reinterpret_cast<CUcontext>(ctx);
    return CUDA_SUCCESS;
  });
})

FAKE_TWIN(cuStreamGetCtx_v2, cuStreamGetCtx_v2_ptsz,
          (CUstream h, CUcontext* pctx, CUgreenCtx* pgreen), {
            if (pctx == nullptr || pgreen == nullptr) return CUDA_ERROR_INVALID_VALUE;
            return WithStream(h, [&](Ctx* ctx, Stream*) -> CUresult {
              *pctx = reinterpret_cast<CUcontext>(ctx);
              *pgreen = nullptr;  // no green contexts
              return CUDA_SUCCESS;
            });
          })

FAKE_TWIN(cuStreamGetId, cuStreamGetId_ptsz, (CUstream h, unsigned long long* id), {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return WithStream(h, [&](Ctx*, Stream* s) -> CUresult {
    *id = s != nullptr ? s->id : 0;
    return CUDA_SUCCESS;
  });
})

FAKE_TWIN(cuStreamBeginCapture_v2, cuStreamBeginCapture_v2_ptsz,
          (CUstream h, CUstreamCaptureMode mode), { return BeginCapture(h, mode); })

FAKE_TWIN(cuStreamBeginCapture, cuStreamBeginCapture_ptsz, (CUstream h),
          { return BeginCapture(h, CU_STREAM_CAPTURE_MODE_GLOBAL); })

FAKE_TWIN(cuStreamEndCapture, cuStreamEndCapture_ptsz, (CUstream h, CUgraph* graph),
          { return EndCapture(h, graph); })

FAKE_TWIN(cuStreamIsCapturing, cuStreamIsCapturing_ptsz,
          (CUstream h, CUstreamCaptureStatus* status), { return IsCapturing(h, status); })

// ---------------------------------------------------------------------------------------
// Events

FAKE_API CUresult cuEventCreate(CUevent* ph, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  constexpr unsigned kKnown =
      CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if (ph == nullptr || (flags & ~kKnown) != 0 ||
      ((flags & CU_EVENT_INTERPROCESS) != 0 && (flags & CU_EVENT_DISABLE_TIMING) == 0)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto* ev = new Event();
  ev->ctx = ctx;
  ev->flags = flags;
  Register(ev);
  *ph = reinterpret_cast<CUevent>(ev);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuEventDestroy_v2(CUevent e) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return EventDestroyLocked(e);
}

FAKE_API CUresult cuEventDestroy(CUevent e) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return EventDestroyLocked(e);
}

FAKE_TWIN(cuEventRecord, cuEventRecord_ptsz, (CUevent e, CUstream h),
          { return EventRecord(e, h, 0); })

FAKE_TWIN(cuEventRecordWithFlags, cuEventRecordWithFlags_ptsz,
          (CUevent e, CUstream h, unsigned int flags), { return EventRecord(e, h, flags); })

FAKE_API CUresult cuEventQuery(CUevent e) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const Event* ev = Lookup<Event>(e, Kind::kEvent);
  if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return ev->recorded && fakegpu::MonotonicUs() < ev->time_us ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

FAKE_API CUresult cuEventSynchronize(CUevent e) {
  FAKE_ENTER();
  int64_t deadline = 0;
  {
    std::lock_guard<std::mutex> lock(R().mu);
    if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
    const Event* ev = Lookup<Event>(e, Kind::kEvent);
    if (ev == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (ev->recorded) deadline = ev->time_us;
  }
  WaitUntil(deadline);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return ElapsedLocked(ms, start, end);
}

FAKE_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return ElapsedLocked(ms, start, end);
}

// ---------------------------------------------------------------------------------------
// Graph launches: the sum of the graph's kernels, queued as one submission

FAKE_TWIN(cuGraphLaunch, cuGraphLaunch_ptsz, (CUgraphExec exec, CUstream h),
          { return GraphLaunch(exec, h); })

FAKE_TWIN(cuGraphUpload, cuGraphUpload_ptsz, (CUgraphExec exec, CUstream h),
          { return GraphUpload(exec, h); })
