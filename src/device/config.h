// Device configuration: the scheduler's `--device-config-file` YAML (chart device-config.yaml).
//
// Every vendor section of HAMi's chart is interpreted (nvidia, cambricon, hygon, metax, enflame,
// mthreads, iluvatars, kunlun, awsneuron, amd, vastai, biren, vnpus): a vendor is enabled by its
// section, as in HAMi (Iluvatar and Ascend also need the scheduler's --enable-iluvatar /
// --enable-ascend). Any other top-level key except `scheduler:` is an error. Unknown keys inside
// a section are errors, except the few that some HAMi releases accept but this implementation
// does not use (listed in DeviceConfig::ignored_keys). A key given with no value (YAML null, as
// the chart renders an unset `libCudaLogLevel:`) keeps its default. Value types;
// thread-compatible. Load functions are pure and thread-safe.
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

// The `cambricon:` section (Cambricon MLU; HAMi's CambriconConfig). Defaults are the chart's.
struct CambriconConfig {
  std::string resource_count_name = "cambricon.com/vmlu";
  std::string resource_memory_name = "cambricon.com/mlu.smlu.vmemory";  // units of 256 MiB
  std::string resource_core_name = "cambricon.com/mlu.smlu.vcore";      // percent

  bool operator==(const CambriconConfig&) const = default;
};

// The `mthreads:` section (Moore Threads; HAMi's MthreadsConfig). Defaults are the chart's.
struct MthreadsConfig {
  std::string resource_count_name = "mthreads.com/vgpu";
  std::string resource_memory_name = "mthreads.com/sgpu-memory";  // units of 512 MiB
  std::string resource_core_name = "mthreads.com/sgpu-core";      // core groups
  // HAMi's memoryPerCard: memory per card in units of 512 MiB, one entry per card model (the
  // chart's default [96] = a 48 GiB MTT S4000).
  std::vector<int32_t> memory_per_card_units = {96};

  bool operator==(const MthreadsConfig&) const = default;
};

// The `metax:` section (MetaX; HAMi's MetaxConfig). Defaults are the chart's.
struct MetaxConfig {
  std::string resource_count_name = "metax-tech.com/gpu";        // whole cards
  std::string resource_vcount_name = "metax-tech.com/sgpu";      // shared GPUs
  std::string resource_vmemory_name = "metax-tech.com/vmemory";  // GiB
  std::string resource_vcore_name = "metax-tech.com/vcore";      // percent
  bool sgpu_topology_aware = false;

  bool operator==(const MetaxConfig&) const = default;
};

// The `enflame:` section (Enflame GCU; HAMi's EnflameConfig). Defaults are the chart's.
struct EnflameConfig {
  std::string resource_name_gcu = "enflame.com/gcu";                // whole cards
  std::string resource_name_drs_gcu = "enflame.com/drs-gcu";        // DRS shares
  std::string resource_name_gcu_memory = "enflame.com/gcu-memory";  // GiB
  std::string resource_name_gcu_core = "enflame.com/gcu-core";      // percent

  bool operator==(const EnflameConfig&) const = default;
};

// The `kunlun:` section (Kunlunxin XPU; HAMi's KunlunConfig). Defaults are the chart's.
struct KunlunConfig {
  std::string resource_count_name = "kunlunxin.com/xpu";            // whole XPUs
  std::string resource_vcount_name = "kunlunxin.com/vxpu";          // vXPUs
  std::string resource_vmemory_name = "kunlunxin.com/vxpu-memory";  // MiB

  bool operator==(const KunlunConfig&) const = default;
};

// The `awsneuron:` section (AWS Neuron; HAMi's AWSNeuronConfig). Defaults are the chart's.
struct AwsNeuronConfig {
  std::string resource_count_name = "aws.amazon.com/neuron";
  std::string resource_core_name = "aws.amazon.com/neuroncore";

  bool operator==(const AwsNeuronConfig&) const = default;
};

