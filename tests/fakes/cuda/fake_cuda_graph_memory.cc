// The fake driver's graph memory: memory alloc and free nodes (cuGraphAddMemAllocNode,
// cuGraphAddMemFreeNode, and cuMemAllocAsync / cuMemFreeAsync on a capturing stream, see
// fake_cuda_pool.cc) and the per-device graph memory pool of the process
// (cuDeviceGetGraphMemAttribute, cuDeviceSetGraphMemAttribute, cuDeviceGraphMemTrim). CUDA's
// semantics, simplified:
//
//   * An alloc node gets its address when it is made (CUDA_MEM_ALLOC_NODE_PARAMS::dptr), from a
//     per-device range at 112 + d TiB that is never reused; nothing is reserved or charged yet.
//     Its span is the size rounded up to 512 bytes, as for pool allocations.
//   * cuGraphLaunch / cuGraphLaunch_ptsz of a graph with alloc nodes reserves, per device, what
//     the sum of its alloc nodes' spans needs beyond the graph pool's unused reservation,
//     rounded up to the 2 MiB granule, and charges that to the process (OUT_OF_MEMORY, and
//     nothing launched or changed, when the device lacks it). The allocations then live (the
//     address works for copies and memsets) and count as the pool's USED memory; the graph's
//     free nodes then free what they name. Relaunching a graph whose allocations from the last
//     launch are still live fails with INVALID_VALUE, as does a free node whose memory is not
//     live. Memory reuse inside one graph is not modelled: the sum is reserved.
//   * A free node, cuMemFreeAsync or cuMemFree of a graph allocation returns it to the graph
//     pool: USED drops, the reservation (RESERVED, what is charged) stays.
//   * cuDeviceGraphMemTrim uncharges the reservation beyond what live allocations use (rounded
//     up to the granule); destroying a context frees its graph allocations and trims the same
//     way. Synchronisation trims nothing.
//   * CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT / _HIGH and RESERVED_MEM_CURRENT / _HIGH read the pool;
//     cuDeviceSetGraphMemAttribute accepts only 0 for the _HIGH ones, which it sets to 0.
#include <algorithm>
#include <cstring>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

constexpr CUdeviceptr kGraphVaBase = 112 * kTiB;  // device d: [112 + d, 113 + d) TiB

void GraphPoolHigh(GraphPool& p) {
  p.reserved_high = std::max(p.reserved_high, p.reserved);
  p.used_high = std::max(p.used_high, p.used);
}

// Gives out the address of a `bytes`-byte graph allocation on `dev`.
CUresult NewGraphVaLocked(int dev, size_t bytes, CUdeviceptr* dptr) {
  Runtime& r = R();
  const CUdeviceptr lo = kGraphVaBase + static_cast<CUdeviceptr>(dev) * kTiB;
  CUdeviceptr& next = r.next_graph_va[dev];
  if (next == 0) next = lo;
  const uint64_t span = RoundUp(bytes, kPoolAlign);
  if (span > lo + kTiB - next) return CUDA_ERROR_OUT_OF_MEMORY;
  r.graph_va[next] = GraphVa{dev, bytes, span};
  *dptr = next;
  next += span;
  return CUDA_SUCCESS;
}

bool GraphAllocLiveLocked(CUdeviceptr p) { return R().allocs.count(p) != 0; }

// Charges what `need` (bytes per device) takes beyond each graph pool's unused reservation;
// all or nothing.
CUresult GraphPoolsGrowLocked(const uint64_t (&need)[fakegpu::kMaxDevices]) {
  Runtime& r = R();
  uint64_t grow[fakegpu::kMaxDevices] = {};
  for (int d = 0; d < fakegpu::kMaxDevices; ++d) {
    const GraphPool& p = r.graph_pool[d];
    if (need[d] == 0 || p.used + need[d] <= p.reserved) continue;
    grow[d] = RoundUp(p.used + need[d] - p.reserved, fakegpu::kGranularity);
    if (CUresult rc = ChargeLocked(d, grow[d]); rc != CUDA_SUCCESS) {
      for (int u = 0; u < d; ++u) {
        if (grow[u] > 0) UnchargeLocked(u, grow[u]);
      }
      return rc;
    }
  }
  for (int d = 0; d < fakegpu::kMaxDevices; ++d) r.graph_pool[d].reserved += grow[d];
  return CUDA_SUCCESS;
}

