#include "device/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <variant>

#include "common/strings.h"

namespace hami {

namespace {

// `nvidia:` keys that some HAMi releases read but that have no effect here.
constexpr std::string_view kIgnoredNvidiaKeys[] = {
    "knownMigGeometries", "mockModeSkipHealthCheck", "dynamicConfigFile",
    "deviceClassName",    "draDriverName",           "gpuMemoryFactor",
};

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view key) {
  for (std::string_view k : list) {
    if (k == key) {
      return true;
    }
  }
  return false;
}

struct FieldError {
  std::string key;  // YAML key inside `nvidia:`
  std::string message;
};

bool IsResourceNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '/';
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) {
      return false;
    }
  }
  return true;
}

struct NamedResource {
  const char* key;
  const std::string* value;
};

std::optional<FieldError> FindInvalidResourceName(std::initializer_list<NamedResource> names) {
  for (const NamedResource& n : names) {
    if (n.value->empty() || n.value->size() > 253) {
      return FieldError{n.key, "must be a non-empty resource name of at most 253 characters"};
    }
    for (char ch : *n.value) {
      if (!IsResourceNameChar(ch)) {
        return FieldError{n.key, "resource name " + QuoteForError(*n.value) +
                                     " may only contain letters, digits, '.', '-', '_' and '/'"};
      }
    }
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const HygonConfig& c) {
  if (auto bad = FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                          {"resourceMemoryName", &c.resource_memory_name},
                                          {"resourceCoreName", &c.resource_core_name}})) {
    return bad;
  }
  if (c.memory_factor < 1) {
    return FieldError{"memoryFactor", "must be >= 1, got " + std::to_string(c.memory_factor)};
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const AmdConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                  {"resourceMemoryName", &c.resource_memory_name},
                                  {"resourceCoreName", &c.resource_core_name}});
}

std::optional<FieldError> FindInvalidField(const BirenConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name}});
}

// chipName / commonWord of a per-chip vendor entry: they become parts of annotation keys.
std::optional<FieldError> FindInvalidChipNames(const std::string& chip_name,
                                               const std::string& common_word) {
  for (const NamedResource& n :
       {NamedResource{"chipName", &chip_name}, NamedResource{"commonWord", &common_word}}) {
    bool ok = !n.value->empty() && n.value->size() <= 63;
    for (char ch : *n.value) {
      ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.');
    }
    if (!ok) {
      return FieldError{n.key, QuoteForError(*n.value) +
                                   " must be 1..63 letters, digits, '-', '_' or '.' (it names "
                                   "annotation keys)"};
    }
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const CambriconConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                  {"resourceMemoryName", &c.resource_memory_name},
                                  {"resourceCoreName", &c.resource_core_name}});
}

std::optional<FieldError> FindInvalidField(const MthreadsConfig& c) {
  if (auto bad = FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                          {"resourceMemoryName", &c.resource_memory_name},
                                          {"resourceCoreName", &c.resource_core_name}})) {
    return bad;
  }
  for (int32_t units : c.memory_per_card_units) {
    if (units <= 0) {
      return FieldError{"memoryPerCard",
                        "entries must be > 0 (units of 512 MiB), got " + std::to_string(units)};
    }
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const MetaxConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                  {"resourceVCountName", &c.resource_vcount_name},
                                  {"resourceVMemoryName", &c.resource_vmemory_name},
                                  {"resourceVCoreName", &c.resource_vcore_name}});
}

std::optional<FieldError> FindInvalidField(const EnflameConfig& c) {
  return FindInvalidResourceName({{"resourceNameGCU", &c.resource_name_gcu},
                                  {"resourceNameDRSGCU", &c.resource_name_drs_gcu},
                                  {"resourceNameGCUMemory", &c.resource_name_gcu_memory},
                                  {"resourceNameGCUCore", &c.resource_name_gcu_core}});
}

std::optional<FieldError> FindInvalidField(const KunlunConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                  {"resourceVCountName", &c.resource_vcount_name},
                                  {"resourceVMemoryName", &c.resource_vmemory_name}});
}

std::optional<FieldError> FindInvalidField(const AwsNeuronConfig& c) {
  return FindInvalidResourceName(
      {{"resourceCountName", &c.resource_count_name}, {"resourceCoreName", &c.resource_core_name}});
}

std::optional<FieldError> FindInvalidField(const VastaiConfig& c) {
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name}});
}

