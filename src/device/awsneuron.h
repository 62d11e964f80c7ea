// AWS Neuron devices (HAMi's pkg/device/awsneuron, vendor key "AWSNeuron"): Inferentia and
// Trainium accelerators, scheduled whole or by NeuronCore.
//
// AWS's device plugin publishes only status.capacity aws.amazon.com/neuron (devices) and
// aws.amazon.com/neuroncore (cores, all devices together); HAMi synthesises
// "<node>-AWSNeuron-<i>" devices from them (no handshake, no node lock). The scheduler writes
// hami.io/aws-neuron-devices-allocated and the annotations AWS's plugin allocates from:
// AWS_NEURON_IDS (device indexes, or NeuronCore indexes for a core request),
// NEURON_RESOURCE_TYPE (the core resource name, core requests only), NEURON_ALLOC_TIME,
// NEURON_ALLOCATED and aws.amazon.com/predicate-node. All functions are pure and thread-safe;
// AwsNeuronVendor holds an immutable AwsNeuronConfig.
//
// Where we differ from HAMi, and why (docs/vendors.md repeats this):
//  * A device serves one container. HAMi lets containers share a device's NeuronCores and
//    tracks which cores are taken as a bit mask, then lists the container's cores in
//    AWS_NEURON_IDS. The generic counters (used, used memory, used cores) cannot say which
//    cores are free, and the decision hook cannot see other pods, so a second container could
//    be told a core another one holds; one container per device never over-commits a core.
//  * Requests assume two NeuronCores per device (Inferentia2, Trainium1; HAMi's fallback
//    geometry, and what its tests pin since request derivation must not depend on which node
//    was seen first). Devices of other geometries are still served, exclusively.
//  * The memory field of a core allocation's device string carries the device's NeuronCores
//    (HAMi writes 0): the decision hook sees only the device string and needs it to tell a
//    core allocation (core indexes, stride = cores per device) from a whole-device one
//    (device indexes). Whole-device allocations are byte-identical to HAMi's on 2-core nodes.
//  * HAMi picks the multi-device rule from the node's node.kubernetes.io/instance-type label:
//    any contiguous run on Inferentia (a type containing "inf" or "Inf"), aligned runs of 4, 8
//    or 16 on any other type (Trainium), other counts refused there. We do too: the family
//    goes into DeviceInfo::type (kAwsNeuronTrainiumType, kAwsNeuronInferentiaType) and a
//    request carries one IndexSetRule per family. Without the label (HAMi reads "" and
//    applies the aligned rule) devices keep type "AWSNeuron" and a rule valid on both
//    families: aligned runs for 4, 8 and 16, any contiguous run otherwise. Device indexes are
//    always 0..N-1, and the pod device string's type stays "AWSNeuron" (the request's type).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/config.h"
#include "device/device.h"
#include "device/vendor.h"

