#include "device/mthreads.h"

#include <algorithm>
#include <set>

#include "common/strings.h"
#include "device/synthesized.h"
#include "device/uuid_selectors.h"

namespace hami {

namespace {

// Whether the container takes whole cards: several of them, or one without a memory size.
bool WantsWholeCards(const MthreadsConfig& config, int32_t count, const ResourceList& limits,
                     const ResourceList& requests) {
  return count > 1 || FindResource(limits, requests, config.resource_memory_name) == nullptr;
}

}  // namespace

Result<std::optional<ContainerDeviceRequest>> DeriveMthreadsRequest(const MthreadsConfig& config,
                                                                    const ResourceList& limits,
                                                                    const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_ASSIGN_OR_RETURN(
      std::optional<int32_t> memory,
      ResourceAmount(limits, requests, config.resource_memory_name, kMthreadsMemoryUnitMib));
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> cores,
                        ResourceAmount(limits, requests, config.resource_core_name, 1));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kMthreadsCommonWord;
  if (WantsWholeCards(config, *count, limits, requests)) {
    req.memory_mib = 0;
    req.memory_percent = 100;
    req.cores_percent = kMthreadsCoresPerCard;
  } else {
    req.memory_mib = memory.value_or(0);
    req.memory_percent = req.memory_mib == 0 ? 100 : kMemoryPercentUnset;
    req.cores_percent = cores.value_or(0);
  }
  return std::optional<ContainerDeviceRequest>(req);
}

std::vector<int64_t> MthreadsLegalMemoryUnits(const MthreadsConfig& config) {
  std::vector<int64_t> units;
  for (int32_t size : config.memory_per_card_units) {
    for (int64_t p = 2; p < size; p *= 2) units.push_back(p);
    if (size > 0) units.push_back(size);
  }
  std::sort(units.begin(), units.end());
  units.erase(std::unique(units.begin(), units.end()), units.end());
  return units;
}

Result<std::vector<DeviceInfo>> SynthesizeMthreadsDevices(const MthreadsConfig& config,
                                                          const NodeFacts& node) {
  CapacityCards spec;
  spec.count_resource = config.resource_core_name;  // 16 core groups per card
  spec.per_card = kMthreadsCoresPerCard;
  spec.memory_resource = config.resource_memory_name;
  spec.memory_unit_mib = kMthreadsMemoryUnitMib;
  spec.id_infix = "-mthreads-";
  spec.count = 100;
  spec.devcore = kMthreadsCoresPerCard;
  spec.type = kMthreadsCommonWord;
  HAMI_ASSIGN_OR_RETURN(std::vector<DeviceInfo> cards, SynthesizeFromCapacity(node, spec));
  auto label = node.labels.find(kMthreadsSgpuCoresLabel);
  if (label == node.labels.end() || label->second.empty()) return cards;  // HAMi's fallback
  HAMI_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseMthreadsCardIds(label->second));
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> cores,
                        CapacityAmount(node, config.resource_core_name));
  if (static_cast<int64_t>(ids.size()) * kMthreadsCoresPerCard != cores.value_or(0)) {
    // HAMi: "sgpu capacity mismatch"; the label and the capacity disagree on the card count.
    return InvalidArgument("sgpu capacity mismatch: node label " +
                           std::string(kMthreadsSgpuCoresLabel) + " lists " +
                           std::to_string(ids.size()) + " cards but capacity " +
                           config.resource_core_name + " is " + std::to_string(cores.value_or(0)) +
                           " (" + std::to_string(kMthreadsCoresPerCard) + " per card)");
  }
  for (size_t i = 0; i < cards.size(); ++i) {
    cards[i].index = ids[i];
    cards[i].id = node.name + "-mthreads-" + std::to_string(ids[i]);
  }
  return cards;
}

Result<std::vector<int32_t>> ParseMthreadsCardIds(std::string_view value) {
  auto bad = [&value](const std::string& why) {
    return InvalidArgument("node label " + std::string(kMthreadsSgpuCoresLabel) + " " +
                           QuoteForError(value) + ": " + why +
                           " (want physical card ids separated by '-', e.g. \"0-2-3\")");
  };
  std::vector<int32_t> ids;
  std::set<int32_t> seen;
  size_t start = 0;
  while (start <= value.size()) {
    const size_t end = value.find_first_of("-,", start);
    const std::string_view part =
        Trim(value.substr(start, end == std::string_view::npos ? end : end - start));
    if (part.empty()) return bad("empty card id");
    if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad("card id " + QuoteForError(part) + " is not a non-negative integer");
    }
    const std::optional<int32_t> id = ParseInt32(part);
    if (!id) return bad("card id " + QuoteForError(part) + " is beyond int32");
    if (!seen.insert(*id).second) return bad("card id " + std::to_string(*id) + " is repeated");
    ids.push_back(*id);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return ids;
}

