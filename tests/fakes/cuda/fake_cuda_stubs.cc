// NOT_SUPPORTED stubs for driver entry points that libvgpu hooks (spec hami-core.md §1.5)
// but the fake does not simulate: UVM advice and prefetch, IPC, external memory and
// semaphores, the JIT linker, host callbacks and every graph node kind but kernel, empty and
// memory (alloc / free) nodes. They exist so that dlsym and cuGetProcAddress find them (a hook
// whose driver entry is missing behaves differently, spec §1.1). Prototypes are cuda.h 13.0's,
// generated from the preprocessed header, so each stub has the real ABI.
#include "tests/fakes/cuda/fake_cuda_internal.h"
#include "tests/fakes/cuda/fake_cuda_proc.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

#define FAKE_STUB(name, params)      \
  FAKE_API CUresult name params {    \
    FAKE_ENTER();                    \
    return CUDA_ERROR_NOT_SUPPORTED; \
  }

FAKE_STUB(cuMemPoolExportToShareableHandle,
          (void* handle_out, CUmemoryPool pool, CUmemAllocationHandleType handleType,
           unsigned long long flags))
FAKE_STUB(cuMemPoolImportFromShareableHandle,
          (CUmemoryPool * pool_out, void* handle, CUmemAllocationHandleType handleType,
           unsigned long long flags))
FAKE_STUB(cuMemPoolExportPointer, (CUmemPoolPtrExportData * shareData_out, CUdeviceptr ptr))
FAKE_STUB(cuMemPoolImportPointer,
          (CUdeviceptr * ptr_out, CUmemoryPool pool, CUmemPoolPtrExportData* shareData))
FAKE_STUB(cuMemExportToShareableHandle,
          (void* shareableHandle, CUmemGenericAllocationHandle handle,
           CUmemAllocationHandleType handleType, unsigned long long flags))
FAKE_STUB(cuMemImportFromShareableHandle, (CUmemGenericAllocationHandle * handle, void* osHandle,
                                           CUmemAllocationHandleType shHandleType))
FAKE_STUB(cuMemAdvise, (CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUdevice device))
FAKE_STUB(cuMemAdvise_v2,
          (CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUmemLocation location))
FAKE_STUB(cuMemPrefetchAsync,
          (CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream))
FAKE_STUB(cuMemPrefetchAsync_ptsz,
          (CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream))
FAKE_STUB(cuMemPrefetchAsync_v2, (CUdeviceptr devPtr, size_t count, CUmemLocation location,
                                  unsigned int flags, CUstream hStream))
FAKE_STUB(cuMemPrefetchAsync_v2_ptsz, (CUdeviceptr devPtr, size_t count, CUmemLocation location,
                                       unsigned int flags, CUstream hStream))
FAKE_STUB(cuMemRangeGetAttribute, (void* data, size_t dataSize, CUmem_range_attribute attribute,
                                   CUdeviceptr devPtr, size_t count))
FAKE_STUB(cuMemRangeGetAttributes,
          (void** data, size_t* dataSizes, CUmem_range_attribute* attributes, size_t numAttributes,
           CUdeviceptr devPtr, size_t count))
FAKE_STUB(cuIpcGetMemHandle, (CUipcMemHandle * pHandle, CUdeviceptr dptr))
FAKE_STUB(cuIpcOpenMemHandle, (CUdeviceptr * pdptr, CUipcMemHandle handle, unsigned int Flags))
FAKE_STUB(cuIpcOpenMemHandle_v2, (CUdeviceptr * pdptr, CUipcMemHandle handle, unsigned int Flags))
FAKE_STUB(cuIpcCloseMemHandle, (CUdeviceptr dptr))
FAKE_STUB(cuIpcGetEventHandle, (CUipcEventHandle * pHandle, CUevent event))
FAKE_STUB(cuIpcOpenEventHandle, (CUevent * phEvent, CUipcEventHandle handle))
FAKE_STUB(cuImportExternalMemory,
          (CUexternalMemory * extMem_out, const CUDA_EXTERNAL_MEMORY_HANDLE_DESC* memHandleDesc))
