#include "policy/pod_request.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "device/annotations.h"
#include "device/quantity.h"

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

namespace {

// One container's request of `resource` in the unit `scale` divides into (rounded up).
double ContainerHostValue(const ContainerResources& c, const std::string& resource) {
  auto read = [&](const ResourceList& list) -> std::optional<double> {
    auto it = list.find(resource);
    if (it == list.end()) return std::nullopt;
    auto value = ParseQuantityValue(it->second);
    if (!value.ok() || *value < 0) return 0.0;
    return *value;
  };
  if (auto v = read(c.requests)) return *v;
  return read(c.limits).value_or(0.0);
}

int64_t RoundUp(double value, double unit) {
  return static_cast<int64_t>(std::ceil(value / unit - 1e-9));
}

}  // namespace

HostRequest PodHostRequest(std::span<const ContainerResources> init_containers,
                           std::span<const ContainerResources> containers,
                           const ResourceList& overhead) {
  auto total = [&](const std::string& resource) {
    double apps = 0, init_peak = 0;
    for (const ContainerResources& c : containers) apps += ContainerHostValue(c, resource);
    for (const ContainerResources& c : init_containers) {
      init_peak = std::max(init_peak, ContainerHostValue(c, resource));
    }
    return std::max(apps, init_peak) + ContainerHostValue({{}, overhead}, resource);
  };
  HostRequest out;
  out.cpu_milli = RoundUp(total("cpu"), 1e-3);
  out.memory_mib = RoundUp(total("memory"), 1024.0 * 1024.0);
  return out;
}

}  // namespace hami::policy