GraphNode* MemNodeLocked(CUgraphNode handle, NodeKind kind) {
  GraphNode* n = Lookup<GraphNode>(handle, Kind::kGraphNode);
  return n != nullptr && n->kind == kind ? n : nullptr;
}

}  // namespace

CUresult AddMemAllocNodeLocked(Graph* g, int dev, size_t bytes, GraphNode** node) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr dptr = 0;
  if (CUresult rc = NewGraphVaLocked(dev, bytes, &dptr); rc != CUDA_SUCCESS) return rc;
  GraphNode* n = AddGraphNodeLocked(g);
  n->kind = NodeKind::kMemAlloc;
  n->mem_dptr = dptr;
  *node = n;
  return CUDA_SUCCESS;
}

CUresult AddMemFreeNodeLocked(Graph* g, CUdeviceptr dptr, GraphNode** node) {
  if (R().graph_va.count(dptr) == 0) return CUDA_ERROR_INVALID_VALUE;  // not a graph allocation
  GraphNode* n = AddGraphNodeLocked(g);
  n->kind = NodeKind::kMemFree;
  n->mem_dptr = dptr;
  *node = n;
  return CUDA_SUCCESS;
}

CUresult GraphMemLaunchLocked(Ctx* ctx, const GraphExec* e) {
  Runtime& r = R();
  uint64_t need[fakegpu::kMaxDevices] = {};
  for (CUdeviceptr p : e->mem_allocs) {
    if (GraphAllocLiveLocked(p)) return CUDA_ERROR_INVALID_VALUE;  // not freed since last launch
    const GraphVa& va = r.graph_va.at(p);
    need[va.device] = AddSat(need[va.device], va.span);
  }
  for (CUdeviceptr p : e->mem_frees) {
    const bool own =
        std::find(e->mem_allocs.begin(), e->mem_allocs.end(), p) != e->mem_allocs.end();
    if (!own && !GraphAllocLiveLocked(p)) return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult rc = GraphPoolsGrowLocked(need); rc != CUDA_SUCCESS) return rc;
  for (CUdeviceptr p : e->mem_allocs) {
    const GraphVa& va = r.graph_va.at(p);
    Alloc a;
    a.base = p;
    a.size = va.size;
    a.span = va.span;
    a.device = va.device;
    a.ctx = ctx;
    a.kind = AllocKind::kGraph;
    a.buffer_id = r.next_buffer_id++;
    r.allocs[p] = a;
    r.graph_pool[va.device].used += va.span;
    GraphPoolHigh(r.graph_pool[va.device]);
  }
  for (CUdeviceptr p : e->mem_frees) {
    auto it = r.allocs.find(p);
    if (it != r.allocs.end()) FreeAllocLocked(it);
  }
  return CUDA_SUCCESS;
}

void GraphMemReleaseLocked(int dev, uint64_t span) {
  GraphPool& p = R().graph_pool[dev];
  p.used -= std::min(span, p.used);
}

void GraphMemTrimLocked(int dev) {
  GraphPool& p = R().graph_pool[dev];
  const uint64_t keep = RoundUp(p.used, fakegpu::kGranularity);
  if (p.reserved <= keep) return;
  UnchargeLocked(dev, p.reserved - keep);
  p.reserved = keep;
}

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Memory nodes

