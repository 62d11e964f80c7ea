// DeviceConfigToYaml: the effective device configuration rendered back as YAML.
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <string>

#include "device/config.h"

namespace hami {
namespace {

std::string FormatDouble(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) {
    return "1";
  }
  return std::string(buf, ptr);
}

}  // namespace

std::string DeviceConfigToYaml(const DeviceConfig& config) {
  if (!config.nvidia && !config.hygon && config.iluvatars.empty() && !config.amd && !config.biren &&
      !config.scheduler) {
    return "{}\n";
  }
  YAML::Emitter out;
  auto str = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
  };
  auto num = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << v;
  };
  out << YAML::BeginMap;
  if (config.nvidia) {
    const NvidiaConfig& c = *config.nvidia;
    out << YAML::Key << "nvidia" << YAML::Value << YAML::BeginMap;
    str("resourceCountName", c.resource_count_name);
    str("resourceMemoryName", c.resource_memory_name);
    str("resourceMemoryPercentageName", c.resource_memory_percentage_name);
    str("resourceCoreName", c.resource_core_name);
    str("resourcePriorityName", c.resource_priority_name);
    num("overwriteEnv", c.overwrite_env ? "true" : "false");
    num("defaultMemory", std::to_string(c.default_memory_mib));
    num("defaultCores", std::to_string(c.default_cores_percent));
    num("defaultGPUNum", std::to_string(c.default_gpu_num));
    num("preConfiguredDeviceMemory", std::to_string(c.preconfigured_device_memory_mib));
    num("memoryFactor", std::to_string(c.memory_factor));
    num("deviceSplitCount", std::to_string(c.device_split_count));
    num("deviceMemoryScaling", FormatDouble(c.device_memory_scaling));
    num("deviceCoreScaling", FormatDouble(c.device_core_scaling));
    num("enableNumaTopology", c.enable_numa_topology ? "true" : "false");
    str("gpuCorePolicy", std::string(GpuCorePolicyName(c.gpu_core_policy)));
    str("libCudaLogLevel", c.lib_cuda_log_level);
    str("runtimeClassName", c.runtime_class_name);
    num("disableCoreLimit", c.disable_core_limit ? "true" : "false");
    out << YAML::Key << "migProfileAllowlist" << YAML::Value << YAML::BeginSeq;
    for (const MigProfileAllowance& a : c.mig_profile_allowlist) {
      out << YAML::BeginMap;
      const std::pair<const char*, const std::vector<std::string>*> lists[] = {
          {"models", &a.models}, {"profiles", &a.profiles}};
      for (const auto& [key, list] : lists) {
        out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& s : *list) {
          out << YAML::DoubleQuoted << s;
        }
        out << YAML::EndSeq;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  if (config.hygon) {
    const HygonConfig& h = *config.hygon;
    out << YAML::Key << "hygon" << YAML::Value << YAML::BeginMap;
    str("resourceCountName", h.resource_count_name);
    str("resourceMemoryName", h.resource_memory_name);
    str("resourceCoreName", h.resource_core_name);
    num("memoryFactor", std::to_string(h.memory_factor));
    out << YAML::EndMap;
  }
  if (!config.iluvatars.empty()) {
    out << YAML::Key << "iluvatars" << YAML::Value << YAML::BeginSeq;
    for (const IluvatarConfig& i : config.iluvatars) {
      out << YAML::BeginMap;
      str("chipName", i.chip_name);
      str("commonWord", i.common_word);
      str("resourceCountName", i.resource_count_name);
      str("resourceMemoryName", i.resource_memory_name);
      str("resourceCoreName", i.resource_core_name);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (config.amd) {
    const AmdConfig& a = *config.amd;
    out << YAML::Key << "amd" << YAML::Value << YAML::BeginMap;
    str("resourceCountName", a.resource_count_name);
    str("resourceMemoryName", a.resource_memory_name);
    str("resourceCoreName", a.resource_core_name);
    out << YAML::EndMap;
  }
  if (config.biren) {
    out << YAML::Key << "biren" << YAML::Value << YAML::BeginMap;
    str("resourceCountName", config.biren->resource_count_name);
    out << YAML::EndMap;
  }
  if (config.scheduler) {
    const SchedulerPolicyConfig& sc = *config.scheduler;
    out << YAML::Key << "scheduler" << YAML::Value << YAML::BeginMap;
    str("nodeSchedulerPolicy", sc.node_scheduler_policy);
    str("gpuSchedulerPolicy", sc.gpu_scheduler_policy);
    num("fragWorkloadHalfLifePods", FormatDouble(sc.frag_workload_half_life_pods));
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hami
