// From a pod's containers and annotations to the PodRequest the placement policies take.
// Pure; thread-safe.
#pragma once

#include <span>
#include <vector>

#include "common/status.h"
#include "device/vendor.h"
#include "policy/placement.h"

namespace hami::policy {

// One container's resources as in its spec (`resources.limits`, `resources.requests`).
struct ContainerResources {
  ResourceList limits;
  ResourceList requests;
};

// Builds the request for `vendor`: one entry per container (init containers first, then app
// containers; a container that does not use the vendor gets count 0), the vendor's selection
// annotations, and the per-pod overrides `hami.io/node-scheduler-policy`,
// `hami.io/gpu-scheduler-policy` and `hami.io/device-scoring-weights`.
// Host CPU/memory are left 0 (kube-scheduler checks them).
// Failure: InvalidArgument naming the container ("container 2: ...") or the annotation.
Result<PodRequest> BuildPodRequest(const Vendor& vendor,
                                   std::span<const ContainerResources> init_containers,
                                   std::span<const ContainerResources> containers,
                                   const Annotations& pod_annotations);

// What kube-scheduler's NodeResourcesFit counts for a pod: per resource, the larger of the sum
// over app containers and the largest init container, plus the pod overhead; requests, or
// limits where a request is absent (the API server defaults requests to limits). CPU rounds
// up to millicores and memory up to MiB. Values that do not parse count as 0 (kube-scheduler
// never sees such a pod: the API server refuses it).
struct HostRequest {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
};
HostRequest PodHostRequest(std::span<const ContainerResources> init_containers,
                           std::span<const ContainerResources> containers,
                           const ResourceList& overhead = {});

}  // namespace hami::policy
