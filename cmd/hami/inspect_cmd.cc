#include "inspect_cmd.h"

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "device/chart_config.h"
#include "device/codec.h"
#include "device/config.h"
#include "device/pair_scores.h"
#include "device/vendor.h"
#include "kube/objects.h"
#include "scheduler/state_sync.h"

namespace hami::cli {

namespace {

nlohmann::ordered_json DeviceJson(const DeviceInfo& d) {
  return {{"id", d.id},           {"index", d.index}, {"count", d.count}, {"devmem", d.devmem_mib},
          {"devcore", d.devcore}, {"type", d.type},   {"numa", d.numa},   {"mode", d.mode},
          {"health", d.health}};
}

const char* HandshakeKindName(HandshakeKind kind) {
  switch (kind) {
    case HandshakeKind::kNone:
      return "none";
    case HandshakeKind::kRequesting:
      return "requesting";
    case HandshakeKind::kReported:
      return "reported";
    case HandshakeKind::kDeleted:
      return "deleted";
  }
  return "none";
}

}  // namespace

int RunConfigValidate(const std::string& path, std::ostream& out, std::ostream& err) {
  Result<DeviceConfig> config = Status(StatusCode::kInternal, "unset");
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    config = LoadDeviceConfig(text, "<stdin>");
  } else {
    config = LoadDeviceConfigFile(path);
  }
  if (!config.ok()) {
    err << "error: " << config.status().message() << "\n";
    return 1;
  }
  if (!config->nvidia) {
    out << "ok: no nvidia section (NVIDIA scheduling disabled)\n";
  } else {
    const NvidiaConfig& n = *config->nvidia;
    out << "ok: nvidia enabled: split count " << n.device_split_count << ", memory scaling "
        << n.device_memory_scaling << ", core scaling " << n.device_core_scaling
        << ", default memory " << n.default_memory_mib << " MiB, default cores "
        << n.default_cores_percent << " %, default GPU count " << n.default_gpu_num
        << ", core policy " << GpuCorePolicyName(n.gpu_core_policy) << "\n";
  }
  if (config->hygon) {
    const HygonConfig& h = *config->hygon;
    out << "ok: hygon enabled: resources " << h.resource_count_name << ", "
        << h.resource_memory_name << ", " << h.resource_core_name << ", memory factor "
        << h.memory_factor << "\n";
  }
  for (const IluvatarConfig& i : config->iluvatars) {
    out << "ok: iluvatar " << i.common_word << " listed (scheduled with hami-scheduler "
        << "--enable-iluvatar): resources " << i.resource_count_name << ", "
        << i.resource_memory_name << ", " << i.resource_core_name << "\n";
  }
  if (config->amd) {
    const AmdConfig& a = *config->amd;
    out << "ok: amd enabled: resources " << a.resource_count_name << ", " << a.resource_memory_name
        << ", " << a.resource_core_name << "\n";
  }
  if (config->biren) {
    out << "ok: biren enabled: resource " << config->biren->resource_count_name << "\n";
  }
  auto enabled = [&](const char* section, std::initializer_list<const std::string*> resources) {
    out << "ok: " << section << " enabled: resources";
    const char* sep = " ";
    for (const std::string* r : resources) {
      out << sep << *r;
      sep = ", ";
    }
    out << "\n";
  };
  if (const auto& c = config->cambricon) {
    enabled("cambricon",
            {&c->resource_count_name, &c->resource_memory_name, &c->resource_core_name});
  }
  if (const auto& c = config->mthreads) {
    enabled("mthreads",
            {&c->resource_count_name, &c->resource_memory_name, &c->resource_core_name});
  }
  if (const auto& c = config->metax) {
    enabled("metax", {&c->resource_count_name, &c->resource_vcount_name, &c->resource_vmemory_name,
                      &c->resource_vcore_name});
  }
  if (const auto& c = config->enflame) {
    enabled("enflame", {&c->resource_name_gcu, &c->resource_name_drs_gcu,
                        &c->resource_name_gcu_memory, &c->resource_name_gcu_core});
  }
  if (const auto& c = config->kunlun) {
    enabled("kunlun",
            {&c->resource_count_name, &c->resource_vcount_name, &c->resource_vmemory_name});
  }
  if (const auto& c = config->awsneuron) {
    enabled("awsneuron", {&c->resource_count_name, &c->resource_core_name});
  }
  if (const auto& c = config->vastai) enabled("vastai", {&c->resource_count_name});
  if (const auto& c = config->ascend) {
    for (const AscendChipConfig& chip : c->configs) {
      out << "ok: ascend " << chip.common_word << " listed (scheduled with hami-scheduler "
          << "--enable-ascend): resources " << chip.resource_name << ", "
          << chip.resource_memory_name << ", " << chip.templates.size() << " vNPU templates\n";
    }
  }
  for (const std::string& key : config->ignored_keys) {
    out << "note: key '" << key << "' is accepted but not used by this build\n";
  }
  return 0;
}

int RunConfigDefault(bool all_vendors, std::ostream& out) {
  out << kDefaultDeviceConfigYaml;
  if (all_vendors) out << kChartVendorSectionsYaml;
  return 0;
}

