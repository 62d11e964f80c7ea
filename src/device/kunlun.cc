#include "device/kunlun.h"

#include <array>
#include <string_view>

#include "common/strings.h"
#include "device/codec.h"
#include "device/quantity.h"
#include "device/synthesized.h"
#include "device/uuid_selectors.h"

namespace hami {
namespace {

using IndexSets = std::vector<std::vector<int32_t>>;

// The wings of HAMi's topology: XPUs 0-3 and 4-7.
constexpr int32_t kWingSize = 4;

IndexSets SinglesInIndexOrder() {
  IndexSets sets;
  for (int32_t i = 0; i < 2 * kWingSize; ++i) sets.push_back({i});
  return sets;
}

IndexSets Pairs() {
  IndexSets sets;
  for (int32_t wing = 0; wing < 2; ++wing) {
    const int32_t base = wing * kWingSize;
    for (int32_t a = 0; a < kWingSize; ++a) {
      for (int32_t b = a + 1; b < kWingSize; ++b) sets.push_back({base + a, base + b});
    }
  }
  // HAMi's InterGroupConnection: the links between the wings.
  for (int32_t a = 0; a < kWingSize; ++a) sets.push_back({a, a + kWingSize});
  return sets;
}

IndexSets Quads() {
  // Whole wings, then HAMi's InterGroupConnection2 in its order.
  return {{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 4, 5}, {2, 3, 6, 7},
          {0, 2, 4, 6}, {1, 3, 5, 7}, {0, 3, 4, 7}, {1, 2, 5, 6}};
}

Status CheckTopologyCount(const std::string& resource, int32_t count) {
  if (KunlunIndexSets(count)) return Status::Ok();
  return InvalidArgument(resource + " must be 1, 2, 4 or 8 (the XPU groups HAMi's topology " +
                         "grants), got " + std::to_string(count));
}

}  // namespace

std::shared_ptr<const std::vector<IndexSetRule>> KunlunIndexSets(int32_t count) {
  // Built once, leaked: requests share them for the process's life.
  using Rules = std::vector<IndexSetRule>;
  using Table = std::array<std::shared_ptr<const Rules>, 2 * kWingSize + 1>;
  static const Table* const table = [] {
    auto* t = new Table();
    auto any_device = [](IndexSets sets) {
      return std::make_shared<const Rules>(Rules{IndexSetRule{"", std::move(sets)}});
    };
    (*t)[1] = any_device(SinglesInIndexOrder());
    (*t)[2] = any_device(Pairs());
    (*t)[4] = any_device(Quads());
    (*t)[8] = any_device(IndexSets{{0, 1, 2, 3, 4, 5, 6, 7}});
    return t;
  }();
  if (count < 0 || count > 2 * kWingSize) return nullptr;
  return (*table)[static_cast<size_t>(count)];
}

Result<std::vector<DeviceInfo>> SynthesizeKunlunDevices(const KunlunConfig& config,
                                                        const NodeFacts& node) {
  const std::string& resource = config.resource_count_name;
  HAMI_ASSIGN_OR_RETURN(std::optional<int64_t> cards, CapacityAmount(node, resource));
  if (!cards || *cards == 0) return NotFound("node has no capacity " + resource);
  if (*cards > kMaxSynthesizedDevices) {
    return InvalidArgument("capacity " + resource + " " + std::to_string(*cards) +
                           " is more than " + std::to_string(kMaxSynthesizedDevices) + " XPUs");
  }
  std::vector<DeviceInfo> devices;
  devices.reserve(static_cast<size_t>(*cards));
  for (int32_t i = 0; i < *cards; ++i) {
    DeviceInfo d;
    d.id = node.name + "-kunlun-" + std::to_string(i);
    d.index = i;
    d.count = 100;
    d.devmem_mib = kKunlunXpuMemoryMib;
    d.devcore = 100;
    d.type = kKunlunCommonWord;
    d.numa = i >= *cards / 2 ? 1 : 0;
    d.health = true;
    devices.push_back(std::move(d));
  }
  return devices;
}

Result<std::optional<ContainerDeviceRequest>> DeriveKunlunRequest(const KunlunConfig& config,
                                                                  const ResourceList& limits,
                                                                  const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_count_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_RETURN_IF_ERROR(CheckTopologyCount(config.resource_count_name, *count));
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kKunlunCommonWord;
  req.memory_percent = 100;
  req.cores_percent = 100;
  req.index_sets = KunlunIndexSets(*count);
  return std::optional<ContainerDeviceRequest>(std::move(req));
}

int64_t KunlunVxpuMemoryMib(int64_t memory_mib) {
  for (int64_t size : {kKunlunQuarterXpuMib, kKunlunHalfXpuMib}) {
    if (memory_mib <= size) return size;
  }
  return kKunlunXpuMemoryMib;
}

Result<std::optional<ContainerDeviceRequest>> DeriveKunlunVxpuRequest(
    const KunlunConfig& config, const ResourceList& limits, const ResourceList& requests) {
  HAMI_ASSIGN_OR_RETURN(std::optional<int32_t> count,
                        ResourceAmount(limits, requests, config.resource_vcount_name, 1));
  if (!count || *count == 0) return std::optional<ContainerDeviceRequest>();
  HAMI_RETURN_IF_ERROR(CheckTopologyCount(config.resource_vcount_name, *count));
  int64_t memory = kKunlunXpuMemoryMib;
  const std::string& memory_name = config.resource_vmemory_name;
  if (const std::string* text = FindResource(limits, requests, memory_name)) {
    Result<int64_t> asked = ParseQuantityInt64(*text);
    if (!asked.ok()) return asked.status().WithContext(memory_name + " must be a whole number");
    if (*asked < 0) {
      return InvalidArgument(memory_name + " " + QuoteForError(*text) + " is negative");
    }
    memory = KunlunVxpuMemoryMib(*asked);
  }
  ContainerDeviceRequest req;
  req.count = *count;
  req.type = kKunlunVxpuCommonWord;
  req.memory_mib = static_cast<int32_t>(memory);
  req.memory_percent = kMemoryPercentUnset;
  req.cores_percent = static_cast<int32_t>(memory * 100 / kKunlunXpuMemoryMib);
  req.index_sets = KunlunIndexSets(*count);
  return std::optional<ContainerDeviceRequest>(std::move(req));
}

KunlunVendor::KunlunVendor(KunlunConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_count_name;
  keys_.allocated = kKunlunAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> KunlunVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveKunlunRequest(config_, limits, requests);
}

Result<DeviceSelectors> KunlunVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kKunlunUseUuidAnnotation, kKunlunNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> KunlunVendor::DecodeNode(const NodeFacts& node) const {
  return SynthesizeKunlunDevices(config_, node);
}

void KunlunVendor::AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                          int64_t decided_unix_seconds, Annotations* out) const {
  bool any = false;
  std::string indexes;
  for (const ContainerDevices& container : devices) {
    if (container.empty()) continue;
    any = true;
    std::string mine;
    for (const ContainerDevice& d : container) {
      // Our own IDs ("<node>-kunlun-<i>"); one without an index contributes nothing, as an
      // index HAMi would not have written either.
      const std::optional<int32_t> index = SynthesizedIndex(d.uuid);
      if (!index) continue;
      if (!mine.empty()) mine += ',';
      mine += std::to_string(*index);
    }
    if (!mine.empty()) indexes = std::move(mine);
  }
  if (!any) return;
  Vendor::AddDecisionAnnotations(devices, node, decided_unix_seconds, out);
  if (!indexes.empty()) (*out)[kKunlunDeviceIndexAnnotation] = indexes;
}

KunlunVxpuVendor::KunlunVxpuVendor(KunlunConfig config) : config_(std::move(config)) {
  names_.count = config_.resource_vcount_name;
  names_.memory = config_.resource_vmemory_name;
  keys_.node_register = kXpuRegisterAnnotation;
  keys_.node_handshake = kXpuHandshakeAnnotation;
  keys_.to_allocate = kXpuToAllocateAnnotation;
  keys_.allocated = kXpuAllocatedAnnotation;
}

Result<std::optional<ContainerDeviceRequest>> KunlunVxpuVendor::RequestFromResources(
    const ResourceList& limits, const ResourceList& requests) const {
  return DeriveKunlunVxpuRequest(config_, limits, requests);
}

Result<DeviceSelectors> KunlunVxpuVendor::ParseSelectors(const Annotations& pod_annotations) const {
  return UuidSelectors(pod_annotations, kXpuUseUuidAnnotation, kXpuNoUseUuidAnnotation);
}

Result<std::vector<DeviceInfo>> KunlunVxpuVendor::DecodeRegistration(
    const Annotations& node_annotations) const {
  return DecodeJsonRegistration(node_annotations, keys_.node_register);
}

}  // namespace hami
