#include "deviceplugin/allocator.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "common/strings.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::deviceplugin {

namespace {

std::vector<PodContainer> ContainersOf(const nlohmann::json& pod) {
  std::vector<PodContainer> out;
  for (const char* kind : {"initContainers", "containers"}) {
    const nlohmann::json* list = kube::FindPath(pod, {"spec", kind});
    if (list == nullptr || !list->is_array()) continue;
    for (const nlohmann::json& c : *list) {
      PodContainer container;
      container.name = std::string(kube::StringAt(c, {"name"}));
      const nlohmann::json* env = kube::FindPath(c, {"env"});
      if (env != nullptr && env->is_array()) {
        for (const nlohmann::json& e : *env) {
          if (kube::StringAt(e, {"name"}) == "CUDA_DISABLE_CONTROL") {
            container.disable_control = ParseGoBool(kube::StringAt(e, {"value"})).value_or(false);
          }
        }
      }
      out.push_back(std::move(container));
    }
  }
  return out;
}

v1beta1::AllocateResponse ToResponse(const AllocatePlan& plan) {
  v1beta1::AllocateResponse response;
  for (const ContainerAllocation& c : plan.containers) {
    v1beta1::ContainerAllocateResponse* out = response.add_container_responses();
    for (const auto& [key, value] : c.envs) (*out->mutable_envs())[key] = value;
    for (const MountPlan& m : c.mounts) {
      v1beta1::Mount* mount = out->add_mounts();
      mount->set_container_path(m.container_path);
      mount->set_host_path(m.host_path);
      mount->set_read_only(m.read_only);
    }
    for (const auto& [key, value] : c.annotations) (*out->mutable_annotations())[key] = value;
    for (const std::string& name : c.cdi_devices) out->add_cdi_devices()->set_name(name);
  }
  return response;
}

}  // namespace

Status PrepareCacheDir(const std::string& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);  // a previous run of the container left state
  if (error) return Status(StatusCode::kInternal, "clear " + path + ": " + error.message());
  std::filesystem::create_directories(path, error);
  if (error) return Status(StatusCode::kInternal, "create " + path + ": " + error.message());
  // The container may run as any user; HAMi-core creates its region file here.
  std::filesystem::permissions(path, std::filesystem::perms::all, error);
  if (error) return Status(StatusCode::kInternal, "chmod " + path + ": " + error.message());
  return Status::Ok();
}

Allocator::Allocator(kube::KubeClient& client, AllocatorOptions options,
                     std::function<int64_t()> now, std::function<std::string()> cache_file_name)
    : client_(client),
      options_(std::move(options)),
      cache_file_name_(std::move(cache_file_name)),
      locker_(client, options_.lock, std::move(now)) {}

void Allocator::SetSettings(AllocateSettings settings) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.settings = std::move(settings);
}

Result<nlohmann::json> Allocator::FindPendingPod() {
  const std::string& node = options_.node_name;
  HAMI_ASSIGN_OR_RETURN(nlohmann::json node_json, client_.Get(kube::NodePath(node)));
  node_seen_ = node_json;  // the lock release at the end of this Allocate starts from it
  // The lock names the pod being bound here (the scheduler binds one pod per node at a time).
  if (auto value = kube::NodeView(node_json).Annotation(kNodeLockAnnotation)) {
    auto lock = ParseNodeLock(*value);
    if (lock.ok() && !lock->legacy) {
      auto pod = client_.Get(kube::PodPath(lock->ns, lock->name));
      if (!pod.ok() && pod.status().code() != StatusCode::kNotFound) return pod.status();
      const nodelock::OwnerVerdict owner =
          nodelock::ClassifyLockOwner(pod.ok() ? &*pod : nullptr, node);
      if (owner.state == nodelock::OwnerState::kAllocatingHere) return pod;
      // Left behind: release it (re-checked against the server) and look for the pod below.
      auto released = locker_.ReleaseIfOrphaned(node);
      if (released.ok() && !released->empty()) {
        spdlog::info("node lock released node={} reason=\"{}\"", node, *released);
      }
    }
  }
  HAMI_ASSIGN_OR_RETURN(nlohmann::json pods,
                        client_.List(kube::PodsPath(""), "", "spec.nodeName=" + node));
  const nlohmann::json* items = kube::FindPath(pods, {"items"});
  if (items != nullptr && items->is_array()) {
    for (const nlohmann::json& pod : *items) {
      const kube::PodView view(pod);
      const auto phase = view.Annotation(kBindPhaseAnnotation);
      if (view.Phase() == "Pending" && view.Annotation(kBindTimeAnnotation) && phase &&
          (*phase == "allocating" || *phase == "success") &&
          view.Annotation(kVgpuNodeAnnotation) == node) {
        return pod;
      }
    }
  }
  return NotFound("no binding pod found on node " + node);
}

Result<std::string> Allocator::ReleaseOrphanedLock() {
  std::lock_guard<std::mutex> lock(mu_);  // never under an Allocate in progress
  return locker_.ReleaseIfOrphaned(options_.node_name);
}

void Allocator::Fail(const std::string& ns, const std::string& name) {
  (void)client_.MergePatch(kube::PodPath(ns, name),
                           kube::AnnotationsPatch({{kBindPhaseAnnotation, std::string("failed")}}));
  (void)locker_.Release(options_.node_name, ns, name, /*force=*/false);
}