std::optional<FieldError> FindInvalidField(const AscendChipConfig& c) {
  if (auto bad = FindInvalidChipNames(c.chip_name, c.common_word)) return bad;
  if (auto bad = FindInvalidResourceName({{"resourceName", &c.resource_name},
                                          {"resourceMemoryName", &c.resource_memory_name},
                                          {"resourceCoreName", &c.resource_core_name}})) {
    return bad;
  }
  if (c.memory_allocatable <= 0) return FieldError{"memoryAllocatable", "must be > 0 (MiB)"};
  if (c.memory_capacity <= 0) return FieldError{"memoryCapacity", "must be > 0 (MiB)"};
  if (c.memory_factor < 1) return FieldError{"memoryFactor", "must be >= 1"};
  if (c.ai_core < 0 || c.ai_cpu < 0) return FieldError{"aiCore", "aiCore and aiCPU must be >= 0"};
  for (size_t i = 0; i < c.templates.size(); ++i) {
    const AscendTemplate& t = c.templates[i];
    const std::string at = "templates[" + std::to_string(i) + "]";
    if (t.name.empty() || !IsPrintableAscii(t.name)) {
      return FieldError{at + ".name", "must be non-empty printable ASCII"};
    }
    if (t.memory <= 0) return FieldError{at + ".memory", "must be > 0 (MiB)"};
    if (t.ai_core < 0 || t.ai_cpu < 0) {
      return FieldError{at + ".aiCore", "aiCore and aiCPU must be >= 0"};
    }
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const AscendConfig& c) {
  for (size_t i = 0; i < c.configs.size(); ++i) {
    const std::string at = "configs[" + std::to_string(i) + "]";
    if (auto bad = FindInvalidField(c.configs[i])) {
      return FieldError{at + "." + bad->key, bad->message};
    }
    for (size_t j = 0; j < i; ++j) {
      if (c.configs[j].common_word == c.configs[i].common_word) {
        return FieldError{at + ".commonWord",
                          QuoteForError(c.configs[i].common_word) + " is listed twice"};
      }
    }
  }
  return std::nullopt;
}

std::optional<FieldError> FindInvalidField(const IluvatarConfig& c) {
  if (auto bad = FindInvalidChipNames(c.chip_name, c.common_word)) return bad;
  return FindInvalidResourceName({{"resourceCountName", &c.resource_count_name},
                                  {"resourceMemoryName", &c.resource_memory_name},
                                  {"resourceCoreName", &c.resource_core_name}});
}

std::optional<FieldError> FindInvalidField(const NvidiaConfig& c) {
  if (auto bad = FindInvalidResourceName(
          {{"resourceCountName", &c.resource_count_name},
           {"resourceMemoryName", &c.resource_memory_name},
           {"resourceMemoryPercentageName", &c.resource_memory_percentage_name},
           {"resourceCoreName", &c.resource_core_name},
           {"resourcePriorityName", &c.resource_priority_name}})) {
    return bad;
  }
  auto range = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
  if (!range(c.default_memory_mib, 0, kI32Max)) {
    return FieldError{"defaultMemory",
                      "must be >= 0 (MiB), got " + std::to_string(c.default_memory_mib)};
  }
  if (!range(c.default_cores_percent, 0, 100)) {
    return FieldError{"defaultCores",
                      "must be 0..100 (percent), got " + std::to_string(c.default_cores_percent)};
  }
  if (!range(c.default_gpu_num, 0, kI32Max)) {
    return FieldError{"defaultGPUNum", "must be >= 0, got " + std::to_string(c.default_gpu_num)};
  }
  if (!range(c.memory_factor, 1, kI32Max)) {
    return FieldError{"memoryFactor", "must be >= 1, got " + std::to_string(c.memory_factor)};
  }
  if (!range(c.device_split_count, 1, 1000)) {
    return FieldError{"deviceSplitCount",
                      "must be 1..1000, got " + std::to_string(c.device_split_count)};
  }
  if (!std::isfinite(c.device_memory_scaling) || c.device_memory_scaling <= 0) {
    return FieldError{"deviceMemoryScaling", "must be a finite number > 0"};
  }
  if (!std::isfinite(c.device_core_scaling) || c.device_core_scaling <= 0) {
    return FieldError{"deviceCoreScaling", "must be a finite number > 0"};
  }
  if (!range(c.preconfigured_device_memory_mib, 0, kI32Max)) {
    return FieldError{"preConfiguredDeviceMemory", "must be >= 0 (MiB)"};
  }
  const std::string& level = c.lib_cuda_log_level;
  if (!level.empty() && !(level.size() == 1 && level[0] >= '0' && level[0] <= '4')) {
    return FieldError{"libCudaLogLevel",
                      "must be empty or one of 0, 1, 2, 3, 4, got " + QuoteForError(level)};
  }
  const std::string& rc = c.runtime_class_name;
  if (!rc.empty()) {
    bool ok = rc.size() <= 253;
    for (char ch : rc) {
      ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.');
    }
    auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
    ok = ok && alnum(rc.front()) && alnum(rc.back());
    if (!ok) {
      return FieldError{"runtimeClassName",
                        QuoteForError(rc) +
                            " is not a DNS subdomain (lowercase letters, digits, "
                            "'-', '.', starting and ending alphanumeric)"};
    }
  }
  for (const MigProfileAllowance& a : c.mig_profile_allowlist) {
    for (const std::vector<std::string>* list : {&a.models, &a.profiles}) {
      for (const std::string& s : *list) {
        if (s.empty() || !IsPrintableAscii(s)) {
          return FieldError{"migProfileAllowlist", "model/profile name " + QuoteForError(s) +
                                                       " must be non-empty printable ASCII"};
        }
      }
    }
  }
  return std::nullopt;
}

// ---- YAML reading --------------------------------------------------------------------------

class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Status Error(const YAML::Node& at, const std::string& path, const std::string& msg) const {
    return Error(at.Mark(), path, msg);
  }
  Status Error(const YAML::Mark& mark, const std::string& path, const std::string& msg) const {
    std::string out(source_);
    if (!mark.is_null()) {
      out +=
          ": line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
    }
    if (!path.empty()) {
      out += ": " + path;
    }
    return InvalidArgument(out + ": " + msg);
  }

  Status Scalar(const YAML::Node& n, const std::string& path, std::string* out) const {
    if (!n.IsScalar()) {
      return Error(n, path, "expected a single value, got a list or mapping");
    }
    *out = n.Scalar();
    return Status::Ok();
  }

  Status Int32(const YAML::Node& n, const std::string& path, int32_t* out) const {
    std::string s;
    HAMI_RETURN_IF_ERROR(Scalar(n, path, &s));
    std::optional<int32_t> v = ParseInt32(s);
    if (!v) {
      return Error(n, path, "expected a decimal 32-bit integer, got " + QuoteForError(s));
    }
    *out = *v;
    return Status::Ok();
  }

  Status Double(const YAML::Node& n, const std::string& path, double* out) const {
    std::string s;
    HAMI_RETURN_IF_ERROR(Scalar(n, path, &s));
    std::string_view t = s;
    if (!t.empty() && t.front() == '+') {
      t.remove_prefix(1);
    }
    double v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
      return Error(n, path, "expected a number, got " + QuoteForError(s));
    }
    *out = v;
    return Status::Ok();
  }

  Status Bool(const YAML::Node& n, const std::string& path, bool* out) const {
    std::string s;
    HAMI_RETURN_IF_ERROR(Scalar(n, path, &s));
    // YAML 1.1 booleans, as Go's yaml.v2 reads them.
    static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                                 "YES",  "on",   "On",   "ON"};
    static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No",
                                                  "NO",    "off",   "Off",   "OFF"};
    if (Contains(kTrue, s)) {
      *out = true;
    } else if (Contains(kFalse, s)) {
      *out = false;
    } else {
      return Error(n, path, "expected true or false, got " + QuoteForError(s));
    }
    return Status::Ok();
  }

  Status StringList(const YAML::Node& n, const std::string& path,
                    std::vector<std::string>* out) const {
    if (n.IsNull()) {
      return Status::Ok();
    }
    if (!n.IsSequence()) {
      return Error(n, path, "expected a list of strings");
    }
    for (size_t i = 0; i < n.size(); ++i) {
      std::string s;
      HAMI_RETURN_IF_ERROR(Scalar(n[i], path + "[" + std::to_string(i) + "]", &s));
      out->push_back(std::move(s));
    }
    return Status::Ok();
  }

  // Calls `fn(key, key_node, value_node)` for each entry of a mapping; rejects non-scalar and
  // duplicate keys.
  Status ForEachEntry(const YAML::Node& map, const std::string& path,
                      const std::function<Status(const std::string&, const YAML::Node&,
                                                 const YAML::Node&)>& fn) const {
    if (!map.IsMap()) {
      return Error(map, path, "expected a mapping of key: value");
    }
    std::set<std::string, std::less<>> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies: the iterator's key/value proxy is a temporary.
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        return Error(k, path, "keys must be plain strings");
      }
      const std::string& key = k.Scalar();
      std::string key_path = path;
      if (!key_path.empty()) {
        key_path += '.';
      }
      key_path += key;
      if (!seen.insert(key).second) {
        return Error(k, key_path, "duplicate key");
      }
      HAMI_RETURN_IF_ERROR(fn(key, k, v));
    }
    return Status::Ok();
  }

  Status MigAllowlist(const YAML::Node& n, const std::string& path,
                      std::vector<MigProfileAllowance>* out) const {
    if (n.IsNull()) {
      return Status::Ok();
    }
    if (!n.IsSequence()) {
      return Error(n, path, "expected a list of {models, profiles}");
    }
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      MigProfileAllowance a;
      if (!n[i].IsNull()) {
        HAMI_RETURN_IF_ERROR(ForEachEntry(
            n[i], item_path,
            [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
              if (key == "models") return StringList(v, item_path + ".models", &a.models);
              if (key == "profiles") return StringList(v, item_path + ".profiles", &a.profiles);
              std::string key_path = item_path;
              key_path.append(".").append(key);
              return Error(k, key_path, "unknown key (expected models, profiles)");
            }));
      }
      out->push_back(std::move(a));
    }
    return Status::Ok();
  }

  Status Nvidia(const YAML::Node& section, NvidiaConfig* c, std::vector<std::string>* ignored,
                std::map<std::string, YAML::Mark>* marks) const {
    if (section.IsNull()) {
      return Status::Ok();
    }
    return ForEachEntry(
        section, "nvidia",
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
          const std::string path = "nvidia." + key;
          (*marks)[key] = v.IsNull() ? k.Mark() : v.Mark();
          if (Contains(kIgnoredNvidiaKeys, key)) {
            ignored->push_back(path);
            return Status::Ok();
          }
          std::string s;
          if (key == "resourceCountName") {
            return StrOrNull(v, path, &c->resource_count_name);
          }
          if (key == "resourceMemoryName") {
            return StrOrNull(v, path, &c->resource_memory_name);
          }
          if (key == "resourceMemoryPercentageName") {
            return StrOrNull(v, path, &c->resource_memory_percentage_name);
          }
          if (key == "resourceCoreName") {
            return StrOrNull(v, path, &c->resource_core_name);
          }
          if (key == "resourcePriorityName") {
            return StrOrNull(v, path, &c->resource_priority_name);
          }
          if (v.IsNull() && key != "migProfileAllowlist" && IsKnownNvidiaKey(key)) {
            return Status::Ok();  // rendered but unset: keep the default
          }
          if (key == "overwriteEnv") {
            return Bool(v, path, &c->overwrite_env);
          }
          if (key == "defaultMemory") {
            return Int32(v, path, &c->default_memory_mib);
          }
          if (key == "defaultCores") {
            return Int32(v, path, &c->default_cores_percent);
          }
          if (key == "defaultGPUNum") {
            return Int32(v, path, &c->default_gpu_num);
          }
          if (key == "memoryFactor") {
            return Int32(v, path, &c->memory_factor);
          }
          if (key == "deviceSplitCount") {
            return Int32(v, path, &c->device_split_count);
          }
          if (key == "deviceMemoryScaling") {
            return Double(v, path, &c->device_memory_scaling);
          }
          if (key == "deviceCoreScaling") {
            return Double(v, path, &c->device_core_scaling);
          }
          if (key == "preConfiguredDeviceMemory") {
            return Int32(v, path, &c->preconfigured_device_memory_mib);
          }
          if (key == "enableNumaTopology") {
            return Bool(v, path, &c->enable_numa_topology);
          }
          if (key == "libCudaLogLevel") {
            return Scalar(v, path, &c->lib_cuda_log_level);
          }
          if (key == "gpuCorePolicy") {
            HAMI_RETURN_IF_ERROR(Scalar(v, path, &s));
            if (s.empty() || s == "default") {
              c->gpu_core_policy = GpuCorePolicy::kDefault;
            } else if (s == "force") {
              c->gpu_core_policy = GpuCorePolicy::kForce;
            } else if (s == "disable") {
              c->gpu_core_policy = GpuCorePolicy::kDisable;
            } else {
              return Error(v, path, QuoteForError(s) + " is not one of default, force, disable");
            }
            return Status::Ok();
          }
          if (key == "runtimeClassName") {
            return Scalar(v, path, &c->runtime_class_name);
          }
          if (key == "disableCoreLimit") {
            return Bool(v, path, &c->disable_core_limit);
          }
          if (key == "migProfileAllowlist") {
            return MigAllowlist(v, path, &c->mig_profile_allowlist);
          }
          return Error(k, path, "unknown key in the nvidia section");
        });
  }

  Status Hygon(const YAML::Node& section, HygonConfig* c,
               std::map<std::string, YAML::Mark>* marks) const {
    if (section.IsNull()) return Status::Ok();
    return ForEachEntry(
        section, "hygon",
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
          const std::string path = "hygon." + key;
          (*marks)[key] = v.IsNull() ? k.Mark() : v.Mark();
          if (key == "resourceCountName") return StrOrNull(v, path, &c->resource_count_name);
          if (key == "resourceMemoryName") return StrOrNull(v, path, &c->resource_memory_name);
          if (key == "resourceCoreName") return StrOrNull(v, path, &c->resource_core_name);
          if (key == "memoryFactor") {
            if (v.IsNull()) return Status::Ok();
            HAMI_RETURN_IF_ERROR(Int32(v, path, &c->memory_factor));
            if (c->memory_factor == 0) c->memory_factor = 1;  // HAMi: 0 = no factor
            return Status::Ok();
          }
          return Error(k, path,
                       "unknown key in the hygon section (expected resourceCountName, "
                       "resourceMemoryName, resourceCoreName, memoryFactor)");
        });
  }

  // One typed key of a vendor section: a string, a flag, a number or a list of numbers (a
  // single number reads as a list of one, as the chart may render either).
  using FieldTarget = std::variant<std::string*, bool*, int32_t*, std::vector<int32_t>*>;
  struct Field {
    const char* key;
    FieldTarget target;
  };

  // Reads `v` into the field named `key` of `fields`; nullopt when no field has that name. A
  // YAML null keeps the default.
  std::optional<Status> ReadField(const std::vector<Field>& fields, const std::string& key,
                                  const YAML::Node& v, const std::string& path) const {
    for (const Field& field : fields) {
      if (key != field.key) continue;
      if (v.IsNull()) return Status::Ok();
      return std::visit(
          [&](auto* out) -> Status {
            using T = std::remove_pointer_t<decltype(out)>;
            if constexpr (std::is_same_v<T, std::string>) {
              return Scalar(v, path, out);
            } else if constexpr (std::is_same_v<T, bool>) {
              return Bool(v, path, out);
            } else if constexpr (std::is_same_v<T, int32_t>) {
              return Int32(v, path, out);
            } else {
              out->clear();
              if (!v.IsSequence()) {
                out->emplace_back();
                return Int32(v, path, &out->back());
              }
              for (size_t i = 0; i < v.size(); ++i) {
                out->emplace_back();
                HAMI_RETURN_IF_ERROR(
                    Int32(v[i], path + "[" + std::to_string(i) + "]", &out->back()));
              }
              return Status::Ok();
            }
          },
          field.target);
    }
    return std::nullopt;
  }

  static std::string FieldNames(const std::vector<Field>& fields) {
    std::string names;
    for (const Field& field : fields) names += (names.empty() ? "" : ", ") + std::string(field.key);
    return names;
  }

  // A vendor section of typed keys (amd:, cambricon:, ...); unknown keys are refused, listing
  // the expected ones. `marks` records where each key's value is, for later range errors.
  Status FieldsSection(const YAML::Node& section, const std::string& name,
                       const std::vector<Field>& fields,
                       std::map<std::string, YAML::Mark>* marks) const {
    if (section.IsNull()) return Status::Ok();
    return ForEachEntry(
        section, name,
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
          const std::string path = name + "." + key;
          (*marks)[key] = v.IsNull() ? k.Mark() : v.Mark();
          if (std::optional<Status> read = ReadField(fields, key, v, path)) return *read;
          return Error(
              k, path,
              "unknown key in the " + name + " section (expected " + FieldNames(fields) + ")");
        });
  }

  // The `vnpus:` section: hamiVnpuCore and the per-chip `configs` list with its templates.
  // The `vnpus:` section. Newer HAMi charts also put overwriteEnv and runtimeClassName at this
  // level (they apply to every chip that does not set its own) and add keys the Ascend device
  // plugin reads, not the scheduler (listed in `ignored`).
  Status Ascend(const YAML::Node& section, AscendConfig* c,
                std::vector<std::string>* ignored) const {
    if (section.IsNull()) return Status::Ok();
    std::optional<bool> overwrite_env;
    std::optional<std::string> runtime_class;
    std::vector<std::set<std::string>> chip_keys;
    HAMI_RETURN_IF_ERROR(ForEachEntry(
        section, "vnpus",
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
          const std::string path = "vnpus." + key;
          if (key == "hamiVnpuCore") {
            return v.IsNull() ? Status::Ok() : Bool(v, path, &c->hami_vnpu_core);
          }
          if (key == "configs") return AscendChips(v, &c->configs, &chip_keys);
          if (key == "overwriteEnv" && !v.IsNull()) return Bool(v, path, &overwrite_env.emplace());
          if (key == "runtimeClassName" && !v.IsNull()) {
            return Scalar(v, path, &runtime_class.emplace());
          }
          static constexpr std::string_view kPluginKeys[] = {"hamiVnpuMode", "enpuPolicy",
                                                             "vnpuDeviceSplitCount"};
          if (Contains(kPluginKeys, key) || key == "overwriteEnv" || key == "runtimeClassName") {
            if (Contains(kPluginKeys, key)) ignored->push_back(path);
            return Status::Ok();
          }
          return Error(k, path,
                       "unknown key in the vnpus section (expected hamiVnpuCore, configs, "
                       "overwriteEnv, runtimeClassName, hamiVnpuMode, enpuPolicy, "
                       "vnpuDeviceSplitCount)");
        }));
    for (size_t i = 0; i < c->configs.size(); ++i) {
      if (overwrite_env && !chip_keys[i].count("overwriteEnv")) {
        c->configs[i].overwrite_env = *overwrite_env;
      }
      if (runtime_class && !chip_keys[i].count("runtimeClassName")) {
        c->configs[i].runtime_class_name = *runtime_class;
      }
    }
    return Status::Ok();
  }

  // `keys` gets, per chip, the keys it sets.
  Status AscendChips(const YAML::Node& list, std::vector<AscendChipConfig>* out,
                     std::vector<std::set<std::string>>* keys) const {
    if (list.IsNull()) return Status::Ok();
    if (!list.IsSequence()) return Error(list, "vnpus.configs", "expected a list of chips");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = "vnpus.configs[" + std::to_string(i) + "]";
      AscendChipConfig chip;
      std::set<std::string> chip_keys;
      const std::vector<Field> fields = {{"chipName", &chip.chip_name},
                                         {"commonWord", &chip.common_word},
                                         {"resourceName", &chip.resource_name},
                                         {"resourceMemoryName", &chip.resource_memory_name},
                                         {"resourceCoreName", &chip.resource_core_name},
                                         {"memoryAllocatable", &chip.memory_allocatable},
                                         {"memoryCapacity", &chip.memory_capacity},
                                         {"memoryFactor", &chip.memory_factor},
                                         {"aiCore", &chip.ai_core},
                                         {"aiCPU", &chip.ai_cpu},
                                         {"runtimeClassName", &chip.runtime_class_name},
                                         {"overwriteEnv", &chip.overwrite_env},
                                         {"superPod", &chip.super_pod}};
      HAMI_RETURN_IF_ERROR(ForEachEntry(
          list[i], path,
          [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
            const std::string key_path = path + "." + key;
            if (!v.IsNull()) chip_keys.insert(key);
            if (key == "templates") return AscendTemplates(v, key_path, &chip.templates);
            if (std::optional<Status> read = ReadField(fields, key, v, key_path)) return *read;
            return Error(k, key_path,
                         "unknown key in a vnpus.configs entry (expected " + FieldNames(fields) +
                             ", templates)");
          }));
      if (chip.memory_factor == 0) chip.memory_factor = 1;  // HAMi: 0 = no factor
      out->push_back(std::move(chip));
      keys->push_back(std::move(chip_keys));
    }
    return Status::Ok();
  }

  Status AscendTemplates(const YAML::Node& list, const std::string& path,
                         std::vector<AscendTemplate>* out) const {
    if (list.IsNull()) return Status::Ok();
    if (!list.IsSequence()) return Error(list, path, "expected a list of templates");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item = path + "[" + std::to_string(i) + "]";
      AscendTemplate t;
      const std::vector<Field> fields = {
          {"name", &t.name}, {"memory", &t.memory}, {"aiCore", &t.ai_core}, {"aiCPU", &t.ai_cpu}};
      HAMI_RETURN_IF_ERROR(ForEachEntry(
          list[i], item,
          [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
            if (std::optional<Status> read = ReadField(fields, key, v, item + "." + key)) {
              return *read;
            }
            return Error(k, item + "." + key,
                         "unknown key in a template (expected " + FieldNames(fields) + ")");
          }));
      out->push_back(std::move(t));
    }
    return Status::Ok();
  }

  Status Iluvatars(const YAML::Node& section, std::vector<IluvatarConfig>* out) const {
    if (section.IsNull()) return Status::Ok();
    if (!section.IsSequence()) return Error(section, "iluvatars", "expected a list of chips");
    for (size_t i = 0; i < section.size(); ++i) {
      const std::string path = "iluvatars[" + std::to_string(i) + "]";
      IluvatarConfig c;
      HAMI_RETURN_IF_ERROR(ForEachEntry(
          section[i], path,
          [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
            const std::string key_path = path + "." + key;
            if (key == "chipName") return StrOrNull(v, key_path, &c.chip_name);
            if (key == "commonWord") return StrOrNull(v, key_path, &c.common_word);
            if (key == "resourceCountName") return StrOrNull(v, key_path, &c.resource_count_name);
            if (key == "resourceMemoryName") {
              return StrOrNull(v, key_path, &c.resource_memory_name);
            }
            if (key == "resourceCoreName") return StrOrNull(v, key_path, &c.resource_core_name);
            return Error(k, key_path,
                         "unknown key in an iluvatars entry (expected chipName, commonWord, "
                         "resourceCountName, resourceMemoryName, resourceCoreName)");
          }));
      if (std::optional<FieldError> bad = FindInvalidField(c)) {
        return Error(section[i], path + "." + bad->key, bad->message);
      }
      for (const IluvatarConfig& other : *out) {
        if (other.common_word == c.common_word) {
          return Error(section[i], path + ".commonWord",
                       QuoteForError(c.common_word) + " is listed twice");
        }
      }
      out->push_back(std::move(c));
    }
    return Status::Ok();
  }

  Status Scheduler(const YAML::Node& section, SchedulerPolicyConfig* c) const {
    if (section.IsNull()) return Status::Ok();
    return ForEachEntry(
        section, "scheduler",
        [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
          const std::string path = "scheduler." + key;
          if (key == "nodeSchedulerPolicy") {
            HAMI_RETURN_IF_ERROR(StrOrNull(v, path, &c->node_scheduler_policy));
            static constexpr std::string_view kNodePolicies[] = {"", "binpack", "spread",
                                                                 "hami-frag"};
            if (!Contains(kNodePolicies, c->node_scheduler_policy)) {
              return Error(v, path,
                           QuoteForError(c->node_scheduler_policy) +
                               " is not one of binpack, spread, hami-frag");
            }
            return Status::Ok();
          }
          if (key == "gpuSchedulerPolicy") {
            HAMI_RETURN_IF_ERROR(StrOrNull(v, path, &c->gpu_scheduler_policy));
            static constexpr std::string_view kGpuWords[] = {"binpack", "spread", "numa", "mutex",
                                                             "topology-aware"};
            for (std::string_view word : Split(c->gpu_scheduler_policy, ',')) {
              if (!Contains(kGpuWords, Trim(word))) {
                return Error(v, path,
                             QuoteForError(word) +
                                 " is not one of binpack, spread, numa, mutex, topology-aware");
              }
            }
            return Status::Ok();
          }
          if (key == "fragWorkloadHalfLifePods") {
            if (v.IsNull()) return Status::Ok();
            HAMI_RETURN_IF_ERROR(Double(v, path, &c->frag_workload_half_life_pods));
            if (!(c->frag_workload_half_life_pods >= 1 && c->frag_workload_half_life_pods <= 1e9)) {
              return Error(v, path, "must be between 1 and 1e9 pods");
            }
            return Status::Ok();
          }
          return Error(k, path,
                       "unknown key in the scheduler section (expected nodeSchedulerPolicy, "
                       "gpuSchedulerPolicy, fragWorkloadHalfLifePods)");
        });
  }

 private:
  static bool IsKnownNvidiaKey(const std::string& key) {
    static constexpr std::string_view kKeys[] = {
        "overwriteEnv",        "defaultMemory",     "defaultCores",
        "defaultGPUNum",       "memoryFactor",      "deviceSplitCount",
        "deviceMemoryScaling", "deviceCoreScaling", "preConfiguredDeviceMemory",
        "enableNumaTopology",  "libCudaLogLevel",   "gpuCorePolicy",
        "runtimeClassName",    "disableCoreLimit"};
    return Contains(kKeys, key);
  }

  Status StrOrNull(const YAML::Node& n, const std::string& path, std::string* out) const {
    if (n.IsNull()) {
      return Status::Ok();
    }
    return Scalar(n, path, out);
  }

  std::string_view source_;
};

