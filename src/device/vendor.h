// The vendor abstraction: what the scheduler needs to know about one kind of accelerator
// (HAMi's "device" interface, reduced to its pure parts), and a registry of vendors.
//
// A Vendor turns Kubernetes-level inputs (container resources, pod and node annotations) into
// the device model of device.h. Implementations hold only immutable configuration, so every
// const method is thread-safe. Kubernetes I/O (patches, locks) is not part of this interface;
// the scheduler does it with the keys a vendor exposes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"

namespace hami {

// Resource name -> quantity string, as in a container's resources.limits / requests.
using ResourceList = std::map<std::string, std::string>;
// metadata.annotations of a pod or node.
using Annotations = std::map<std::string, std::string>;

// Looks `name` up in `limits`, falling back to `requests` (HAMi's rule for every resource).
// Returns a pointer into one of the maps, or nullptr when neither has it.
const std::string* FindResource(const ResourceList& limits, const ResourceList& requests,
                                const std::string& name);

// `name`'s value (limits first, then requests) as a whole quantity times `unit` (>= 1), for
// vendors whose resources are plain counts, MiB, units of MiB or percents. nullopt when the
// container does not have it.
// Failure (InvalidArgument, naming the resource): not a whole quantity, negative, or beyond
// int32 after the unit.
Result<std::optional<int32_t>> ResourceAmount(const ResourceList& limits,
                                              const ResourceList& requests, const std::string& name,
                                              int32_t unit);

// HAMi's slot-only request (its Biren and Vastai fits check only task slots and record 0 MiB
// and 0 cores): `count_name`'s value, limits then requests, as a request of `type` for that
// many devices asking no memory and no cores. nullopt when absent or 0.
// Failure: as ResourceAmount (HAMi silently ignores such counts).
Result<std::optional<ContainerDeviceRequest>> SlotOnlyRequest(const ResourceList& limits,
                                                              const ResourceList& requests,
                                                              const std::string& count_name,
                                                              std::string_view type);

// The devices a node registers under `key` in the legacy colon form (spec §1.2), as HAMi's
// Hygon and Iluvatar paths read them.
// Failure: NotFound without the annotation; InvalidArgument (prefixed with `key`) when it does
// not decode or lists no device.
Result<std::vector<DeviceInfo>> DecodeLegacyRegistration(const Annotations& node_annotations,
                                                         const std::string& key);

// The devices a node registers under `key` as JSON (spec §1.1's DeviceInfo form), as HAMi's
// UnMarshalNodeDevices reads them for AMD and Biren.
// Failure: NotFound without the annotation; InvalidArgument (prefixed with `key`) when it does
// not decode or lists no device.
Result<std::vector<DeviceInfo>> DecodeJsonRegistration(const Annotations& node_annotations,
                                                       const std::string& key);

// How a vendor reads a pair of "use" / "no use" selection annotations: HAMi (since 2.9) applies
// both UUID lists of every vendor and both type lists of NVIDIA and AMD; Hygon's type check
// reads the no-use list only when the use list is absent.
enum class SelectorPrecedence { kBoth, kUseWins };

// Reads the comma lists of `use_key` into `use` and of `nouse_key` into `nouse` under
// `precedence` (absent annotations leave the lists as they are).
void ReadSelectorPair(const Annotations& pod_annotations, const std::string& use_key,
                      const std::string& nouse_key, SelectorPrecedence precedence,
                      std::vector<std::string>* use, std::vector<std::string>* nouse);

// What a vendor may read of a node to learn its devices: most vendors' plugins write an
// annotation, some (Cambricon, Moore Threads, MetaX whole cards, Enflame GCU, Kunlunxin XPU,
// AWS Neuron) only publish extended resources that the scheduler turns into devices.
struct NodeFacts {
  Annotations annotations;   // metadata.annotations
  ResourceList capacity;     // status.capacity
  ResourceList allocatable;  // status.allocatable
  // metadata.name: part of the device IDs HAMi synthesises from capacity (MetaX whole cards
  // are "<node>-metax-<i>").
  std::string name;
  // metadata.labels: Moore Threads reads its physical card ids from mthreads.com/sgpu.cores,
  // AWS Neuron its instance family from node.kubernetes.io/instance-type.
  Annotations labels;
};

// Extended-resource names a vendor reads; empty = the vendor has no such resource.
struct VendorResourceNames {
  std::string count;              // e.g. "nvidia.com/gpu"
  std::string memory;             // e.g. "nvidia.com/gpumem"
  std::string memory_percentage;  // e.g. "nvidia.com/gpumem-percentage"
  std::string cores;              // e.g. "nvidia.com/gpucores"
  std::string priority;           // e.g. "nvidia.com/priority"