FAKE_STUB(cuExternalMemoryGetMappedBuffer, (CUdeviceptr * devPtr, CUexternalMemory extMem,
                                            const CUDA_EXTERNAL_MEMORY_BUFFER_DESC* bufferDesc))
FAKE_STUB(cuExternalMemoryGetMappedMipmappedArray,
          (CUmipmappedArray * mipmap, CUexternalMemory extMem,
           const CUDA_EXTERNAL_MEMORY_MIPMAPPED_ARRAY_DESC* mipmapDesc))
FAKE_STUB(cuDestroyExternalMemory, (CUexternalMemory extMem))
FAKE_STUB(cuImportExternalSemaphore, (CUexternalSemaphore * extSem_out,
                                      const CUDA_EXTERNAL_SEMAPHORE_HANDLE_DESC* semHandleDesc))
FAKE_STUB(cuSignalExternalSemaphoresAsync,
          (const CUexternalSemaphore* extSemArray,
           const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS* paramsArray, unsigned int numExtSems,
           CUstream stream))
FAKE_STUB(cuSignalExternalSemaphoresAsync_ptsz,
          (const CUexternalSemaphore* extSemArray,
           const CUDA_EXTERNAL_SEMAPHORE_SIGNAL_PARAMS* paramsArray, unsigned int numExtSems,
           CUstream stream))
FAKE_STUB(cuWaitExternalSemaphoresAsync, (const CUexternalSemaphore* extSemArray,
                                          const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS* paramsArray,
                                          unsigned int numExtSems, CUstream stream))
FAKE_STUB(cuWaitExternalSemaphoresAsync_ptsz,
          (const CUexternalSemaphore* extSemArray,
           const CUDA_EXTERNAL_SEMAPHORE_WAIT_PARAMS* paramsArray, unsigned int numExtSems,
           CUstream stream))
FAKE_STUB(cuDestroyExternalSemaphore, (CUexternalSemaphore extSem))
FAKE_STUB(cuModuleGetTexRef, (CUtexref * pTexRef, CUmodule hmod, const char* name))
FAKE_STUB(cuModuleGetSurfRef, (CUsurfref * pSurfRef, CUmodule hmod, const char* name))
FAKE_STUB(cuLinkCreate, (unsigned int numOptions, CUjit_option* options, void** optionValues,
                         CUlinkState* stateOut))
FAKE_STUB(cuLinkCreate_v2, (unsigned int numOptions, CUjit_option* options, void** optionValues,
                            CUlinkState* stateOut))
FAKE_STUB(cuLinkAddData,
          (CUlinkState state, CUjitInputType type, void* data, size_t size, const char* name,
           unsigned int numOptions, CUjit_option* options, void** optionValues))
FAKE_STUB(cuLinkAddData_v2,
          (CUlinkState state, CUjitInputType type, void* data, size_t size, const char* name,
           unsigned int numOptions, CUjit_option* options, void** optionValues))
FAKE_STUB(cuLinkAddFile, (CUlinkState state, CUjitInputType type, const char* path,
                          unsigned int numOptions, CUjit_option* options, void** optionValues))
FAKE_STUB(cuLinkAddFile_v2, (CUlinkState state, CUjitInputType type, const char* path,
                             unsigned int numOptions, CUjit_option* options, void** optionValues))
FAKE_STUB(cuLinkComplete, (CUlinkState state, void** cubinOut, size_t* sizeOut))
FAKE_STUB(cuLinkDestroy, (CUlinkState state))
FAKE_STUB(cuStreamAddCallback,
          (CUstream hStream, CUstreamCallback callback, void* userData, unsigned int flags))
FAKE_STUB(cuStreamAddCallback_ptsz,
          (CUstream hStream, CUstreamCallback callback, void* userData, unsigned int flags))