Result<DeviceConfig> LoadParsed(const Loader& loader, const YAML::Node& root) {
  DeviceConfig config;
  if (!root.IsDefined() || root.IsNull()) {
    return loader.Error(YAML::Mark::null_mark(), "",
                        "document is empty (expected a top-level 'nvidia:' section)");
  }
  std::map<std::string, YAML::Mark> marks;
  std::map<std::string, YAML::Mark> hygon_marks;
  std::map<std::string, std::map<std::string, YAML::Mark>> section_marks;
  Status st = loader.ForEachEntry(
      root, "", [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) -> Status {
        if (key == "nvidia") {
          NvidiaConfig nv;
          HAMI_RETURN_IF_ERROR(loader.Nvidia(v, &nv, &config.ignored_keys, &marks));
          config.nvidia = std::move(nv);
          return Status::Ok();
        }
        if (key == "hygon") {
          HygonConfig hy;
          HAMI_RETURN_IF_ERROR(loader.Hygon(v, &hy, &hygon_marks));
          config.hygon = std::move(hy);
          return Status::Ok();
        }
        if (key == "iluvatars") return loader.Iluvatars(v, &config.iluvatars);
        // A vendor section of typed keys: parsed into a fresh config, kept when it loads.
        auto section = [&](auto& slot, auto fields_of) -> Status {
          typename std::remove_reference_t<decltype(slot)>::value_type c;
          HAMI_RETURN_IF_ERROR(loader.FieldsSection(v, key, fields_of(c), &section_marks[key]));
          slot = std::move(c);
          return Status::Ok();
        };
        using F = std::vector<Loader::Field>;
        if (key == "amd") {
          return section(config.amd, [](AmdConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceMemoryName", &c.resource_memory_name},
                     {"resourceCoreName", &c.resource_core_name}};
          });
        }
        if (key == "biren") {
          return section(config.biren, [](BirenConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name}};
          });
        }
        if (key == "cambricon") {
          return section(config.cambricon, [](CambriconConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceMemoryName", &c.resource_memory_name},
                     {"resourceCoreName", &c.resource_core_name}};
          });
        }
        if (key == "mthreads") {
          return section(config.mthreads, [](MthreadsConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceMemoryName", &c.resource_memory_name},
                     {"resourceCoreName", &c.resource_core_name},
                     {"memoryPerCard", &c.memory_per_card_units}};
          });
        }
        if (key == "metax") {
          return section(config.metax, [](MetaxConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceVCountName", &c.resource_vcount_name},
                     {"resourceVMemoryName", &c.resource_vmemory_name},
                     {"resourceVCoreName", &c.resource_vcore_name},
                     {"sgpuTopologyAware", &c.sgpu_topology_aware}};
          });
        }
        if (key == "enflame") {
          // HAMi keeps the legacy shared-GCU keys: resourceNameVGCU names the DRS resource
          // when resourceNameDRSGCU is not given; resourceNameVGCUPercentage is not read.
          std::string drs, vgcu, vgcu_percentage;
          HAMI_RETURN_IF_ERROR(section(config.enflame, [&](EnflameConfig& c) {
            return F{{"resourceNameGCU", &c.resource_name_gcu},
                     {"resourceNameDRSGCU", &drs},
                     {"resourceNameGCUMemory", &c.resource_name_gcu_memory},
                     {"resourceNameGCUCore", &c.resource_name_gcu_core},
                     {"resourceNameVGCU", &vgcu},
                     {"resourceNameVGCUPercentage", &vgcu_percentage}};
          }));
          if (!drs.empty()) {
            config.enflame->resource_name_drs_gcu = drs;
          } else if (!vgcu.empty()) {
            config.enflame->resource_name_drs_gcu = vgcu;
          }
          if (!vgcu_percentage.empty()) {
            config.ignored_keys.push_back("enflame.resourceNameVGCUPercentage");
          }
          return Status::Ok();
        }
        if (key == "kunlun") {
          return section(config.kunlun, [](KunlunConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceVCountName", &c.resource_vcount_name},
                     {"resourceVMemoryName", &c.resource_vmemory_name}};
          });
        }
        if (key == "awsneuron") {
          return section(config.awsneuron, [](AwsNeuronConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name},
                     {"resourceCoreName", &c.resource_core_name}};
          });
        }
        if (key == "vastai") {
          return section(config.vastai, [](VastaiConfig& c) {
            return F{{"resourceCountName", &c.resource_count_name}};
          });
        }
        if (key == "vnpus") {
          AscendConfig ascend;
          HAMI_RETURN_IF_ERROR(loader.Ascend(v, &ascend, &config.ignored_keys));
          config.ascend = std::move(ascend);
          return Status::Ok();
        }
        if (key == "scheduler") {
          SchedulerPolicyConfig sc;
          HAMI_RETURN_IF_ERROR(loader.Scheduler(v, &sc));
          config.scheduler = std::move(sc);
          return Status::Ok();
        }
        return loader.Error(k, key,
                            "unknown top-level section (expected one of nvidia, cambricon, "
                            "hygon, metax, enflame, mthreads, iluvatars, kunlun, awsneuron, amd, "
                            "vastai, biren, vnpus, scheduler)");
      });
  HAMI_RETURN_IF_ERROR(st);
  if (config.nvidia) {
    if (std::optional<FieldError> bad = FindInvalidField(*config.nvidia)) {
      auto it = marks.find(bad->key);
      const YAML::Mark mark = it == marks.end() ? YAML::Mark::null_mark() : it->second;
      return loader.Error(mark, "nvidia." + bad->key, bad->message);
    }
  }
  if (config.hygon) {
    if (std::optional<FieldError> bad = FindInvalidField(*config.hygon)) {
      auto it = hygon_marks.find(bad->key);
      const YAML::Mark mark = it == hygon_marks.end() ? YAML::Mark::null_mark() : it->second;
      return loader.Error(mark, "hygon." + bad->key, bad->message);
    }
  }
  auto check = [&](const std::string& name, std::optional<FieldError> bad) -> Status {
    if (!bad) return Status::Ok();
    const std::map<std::string, YAML::Mark>& m = section_marks[name];
    auto it = m.find(bad->key);
    const YAML::Mark mark = it == m.end() ? YAML::Mark::null_mark() : it->second;
    return loader.Error(mark, name + "." + bad->key, bad->message);
  };
  if (config.amd) HAMI_RETURN_IF_ERROR(check("amd", FindInvalidField(*config.amd)));
  if (config.biren) HAMI_RETURN_IF_ERROR(check("biren", FindInvalidField(*config.biren)));
  if (config.cambricon) {
    HAMI_RETURN_IF_ERROR(check("cambricon", FindInvalidField(*config.cambricon)));
  }
  if (config.mthreads) HAMI_RETURN_IF_ERROR(check("mthreads", FindInvalidField(*config.mthreads)));
  if (config.metax) HAMI_RETURN_IF_ERROR(check("metax", FindInvalidField(*config.metax)));
  if (config.enflame) HAMI_RETURN_IF_ERROR(check("enflame", FindInvalidField(*config.enflame)));
  if (config.kunlun) HAMI_RETURN_IF_ERROR(check("kunlun", FindInvalidField(*config.kunlun)));
  if (config.awsneuron) {
    HAMI_RETURN_IF_ERROR(check("awsneuron", FindInvalidField(*config.awsneuron)));
  }
  if (config.vastai) HAMI_RETURN_IF_ERROR(check("vastai", FindInvalidField(*config.vastai)));
  if (config.ascend) {
    if (std::optional<FieldError> bad = FindInvalidField(*config.ascend)) {
      return loader.Error(YAML::Mark::null_mark(), "vnpus." + bad->key, bad->message);
    }
  }
  return config;
}