namespace hami {

// The AWS Neuron vendor key: CommonWord, ContainerDeviceRequest::type, pod-device-string type
// and the device type of an unlabelled node (see kAwsNeuronTrainiumType).
inline constexpr char kAwsNeuronCommonWord[] = "AWSNeuron";

// Wire keys (HAMi's pkg/device/awsneuron constants); never change.
inline constexpr char kAwsNeuronAllocatedAnnotation[] = "hami.io/aws-neuron-devices-allocated";
inline constexpr char kAwsNeuronUseUuidAnnotation[] = "aws.amazon.com/use-neuron-uuid";
inline constexpr char kAwsNeuronNoUseUuidAnnotation[] = "aws.amazon.com/nouse-neuron-uuid";
inline constexpr char kAwsNeuronIdsAnnotation[] = "AWS_NEURON_IDS";
inline constexpr char kAwsNeuronPredicateNodeAnnotation[] = "aws.amazon.com/predicate-node";
inline constexpr char kAwsNeuronAllocTimeAnnotation[] = "NEURON_ALLOC_TIME";
inline constexpr char kAwsNeuronResourceTypeAnnotation[] = "NEURON_RESOURCE_TYPE";
inline constexpr char kAwsNeuronAllocatedFlagAnnotation[] = "NEURON_ALLOCATED";

// The node label naming the EC2 instance type (e.g. "trn1.32xlarge", "inf2.48xlarge").
inline constexpr char kAwsNeuronInstanceTypeLabel[] = "node.kubernetes.io/instance-type";

// Which of HAMi's multi-device rules a node's instance type selects.
enum class AwsNeuronFamily {
  kUnknown,     // no (or an empty) instance-type label: our rule valid on both families
  kTrainium,    // any other type: aligned runs of 4, 8 or 16 devices only
  kInferentia,  // a type containing "inf" or "Inf": any contiguous run
};
// DeviceInfo::type of the devices of a labelled node, by family; an unlabelled node's devices
// have type kAwsNeuronCommonWord. Shown by `hami decode node` and the device_type metric
// label; never written to pods (the device string carries the vendor key). Device type
// selectors are not offered for AWS Neuron, so the names select nothing.
inline constexpr char kAwsNeuronTrainiumType[] = "AWSNeuron-Trainium";
inline constexpr char kAwsNeuronInferentiaType[] = "AWSNeuron-Inferentia";

// The family node.labels' kAwsNeuronInstanceTypeLabel selects (HAMi's graphSelect test).
AwsNeuronFamily AwsNeuronFamilyOf(const NodeFacts& node);
// The DeviceInfo::type of `family`'s devices (kUnknown: kAwsNeuronCommonWord).
std::string_view AwsNeuronDeviceType(AwsNeuronFamily family);

// NeuronCores per device that requests are split by (see above), and the most NeuronCores of a
// device HAMi's core mask covers.
inline constexpr int32_t kAwsNeuronRequestCoresPerDevice = 2;
inline constexpr int32_t kAwsNeuronMaxMaskCores = 4;
// Most devices one container may ask for: the index sets cover indexes below it (the largest
// Neuron instances have 16 devices).
inline constexpr int32_t kAwsNeuronMaxDevicesPerContainer = 32;

// The devices HAMi's AWS Neuron GetNodeDevices synthesises for node `node.name`:
// "<node>-AWSNeuron-<i>" for i below the device capacity, index i, type
// AwsNeuronDeviceType(AwsNeuronFamilyOf(node)) (HAMi: "AWSNeuron"), numa 0,
// healthy, devcore = the mask of min(cores per device, 4) NeuronCores (HAMi's), count 1 (HAMi:
// cores per device; see above) and devmem = cores per device (HAMi: 0; see above), where cores
// per device = core capacity / device capacity.
// Failure: NotFound when the device capacity is absent or 0; InvalidArgument naming the
// resource when a capacity is not a whole non-negative quantity, the device capacity is more
// than kMaxSynthesizedDevices, the core capacity is absent or 0, or it is not a multiple of
// the device capacity (HAMi: "is not divisible").
Result<std::vector<DeviceInfo>> SynthesizeAwsNeuronDevices(const AwsNeuronConfig& config,
                                                           const NodeFacts& node);

// The index-set rules of a container taking `count` (>= 2) whole devices, one per family, in
// this order, each over device indexes below kAwsNeuronMaxDevicesPerContainer:
//   kAwsNeuronTrainiumType: aligned runs [k*count, (k+1)*count) for count 4, 8 and 16;
//     no sets for other counts (refused, as HAMi);
//   kAwsNeuronInferentiaType: any contiguous run, lowest first;
//   kAwsNeuronCommonWord (unlabelled nodes): aligned runs for count 4, 8 and 16, any
//     contiguous run, lowest first, otherwise.
// Null for count < 2 or above that bound. Shared, immutable.
std::shared_ptr<const std::vector<IndexSetRule>> AwsNeuronIndexSets(int32_t count);

// HAMi's AWS Neuron GenerateResourceRequests, limits then requests per resource:
//   aws.amazon.com/neuron = n  => n whole devices: cores = mask 0b11, no memory
//                                 (device string <uuid>,AWSNeuron,0,3); n = 0 => no request.
//   else aws.amazon.com/neuroncore = c:
//     c <= 2 => one device, cores = the mask of c NeuronCores (1 or 3), memory 100 % (the
//               device's NeuronCores, see above);
//     c > 2  => c / 2 devices taken like the c <= 2 case with c = 2.
// Multi-device requests carry AwsNeuronIndexSets(count).
// Failure (InvalidArgument, naming the resource): a value that is not a whole quantity, a
// negative count, a core count <= 0, an odd core count above 2 (HAMi: "must be 1 or a
// multiple of 2"), or more than kAwsNeuronMaxDevicesPerContainer devices.
Result<std::optional<ContainerDeviceRequest>> DeriveAwsNeuronRequest(const AwsNeuronConfig& config,
                                                                     const ResourceList& limits,
                                                                     const ResourceList& requests);

class AwsNeuronVendor final : public Vendor {
 public:
  // `config` should satisfy ValidateAwsNeuronConfig (MakeVendorRegistry checks it).
  explicit AwsNeuronVendor(AwsNeuronConfig config);

