// The fake driver's modules, functions and graphs. Any image loads and any name resolves to a
// function ("fakegpu_us_<N>" ones run N µs, see fake_cuda_exec.cc); modules carry no globals.
// Graphs hold kernel, empty and memory nodes (alloc / free: fake_cuda_graph_memory.cc; other node
// kinds are NOT_SUPPORTED stubs); an instantiated graph launches in fake_cuda_exec.cc as the sum
// of its kernels, after its memory nodes are run.
#include <sys/stat.h>

#include <cstring>

#include "tests/fakes/cuda/fake_cuda_internal.h"

namespace fakecuda {
namespace {

// ---------------------------------------------------------------------------------------
// Modules

CUresult ModuleLoadLocked(CUmodule* module, const void* image) {
  Ctx* ctx = nullptr;
  if (CUresult rc = CurrentCtxLocked(&ctx); rc != CUDA_SUCCESS) return rc;
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* m = new Module();
  m->ctx = ctx;
  Register(m);
  *module = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

}  // namespace

void ModuleDestroyLocked(Module* m) {
  for (Function* f : m->functions) {
    Unregister(f);
    delete f;
  }
  Unregister(m);
  delete m;
}

namespace {

// ---------------------------------------------------------------------------------------
// Graphs

CUresult InstantiateLocked(CUgraphExec* exec, CUgraph graph) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Graph* g = Lookup<Graph>(graph, Kind::kGraph);
  if (exec == nullptr || g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* e = new GraphExec();
  for (const GraphNode* n : g->nodes) {
    if (n->kind == NodeKind::kKernel) e->kernels.push_back(n->work);
    if (n->kind == NodeKind::kMemAlloc) e->mem_allocs.push_back(n->mem_dptr);
    if (n->kind == NodeKind::kMemFree) e->mem_frees.push_back(n->mem_dptr);
  }
  Register(e);
  *exec = reinterpret_cast<CUgraphExec>(e);
  return CUDA_SUCCESS;
}

CUresult CheckDepsLocked(const Graph* g, const CUgraphNode* deps, size_t n) {
  if (n > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < n; ++i) {
    const GraphNode* d = Lookup<GraphNode>(deps[i], Kind::kGraphNode);
    if (d == nullptr || d->graph != g) return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace

CUresult GraphForNewNodeLocked(const CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                               size_t num_deps, Graph** g) {
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  *g = Lookup<Graph>(graph, Kind::kGraph);
  if (ph == nullptr || *g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return CheckDepsLocked(*g, deps, num_deps);
}

}  // namespace fakecuda

using namespace fakecuda;  // NOLINT(google-build-using-namespace): entry points below

// ---------------------------------------------------------------------------------------
// Modules and functions: any image loads, any name resolves to a function

FAKE_API CUresult cuModuleLoad(CUmodule* module, const char* fname) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
  struct stat st {};
  if (stat(fname, &st) != 0) return CUDA_ERROR_FILE_NOT_FOUND;
  return ModuleLoadLocked(module, fname);
}

FAKE_API CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return ModuleLoadLocked(module, image);
}

FAKE_API CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int num_options,
                                     CUjit_option* options, void** option_values) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (num_options > 0 && (options == nullptr || option_values == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return ModuleLoadLocked(module, image);
}

FAKE_API CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fat_cubin) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  return ModuleLoadLocked(module, fat_cubin);
}

FAKE_API CUresult cuModuleUnload(CUmodule hmod) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Module* m = Lookup<Module>(hmod, Kind::kModule);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  ModuleDestroyLocked(m);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Module* m = Lookup<Module>(hmod, Kind::kModule);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (*name == '\0') return CUDA_ERROR_NOT_FOUND;
  for (Function* f : m->functions) {
    if (f->name == name) {
      *hfunc = reinterpret_cast<CUfunction>(f);
      return CUDA_SUCCESS;
    }
  }
  auto* f = new Function();
  f->module = m;
  f->name = name;
  int64_t us = 0;
  if (strncmp(name, "fakegpu_us_", 11) == 0 &&
      fakegpu::ParseInt(name + 11, 0, INT64_C(1) << 40, &us)) {
    f->fixed_us = us;
  }
  Register(f);
  m->functions.push_back(f);
  *hfunc = reinterpret_cast<CUfunction>(f);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod,
                                       const char* name) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (Lookup<Module>(hmod, Kind::kModule) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  (void)dptr, (void)bytes;
  return CUDA_ERROR_NOT_FOUND;  // fake images carry no globals
}

