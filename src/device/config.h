// Device configuration: the scheduler's `--device-config-file` YAML (chart device-config.yaml).
//
// The `nvidia:`, `hygon:`, `iluvatars:`, `amd:` and `biren:` sections are interpreted (a vendor is
// enabled by its section, as in HAMi). The other vendor sections of HAMi's chart (cambricon, metax,
// enflame, mthreads, kunlun, awsneuron, vastai, vnpus) are accepted and listed in
// DeviceConfig::ignored_sections so a HAMi config file loads unchanged; any other top-level key
// is an error. Inside `hygon:`, `amd:` and `biren:`, unknown keys are errors. Inside `nvidia:`,
// unknown keys are errors, except the few that some HAMi releases accept but this implementation
// does not use (listed in DeviceConfig::ignored_keys). A key given with no value (YAML null, as the
// chart renders an unset `libCudaLogLevel:`) keeps its default. Value types; thread-compatible.
// Load functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami {

// Webhook-injected GPU_CORE_UTILIZATION_POLICY (§2.2, §4).
enum class GpuCorePolicy { kDefault, kForce, kDisable };

// "default" | "force" | "disable".
std::string_view GpuCorePolicyName(GpuCorePolicy policy);

// MIG profiles allowed on GPU models whose name contains one of `models` (substring match).
struct MigProfileAllowance {
  std::vector<std::string> models;
  std::vector<std::string> profiles;  // e.g. "1g.10gb"

  bool operator==(const MigProfileAllowance&) const = default;
};

// The `nvidia:` section. Defaults are the chart's (spec §2.2).
struct NvidiaConfig {
  std::string resource_count_name = "nvidia.com/gpu";
  std::string resource_memory_name = "nvidia.com/gpumem";
  std::string resource_memory_percentage_name = "nvidia.com/gpumem-percentage";
  std::string resource_core_name = "nvidia.com/gpucores";
  std::string resource_priority_name = "nvidia.com/priority";
  bool overwrite_env = false;          // NVIDIA_VISIBLE_DEVICES=none for non-GPU containers
  int32_t default_memory_mib = 0;      // per GPU when no memory is requested; 0 => 100 %
  int32_t default_cores_percent = 0;   // 0..100
  int32_t default_gpu_num = 1;         // injected when only mem/cores/percentage are given
  int32_t memory_factor = 1;           // multiplies the gpumem request, >= 1
  int32_t device_split_count = 10;     // tasks per GPU, 1..1000
  double device_memory_scaling = 1.0;  // > 0; > 1 oversubscribes memory
  double device_core_scaling = 1.0;    // > 0
  int32_t preconfigured_device_memory_mib = 0;  // fallback when NVML cannot report memory
  bool enable_numa_topology = false;
  std::string lib_cuda_log_level;  // "" = unset, else "0".."4" (LIBCUDA_LOG_LEVEL)
  GpuCorePolicy gpu_core_policy = GpuCorePolicy::kDefault;
  std::string runtime_class_name;  // "" = do not set
  bool disable_core_limit = false;
  std::vector<MigProfileAllowance> mig_profile_allowlist;

  bool operator==(const NvidiaConfig&) const = default;
};

// The `hygon:` section (Hygon DCU; HAMi's HygonConfig). Defaults are the chart's.
struct HygonConfig {
  std::string resource_count_name = "hygon.com/dcunum";
  std::string resource_memory_name = "hygon.com/dcumem";
  std::string resource_core_name = "hygon.com/dcucores";
  // Multiplies the dcumem request, >= 1 (HAMi reads an absent or 0 memoryFactor as 1).
  int32_t memory_factor = 1;

  bool operator==(const HygonConfig&) const = default;
};

// The `amd:` section (AMD GPUs; HAMi's AMDConfig). Defaults are the chart's.
struct AmdConfig {
  std::string resource_count_name = "amd.com/gpu";
  std::string resource_memory_name = "amd.com/gpumem";  // MiB
  std::string resource_core_name = "amd.com/gpucores";  // percent, 1..100

  bool operator==(const AmdConfig&) const = default;
};