Result<DeviceConfig> ChartDeviceConfig() {
  const std::string text = std::string(kDefaultDeviceConfigYaml) + kChartVendorSectionsYaml;
  HAMI_ASSIGN_OR_RETURN(DeviceConfig config, LoadDeviceConfig(text, "chart default"));
  config.enable_iluvatar = true;
  config.enable_ascend = true;
  return config;
}

const char* DecodeKinds() {
  return "node (a Node object as JSON: every vendor's devices), node-devices, legacy-devices, "
         "node-scores, pod-devices, node-lock, handshake, bind-phase";
}

namespace {

// `hami decode node`: what every vendor of the chart's default device config reads from a Node
// object (registration annotations, or capacity for the vendors whose devices come from it).
int DecodeNode(const std::string& value, std::ostream& out, std::ostream& err) {
  const nlohmann::json node = nlohmann::json::parse(value, nullptr, false);
  if (!node.is_object()) {
    err << "error: expected a Node object as JSON (e.g. kubectl get node NAME -o json)\n";
    return 1;
  }
  Result<DeviceConfig> config = ChartDeviceConfig();
  if (!config.ok()) {
    err << "error: " << config.status().message() << "\n";
    return 1;
  }
  Result<VendorRegistry> registry = MakeVendorRegistry(*config);
  if (!registry.ok()) {
    err << "error: " << registry.status().message() << "\n";
    return 1;
  }
  const NodeFacts facts = scheduler::NodeFactsOf(kube::NodeView(node));
  nlohmann::ordered_json result = nlohmann::ordered_json::object();
  int failures = 0;
  for (const Vendor* vendor : registry->Vendors()) {
    auto devices = vendor->DecodeNode(facts);
    if (!devices.ok() && devices.status().code() == StatusCode::kNotFound) continue;
    nlohmann::ordered_json& entry = result[std::string(vendor->CommonWord())];
    if (!devices.ok()) {
      entry = {{"error", devices.status().message()}};
      ++failures;
      continue;
    }
    entry = nlohmann::ordered_json::array();
    for (const DeviceInfo& d : *devices) entry.push_back(DeviceJson(d));
  }
  out << result.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace

int RunDecode(const std::string& kind, const std::string& value, std::ostream& out,
              std::ostream& err) {
  nlohmann::ordered_json result;
  if (kind == "node") return DecodeNode(value, out, err);
  if (kind == "legacy-devices") {
    auto devices = DecodeNodeDevicesLegacy(value);
    if (!devices.ok()) {
      err << "error: " << devices.status().message() << "\n";
      return 1;
    }
    result = nlohmann::ordered_json::array();
    for (const DeviceInfo& d : *devices) result.push_back(DeviceJson(d));
  } else if (kind == "node-devices") {
    auto devices = DecodeNodeDevices(value);
    if (!devices.ok()) {
      err << "error: " << devices.status().message() << "\n";
      return 1;
    }
    result = nlohmann::ordered_json::array();
    for (const DeviceInfo& d : *devices) result.push_back(DeviceJson(d));
  } else if (kind == "node-scores") {
    auto scores = DecodePairScoresJson(value);
    if (!scores.ok()) {
      err << "error: " << scores.status().message() << "\n";
      return 1;
    }
    result = nlohmann::ordered_json::array();
    for (const DevicePairScore& entry : *scores) {
      nlohmann::ordered_json peers = nlohmann::ordered_json::object();
      for (const auto& [peer, score] : entry.score) peers[peer] = score;
      result.push_back({{"uuid", entry.uuid}, {"score", peers}});
    }
  } else if (kind == "pod-devices") {
    auto pod = DecodePodDevices(value);
    if (!pod.ok()) {
      err << "error: " << pod.status().message() << "\n";
      return 1;
    }
    result = nlohmann::ordered_json::array();
    for (const ContainerDevices& container : *pod) {
      nlohmann::ordered_json devices = nlohmann::ordered_json::array();
      for (const ContainerDevice& d : container) {
        devices.push_back({{"uuid", d.uuid},
                           {"type", d.type},
                           {"usedmem", d.used_mem_mib},
                           {"usedcores", d.used_cores}});
      }
      result.push_back(devices);
    }
  } else if (kind == "node-lock") {
    auto lock = ParseNodeLock(value);
    if (!lock.ok()) {
      err << "error: " << lock.status().message() << "\n";
      return 1;
    }
    result = {{"unix_seconds", lock->unix_seconds},
              {"namespace", lock->ns},
              {"name", lock->name},
              {"legacy", lock->legacy}};
  } else if (kind == "handshake") {
    Handshake h = ParseHandshake(value, /*utc_offset_seconds=*/0);
    result = {{"kind", HandshakeKindName(h.kind)}};
    result["unix_seconds"] = h.unix_seconds ? nlohmann::ordered_json(*h.unix_seconds) : nullptr;
  } else if (kind == "bind-phase") {
    auto phase = ParseBindPhase(value);
    if (!phase.ok()) {
      err << "error: " << phase.status().message() << "\n";
      return 1;
    }
    result = {{"phase", std::string(BindPhaseName(*phase))}};
  } else {
    err << "error: unknown format '" << kind << "' (known: " << DecodeKinds() << ")\n";
    return 2;
  }
  out << result.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace hami::cli