FAKE_STUB(cuLaunchHostFunc, (CUstream hStream, CUhostFn fn, void* userData))
FAKE_STUB(cuLaunchHostFunc_ptsz, (CUstream hStream, CUhostFn fn, void* userData))
FAKE_STUB(cuGraphAddKernelNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams))
FAKE_STUB(cuGraphKernelNodeGetParams, (CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS_v1* nodeParams))
FAKE_STUB(cuGraphKernelNodeGetParams_v2, (CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphKernelNodeSetParams,
          (CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams))
FAKE_STUB(cuGraphKernelNodeSetParams_v2,
          (CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphExecKernelNodeSetParams,
          (CUgraphExec hGraphExec, CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams))
FAKE_STUB(cuGraphExecKernelNodeSetParams_v2,
          (CUgraphExec hGraphExec, CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphAddMemcpyNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_MEMCPY3D* copyParams, CUcontext ctx))
FAKE_STUB(cuGraphMemcpyNodeGetParams, (CUgraphNode hNode, CUDA_MEMCPY3D* nodeParams))
FAKE_STUB(cuGraphMemcpyNodeSetParams, (CUgraphNode hNode, const CUDA_MEMCPY3D* nodeParams))
FAKE_STUB(cuGraphAddMemsetNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS* memsetParams, CUcontext ctx))
FAKE_STUB(cuGraphMemsetNodeGetParams, (CUgraphNode hNode, CUDA_MEMSET_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphMemsetNodeSetParams,
          (CUgraphNode hNode, const CUDA_MEMSET_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphAddHostNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_HOST_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphHostNodeGetParams, (CUgraphNode hNode, CUDA_HOST_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphHostNodeSetParams, (CUgraphNode hNode, const CUDA_HOST_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphAddChildGraphNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, CUgraph childGraph))
FAKE_STUB(cuGraphChildGraphNodeGetGraph, (CUgraphNode hNode, CUgraph* phGraph))
FAKE_STUB(cuGraphAddEventRecordNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, CUevent event))
FAKE_STUB(cuGraphEventRecordNodeGetEvent, (CUgraphNode hNode, CUevent* event_out))
FAKE_STUB(cuGraphEventRecordNodeSetEvent, (CUgraphNode hNode, CUevent event))
FAKE_STUB(cuGraphAddEventWaitNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, CUevent event))
FAKE_STUB(cuGraphEventWaitNodeGetEvent, (CUgraphNode hNode, CUevent* event_out))
FAKE_STUB(cuGraphEventWaitNodeSetEvent, (CUgraphNode hNode, CUevent event))
FAKE_STUB(cuGraphAddExternalSemaphoresSignalNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_EXT_SEM_SIGNAL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphExternalSemaphoresSignalNodeGetParams,
          (CUgraphNode hNode, CUDA_EXT_SEM_SIGNAL_NODE_PARAMS* params_out))
FAKE_STUB(cuGraphExternalSemaphoresSignalNodeSetParams,
          (CUgraphNode hNode, const CUDA_EXT_SEM_SIGNAL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphAddExternalSemaphoresWaitNode,
          (CUgraphNode * phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
           size_t numDependencies, const CUDA_EXT_SEM_WAIT_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphExternalSemaphoresWaitNodeGetParams,
          (CUgraphNode hNode, CUDA_EXT_SEM_WAIT_NODE_PARAMS* params_out))
FAKE_STUB(cuGraphExternalSemaphoresWaitNodeSetParams,
          (CUgraphNode hNode, const CUDA_EXT_SEM_WAIT_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphExecExternalSemaphoresSignalNodeSetParams,
          (CUgraphExec hGraphExec, CUgraphNode hNode,
           const CUDA_EXT_SEM_SIGNAL_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphExecExternalSemaphoresWaitNodeSetParams,
          (CUgraphExec hGraphExec, CUgraphNode hNode,
           const CUDA_EXT_SEM_WAIT_NODE_PARAMS* nodeParams))
FAKE_STUB(cuGraphClone, (CUgraph * phGraphClone, CUgraph originalGraph))
FAKE_STUB(cuGraphNodeFindInClone,
          (CUgraphNode * phNode, CUgraphNode hOriginalNode, CUgraph hClonedGraph))
FAKE_STUB(cuGraphNodeGetType, (CUgraphNode hNode, CUgraphNodeType* type))
FAKE_STUB(cuGraphGetRootNodes, (CUgraph hGraph, CUgraphNode* rootNodes, size_t* numRootNodes))
FAKE_STUB(cuGraphGetEdges, (CUgraph hGraph, CUgraphNode* from, CUgraphNode* to, size_t* numEdges))
FAKE_STUB(cuGraphGetEdges_v2, (CUgraph hGraph, CUgraphNode* from, CUgraphNode* to,
                               CUgraphEdgeData* edgeData, size_t* numEdges))
FAKE_STUB(cuGraphNodeGetDependencies,
          (CUgraphNode hNode, CUgraphNode* dependencies, size_t* numDependencies))
FAKE_STUB(cuGraphNodeGetDependencies_v2, (CUgraphNode hNode, CUgraphNode* dependencies,
                                          CUgraphEdgeData* edgeData, size_t* numDependencies))
FAKE_STUB(cuGraphNodeGetDependentNodes,
          (CUgraphNode hNode, CUgraphNode* dependentNodes, size_t* numDependentNodes))
FAKE_STUB(cuGraphNodeGetDependentNodes_v2, (CUgraphNode hNode, CUgraphNode* dependentNodes,
                                            CUgraphEdgeData* edgeData, size_t* numDependentNodes))
FAKE_STUB(cuGraphAddDependencies,
          (CUgraph hGraph, const CUgraphNode* from, const CUgraphNode* to, size_t numDependencies))
FAKE_STUB(cuGraphAddDependencies_v2,
          (CUgraph hGraph, const CUgraphNode* from, const CUgraphNode* to,
           const CUgraphEdgeData* edgeData, size_t numDependencies))
FAKE_STUB(cuGraphRemoveDependencies,
          (CUgraph hGraph, const CUgraphNode* from, const CUgraphNode* to, size_t numDependencies))
FAKE_STUB(cuGraphRemoveDependencies_v2,
          (CUgraph hGraph, const CUgraphNode* from, const CUgraphNode* to,
           const CUgraphEdgeData* edgeData, size_t numDependencies))
FAKE_STUB(cuGraphDestroyNode, (CUgraphNode hNode))
FAKE_STUB(cuGraphInstantiateWithParams, (CUgraphExec * phGraphExec, CUgraph hGraph,
                                         CUDA_GRAPH_INSTANTIATE_PARAMS* instantiateParams))
FAKE_STUB(cuGraphInstantiateWithParams_ptsz, (CUgraphExec * phGraphExec, CUgraph hGraph,
                                              CUDA_GRAPH_INSTANTIATE_PARAMS* instantiateParams))

namespace fakecuda {

// cuGetProcAddress entries for the stubs (versions from cudaTypedefs.h 13.0).
const ProcEntry kStubProcs[] = {
    P("cuMemPoolExportToShareableHandle", 11020, cuMemPoolExportToShareableHandle),
    P("cuMemPoolImportFromShareableHandle", 11020, cuMemPoolImportFromShareableHandle),
    P("cuMemPoolExportPointer", 11020, cuMemPoolExportPointer),
    P("cuMemPoolImportPointer", 11020, cuMemPoolImportPointer),
    P("cuMemExportToShareableHandle", 10020, cuMemExportToShareableHandle),
    P("cuMemImportFromShareableHandle", 10020, cuMemImportFromShareableHandle),
    P("cuMemAdvise", 8000, cuMemAdvise),
    P("cuMemAdvise", 12020, cuMemAdvise_v2),
    PT("cuMemPrefetchAsync", 8000, cuMemPrefetchAsync, cuMemPrefetchAsync_ptsz, 8000),
    PT("cuMemPrefetchAsync", 12020, cuMemPrefetchAsync_v2, cuMemPrefetchAsync_v2_ptsz, 12020),
    P("cuMemRangeGetAttribute", 8000, cuMemRangeGetAttribute),
    P("cuMemRangeGetAttributes", 8000, cuMemRangeGetAttributes),
    P("cuIpcGetMemHandle", 4010, cuIpcGetMemHandle),
    P("cuIpcOpenMemHandle", 4010, cuIpcOpenMemHandle),
    P("cuIpcOpenMemHandle", 11000, cuIpcOpenMemHandle_v2),
    P("cuIpcCloseMemHandle", 4010, cuIpcCloseMemHandle),
    P("cuIpcGetEventHandle", 4010, cuIpcGetEventHandle),
    P("cuIpcOpenEventHandle", 4010, cuIpcOpenEventHandle),
    P("cuImportExternalMemory", 10000, cuImportExternalMemory),
    P("cuExternalMemoryGetMappedBuffer", 10000, cuExternalMemoryGetMappedBuffer),
    P("cuExternalMemoryGetMappedMipmappedArray", 10000, cuExternalMemoryGetMappedMipmappedArray),
    P("cuDestroyExternalMemory", 10000, cuDestroyExternalMemory),
    P("cuImportExternalSemaphore", 10000, cuImportExternalSemaphore),
    PT("cuSignalExternalSemaphoresAsync", 10000, cuSignalExternalSemaphoresAsync,
       cuSignalExternalSemaphoresAsync_ptsz, 10000),
    PT("cuWaitExternalSemaphoresAsync", 10000, cuWaitExternalSemaphoresAsync,
       cuWaitExternalSemaphoresAsync_ptsz, 10000),
    P("cuDestroyExternalSemaphore", 10000, cuDestroyExternalSemaphore),
    P("cuModuleGetTexRef", 2000, cuModuleGetTexRef),
    P("cuModuleGetSurfRef", 3000, cuModuleGetSurfRef),
    P("cuLinkCreate", 5050, cuLinkCreate),
    P("cuLinkCreate", 6050, cuLinkCreate_v2),
    P("cuLinkAddData", 5050, cuLinkAddData),
    P("cuLinkAddData", 6050, cuLinkAddData_v2),
    P("cuLinkAddFile", 5050, cuLinkAddFile),
    P("cuLinkAddFile", 6050, cuLinkAddFile_v2),
    P("cuLinkComplete", 5050, cuLinkComplete),
    P("cuLinkDestroy", 5050, cuLinkDestroy),
    PT("cuStreamAddCallback", 5000, cuStreamAddCallback, cuStreamAddCallback_ptsz, 7000),
    PT("cuLaunchHostFunc", 10000, cuLaunchHostFunc, cuLaunchHostFunc_ptsz, 10000),
    P("cuGraphAddKernelNode", 10000, cuGraphAddKernelNode),
    P("cuGraphKernelNodeGetParams", 10000, cuGraphKernelNodeGetParams),
    P("cuGraphKernelNodeGetParams", 12000, cuGraphKernelNodeGetParams_v2),
    P("cuGraphKernelNodeSetParams", 10000, cuGraphKernelNodeSetParams),
    P("cuGraphKernelNodeSetParams", 12000, cuGraphKernelNodeSetParams_v2),
    P("cuGraphExecKernelNodeSetParams", 10010, cuGraphExecKernelNodeSetParams),
    P("cuGraphExecKernelNodeSetParams", 12000, cuGraphExecKernelNodeSetParams_v2),
    P("cuGraphAddMemcpyNode", 10000, cuGraphAddMemcpyNode),
    P("cuGraphMemcpyNodeGetParams", 10000, cuGraphMemcpyNodeGetParams),
    P("cuGraphMemcpyNodeSetParams", 10000, cuGraphMemcpyNodeSetParams),
    P("cuGraphAddMemsetNode", 10000, cuGraphAddMemsetNode),
    P("cuGraphMemsetNodeGetParams", 10000, cuGraphMemsetNodeGetParams),
    P("cuGraphMemsetNodeSetParams", 10000, cuGraphMemsetNodeSetParams),
    P("cuGraphAddHostNode", 10000, cuGraphAddHostNode),
    P("cuGraphHostNodeGetParams", 10000, cuGraphHostNodeGetParams),
    P("cuGraphHostNodeSetParams", 10000, cuGraphHostNodeSetParams),
    P("cuGraphAddChildGraphNode", 10000, cuGraphAddChildGraphNode),
    P("cuGraphChildGraphNodeGetGraph", 10000, cuGraphChildGraphNodeGetGraph),
    P("cuGraphAddEventRecordNode", 11010, cuGraphAddEventRecordNode),
    P("cuGraphEventRecordNodeGetEvent", 11010, cuGraphEventRecordNodeGetEvent),
    P("cuGraphEventRecordNodeSetEvent", 11010, cuGraphEventRecordNodeSetEvent),
    P("cuGraphAddEventWaitNode", 11010, cuGraphAddEventWaitNode),
    P("cuGraphEventWaitNodeGetEvent", 11010, cuGraphEventWaitNodeGetEvent),
    P("cuGraphEventWaitNodeSetEvent", 11010, cuGraphEventWaitNodeSetEvent),
    P("cuGraphAddExternalSemaphoresSignalNode", 11020, cuGraphAddExternalSemaphoresSignalNode),
    P("cuGraphExternalSemaphoresSignalNodeGetParams", 11020,
      cuGraphExternalSemaphoresSignalNodeGetParams),
    P("cuGraphExternalSemaphoresSignalNodeSetParams", 11020,
      cuGraphExternalSemaphoresSignalNodeSetParams),
    P("cuGraphAddExternalSemaphoresWaitNode", 11020, cuGraphAddExternalSemaphoresWaitNode),
    P("cuGraphExternalSemaphoresWaitNodeGetParams", 11020,
      cuGraphExternalSemaphoresWaitNodeGetParams),
    P("cuGraphExternalSemaphoresWaitNodeSetParams", 11020,
      cuGraphExternalSemaphoresWaitNodeSetParams),
    P("cuGraphExecExternalSemaphoresSignalNodeSetParams", 11020,
      cuGraphExecExternalSemaphoresSignalNodeSetParams),
    P("cuGraphExecExternalSemaphoresWaitNodeSetParams", 11020,
      cuGraphExecExternalSemaphoresWaitNodeSetParams),
    P("cuGraphClone", 10000, cuGraphClone),
    P("cuGraphNodeFindInClone", 10000, cuGraphNodeFindInClone),
    P("cuGraphNodeGetType", 10000, cuGraphNodeGetType),
    P("cuGraphGetRootNodes", 10000, cuGraphGetRootNodes),
    P("cuGraphGetEdges", 10000, cuGraphGetEdges),
    P("cuGraphGetEdges", 12030, cuGraphGetEdges_v2),
    P("cuGraphNodeGetDependencies", 10000, cuGraphNodeGetDependencies),
    P("cuGraphNodeGetDependencies", 12030, cuGraphNodeGetDependencies_v2),
    P("cuGraphNodeGetDependentNodes", 10000, cuGraphNodeGetDependentNodes),
    P("cuGraphNodeGetDependentNodes", 12030, cuGraphNodeGetDependentNodes_v2),
    P("cuGraphAddDependencies", 10000, cuGraphAddDependencies),
    P("cuGraphAddDependencies", 12030, cuGraphAddDependencies_v2),
    P("cuGraphRemoveDependencies", 10000, cuGraphRemoveDependencies),
    P("cuGraphRemoveDependencies", 12030, cuGraphRemoveDependencies_v2),
    P("cuGraphDestroyNode", 10000, cuGraphDestroyNode),
    PT("cuGraphInstantiateWithParams", 12000, cuGraphInstantiateWithParams,
       cuGraphInstantiateWithParams_ptsz, 12000),
};
const size_t kStubProcCount = sizeof(kStubProcs) / sizeof(kStubProcs[0]);

}  // namespace fakecuda
