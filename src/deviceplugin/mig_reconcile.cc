#include "deviceplugin/mig_reconcile.h"

#include <spdlog/spdlog.h>

#include "device/annotations.h"
#include "device/codec.h"
#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::deviceplugin {

namespace {

std::string Slices(const MigPlacement& p) {
  return std::to_string(p.start) + "+" + std::to_string(p.size);
}

bool Overlap(const MigPlacement& a, const MigPlacement& b) {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

std::string Describe(const MigInstanceState& mig, const std::string& gpu_uuid) {
  return (mig.profile.empty() ? std::string("unknown profile") : mig.profile) + " at slices " +
         Slices(mig.placement) + " of GPU " + gpu_uuid + " (GPU instance " +
         std::to_string(mig.gpu_instance_id) + ")";
}

std::string Blocks(const MigReservation& r) {
  return "blocks pod " + r.pod + "'s reservation of " + r.profile + " at slices " +
         Slices(r.placement);
}

}  // namespace

std::string MigConflict::Key() const {
  return gpu_uuid + "|" + std::to_string(gpu_instance_id) + "|" + profile + "|" +
         Slices(placement) + "|" + pod + "|" + reserved_profile + "|" + Slices(reserved_placement);
}

std::string MigConflict::Message() const {
  return "MIG instance " + (profile.empty() ? std::string("of unknown profile") : profile) +
         " at slices " + Slices(placement) + " (GPU instance " + std::to_string(gpu_instance_id) +
         ") on GPU " + gpu_uuid + " blocks pod " + pod + "'s reservation of " + reserved_profile +
         " at slices " + Slices(reserved_placement) +
         "; hami-device-plugin could not destroy it: " + error +
         ". Stop the processes on it, or destroy it (nvidia-smi mig -dci, then -dgi), or delete "
         "the pod";
}

Result<std::vector<MigReservation>> LiveMigReservations(const nlohmann::json& pod_list,
                                                        const std::string& node) {
  std::vector<MigReservation> out;
  const nlohmann::json* items = kube::FindPath(pod_list, {"items"});
  if (items == nullptr || !items->is_array()) {
    return InvalidArgument("pod list without an items array");
  }
  for (const nlohmann::json& pod : *items) {
    const kube::PodView view(pod);
    if (view.NodeName() != node) continue;
    if (view.Phase() == "Succeeded" || view.Phase() == "Failed") continue;
    const auto annotation = view.Annotation(kVgpuMigAllocationsAnnotation);
    if (!annotation || annotation->empty()) continue;
    const std::string who = std::string(view.Namespace()) + "/" + std::string(view.Name());
    auto decoded = DecodeMigAllocations(*annotation);
    if (!decoded.ok()) return decoded.status().WithContext("pod " + who);
    for (const MigAllocation& a : *decoded) {
      out.push_back({who, a.gpu_uuid, a.profile, a.placement});
    }
  }
  return out;
}

MigReconcilePlan PlanMigReconcile(std::span<const MigGpuState> gpus,
                                  std::span<const MigReservation> live) {
  MigReconcilePlan plan;
  std::vector<MigDestroy> others;  // after every blocking one: a pod waits for those
  for (const MigGpuState& gpu : gpus) {
    if (!gpu.managed) continue;
    for (const MigInstanceState& mig : gpu.instances) {
      const MigReservation* exact = nullptr;
      const MigReservation* overlapping = nullptr;
      for (const MigReservation& r : live) {
        if (r.gpu_uuid != gpu.uuid || !Overlap(r.placement, mig.placement)) continue;
        if (!mig.profile.empty() && r.profile == mig.profile && r.placement == mig.placement) {
          exact = &r;
          break;
        }
        if (overlapping == nullptr) overlapping = &r;
      }
      const std::string what = Describe(mig, gpu.uuid);
      if (exact != nullptr) {
        plan.kept.push_back("adopted " + what + " for pod " + exact->pod);
        continue;
      }
      MigDestroy d{gpu.index,   gpu.uuid,      mig.gpu_instance_id,
                   mig.profile, mig.placement, mig.compute_instance_ids,
                   what,        std::nullopt,  "no live pod reserves it"};
      if (overlapping != nullptr) {
        d.blocks = *overlapping;
        d.reason = Blocks(*overlapping);
        plan.destroy.push_back(std::move(d));
      } else {
        others.push_back(std::move(d));
      }
    }
  }
  for (MigDestroy& d : others) plan.destroy.push_back(std::move(d));
  return plan;
}

MigReconciler::MigReconciler(kube::KubeClient& client, MigDriver& driver, std::string node_name,
                             std::function<bool(const nvml::NvmlGpu&)> managed)
    : client_(client),
      driver_(driver),
      node_name_(std::move(node_name)),
      managed_(std::move(managed)) {}

Result<MigReconcileReport> MigReconciler::RunOnce() {
  // NVML first: see the header for why the order matters.
  HAMI_ASSIGN_OR_RETURN(std::vector<nvml::NvmlGpu> gpus, driver_.Gpus());
  std::vector<MigGpuState> states;
  for (const nvml::NvmlGpu& gpu : gpus) {
    if (!gpu.mig_enabled || !managed_(gpu)) continue;
    MigGpuState state{gpu.index, gpu.uuid, true, {}};
    auto profiles = driver_.MigProfiles(gpu.index);
    if (!profiles.ok()) return profiles.status().WithContext("MIG profiles of GPU " + gpu.uuid);
    auto instances = driver_.GpuInstances(gpu.index);
    if (!instances.ok()) {
      return instances.status().WithContext("GPU instances of GPU " + gpu.uuid);
    }
    for (const nvml::NvmlGpuInstance& gi : *instances) {
      MigInstanceState mig{gi.id, "", gi.placement, gi.compute_instance_ids};
      for (const nvml::NvmlMigProfileInfo& p : *profiles) {
        if (p.profile_id == gi.profile_id) mig.profile = p.name;
      }
      state.instances.push_back(std::move(mig));
    }
    states.push_back(std::move(state));
  }
  MigReconcileReport report;
  if (states.empty()) return report;  // no dynamic-MIG GPU: no need to ask the API server
  auto pods = client_.List(kube::PodsPath(""), "", "spec.nodeName=" + node_name_);
  if (!pods.ok()) return pods.status().WithContext("list the pods of node " + node_name_);
  HAMI_ASSIGN_OR_RETURN(std::vector<MigReservation> live, LiveMigReservations(*pods, node_name_));
  const MigReconcilePlan plan = PlanMigReconcile(states, live);
  report.kept = plan.kept.size();
  std::vector<MigConflict> conflicts;
  for (const MigDestroy& d : plan.destroy) {
    Status done = Status::Ok();
    for (uint32_t ci : d.compute_instance_ids) {
      done = driver_.DestroyComputeInstance(d.gpu_index, d.gpu_instance_id, ci);
      if (!done.ok()) break;
    }
    if (done.ok()) done = driver_.DestroyGpuInstance(d.gpu_index, d.gpu_instance_id);
    if (!done.ok()) {
      spdlog::error("mig reconcile destroy failed what=\"{}\" reason=\"{}\" error=\"{}\"", d.what,
                    d.reason, done.message());
      report.failures.push_back(d.what + ": " + done.message());
      if (d.blocks) {
        conflicts.push_back({d.gpu_uuid, d.gpu_instance_id, d.profile, d.placement, d.blocks->pod,
                             d.blocks->profile, d.blocks->placement, done.message()});
      }
      continue;
    }
    spdlog::info("mig reconcile destroyed what=\"{}\" reason=\"{}\"", d.what, d.reason);
    ++report.destroyed;
    if (d.blocks) ++report.unblocked;
  }
  report.conflicts = conflicts.size();
  std::set<std::string> still;
  for (const MigConflict& c : conflicts) {
    const std::string key = c.Key();
    still.insert(key);
    if (reported_conflicts_.count(key) > 0) continue;
    kube::EventSpec event;
    event.involved_kind = "Node";
    event.involved_name = node_name_;
    event.type = "Warning";
    event.reason = kMigInstanceConflictReason;
    event.message = c.Message();
    event.component = "hami-device-plugin";
    event.host = node_name_;
    // Best effort: a failed write is tried again next pass and never stops this one; one the
    // API server forbids (no RBAC grant for events) is not retried: it would fail every pass.
    if (auto created = client_.CreateEvent(event); !created.ok()) {
      const bool forbidden = created.status().code() == StatusCode::kPermissionDenied;
      spdlog::warn("event {} not posted ({}): {}", kMigInstanceConflictReason,
                   forbidden ? "forbidden, not retried" : "retried next pass",
                   created.status().message());
      if (forbidden) reported_conflicts_.insert(key);
      continue;
    }
    reported_conflicts_.insert(key);
    ++report.events_posted;
  }
  std::erase_if(reported_conflicts_, [&](const std::string& k) { return still.count(k) == 0; });
  return report;
}

}  // namespace hami::deviceplugin