// The `biren:` section (Biren GPUs; HAMi's BirenConfig). Defaults are the chart's.
struct BirenConfig {
  std::string resource_count_name = "birentech.com/gpu";

  bool operator==(const BirenConfig&) const = default;
};

// One entry of the `iluvatars:` list (HAMi's IluvatarConfig): one vendor per chip model, its
// CommonWord naming its annotation keys (hami.io/node-<commonWord>-register, ...).
struct IluvatarConfig {
  std::string chip_name;             // e.g. "BI-V150"
  std::string common_word;           // e.g. "BI-V150": vendor key and annotation-key segment
  std::string resource_count_name;   // e.g. "iluvatar.ai/BI-V150-vgpu"
  std::string resource_memory_name;  // e.g. "iluvatar.ai/BI-V150.vMem" (units of 256 MiB)
  std::string resource_core_name;    // e.g. "iluvatar.ai/BI-V150.vCore" (percent)

  bool operator==(const IluvatarConfig&) const = default;
};

// The `scheduler:` section (ours; HAMi sets these only through flags): defaults for pods that
// do not choose with hami.io/node-scheduler-policy / gpu-scheduler-policy. A scheduler flag
// given explicitly wins over the file.
struct SchedulerPolicyConfig {
  std::string node_scheduler_policy;  // "" = the flag's default; binpack | spread | hami-frag
  std::string gpu_scheduler_policy;   // "" = the flag's default; e.g. spread, binpack,numa
  // hami-frag's learned workload: after this many further pods a pod's weight is halved.
  double frag_workload_half_life_pods = 5000;

  bool operator==(const SchedulerPolicyConfig&) const = default;
};

struct DeviceConfig {
  // Present iff the YAML has an `nvidia:` key: NVIDIA scheduling is enabled by its section.
  std::optional<NvidiaConfig> nvidia;
  std::optional<SchedulerPolicyConfig> scheduler;
  // Recognised HAMi vendor sections that were present but are not interpreted, in file order.
  std::vector<std::string> ignored_sections;
  // Recognised-but-unused keys inside `nvidia:`, as "nvidia.<key>", in file order.
  std::vector<std::string> ignored_keys;
  // Present iff the YAML has a `hygon:` key: Hygon DCU scheduling is enabled by its section.
  std::optional<HygonConfig> hygon;
  // The `iluvatars:` list, in file order. As in HAMi, the chips are scheduled only when
  // enable_iluvatar is also set (the scheduler's --enable-iluvatar flag; not part of the YAML).
  std::vector<IluvatarConfig> iluvatars;
  bool enable_iluvatar = false;
  // Present iff the YAML has an `amd:` key: AMD GPU scheduling is enabled by its section.
  std::optional<AmdConfig> amd;
  // Present iff the YAML has a `biren:` key: Biren GPU scheduling is enabled by its section.
  std::optional<BirenConfig> biren;

  bool operator==(const DeviceConfig&) const = default;
};