FAKE_API CUresult cuGraphAddMemAllocNode(CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                                         size_t num_deps, CUDA_MEM_ALLOC_NODE_PARAMS* params) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Graph* g = nullptr;
  if (CUresult rc = GraphForNewNodeLocked(ph, graph, deps, num_deps, &g); rc != CUDA_SUCCESS) {
    return rc;
  }
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUmemPoolProps& props = params->poolProps;
  if (props.allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
      props.handleTypes != CU_MEM_HANDLE_TYPE_NONE || !ValidDeviceLocation(props.location) ||
      (params->accessDescCount > 0 && params->accessDescs == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  GraphNode* n = nullptr;
  if (CUresult rc = AddMemAllocNodeLocked(g, props.location.id, params->bytesize, &n);
      rc != CUDA_SUCCESS) {
    return rc;
  }
  params->dptr = n->mem_dptr;
  *ph = reinterpret_cast<CUgraphNode>(n);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphMemAllocNodeGetParams(CUgraphNode node,
                                               CUDA_MEM_ALLOC_NODE_PARAMS* params_out) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const GraphNode* n = MemNodeLocked(node, NodeKind::kMemAlloc);
  if (n == nullptr || params_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const GraphVa& va = R().graph_va.at(n->mem_dptr);
  memset(params_out, 0, sizeof(*params_out));
  params_out->poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  params_out->poolProps.location = {CU_MEM_LOCATION_TYPE_DEVICE, va.device};
  params_out->bytesize = va.size;
  params_out->dptr = n->mem_dptr;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphAddMemFreeNode(CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                                        size_t num_deps, CUdeviceptr dptr) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Graph* g = nullptr;
  if (CUresult rc = GraphForNewNodeLocked(ph, graph, deps, num_deps, &g); rc != CUDA_SUCCESS) {
    return rc;
  }
  GraphNode* n = nullptr;
  if (CUresult rc = AddMemFreeNodeLocked(g, dptr, &n); rc != CUDA_SUCCESS) return rc;
  *ph = reinterpret_cast<CUgraphNode>(n);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphMemFreeNodeGetParams(CUgraphNode node, CUdeviceptr* dptr_out) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const GraphNode* n = MemNodeLocked(node, NodeKind::kMemFree);
  if (n == nullptr || dptr_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *dptr_out = n->mem_dptr;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// The graph memory pool of a device

namespace {

CUresult CheckGraphPoolDeviceLocked(CUdevice dev) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  return ValidDeviceLocked(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

// Reads (or, with `set`, resets) the counter of device `dev`'s graph pool that `attr` names.
// Only the high-water marks can be set, and only to 0; the CURRENT values are read-only.
CUresult GraphMemAttributeLocked(CUdevice dev, CUgraphMem_attribute attr, void* value, bool set) {
  if (CUresult rc = CheckGraphPoolDeviceLocked(dev); rc != CUDA_SUCCESS) return rc;
  if (value == nullptr || attr < CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT ||
      attr > CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  GraphPool& p = R().graph_pool[dev];
  uint64_t* const by_attr[] = {&p.used, &p.used_high, &p.reserved, &p.reserved_high};
  auto* out = static_cast<cuuint64_t*>(value);
  if (!set) {
    *out = *by_attr[attr];
    return CUDA_SUCCESS;
  }
  const bool high =
      attr == CU_GRAPH_MEM_ATTR_USED_MEM_HIGH || attr == CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH;
  if (!high || *out != 0) return CUDA_ERROR_INVALID_VALUE;
  *by_attr[attr] = 0;
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_API CUresult cuDeviceGetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr,
                                               void* value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return GraphMemAttributeLocked(dev, attr, value, false);
}

FAKE_API CUresult cuDeviceSetGraphMemAttribute(CUdevice dev, CUgraphMem_attribute attr,
                                               void* value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return GraphMemAttributeLocked(dev, attr, value, true);
}

FAKE_API CUresult cuDeviceGraphMemTrim(CUdevice dev) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  const CUresult rc = CheckGraphPoolDeviceLocked(dev);
  if (rc == CUDA_SUCCESS) GraphMemTrimLocked(dev);
  return rc;
}