  bool operator==(const VendorResourceNames&) const = default;
};

// Annotation keys a vendor uses; empty = not used by this vendor.
struct VendorAnnotationKeys {
  std::string node_register;   // node: device registration
  std::string node_handshake;  // node: scheduler health handshake
  std::string to_allocate;     // pod: devices still to hand out (emptied by the plugin)
  std::string allocated;       // pod: devices granted (never modified)

  bool operator==(const VendorAnnotationKeys&) const = default;
};

// What the mutating webhook does to one container for one vendor (HAMi's MutateAdmission).
struct ContainerAdmission {
  // HAMi's "found": the container asks this vendor for devices, so the pod is ours to
  // schedule (schedulerName is set, privileged containers are refused).
  bool uses_device = false;
  // The container's limits after the vendor's defaulting (unchanged when it has none).
  ResourceList limits;
  // Environment variables to set on the container, in order (name, value); an existing
  // variable of that name is replaced. May be non-empty when uses_device is false.
  std::vector<std::pair<std::string, std::string>> env;
  // Environment variables set only when the container has none of that name.
  std::vector<std::pair<std::string, std::string>> env_defaults;
  // The request the scheduler will derive from the mutated container (nullopt = none).
  std::optional<ContainerDeviceRequest> request;
};

class Vendor {
 public:
  virtual ~Vendor() = default;

  // The vendor key ("NVIDIA"), also the Type of its ContainerDeviceRequests and the type
  // written into pod device strings. Stable for the object's lifetime.
  virtual std::string_view CommonWord() const = 0;

  virtual const VendorResourceNames& ResourceNames() const = 0;
  virtual const VendorAnnotationKeys& AnnotationKeys() const = 0;
  // MiB per unit of the memory resource (HAMi's memoryFactor, >= 1): requests are stored
  // multiplied by it, so a ResourceQuota limit on the memory resource is too.
  virtual int32_t MemoryFactor() const { return 1; }

  // What one container asks of this vendor. limits are consulted first, then requests, per
  // resource. Returns nullopt when the container does not use this vendor.
  // Failure: InvalidArgument when the container clearly tries to use the vendor but the
  // request is unusable (e.g. a non-integer or negative device count).
  virtual Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const = 0;

  // The pod's device-selection constraints for this vendor (type/uuid lists, mode, NUMA).
  // Failure: InvalidArgument for a malformed annotation value.
  virtual Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const = 0;

  // The devices a node registered for this vendor.
  // Failure: NotFound when the node has no registration annotation; InvalidArgument when it
  // does not decode.
  // Default: NotFound (for vendors that override DecodeNode instead).
  virtual Result<std::vector<DeviceInfo>> DecodeRegistration(
      const Annotations& node_annotations) const;

  // The devices a node has for this vendor, from everything the scheduler sees of the node.
  // Default: DecodeRegistration(node.annotations). Vendors whose devices come from node
  // capacity override this. Same failures as DecodeRegistration.
  virtual Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const {
    return DecodeRegistration(node.annotations);
  }

  // The pod annotations that carry a decision of `devices` (this vendor's, per container) on
  // `node`, made at `decided_unix_seconds`, added to `out` at bind. Default: the encoded
  // device string under AnnotationKeys().to_allocate (when not empty) and .allocated. Vendors
  // whose device plugin reads more (an index list, the predicate node) add those keys.
  virtual void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                                      int64_t decided_unix_seconds, Annotations* out) const;