// 0-based line of a "---" document marker that follows content, i.e. starts a second
// document; nullopt when there is none. Column-0 markers cannot be block-scalar content of a
// top-level mapping, so a textual scan is exact enough for config files.
std::optional<int> SecondDocumentLine(std::string_view text) {
  bool seen_content = false;
  int line = 0;
  for (std::string_view l : Split(text, '\n')) {
    if (!l.empty() && l.back() == '\r') {
      l.remove_suffix(1);
    }
    const bool marker = l.substr(0, 3) == "---" && (l.size() == 3 || l[3] == ' ' || l[3] == '\t');
    if (marker && seen_content) {
      return line;
    }
    std::string_view t = Trim(l);
    if (!marker && !t.empty() && t.front() != '#' && t.front() != '%' && t != "...") {
      seen_content = true;
    }
    ++line;
  }
  return std::nullopt;
}

}  // namespace

std::string_view GpuCorePolicyName(GpuCorePolicy policy) {
  switch (policy) {
    case GpuCorePolicy::kDefault:
      return "default";
    case GpuCorePolicy::kForce:
      return "force";
    case GpuCorePolicy::kDisable:
      return "disable";
  }
  return "default";
}

DeviceConfig DefaultDeviceConfig() {
  Result<DeviceConfig> c = LoadDeviceConfig(kDefaultDeviceConfigYaml, "built-in default");
  // The embedded text is covered by tests; fall back to plain defaults rather than crash.
  if (!c.ok()) {
    DeviceConfig fallback;
    fallback.nvidia = NvidiaConfig{};
    return fallback;
  }
  return std::move(c).value();
}

