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

}  // namespace

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
      } else if (overlapping != nullptr) {
        std::string line = "conflict " + what + " overlaps pod " + overlapping->pod +
                           "'s reservation of " + overlapping->profile + " at slices " +
                           Slices(overlapping->placement) + ": kept";
        plan.kept.push_back(line);
        plan.conflicts.push_back(std::move(line));
      } else {
        plan.destroy.push_back(
            {gpu.index, gpu.uuid, mig.gpu_instance_id, mig.compute_instance_ids, what});
      }
    }
  }
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
  for (const std::string& line : plan.conflicts) spdlog::warn("mig reconcile {}", line);
  report.kept = plan.kept.size();
  for (const MigDestroy& d : plan.destroy) {
    Status done = Status::Ok();
    for (uint32_t ci : d.compute_instance_ids) {
      done = driver_.DestroyComputeInstance(d.gpu_index, d.gpu_instance_id, ci);
      if (!done.ok()) break;
    }
    if (done.ok()) done = driver_.DestroyGpuInstance(d.gpu_index, d.gpu_instance_id);
    if (!done.ok()) {
      spdlog::error("mig reconcile destroy failed what=\"{}\" error=\"{}\"", d.what,
                    done.message());
      report.failures.push_back(d.what + ": " + done.message());
      continue;
    }
    spdlog::info("mig reconcile destroyed what=\"{}\" reason=\"no live pod reserves it\"", d.what);
    ++report.destroyed;
  }
  return report;
}

}  // namespace hami::deviceplugin
