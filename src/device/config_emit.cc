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
      !config.cambricon && !config.mthreads && !config.metax && !config.enflame && !config.kunlun &&
      !config.awsneuron && !config.vastai && !config.ascend && !config.scheduler) {
    return "{}\n";
  }
  YAML::Emitter out;
  auto str = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
  };
  auto num = [&](const char* key, const std::string& v) {
    out << YAML::Key << key << YAML::Value << v;
  };
  auto flag = [&](const char* key, bool v) { num(key, v ? "true" : "false"); };
  auto names = [&](const char* section,
                   std::initializer_list<std::pair<const char*, const std::string*>> fields) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const auto& [key, value] : fields) str(key, *value);
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
  if (config.cambricon) {
    const CambriconConfig& c = *config.cambricon;
    names("cambricon", {{"resourceCountName", &c.resource_count_name},
                        {"resourceMemoryName", &c.resource_memory_name},
                        {"resourceCoreName", &c.resource_core_name}});
    out << YAML::EndMap;
  }
  if (config.mthreads) {
    const MthreadsConfig& c = *config.mthreads;
    names("mthreads", {{"resourceCountName", &c.resource_count_name},
                       {"resourceMemoryName", &c.resource_memory_name},
                       {"resourceCoreName", &c.resource_core_name}});
    out << YAML::Key << "memoryPerCard" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (int32_t units : c.memory_per_card_units) out << units;
    out << YAML::EndSeq << YAML::EndMap;
  }
  if (config.metax) {
    const MetaxConfig& c = *config.metax;
    names("metax", {{"resourceCountName", &c.resource_count_name},
                    {"resourceVCountName", &c.resource_vcount_name},
                    {"resourceVMemoryName", &c.resource_vmemory_name},
                    {"resourceVCoreName", &c.resource_vcore_name}});
    flag("sgpuTopologyAware", c.sgpu_topology_aware);
    out << YAML::EndMap;
  }
  if (config.enflame) {
    const EnflameConfig& c = *config.enflame;
    names("enflame", {{"resourceNameGCU", &c.resource_name_gcu},
                      {"resourceNameDRSGCU", &c.resource_name_drs_gcu},
                      {"resourceNameGCUMemory", &c.resource_name_gcu_memory},
                      {"resourceNameGCUCore", &c.resource_name_gcu_core}});
    out << YAML::EndMap;
  }
  if (config.kunlun) {
    const KunlunConfig& c = *config.kunlun;
    names("kunlun", {{"resourceCountName", &c.resource_count_name},
                     {"resourceVCountName", &c.resource_vcount_name},
                     {"resourceVMemoryName", &c.resource_vmemory_name}});
    out << YAML::EndMap;
  }
  if (config.awsneuron) {
    const AwsNeuronConfig& c = *config.awsneuron;
    names("awsneuron", {{"resourceCountName", &c.resource_count_name},
                        {"resourceCoreName", &c.resource_core_name}});
    out << YAML::EndMap;
  }
  if (config.vastai) {
    names("vastai", {{"resourceCountName", &config.vastai->resource_count_name}});
    out << YAML::EndMap;
  }
  if (config.ascend) {
    out << YAML::Key << "vnpus" << YAML::Value << YAML::BeginMap;
    flag("hamiVnpuCore", config.ascend->hami_vnpu_core);
    out << YAML::Key << "configs" << YAML::Value << YAML::BeginSeq;
    for (const AscendChipConfig& c : config.ascend->configs) {
      out << YAML::BeginMap;
      str("chipName", c.chip_name);
      str("commonWord", c.common_word);
      str("resourceName", c.resource_name);
      str("resourceMemoryName", c.resource_memory_name);
      str("resourceCoreName", c.resource_core_name);
      num("memoryAllocatable", std::to_string(c.memory_allocatable));
      num("memoryCapacity", std::to_string(c.memory_capacity));
      num("memoryFactor", std::to_string(c.memory_factor));
      num("aiCore", std::to_string(c.ai_core));
      num("aiCPU", std::to_string(c.ai_cpu));
      str("runtimeClassName", c.runtime_class_name);
      flag("overwriteEnv", c.overwrite_env);
      flag("superPod", c.super_pod);
      out << YAML::Key << "templates" << YAML::Value << YAML::BeginSeq;
      for (const AscendTemplate& t : c.templates) {
        out << YAML::BeginMap;
        str("name", t.name);
        num("memory", std::to_string(t.memory));
        num("aiCore", std::to_string(t.ai_core));
        num("aiCPU", std::to_string(t.ai_cpu));
        out << YAML::EndMap;
      }
      out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
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