Result<v1beta1::AllocateResponse> Allocator::Allocate(const v1beta1::AllocateRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  HAMI_ASSIGN_OR_RETURN(nlohmann::json pod, FindPendingPod());
  const kube::PodView view(pod);
  const std::string ns(view.Namespace()), name(view.Name());
  if (options_.mig_realizer != nullptr) options_.mig_realizer->Commit();  // start clean
  auto answer = AllocateFor(std::move(pod), request);
  if (options_.mig_realizer != nullptr) {
    // A failed Allocate leaves no MIG instance it created behind (the pod is rescheduled and
    // its reservation released); a successful one keeps them, now named in the annotation.
    if (answer.ok()) {
      options_.mig_realizer->Commit();
    } else if (Status undone = options_.mig_realizer->RollBack(); !undone.ok()) {
      answer = Status(answer.status().code(),
                      answer.status().message() + " (and rolling back: " + undone.message() + ")");
    }
  }
  if (!answer.ok()) {
    Fail(ns, name);
    return answer.status().WithContext("allocate for pod " + ns + "/" + name);
  }
  return answer;
}

MigInstanceLookup Allocator::MigLookup() const {
  if (options_.mig_realizer == nullptr) return options_.mig_instances;
  MigRealizer* realizer = options_.mig_realizer;
  std::function<void()> reclaim = options_.reclaim_stale_mig;
  return [realizer, reclaim](const std::string& gpu_uuid, const std::string& profile,
                             const MigPlacement& placement) -> Result<MigInstanceRef> {
    auto realized = realizer->Realize(gpu_uuid, profile, placement);
    if (realized.ok() || !reclaim) return realized;
    spdlog::info("mig: {}; reclaiming instances of gone pods, then retrying once",
                 realized.status().message());
    reclaim();
    return realizer->Realize(gpu_uuid, profile, placement);
  };
}

Result<v1beta1::AllocateResponse> Allocator::AllocateFor(nlohmann::json pod,
                                                         const v1beta1::AllocateRequest& request) {
  std::vector<std::vector<std::string>> requested;
  for (const auto& container : request.container_requests()) {
    requested.emplace_back(container.devices_ids().begin(), container.devices_ids().end());
  }
  Status last = Status::Ok();
  for (int attempt = 0; attempt < options_.write_attempts; ++attempt) {
    const kube::PodView view(pod);
    const std::string ns(view.Namespace()), name(view.Name());
    auto annotation = view.Annotation(options_.to_allocate_annotation);
    if (!annotation) {
      return FailedPrecondition("pod has no " + options_.to_allocate_annotation + " annotation");
    }
    HAMI_ASSIGN_OR_RETURN(PodDevices to_allocate, DecodePodDevices(*annotation));
    std::vector<MigAllocation> mig;
    if (auto value = view.Annotation(kVgpuMigAllocationsAnnotation)) {
      HAMI_ASSIGN_OR_RETURN(mig, DecodeMigAllocations(*value));
    }
    const std::vector<PodContainer> containers = ContainersOf(pod);
    HAMI_ASSIGN_OR_RETURN(AllocatePlan plan,
                          PlanAllocate(to_allocate, requested, containers, std::string(view.Uid()),
                                       options_.settings, cache_file_name_, mig, MigLookup()));
    if (options_.usable_devices) {
      const std::set<std::string> usable = options_.usable_devices();
      for (const ContainerAllocation& c : plan.containers) {
        for (const std::string& uuid : c.device_uuids) {
          if (usable.count(uuid) == 0) {
            return FailedPrecondition("device " + uuid +
                                      " is not a healthy GPU of this node any more");
          }
        }
      }
    }
    // What is left, written against the version we planned from: a concurrent change to the
    // pod makes us plan again rather than hand out a group twice.
    // The MIG devices handed out are recorded with the remaining groups, in the same write.
    std::map<std::string, std::optional<std::string>> annotations = {
        {options_.to_allocate_annotation, EncodePodDevices(plan.remaining)}};
    // The last group handed out completes the pod: bind-phase "success" goes in the same write
    // (HAMi writes it separately; the end state is the same, with one API write less per pod).
    if (plan.all_allocated) annotations[kBindPhaseAnnotation] = std::string("success");
    if (plan.mig_realized) {
      annotations[kVgpuMigAllocationsAnnotation] = EncodeMigAllocations(plan.mig_allocations);
    }
    nlohmann::json patch = kube::AnnotationsPatch(annotations, view.ResourceVersion());
    // hami-scheduler writes its decision in the Binding, which cannot carry labels: the label
    // hami.io/vgpu-node HAMi sets with the decision is added here, in the same write.
    if (plan.all_allocated) patch["metadata"]["labels"][kVgpuNodeAnnotation] = options_.node_name;
    auto written = client_.MergePatch(kube::PodPath(ns, name), patch);
    if (!written.ok()) {
      last = written.status();
      if (last.code() != StatusCode::kConflict) return last;
      HAMI_ASSIGN_OR_RETURN(pod, client_.Get(kube::PodPath(ns, name)));
      continue;
    }
    for (const ContainerAllocation& c : plan.containers) {
      if (!c.host_cache_dir.empty()) HAMI_RETURN_IF_ERROR(PrepareCacheDir(c.host_cache_dir));
    }
    if (plan.all_allocated) {
      HAMI_RETURN_IF_ERROR(
          locker_.Release(options_.node_name, ns, name, /*force=*/false, &node_seen_));
    }
    return ToResponse(plan);
  }
  return last.WithContext("write " + options_.to_allocate_annotation);
}

}  // namespace hami::deviceplugin