Status ValidateNvidiaConfig(const NvidiaConfig& config) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument("nvidia." + bad->key + ": " + bad->message);
  }
  return Status::Ok();
}

Status ValidateIluvatarConfig(const IluvatarConfig& config, size_t index) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument("iluvatars[" + std::to_string(index) + "]." + bad->key + ": " +
                           bad->message);
  }
  return Status::Ok();
}

Status ValidateHygonConfig(const HygonConfig& config) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument("hygon." + bad->key + ": " + bad->message);
  }
  return Status::Ok();
}

Status ValidateAmdConfig(const AmdConfig& config) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument("amd." + bad->key + ": " + bad->message);
  }
  return Status::Ok();
}

Status ValidateBirenConfig(const BirenConfig& config) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument("biren." + bad->key + ": " + bad->message);
  }
  return Status::Ok();
}

Result<DeviceConfig> LoadDeviceConfig(std::string_view yaml_text, std::string_view source_name) {
  Loader loader(source_name);
  if (std::optional<int> line = SecondDocumentLine(yaml_text)) {
    YAML::Mark mark;
    mark.line = *line;
    mark.column = 0;
    return loader.Error(mark, "", "a second YAML document starts here; expected one document");
  }
  try {
    // YAML::Load, not LoadAll: yaml-cpp 0.7's LoadAll never terminates on input such as ",".
    return LoadParsed(loader, YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception& e) {
    return loader.Error(e.mark, "", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    return loader.Error(YAML::Mark::null_mark(), "", std::string("cannot be read: ") + e.what());
  }
}

namespace {

template <typename C>
Status ValidateSection(const std::string& name, const C& config) {
  if (std::optional<FieldError> bad = FindInvalidField(config)) {
    return InvalidArgument(name + "." + bad->key + ": " + bad->message);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateCambriconConfig(const CambriconConfig& c) { return ValidateSection("cambricon", c); }
Status ValidateMthreadsConfig(const MthreadsConfig& c) { return ValidateSection("mthreads", c); }
Status ValidateMetaxConfig(const MetaxConfig& c) { return ValidateSection("metax", c); }
Status ValidateEnflameConfig(const EnflameConfig& c) { return ValidateSection("enflame", c); }
Status ValidateKunlunConfig(const KunlunConfig& c) { return ValidateSection("kunlun", c); }
Status ValidateAwsNeuronConfig(const AwsNeuronConfig& c) { return ValidateSection("awsneuron", c); }
Status ValidateVastaiConfig(const VastaiConfig& c) { return ValidateSection("vastai", c); }
Status ValidateAscendConfig(const AscendConfig& c) { return ValidateSection("vnpus", c); }

}  // namespace hami
