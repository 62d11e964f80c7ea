#include "inspect_cmd.h"

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "device/codec.h"
#include "device/config.h"
#include "device/pair_scores.h"

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
  for (const std::string& section : config->ignored_sections) {
    out << "note: section '" << section << "' is accepted but not used by this build\n";
  }
  for (const std::string& key : config->ignored_keys) {
    out << "note: key '" << key << "' is accepted but not used by this build\n";
  }
  return 0;
}

int RunConfigDefault(std::ostream& out) {
  out << kDefaultDeviceConfigYaml;
  return 0;
}

const char* DecodeKinds() {
  return "node-devices, node-scores, pod-devices, node-lock, handshake, bind-phase";
}

int RunDecode(const std::string& kind, const std::string& value, std::ostream& out,
              std::ostream& err) {
  nlohmann::ordered_json result;
  if (kind == "node-devices") {
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
