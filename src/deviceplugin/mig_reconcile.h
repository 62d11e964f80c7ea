// Dynamic MIG reconciler (issue 17): the MIG instances the plugin created at Allocate
// (mig_realize.h) outlive their pods unless something destroys them. A pass compares the GPU
// instances NVML reports with the reservations (hami.io/vgpu-mig-allocations) of the node's live
// pods and destroys, compute instances first, exactly the instances no live pod reserves.
//
// What it may touch: only GPUs the caller marks as managed, i.e. GPUs in MIG mode on a node whose
// operating mode is "mig" (dynamic MIG) and that the node config does not exclude. Instances on
// any other GPU (static MIG: made by an admin or NVIDIA's MIG manager) are never destroyed.
// On a managed GPU:
//   - an instance whose GPU uuid, profile and placement equal a live reservation is kept
//     (adopted: also after a plugin restart, or a GPU instance left without compute instance);
//   - every other instance is destroyed, compute instances first. The first pass after start
//     therefore returns a GPU with no live reservation to a clean MIG-ready state (no instances
//     at all). An instance overlapping a live reservation it does not match is destroyed too,
//     and FIRST in the pass: it is exactly what blocks that pod's Allocate (the scheduler
//     reserves the slices of a gone pod at once, and kubelet may call Allocate before the next
//     pass; the Allocate's own reclaim pass must then free them, not spare them).
//   - a conflict (MigConflict) is an instance blocking a live reservation that the pass could
//     not destroy (NVML refused: IN_USE because processes still run on it, or another error). It
//     is logged on every pass and raised once as a Warning Event MigInstanceConflict on the
//     Node. A failed destroy of an instance that blocks nobody is a plain failure (logged).
// A pod is live unless it is gone from the API server or its phase is Succeeded or Failed (a
// terminating pod's containers may still run). When the pod list cannot be read, or a live pod's
// reservation annotation cannot be decoded, the pass destroys nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/device.h"
#include "deviceplugin/mig_realize.h"
#include "kube/client.h"

namespace hami::deviceplugin {

// One GPU instance as NVML reports it, with its profile named.
struct MigInstanceState {
  uint32_t gpu_instance_id = 0;
  std::string profile;  // "3g.20gb"; "" when NVML's profile list does not know its id
  MigPlacement placement;
  std::vector<uint32_t> compute_instance_ids;
};

struct MigGpuState {
  uint32_t index = 0;
  std::string uuid;
  bool managed = false;  // dynamic MIG: the reconciler may destroy its instances
  std::vector<MigInstanceState> instances;
};

// One MIG instance a live pod reserved.
struct MigReservation {
  std::string pod;  // "namespace/name", for logs
  std::string gpu_uuid;
  std::string profile;
  MigPlacement placement;
};

struct MigDestroy {
  uint32_t gpu_index = 0;
  std::string gpu_uuid;
  uint32_t gpu_instance_id = 0;
  std::string profile;  // "" when NVML's profile list does not know its id
  MigPlacement placement;
  std::vector<uint32_t> compute_instance_ids;  // destroyed first, in this order
  std::string what;                            // "<profile> at slices s+n of GPU <uuid> (...)"
  // The live reservation this instance overlaps without matching it (it blocks that pod's
  // Allocate), if any: a failed destroy then becomes a MigConflict.
  std::optional<MigReservation> blocks;
  // Why it goes: "no live pod reserves it" or "blocks pod ns/name's reservation of <profile> at
  // slices s+n".
  std::string reason;
};

// An instance blocking a live reservation that the pass could not destroy: the pod's Allocate
// fails until a person frees it (or the pod goes).
struct MigConflict {
  std::string gpu_uuid;
  uint32_t gpu_instance_id = 0;
  std::string profile;  // "" when NVML's profile list does not know its id
  MigPlacement placement;
  std::string pod;  // "namespace/name" of the blocked reservation
  std::string reserved_profile;
  MigPlacement reserved_placement;
  std::string error;  // NVML's answer to the destroy
  // Identifies this conflict across passes (GPU, instance, placement, profile, pod,
  // reservation; not the error text): the same key on the next pass is the same conflict.
  std::string Key() const;
  // The Event message: what blocks whom, NVML's error, and what a person can do.
  std::string Message() const;
};

struct MigReconcilePlan {
  // What to destroy: first every instance blocking a live reservation, then the others; within
  // each group in GPU order, then NVML's instance order.
  std::vector<MigDestroy> destroy;
  // One line per instance kept on a managed GPU: "adopted ... for pod ns/name".
  std::vector<std::string> kept;
};

// The Event reason the reconciler raises on the Node for a MigConflict.
inline constexpr char kMigInstanceConflictReason[] = "MigInstanceConflict";

// The live pods' MIG reservations on `node` from a PodList JSON (pods of other nodes and pods
// without the annotation contribute nothing). Failure (kInvalidArgument, names the pod): a live
// pod's hami.io/vgpu-mig-allocations cannot be decoded; the caller must then destroy nothing.
Result<std::vector<MigReservation>> LiveMigReservations(const nlohmann::json& pod_list,
                                                        const std::string& node);

// The decision, pure: what to destroy and what to keep (rules in the file comment). Instances
// of unmanaged GPUs appear in neither list.
MigReconcilePlan PlanMigReconcile(std::span<const MigGpuState> gpus,
                                  std::span<const MigReservation> live);

struct MigReconcileReport {
  size_t destroyed = 0;               // GPU instances destroyed
  size_t unblocked = 0;               // of destroyed: those that blocked a live reservation
  size_t kept = 0;                    // instances kept (adopted) on managed GPUs
  size_t conflicts = 0;               // blocking instances NVML refused to destroy (MigConflict)
  size_t events_posted = 0;           // MigInstanceConflict Events this pass wrote
  std::vector<std::string> failures;  // one line per instance NVML refused to destroy
};

// The thin I/O wrapper. Not thread-safe: one pass at a time (the plugin's loop thread). `client`
// and `driver` must outlive it.
class MigReconciler {
 public:
  // `managed(gpu)`: whether the GPU's instances are the plugin's to destroy (see above).
  MigReconciler(kube::KubeClient& client, MigDriver& driver, std::string node_name,
                std::function<bool(const nvml::NvmlGpu&)> managed);

  // One pass. NVML is read before the pods, so an instance an Allocate creates meanwhile is
  // either absent from this pass or its pod's reservation (written at bind, before Allocate) is
  // in the pod list. Failure, nothing destroyed: NVML cannot list the GPUs or a managed GPU's
  // instances (kUnavailable etc. from NVML), the pod list cannot be read (the API error), a
  // reservation is unreadable (kInvalidArgument). An instance NVML refuses to destroy (a
  // process still on it: kFailedPrecondition) is reported in failures and the pass goes on; when
  // it blocks a live reservation it is also a conflict (MigConflict). Each conflict not yet
  // reported gets one Warning Event MigInstanceConflict on the Node; a failed Event write is logged
  // and tried again on the next pass (unless the API server forbids it: kPermissionDenied is logged
  // once), never fails the pass. A conflict a pass no longer finds is forgotten, so if it comes
  // back it is reported again.
  Result<MigReconcileReport> RunOnce();

  // Conflicts whose Event was posted and that the last successful pass still found (tests).
  size_t ReportedConflicts() const { return reported_conflicts_.size(); }

 private:
  kube::KubeClient& client_;
  MigDriver& driver_;
  std::string node_name_;
  std::function<bool(const nvml::NvmlGpu&)> managed_;
  std::set<std::string> reported_conflicts_;  // MigConflict::Key() of the Events posted
};

}  // namespace hami::deviceplugin