MthreadsVendor::MthreadsVendor(MthreadsConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  names_.memory = config_.resource_memory_name;
  names_.cores = config_.resource_core_name;
  keys_.allocated = kMthreadsAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> MthreadsVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveMthreadsRequest(config_, limits, requests);
}

Result<DeviceSelectors> MthreadsVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kMthreadsUseUuidAnnotation, kMthreadsNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> MthreadsVendor::DecodeNode(const NodeFacts& node) const {
  return SynthesizeMthreadsDevices(config_, node);
}

Result<ContainerAdmission> MthreadsVendor::MutateAdmission(std::string_view /*container_name*/,
                                                           const ResourceList& limits,
                                                           const ResourceList& requests) const {
  const bool whole =
      limits.count(kMthreadsWholeGpuResource) > 0 || requests.count(kMthreadsWholeGpuResource) > 0;
  bool slice = false;
  for (const std::string* name :
       {&config_.resource_count_name, &config_.resource_memory_name, &config_.resource_core_name}) {
    slice = slice || limits.count(*name) > 0 || requests.count(*name) > 0;
  }
  if (whole && slice) {
    return InvalidArgument(std::string("cannot mix ") + kMthreadsWholeGpuResource +
                           " (whole cards, served outside HAMi) with " +
                           config_.resource_count_name + "/" + config_.resource_memory_name + "/" +
                           config_.resource_core_name + " (sGPU shares) in one container");
  }
  ContainerAdmission out;
  out.limits = limits;
  out.uses_device = limits.count(config_.resource_count_name) > 0;
  if (out.uses_device) {
    HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                          ResourceAmount(limits, {}, config_.resource_count_name, 1));
    const int64_t n = count.value_or(0);
    if (WantsWholeCards(config_, static_cast<int32_t>(n), limits, {})) {
      out.limits[config_.resource_core_name] = std::to_string(n * kMthreadsCoresPerCard);
      if (config_.memory_per_card_units.size() == 1) {
        out.limits[config_.resource_memory_name] =
            std::to_string(n * config_.memory_per_card_units[0]);
      } else {
        out.limits.erase(config_.resource_memory_name);
      }
    } else {
      HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> memory,
                            ResourceAmount(limits, {}, config_.resource_memory_name, 1));
      const std::vector<int64_t> legal = MthreadsLegalMemoryUnits(config_);
      if (std::find(legal.begin(), legal.end(), memory.value_or(0)) == legal.end()) {
        std::string list;
        for (int64_t u : legal) list += (list.empty() ? "" : ", ") + std::to_string(u);
        return InvalidArgument(
            config_.resource_memory_name + " " + std::to_string(memory.value_or(0)) +
            " is not a valid sGPU memory size (units of 512 MiB; valid: " + list + ")");
      }
    }
  }
  HAMI_ASSIGN_OR_RETURN(out.request, DeriveMthreadsRequest(config_, out.limits, requests));
  return out;
}

void MthreadsVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                            int64_t decided_unix_seconds, Annotations* out) const {
  bool any = false;
  for (const ContainerDevices& container : devices) any = any || !container.empty();
  if (!any) return;
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  for (const ContainerDevices& container : devices) {
    if (container.empty()) continue;
    std::string indexes;
    for (const ContainerDevice& d : container) {
      if (!indexes.empty()) indexes += ",";
      indexes += std::to_string(SynthesizedIndex(d.uuid).value_or(0));
    }
    (*out)[kMthreadsGpuIndexAnnotation] = indexes;
    (*out)[kMthreadsPredicateTimeAnnotation] = std::to_string(decided_unix_seconds * 1000000000);
    (*out)[kMthreadsPredicateNodeAnnotation] = node;
    if (container.size() > 1) {
      (*out)[kMthreadsRequestGpuNumAnnotation] = std::to_string(container.size());
    }
  }
}

}  // namespace hami