  std::string_view CommonWord() const override { return kAwsNeuronCommonWord; }
  // count = the device resource. `cores` stays empty although HAMi lists the NeuronCore
  // resource there: ours means percent of a device (the quota code sums it), and a NeuronCore
  // count is not that, so a ResourceQuota on NeuronCores is left to Kubernetes.
  const VendorResourceNames& ResourceNames() const override { return names_; }
  // Only `allocated`: no registration annotation, no handshake, no to-allocate key.
  const VendorAnnotationKeys& AnnotationKeys() const override { return keys_; }

  Result<std::optional<ContainerDeviceRequest>> RequestFromResources(
      const ResourceList& limits, const ResourceList& requests) const override;

  // aws.amazon.com/use-neuron-uuid and aws.amazon.com/nouse-neuron-uuid.
  // Never fails.
  Result<DeviceSelectors> ParseSelectors(const Annotations& pod_annotations) const override;

  // SynthesizeAwsNeuronDevices.
  Result<std::vector<DeviceInfo>> DecodeNode(const NodeFacts& node) const override;

  // HAMi's MutateAdmission: the device or the core resource (limits, then requests) makes the
  // pod ours; request = DeriveAwsNeuronRequest. Limits unchanged, no env.
  // Failure: InvalidArgument (the pod is refused) when DeriveAwsNeuronRequest fails, and for
  // an explicit device count of 0 (HAMi's webhook refuses it; its request derivation reads it
  // as no request).
  Result<ContainerAdmission> MutateAdmission(std::string_view container_name,
                                             const ResourceList& limits,
                                             const ResourceList& requests) const override;

  // hami.io/aws-neuron-devices-allocated = the device string; and, once any container got
  // devices: AWS_NEURON_IDS = every container's indexes in order, comma-separated (device
  // index i for a whole-device allocation; NeuronCore index stride * i + bit for each core
  // bit of a core allocation, stride = its memory field), NEURON_RESOURCE_TYPE = the core
  // resource name when a core was listed, NEURON_ALLOC_TIME = decided_unix_seconds in
  // nanoseconds (HAMi: the clock's nanoseconds at the decision), NEURON_ALLOCATED = "false"
  // and aws.amazon.com/predicate-node = `node`. A device ID without "-<index>" contributes no
  // index.
  void AddDecisionAnnotations(const PodDevices& devices, const std::string& node,
                              int64_t decided_unix_seconds, Annotations* out) const override;

 private:
  AwsNeuronConfig config_;
  VendorResourceNames names_;
  VendorAnnotationKeys keys_;
};

}  // namespace hami
