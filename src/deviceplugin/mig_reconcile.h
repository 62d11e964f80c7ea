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
//   - an instance overlapping a live reservation of another profile or placement is kept and
//     reported (it blocks that pod's Allocate; a person must decide): logged on every pass and
//     raised once as a Warning Event MigInstanceConflict on the Node;
//   - every other instance is destroyed. The first pass after start therefore returns a GPU
//     with no live reservation to a clean MIG-ready state (no instances at all).
// A pod is live unless it is gone from the API server or its phase is Succeeded or Failed (a
// terminating pod's containers may still run). When the pod list cannot be read, or a live pod's
// reservation annotation cannot be decoded, the pass destroys nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
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
  std::vector<uint32_t> compute_instance_ids;  // destroyed first, in this order
  std::string what;                            // "<profile> at slices s+n of GPU <uuid>"
};

// An instance kept because it overlaps a live reservation it does not match: it blocks that
// pod's Allocate until a person destroys it or the pod goes.
struct MigConflict {
  std::string gpu_uuid;
  uint32_t gpu_instance_id = 0;
  std::string profile;  // "" when NVML's profile list does not know its id
  MigPlacement placement;
  std::string pod;  // "namespace/name" of the blocked reservation
  std::string reserved_profile;
  MigPlacement reserved_placement;
  std::string line;  // the "conflict ..." line of MigReconcilePlan::kept
  // Identifies this conflict across passes (GPU, instance, placement, profile, pod,
  // reservation): the same key on the next pass is the same conflict, not a new one.
  std::string Key() const;
};

struct MigReconcilePlan {
  std::vector<MigDestroy> destroy;
  // One line per instance kept on a managed GPU: "adopted ... for pod ns/name" or, for an
  // instance overlapping another reservation, "conflict ...".
  std::vector<std::string> kept;
  std::vector<MigConflict> conflicts;  // the "conflict" entries of kept
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
  size_t kept = 0;                    // instances kept on managed GPUs
  size_t conflicts = 0;               // of kept: conflicts (MigConflict)
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
  // process still on it: kFailedPrecondition) is reported in failures and the pass goes on.
  // Each conflict (MigConflict) not yet reported gets one Warning Event MigInstanceConflict on
  // the Node; a failed Event write is logged and tried again on the next pass (unless the API
  // server forbids it: kPermissionDenied is logged once), never fails the pass. A conflict a pass
  // no longer finds is forgotten, so if it comes back it is reported again.
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
