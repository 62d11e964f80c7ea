// Annotation and label keys of the HAMi wire format (spec §1.1, §1.3, §2.3, §2.4, §3.7).
//
// Plain constants; the values are part of the compatibility contract with the Go original and
// must never change. Keys specific to one vendor other than NVIDIA live with that vendor.
#pragma once

namespace hami {

// --- Node annotations -------------------------------------------------------------------
// NVIDIA device registration, written by the device plugin (JSON array, §1.1).
inline constexpr char kNodeNvidiaRegisterAnnotation[] = "hami.io/node-nvidia-register";
// Optional pairwise GPU link scores for the topology-aware policy (JSON, §1.1).
inline constexpr char kNodeNvidiaScoreAnnotation[] = "hami.io/node-nvidia-score";
// NVIDIA handshake, owned by the scheduler: "Requesting_<YYYY-MM-DD HH:MM:SS>" (§1.3).
inline constexpr char kNodeHandshakeAnnotation[] = "hami.io/node-handshake";
// Node lock shared by all vendors: "<RFC3339>,<ns>,<name>" or a bare RFC3339 time (§3.7).
inline constexpr char kNodeLockAnnotation[] = "hami.io/mutex.lock";
// Comma list of device UUIDs excluded from new allocations (§2.3).
inline constexpr char kDeviceCordonAnnotation[] = "hami.io/device-cordon";

// --- Pod annotations written by the scheduler / device plugin (§2.4) --------------------------
// Chosen node name; also written as a label with the same key and value.
inline constexpr char kVgpuNodeAnnotation[] = "hami.io/vgpu-node";
// Unix seconds (decimal) of the /filter decision.
inline constexpr char kVgpuTimeAnnotation[] = "hami.io/vgpu-time";
// NVIDIA pod device strings (§2.5): emptied per container by the plugin / never modified.
inline constexpr char kVgpuDevicesToAllocateAnnotation[] = "hami.io/vgpu-devices-to-allocate";
inline constexpr char kVgpuDevicesAllocatedAnnotation[] = "hami.io/vgpu-devices-allocated";
// MIG placements (JSON), MIG mode only.
inline constexpr char kVgpuMigAllocationsAnnotation[] = "hami.io/vgpu-mig-allocations";
// "allocating" | "success" | "failed" (see BindPhase in codec.h).
inline constexpr char kBindPhaseAnnotation[] = "hami.io/bind-phase";
// Unix seconds (decimal) of the /bind call.
inline constexpr char kBindTimeAnnotation[] = "hami.io/bind-time";

// --- Labels ---------------------------------------------------------------------------------
// On scheduler pods: "leader" | "follower".
inline constexpr char kSchedulerRoleLabel[] = "hami.io/scheduler-role";
inline constexpr char kSchedulerRoleLeader[] = "leader";
inline constexpr char kSchedulerRoleFollower[] = "follower";
// On a namespace or pod with value "ignore": the webhook skips it.
inline constexpr char kWebhookLabel[] = "hami.io/webhook";
inline constexpr char kWebhookIgnoreValue[] = "ignore";

// --- Pod annotations set by users (§2.3) ----------------------------------------------------
// NVIDIA device selection; comma lists, trimmed, empty = no constraint.
inline constexpr char kNvidiaUseGpuTypeAnnotation[] = "nvidia.com/use-gputype";
inline constexpr char kNvidiaNoUseGpuTypeAnnotation[] = "nvidia.com/nouse-gputype";
inline constexpr char kNvidiaUseGpuUuidAnnotation[] = "nvidia.com/use-gpuuuid";
inline constexpr char kNvidiaNoUseGpuUuidAnnotation[] = "nvidia.com/nouse-gpuuuid";
// Device mode must be a substring of this value ("hami-core", "mig", "mps").
inline constexpr char kNvidiaVgpuModeAnnotation[] = "nvidia.com/vgpu-mode";
// Go ParseBool: all GPUs of one container on one NUMA node.
inline constexpr char kNvidiaNumaBindAnnotation[] = "nvidia.com/numa-bind";
// Scheduling policy overrides (parsed by the policy module).
inline constexpr char kNodeSchedulerPolicyAnnotation[] = "hami.io/node-scheduler-policy";
inline constexpr char kGpuSchedulerPolicyAnnotation[] = "hami.io/gpu-scheduler-policy";
inline constexpr char kDeviceScoringWeightsAnnotation[] = "hami.io/device-scoring-weights";

}  // namespace hami