// The `vastai:` section (Vastai; HAMi's VastaiConfig). Defaults are the chart's.
struct VastaiConfig {
  std::string resource_count_name = "vastaitech.com/va";

  bool operator==(const VastaiConfig&) const = default;
};

// One vNPU template of an Ascend chip (`vnpus.configs[].templates[]`).
struct AscendTemplate {
  std::string name;     // e.g. "vir05_1c_16g"
  int32_t memory = 0;   // MiB, > 0
  int32_t ai_core = 0;  // >= 0
  int32_t ai_cpu = 0;   // >= 0

  bool operator==(const AscendTemplate&) const = default;
};

// One entry of `vnpus.configs` (HAMi's VNPUConfig): one vendor per Ascend chip model.
struct AscendChipConfig {
  std::string chip_name;             // e.g. "910B3"
  std::string common_word;           // e.g. "Ascend910B3": vendor key and annotation-key segment
  std::string resource_name;         // e.g. "huawei.com/Ascend910B3"
  std::string resource_memory_name;  // e.g. "huawei.com/Ascend910B3-memory" (MiB)
  std::string resource_core_name;    // e.g. "huawei.com/Ascend910B3-core"
  int32_t memory_allocatable = 0;    // MiB
  int32_t memory_capacity = 0;       // MiB
  int32_t memory_factor = 1;         // >= 1
  int32_t ai_core = 0;
  int32_t ai_cpu = 0;
  std::string runtime_class_name;  // "" = do not set
  bool overwrite_env = false;
  bool super_pod = false;  // 910C: devices are taken in module pairs
  std::vector<AscendTemplate> templates;

  bool operator==(const AscendChipConfig&) const = default;
};

// The `vnpus:` section (HAMi's Ascend configuration).
struct AscendConfig {
  bool hami_vnpu_core = false;  // hamiVnpuCore: the hami-core vNPU mode is available
  std::vector<AscendChipConfig> configs;

  bool operator==(const AscendConfig&) const = default;
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
  // Recognised-but-unused keys, as "<section>.<key>" (nvidia's, and the vnpus keys only the
  // Ascend device plugin reads), in file order.
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
  // Each present iff the YAML has its key: that vendor is enabled by its section, as in HAMi.
  std::optional<CambriconConfig> cambricon;
  std::optional<MthreadsConfig> mthreads;
  std::optional<MetaxConfig> metax;
  std::optional<EnflameConfig> enflame;
  std::optional<KunlunConfig> kunlun;
  std::optional<AwsNeuronConfig> awsneuron;
  std::optional<VastaiConfig> vastai;
  // The `vnpus:` section. As in HAMi, the Ascend chips are scheduled only when enable_ascend
  // is also set (the scheduler's --enable-ascend flag; not part of the YAML).
  std::optional<AscendConfig> ascend;
  bool enable_ascend = false;

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

// Check the resource names (as for NVIDIA) and, where the section has them, the numbers
// (Moore Threads' memoryPerCard entries > 0; Ascend's chip and commonWord as Iluvatar's, memory
// sizes > 0, memoryFactor >= 1, templates with a name and memory > 0, commonWords unique).
// Failure: InvalidArgument naming the YAML key ("vnpus.configs[2].templates[0].memory: ...").
Status ValidateCambriconConfig(const CambriconConfig& config);
Status ValidateMthreadsConfig(const MthreadsConfig& config);
Status ValidateMetaxConfig(const MetaxConfig& config);
Status ValidateEnflameConfig(const EnflameConfig& config);
Status ValidateKunlunConfig(const KunlunConfig& config);
Status ValidateAwsNeuronConfig(const AwsNeuronConfig& config);
Status ValidateVastaiConfig(const VastaiConfig& config);
Status ValidateAscendConfig(const AscendConfig& config);

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

// Renders the effective configuration as YAML (every vendor section that is present, and
// `scheduler:`).
// LoadDeviceConfig( DeviceConfigToYaml(c)) gives c's vendor sections and scheduler back for any
// valid c.
std::string DeviceConfigToYaml(const DeviceConfig& config);

}  // namespace hami
