#include "policy/pod_request.h"

#include <string>

#include "device/annotations.h"

namespace hami::policy {

Result<PodRequest> BuildPodRequest(const Vendor& vendor,
                                   std::span<const ContainerResources> init_containers,
                                   std::span<const ContainerResources> containers,
                                   const Annotations& pod_annotations) {
  PodRequest pod;
  pod.init_containers = static_cast<int>(init_containers.size());
  size_t index = 0;
  auto add = [&](const ContainerResources& container) -> Status {
    auto request = vendor.RequestFromResources(container.limits, container.requests);
    if (!request.ok()) {
      return request.status().WithContext("container " + std::to_string(index));
    }
    ContainerDeviceRequest entry;
    entry.type = std::string(vendor.CommonWord());
    if (*request) entry = **request;
    pod.containers.push_back(std::move(entry));
    ++index;
    return Status::Ok();
  };
  for (const ContainerResources& c : init_containers) HAMI_RETURN_IF_ERROR(add(c));
  for (const ContainerResources& c : containers) HAMI_RETURN_IF_ERROR(add(c));

  HAMI_ASSIGN_OR_RETURN(pod.selectors, vendor.ParseSelectors(pod_annotations));
  auto annotation = [&](const char* key) -> const std::string* {
    auto it = pod_annotations.find(key);
    return it == pod_annotations.end() ? nullptr : &it->second;
  };
  if (const std::string* value = annotation(kNodeSchedulerPolicyAnnotation)) {
    auto parsed = ParseNodePolicy(*value);
    if (!parsed.ok()) return parsed.status().WithContext(kNodeSchedulerPolicyAnnotation);
    pod.node_policy = *parsed;
  }
  if (const std::string* value = annotation(kGpuSchedulerPolicyAnnotation)) {
    auto parsed = ParseGpuPolicy(*value);
    if (!parsed.ok()) return parsed.status().WithContext(kGpuSchedulerPolicyAnnotation);
    pod.gpu_policy = *parsed;
  }
  if (const std::string* value = annotation(kDeviceScoringWeightsAnnotation)) {
    auto parsed = ParseScoreWeights(*value);
    if (!parsed.ok()) return parsed.status().WithContext(kDeviceScoringWeightsAnnotation);
    pod.weights = *parsed;
  }
  return pod;
}

}  // namespace hami::policy