  // The webhook's mutation of one container named `container_name` ("" when unnamed; limits
  // consulted first, then requests).
  // Default (HAMi's simple vendors, e.g. Hygon): uses_device when the count resource is in
  // limits, limits unchanged, no env, request = RequestFromResources.
  // Failure: InvalidArgument with a message for the user (the webhook refuses the pod).
  virtual Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                                     const ResourceList& limits,
                                                     const ResourceList& requests) const;

  // The webhook's pod-level step for a pod that uses this vendor, after every container's
  // MutateAdmission: `containers` holds this vendor's request per container (init containers
  // first; count 0 = none) and `pod_annotations` the pod's metadata.annotations, which the
  // vendor may add to or change (the webhook writes them back; HAMi's MetaX sGPU validates
  // and defaults its QoS annotations here). Default: nothing.
  // Failure: InvalidArgument with a message for the user (the webhook refuses the pod).
  virtual Status MutatePodAdmission(const std::vector<ContainerDeviceRequest>& /*containers*/,
                                    Annotations* /*pod_annotations*/) const {
    return Status::Ok();
  }

  // The devices a pod holds of this vendor, per container, from its annotations (nullopt when
  // it holds none). Default: the device string under AnnotationKeys().allocated. NVIDIA also
  // attaches the MIG instances of hami.io/vgpu-mig-allocations.
  // Failure: InvalidArgument (naming the annotation) when the device string does not decode.
  virtual Result<std::optional<PodDevices>> DecodeAllocation(
      const Annotations& pod_annotations) const;

  // The node annotation carrying the link scores between this vendor's devices (policy's
  // topology-aware choice; NVIDIA's hami.io/node-nvidia-score); "" = none.
  virtual std::string_view PairScoresAnnotation() const { return {}; }

  // A second node lock the vendor's own device plugin releases after Allocate (Cambricon's
  // cambricon.com/dsmlu.lock, an RFC 3339 time); "" = none. While it is set and younger than
  // ExtraNodeLockExpirySeconds (or unreadable), a pod of this vendor cannot bind to the node;
  // the binder sets it, with HAMi's node lock, for such pods.
  virtual std::string_view ExtraNodeLockAnnotation() const { return {}; }
  virtual int64_t ExtraNodeLockExpirySeconds() const { return 120; }

  // Whether binding a pod of this vendor takes HAMi's node lock hami.io/mutex.lock, which the
  // vendor's device plugin releases after Allocate. False for vendors whose HAMi LockNode is a
  // no-op (MetaX whole cards): their plugin never releases the lock, so taking it would hold
  // the node's next binds until it expires.
  virtual bool TakesNodeLock() const { return true; }

  // runtimeClassName the webhook sets on a pod using this vendor that has none ("" = none).
  virtual std::string_view RuntimeClassName() const { return {}; }

  // Whether the node's allocatable count falling to 0 after it was positive drops this
  // vendor's devices even while the handshake is fresh (NVIDIA's extra health rule); vendors
  // that follow only HAMi's common handshake rule return false.
  virtual bool DropsDevicesWhenAllocatableFallsToZero() const { return false; }
};

// Vendors by CommonWord. Register during start-up (not thread-safe); afterwards the registry is
// read-only and all const methods are thread-safe. Move-only; owns its vendors.
class VendorRegistry {
 public:
  VendorRegistry() = default;
  VendorRegistry(VendorRegistry&&) = default;
  VendorRegistry& operator=(VendorRegistry&&) = default;
  VendorRegistry(const VendorRegistry&) = delete;
  VendorRegistry& operator=(const VendorRegistry&) = delete;

  // Takes ownership. Failure: InvalidArgument for a null vendor or an empty CommonWord,
  // FailedPrecondition when the CommonWord is already registered.
  Status Register(std::unique_ptr<Vendor> vendor);

  // The vendor with this CommonWord, or nullptr. The pointer lives as long as the registry.
  const Vendor* Find(std::string_view common_word) const;

  // All vendors in ascending CommonWord order (the order HAMi locks nodes in).
  std::vector<const Vendor*> Vendors() const;

  size_t Size() const { return vendors_.size(); }
  bool IsEmpty() const { return vendors_.empty(); }

 private:
  std::map<std::string, std::unique_ptr<Vendor>, std::less<>> vendors_;
};

// A registry with the vendors of every section present in `config`: NVIDIA (nvidia), Hygon DCU
// (hygon), AMD (amd), Biren (biren), Cambricon MLU (cambricon), Moore Threads (mthreads),
// Enflame GCU and DRS vGCU (enflame), MetaX whole cards and sGPU (metax), Vastai (vastai),
// Kunlunxin whole XPUs and vXPUs (kunlun), AWS Neuron (awsneuron); one Iluvatar vendor per chip
// of config.iluvatars when config.enable_iluvatar is set and one Ascend vendor per chip of
// config.ascend->configs when config.enable_ascend is set, as HAMi's flags.
// Failure: InvalidArgument when a section fails validation.
Result<VendorRegistry> MakeVendorRegistry(const DeviceConfig& config);

// Every vendor's request for one container, in registry order; vendors the container does not
// use are skipped. Failure: the first vendor error, prefixed with the vendor's CommonWord.
Result<std::vector<ContainerDeviceRequest>> RequestsForContainer(const VendorRegistry& registry,
                                                                 const ResourceList& limits,
                                                                 const ResourceList& requests);

}  // namespace hami