// The chart's default device-config.yaml `nvidia:` section (spec §2.2, deviceSplitCount 10,
// the chart's MIG allow-list). LoadDeviceConfig(kDefaultDeviceConfigYaml) yields
// DefaultDeviceConfig().
inline constexpr char kDefaultDeviceConfigYaml[] = R"(nvidia:
  resourceCountName: nvidia.com/gpu
  resourceMemoryName: nvidia.com/gpumem
  resourceMemoryPercentageName: nvidia.com/gpumem-percentage
  resourceCoreName: nvidia.com/gpucores
  resourcePriorityName: nvidia.com/priority
  overwriteEnv: false
  defaultMemory: 0
  defaultCores: 0
  defaultGPUNum: 1
  preConfiguredDeviceMemory: 0
  memoryFactor: 1
  deviceSplitCount: 10
  deviceMemoryScaling: 1
  deviceCoreScaling: 1
  enableNumaTopology: false
  gpuCorePolicy: default
  libCudaLogLevel:
  runtimeClassName: ""
  migProfileAllowlist:
  - models: ["A30"]
    profiles: ["1g.6gb", "2g.12gb", "4g.24gb"]
  - models: ["A100-SXM4-40GB", "A100-40GB-PCIe", "A100-PCIE-40GB"]
    profiles: ["1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"]
  - models: ["A100-SXM4-80GB", "A100-80GB-PCIe", "A100-PCIE-80GB"]
    profiles: ["1g.10gb", "2g.20gb", "3g.40gb", "7g.79gb"]
  - models: ["H100-PCIE-80GB", "H100-SXM5-80GB"]
    profiles: ["1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"]
  - models: ["H100-PCIE-94GB", "H100-SXM5-94GB"]
    profiles: ["1g.12gb", "2g.24gb", "3g.47gb", "7g.94gb"]
  - models: ["H20", "H100 on GH200"]
    profiles: ["1g.12gb", "2g.24gb", "3g.48gb", "7g.96gb"]
  - models: ["H200 NVL", "H200-SXM5"]
    profiles: ["1g.18gb", "2g.35gb", "3g.71gb", "7g.141gb"]
  - models: ["B200"]
    profiles: ["1g.23gb", "2g.45gb", "3g.90gb", "7g.180gb"]
  - models: ["RTX PRO 6000 Blackwell Server Edition"]
    profiles: ["1g.24gb", "2g.48gb", "4g.96gb"]
)";

// NvidiaConfig{} plus the chart's migProfileAllowlist, wrapped in a DeviceConfig.
DeviceConfig DefaultDeviceConfig();

// Checks ranges: split count 1..1000, scalings finite and > 0, memory factor >= 1, defaults
// >= 0, default cores <= 100, resource names non-empty Kubernetes resource-name characters,
// runtime class a DNS subdomain or empty, log level "" or "0".."4", no control characters in
// MIG model/profile names.
// Failure: InvalidArgument naming the YAML key ("nvidia.deviceSplitCount: ...").
Status ValidateNvidiaConfig(const NvidiaConfig& config);

// Checks chipName/commonWord (non-empty, letters, digits, '-', '_', '.', at most 63
// characters: the commonWord becomes part of annotation keys) and the resource names.
// Failure: InvalidArgument naming the YAML key ("iluvatars[1].commonWord: ...").
Status ValidateIluvatarConfig(const IluvatarConfig& config, size_t index);

// Checks resource names (as for NVIDIA) and memoryFactor >= 1.
// Failure: InvalidArgument naming the YAML key ("hygon.memoryFactor: ...").
Status ValidateHygonConfig(const HygonConfig& config);

// Checks the resource names (as for NVIDIA).
// Failure: InvalidArgument naming the YAML key ("amd.resourceCoreName: ...").
Status ValidateAmdConfig(const AmdConfig& config);

// Checks the resource name (as for NVIDIA).
// Failure: InvalidArgument naming the YAML key ("biren.resourceCountName: ...").
Status ValidateBirenConfig(const BirenConfig& config);

// Parses and validates a device config document. `source_name` (e.g. a file path) prefixes
// error messages; line/column are added where the YAML parser knows them ("line 3, column 21").
// Failure: InvalidArgument for YAML syntax errors, an empty document, a non-mapping top level
// or section, unknown keys, duplicate keys, wrong value types, failed validation.
Result<DeviceConfig> LoadDeviceConfig(std::string_view yaml_text,
                                      std::string_view source_name = "device config");

// Reads `path` (at most 4 MiB) and calls LoadDeviceConfig with the path as source name.
// The only file I/O in this module (config_file.cc). Thread-safe.
// Failure: NotFound when the file cannot be opened, InvalidArgument when it is too large or
// does not load.
Result<DeviceConfig> LoadDeviceConfigFile(const std::string& path);

// Renders the effective configuration as YAML (the `nvidia:`, `hygon:`, `iluvatars:`, `amd:`,
// `biren:` and `scheduler:` sections that are present; ignored sections are not kept).
// LoadDeviceConfig( DeviceConfigToYaml(c)) gives c's vendor sections and scheduler back for any
// valid c.
std::string DeviceConfigToYaml(const DeviceConfig& config);

}  // namespace hami
