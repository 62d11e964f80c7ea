#include "scheduler/webhook.h"

#include <vector>

#include "common/base64.h"
#include "device/config.h"
#include "kube/objects.h"

namespace hami::scheduler {

namespace {

// Typed reads treat a wrong type as absent: the pod comes from the user.
std::string StringAt(const nlohmann::json& object, std::string_view key) {
  return std::string(kube::StringAt(object, {key}));
}

const nlohmann::json* ObjectAt(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json* value = kube::FindPath(object, {key});
  return value != nullptr && value->is_object() ? value : nullptr;
}

std::string ContainerName(const nlohmann::json& container) {
  std::string name = StringAt(container, "name");
  return name.empty() ? "<unnamed>" : name;
}

ResourceList ResourceMap(const nlohmann::json& container, const char* which) {
  ResourceList out;
  const auto resources = container.find("resources");
  if (resources == container.end() || !resources->is_object()) return out;
  const auto list = resources->find(which);
  if (list == resources->end() || !list->is_object()) return out;
  for (auto it = list->begin(); it != list->end(); ++it) {
    out[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  return out;
}

// Sets env var `name`; an existing one is replaced only when `replace` is true.
void SetEnv(nlohmann::json& container, const std::string& name, const std::string& value,
            bool replace = true) {
  nlohmann::json& env = container["env"];
  if (!env.is_array()) env = nlohmann::json::array();
  for (nlohmann::json& entry : env) {
    if (StringAt(entry, "name") == name) {
      if (replace) entry = {{"name", name}, {"value", value}};
      return;
    }
  }
  env.push_back({{"name", name}, {"value", value}});
}

AdmissionDecision Refuse(std::string message) {
  AdmissionDecision d;
  d.allowed = false;
  d.code = 403;
  d.message = std::move(message);
  d.patch = nlohmann::json::array();
  return d;
}

// One vendor's device requests, one entry per container (count 0 = none), init containers
// first, and whether any container uses the vendor.
struct VendorRequests {
  const Vendor* vendor = nullptr;
  std::vector<ContainerDeviceRequest> containers;
  bool used = false;
};

// Runs every vendor's MutateAdmission on one container, in registry order, each on the limits
// the previous one left; returns a refusal message or nullopt. Appends one entry per vendor
// to `per_vendor` for this container.
std::optional<std::string> MutateContainer(nlohmann::json& container, const WebhookConfig& config,
                                           bool* uses_device,
                                           std::vector<VendorRequests>* per_vendor) {
  const std::string name = ContainerName(container);
  const std::string given_name = StringAt(container, "name");
  const ResourceList original = ResourceMap(container, "limits");
  const ResourceList requests = ResourceMap(container, "requests");
  ResourceList limits = original;
  for (VendorRequests& vendor : *per_vendor) {
    vendor.containers.emplace_back();
    auto admission = vendor.vendor->MutateAdmission(given_name, limits, requests);
    if (!admission.ok()) return "container " + name + ": " + admission.status().message();
    for (const auto& [env_name, value] : admission->env) SetEnv(container, env_name, value);
    for (const auto& [env_name, value] : admission->env_defaults) {
      SetEnv(container, env_name, value, /*replace=*/false);
    }
    if (!admission->uses_device) continue;
    *uses_device = true;
    vendor.used = true;
    limits = std::move(admission->limits);
    if (!admission->request) continue;
    const ContainerDeviceRequest& request = *admission->request;
    vendor.containers.back() = request;
    if (config.max_device_memory_mib > 0 && request.memory_mib > config.max_device_memory_mib) {
      return "container " + name + ": " + vendor.vendor->ResourceNames().memory + " " +
             std::to_string(request.memory_mib) +
             " MiB is more than any device in the cluster has (" +
             std::to_string(config.max_device_memory_mib) + " MiB)";
    }
  }
  // Write back the defaulted limits (e.g. NVIDIA's device count and whole-card cores).
  for (const auto& [key, value] : limits) {
    auto old = original.find(key);
    if (old == original.end() || old->second != value)
      container["resources"]["limits"][key] = value;
  }
  return std::nullopt;
}

// Runs `vendor`'s pod-level admission on `pod`'s annotations and writes back what it changed;
// returns a refusal message or nullopt.
std::optional<std::string> MutatePodAnnotations(const Vendor& vendor,
                                                const std::vector<ContainerDeviceRequest>& requests,
                                                nlohmann::json& pod) {
  const Annotations before = kube::PodView(pod).Annotations();
  Annotations after = before;
  Status admitted = vendor.MutatePodAdmission(requests, &after);
  if (!admitted.ok()) return admitted.message();
  if (after == before) return std::nullopt;
  nlohmann::json& annotations = pod["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = nlohmann::json::object();
  for (const auto& [key, value] : before) {
    if (after.count(key) == 0) annotations.erase(key);
  }
  for (const auto& [key, value] : after) annotations[key] = value;
  return std::nullopt;
}

bool Privileged(const nlohmann::json& container) {
  const nlohmann::json* ctx = ObjectAt(container, "securityContext");
  if (ctx == nullptr) return false;
  auto it = ctx->find("privileged");
  return it != ctx->end() && it->is_boolean() && it->get<bool>();
}

// The quota pre-check (spec §4 step 6): refuses a pod whose least possible demand, on top of
// what its namespace holds now, passes one of the namespace's ResourceQuotas.
std::optional<std::string> CheckQuota(const nlohmann::json& pod, const WebhookConfig& config,
                                      std::string_view request_namespace,
                                      const std::vector<VendorRequests>& per_vendor,
                                      int init_containers) {
  if (!config.check_quota) return std::nullopt;
  std::string ns(kube::StringAt(pod, {"metadata", "namespace"}));
  if (ns.empty()) ns = request_namespace.empty() ? "default" : std::string(request_namespace);
  QuotaAmounts least;
  for (const VendorRequests& vendor : per_vendor) {
    if (!vendor.used) continue;
    const QuotaAmounts amounts =
        RequestQuotaLowerBound(vendor.vendor->ResourceNames(), vendor.containers, init_containers,
                               /*smallest_device_mib=*/0, /*cores_known=*/true);
    for (const auto& [resource, amount] : amounts) least[resource] += amount;
  }
  if (least.empty()) return std::nullopt;
  auto violation = config.check_quota(ns, least);
  if (!violation) return std::nullopt;
  return violation->Message();
}

}  // namespace

std::shared_ptr<const VendorRegistry> DefaultWebhookVendors() {
  static const std::shared_ptr<const VendorRegistry> vendors = [] {
    auto registry = MakeVendorRegistry(DefaultDeviceConfig());
    return std::make_shared<const VendorRegistry>(registry.ok() ? std::move(*registry)
                                                                : VendorRegistry{});
  }();
  return vendors;
}

AdmissionDecision AdmitPod(const nlohmann::json& pod, const WebhookConfig& config,
                           std::string_view request_namespace) {
  AdmissionDecision allow;
  allow.patch = nlohmann::json::array();
  if (!pod.is_object()) return Refuse("request object is not a pod");
  const nlohmann::json* spec = ObjectAt(pod, "spec");
  if (spec == nullptr) return Refuse("pod has no spec");
  auto containers = spec->find("containers");
  if (containers == spec->end() || !containers->is_array() || containers->empty()) {
    return Refuse("pod has no containers");
  }
  const std::string scheduler = StringAt(*spec, "schedulerName");
  const bool ours = scheduler.empty() || scheduler == config.scheduler_name ||
                    (scheduler == "default-scheduler" && config.force_overwrite_default_scheduler);
  if (!ours) return allow;  // another scheduler's pod: not ours to touch

  nlohmann::json mutated = pod;
  bool uses_device = false;
  std::vector<VendorRequests> per_vendor;
  if (config.vendors != nullptr) {
    for (const Vendor* vendor : config.vendors->Vendors())
      per_vendor.push_back({vendor, {}, false});
  }
  int init_containers = 0;
  for (const char* list : {"initContainers", "containers"}) {
    nlohmann::json& mutated_spec = mutated["spec"];
    auto items = mutated_spec.find(list);
    if (items == mutated_spec.end() || items->is_null()) continue;
    if (!items->is_array()) return Refuse(std::string("spec.") + list + " is not a list");
    for (nlohmann::json& container : *items) {
      if (!container.is_object()) {
        return Refuse(std::string("spec.") + list + " has an entry that is not an object");
      }
      bool container_uses = false;
      if (std::string_view(list) == "initContainers") ++init_containers;
      if (auto refusal = MutateContainer(container, config, &container_uses, &per_vendor))
        return Refuse(*refusal);
      if (container_uses && Privileged(container)) {
        return Refuse(
            "container " + ContainerName(container) +
            " is privileged: a privileged container sees every GPU, so it cannot share one");
      }
      uses_device = uses_device || container_uses;
    }
  }
  if (uses_device) {
    // One vendor per pod, as /filter requires: refused here, at creation, where the user
    // sees why, rather than left Pending with a scheduling error.
    std::string vendors_used;
    int vendor_count = 0;
    for (const VendorRequests& vendor : per_vendor) {
      if (!vendor.used) continue;
      vendors_used += (vendor_count++ == 0 ? "" : ", ") + std::string(vendor.vendor->CommonWord());
    }
    if (vendor_count > 1) {
      return Refuse("pod asks for devices of several vendors (" + vendors_used +
                    "), which is not supported: all of a pod's devices must come from one vendor");
    }
    if (!StringAt(*spec, "nodeName").empty()) {
      return Refuse(
          "pod has node assigned (spec.nodeName): shared devices must be chosen by " +
          (config.scheduler_name.empty() ? std::string("the scheduler") : config.scheduler_name));
    }
    if (!config.scheduler_name.empty()) mutated["spec"]["schedulerName"] = config.scheduler_name;
    for (const VendorRequests& vendor : per_vendor) {
      const std::string_view runtime_class = vendor.vendor->RuntimeClassName();
      if (vendor.used && !runtime_class.empty() && !mutated["spec"].contains("runtimeClassName")) {
        mutated["spec"]["runtimeClassName"] = std::string(runtime_class);
      }
    }
    for (const VendorRequests& vendor : per_vendor) {
      if (!vendor.used) continue;
      if (auto refusal = MutatePodAnnotations(*vendor.vendor, vendor.containers, mutated)) {
        return Refuse(*refusal);
      }
    }
    if (auto refusal = CheckQuota(pod, config, request_namespace, per_vendor, init_containers)) {
      return Refuse(*refusal);
    }
  }
  allow.patch = nlohmann::json::diff(pod, mutated);
  return allow;
}

Result<std::string> HandleAdmissionReview(std::string_view body, const WebhookConfig& config) {
  nlohmann::json review = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded() || !review.is_object()) {
    return InvalidArgument("AdmissionReview body is not a JSON object");
  }
  const auto request = review.find("request");
  if (request == review.end() || !request->is_object()) {
    return InvalidArgument("AdmissionReview has no request");
  }
  const auto uid = request->find("uid");
  if (uid == request->end() || !uid->is_string() || uid->get_ref<const std::string&>().empty()) {
    return InvalidArgument("AdmissionReview request has no uid");
  }
  const auto object = request->find("object");
  if (object == request->end() || !object->is_object()) {
    return InvalidArgument("AdmissionReview request has no object");
  }
  AdmissionDecision decision;
  try {
    decision = AdmitPod(*object, config, StringAt(*request, "namespace"));
  } catch (const nlohmann::json::exception& e) {
    // Typed reads above avoid throwing; this keeps a missed corner from failing the request.
    decision = Refuse(std::string("malformed pod: ") + e.what());
  }
  nlohmann::ordered_json response;
  response["uid"] = *uid;
  response["allowed"] = decision.allowed;
  if (!decision.allowed) {
    response["status"] = {{"code", decision.code}, {"message", decision.message}};
  } else if (!decision.patch.empty()) {
    response["patchType"] = "JSONPatch";
    response["patch"] = EncodeBase64(decision.patch.dump());
  }
  nlohmann::ordered_json out;
  const std::string api_version = StringAt(review, "apiVersion");
  out["apiVersion"] = api_version.empty() ? "admission.k8s.io/v1" : api_version;
  out["kind"] = "AdmissionReview";
  out["response"] = response;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hami::scheduler