FAKE_API CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (Lookup<Function>(hfunc, Kind::kFunction) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (pi == nullptr || attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
      *pi = 1024;
      break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
      *pi = 32;
      break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
      *pi = 80;
      break;
    default:
      *pi = 0;
      break;
  }
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (Lookup<Function>(hfunc, Kind::kFunction) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX || value < 0) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (Lookup<Function>(hfunc, Kind::kFunction) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  (void)config;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (Lookup<Function>(hfunc, Kind::kFunction) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  (void)config;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------------------------------
// Graphs: kernel and empty nodes (memory nodes: fake_cuda_graph_memory.cc); a launch queues the
// sum of its kernels

FAKE_API CUresult cuGraphCreate(CUgraph* ph, unsigned int flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  if (ph == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  auto* g = new Graph();
  Register(g);
  *ph = reinterpret_cast<CUgraph>(g);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphAddKernelNode_v2(CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                                          size_t num_deps, const CUDA_KERNEL_NODE_PARAMS* p) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Graph* g = nullptr;
  if (CUresult rc = GraphForNewNodeLocked(ph, graph, deps, num_deps, &g); rc != CUDA_SUCCESS) {
    return rc;
  }
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (p->func == nullptr)
    return p->kern != nullptr ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
  Function* f = Lookup<Function>(p->func, Kind::kFunction);
  if (f == nullptr) return CUDA_ERROR_INVALID_VALUE;
  KernelWork w;
  w.function = f;
  w.grid[0] = p->gridDimX, w.grid[1] = p->gridDimY, w.grid[2] = p->gridDimZ;
  w.block[0] = p->blockDimX, w.block[1] = p->blockDimY, w.block[2] = p->blockDimZ;
  if (CUresult rc = CheckLaunchDims(w, false); rc != CUDA_SUCCESS) return rc;
  GraphNode* n = AddGraphNodeLocked(g);
  n->kind = NodeKind::kKernel;
  n->work = w;
  *ph = reinterpret_cast<CUgraphNode>(n);
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphAddEmptyNode(CUgraphNode* ph, CUgraph graph, const CUgraphNode* deps,
                                      size_t num_deps) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  Graph* g = nullptr;
  if (CUresult rc = GraphForNewNodeLocked(ph, graph, deps, num_deps, &g); rc != CUDA_SUCCESS) {
    return rc;
  }
  *ph = reinterpret_cast<CUgraphNode>(AddGraphNodeLocked(g));
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, size_t* num_nodes) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  const Graph* g = Lookup<Graph>(graph, Kind::kGraph);
  if (g == nullptr || num_nodes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (nodes != nullptr) {
    const size_t n = *num_nodes < g->nodes.size() ? *num_nodes : g->nodes.size();
    for (size_t i = 0; i < n; ++i) nodes[i] = reinterpret_cast<CUgraphNode>(g->nodes[i]);
    for (size_t i = n; i < *num_nodes; ++i) nodes[i] = nullptr;
  }
  *num_nodes = g->nodes.size();
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph,
                                              unsigned long long flags) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (flags != 0) return CUDA_ERROR_NOT_SUPPORTED;  // auto-free, upload, device launch
  return InstantiateLocked(exec, graph);
}

FAKE_API CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                     char* log, size_t log_size) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_size > 0) log[0] = '\0';
  return InstantiateLocked(exec, graph);
}

FAKE_API CUresult cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                        char* log, size_t log_size) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_size > 0) log[0] = '\0';
  return InstantiateLocked(exec, graph);
}

FAKE_API CUresult cuGraphExecDestroy(CUgraphExec exec) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  GraphExec* e = Lookup<GraphExec>(exec, Kind::kGraphExec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Unregister(e);
  delete e;
  return CUDA_SUCCESS;
}

FAKE_API CUresult cuGraphDestroy(CUgraph graph) {
  FAKE_ENTER();
  std::lock_guard<std::mutex> lock(R().mu);
  if (CUresult rc = CheckInitLocked(); rc != CUDA_SUCCESS) return rc;
  Graph* g = Lookup<Graph>(graph, Kind::kGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (GraphNode* n : g->nodes) {
    Unregister(n);
    delete n;
  }
  Unregister(g);
  delete g;
  return CUDA_SUCCESS;
}
