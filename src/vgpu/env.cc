#include "vgpu/env.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace hami::vgpu {
namespace {

constexpr std::string_view kMemoryLimit = "CUDA_DEVICE_MEMORY_LIMIT";
constexpr std::string_view kSmLimit = "CUDA_DEVICE_SM_LIMIT";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Reads the leading run of decimal digits into *value. Returns the number of digits consumed,
// or -1 on overflow.
int ReadDigits(std::string_view s, uint64_t* value) {
  uint64_t v = 0;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
    ++n;
  }
  *value = v;
  return n;
}

// A printable, bounded copy of an environment value for messages.
std::string Quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value.substr(0, 64)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (value.size() > 64) out += "...";
  out += '"';
  return out;
}

struct Lookup {
  const EnvLookup& fn;
  // The trimmed value, or nullopt when unset or blank.
  std::optional<std::string_view> Get(const std::string& name) const {
    const char* v = fn(name.c_str());
    if (v == nullptr) return std::nullopt;
    std::string_view t = Trim(v);
    if (t.empty()) return std::nullopt;
    return t;
  }
};

void Warn(EnvConfig& cfg, const std::string& name, std::string_view value, const Status& why,
          const std::string& instead) {
  cfg.warnings.push_back(name + "=" + Quote(value) + ": " + why.message() + "; " + instead);
}

// One family of per-device values (memory or SM): the general variable and its _<i> overrides.
template <typename T, typename ParseFn>
void ParseFamily(const Lookup& env, EnvConfig& cfg, std::string_view family, ParseFn parse,
                 const char* unit, std::array<T, kMaxDevices>* out) {
  const std::string general_name(family);
  std::optional<T> general;
  if (auto v = env.Get(general_name)) {
    auto r = parse(*v);
    if (r.ok()) {
      general = static_cast<T>(*r);
    } else {
      Warn(cfg, general_name, *v, r.status(),
           "no general limit applies (devices without a valid " + general_name + "_<i> are " +
               "unlimited)");
    }
  }
  for (int i = 0; i < kMaxDevices; ++i) {
    const std::string name = general_name + "_" + std::to_string(i);
    T value = general.value_or(0);
    if (auto v = env.Get(name)) {
      auto r = parse(*v);
      if (!r.ok()) {
        Warn(cfg, name, *v, r.status(),
             general ? "using " + general_name + " (" + std::to_string(*general) + " " + unit + ")"
                     : std::string("device ") + std::to_string(i) + " is unlimited");
      } else if (*r != 0) {  // 0 = "not set here", as upstream
        value = static_cast<T>(*r);
      }
    }
    (*out)[static_cast<size_t>(i)] = value;
  }
}

}  // namespace

const char* PolicyName(UtilizationPolicy policy) {
  switch (policy) {
    case UtilizationPolicy::kForce:
      return "force";
    case UtilizationPolicy::kDisable:
      return "disable";
    case UtilizationPolicy::kDefault:
      break;
  }
  return "default";
}

Result<int64_t> ParseDecimal(std::string_view text, int64_t min, int64_t max) {
  bool negative = false;
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  uint64_t magnitude = 0;
  int n = ReadDigits(digits, &magnitude);
  if (n < 0) return Status::Error(Code::kInvalidArgument, "out of range");
  if (n == 0 || static_cast<size_t>(n) != digits.size()) {
    return Status::Error(Code::kInvalidArgument, "not a decimal integer");
  }
  if (magnitude > static_cast<uint64_t>(INT64_MAX) + (negative ? 1u : 0u)) {
    return Status::Error(Code::kInvalidArgument, "out of range");
  }
  int64_t v = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  if (v < min || v > max) {
    return Status::Error(Code::kInvalidArgument, "out of range [%lld, %lld]",
                         static_cast<long long>(min), static_cast<long long>(max));
  }
  return v;
}

Result<uint64_t> ParseMemoryBytes(std::string_view text) {
  if (text.empty()) return Status::Error(Code::kInvalidArgument, "empty size");
  if (text.front() == '-') return Status::Error(Code::kInvalidArgument, "negative size");
  uint64_t value = 0;
  int n = ReadDigits(text, &value);
  if (n < 0) return Status::Error(Code::kInvalidArgument, "size overflows 64 bits");
  if (n == 0) {
    return Status::Error(Code::kInvalidArgument,
                         "not a decimal size (expected e.g. 4096, 512M, 512Mi, 4GiB)");
  }
  std::string_view unit = text.substr(static_cast<size_t>(n));
  if (!unit.empty() && unit.front() == '.') {
    return Status::Error(Code::kInvalidArgument,
                         "fractions are not accepted; use a smaller unit (e.g. 1536M)");
  }
  int shift = 0;
  if (!unit.empty()) {
    switch (unit.front()) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        shift = -1;
    }
    std::string_view rest = unit.substr(1);
    if (shift < 0 || !(rest.empty() || rest == "i" || rest == "iB")) {
      return Status::Error(Code::kInvalidArgument,
                           "unknown unit '%.16s' (use K, M, G, T, Ki..Ti or KiB..TiB; all "
                           "binary; no hex, octal or SI units)",
                           std::string(unit).c_str());
    }
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return Status::Error(Code::kInvalidArgument, "size overflows 64 bits");
  }
  uint64_t bytes = value << shift;
  if (bytes > layout::kMaxMemoryLimitBytes) {
    return Status::Error(Code::kInvalidArgument, "size exceeds 64 PiB");
  }
  return bytes;
}

Result<uint32_t> ParsePercent(std::string_view text) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  auto r = ParseDecimal(text, 0, 100);
  if (!r.ok()) {
    return Status::Error(Code::kInvalidArgument, "not a percentage 0..100 (%s)",
                         r.status().message());
  }
  return static_cast<uint32_t>(*r);
}

Result<bool> ParseBool(std::string_view text) {
  for (std::string_view t : {"true", "1", "yes", "on"}) {
    if (EqualsIgnoreCase(text, t)) return true;
  }
  for (std::string_view f : {"false", "0", "no", "off"}) {
    if (EqualsIgnoreCase(text, f)) return false;
  }
  return Status::Error(Code::kInvalidArgument, "not a boolean (true/false/1/0/yes/no/on/off)");
}

Result<UtilizationPolicy> ParsePolicy(std::string_view text) {
  if (EqualsIgnoreCase(text, "default")) return UtilizationPolicy::kDefault;
  if (EqualsIgnoreCase(text, "force")) return UtilizationPolicy::kForce;
  if (EqualsIgnoreCase(text, "disable")) return UtilizationPolicy::kDisable;
  return Status::Error(Code::kInvalidArgument, "unknown policy (force, default or disable)");
}

EnvConfig ParseEnv(const EnvLookup& lookup) {
  EnvConfig cfg;
  const Lookup env{lookup};

  ParseFamily(env, cfg, kMemoryLimit, ParseMemoryBytes, "bytes", &cfg.memory_limit_bytes);
  ParseFamily(env, cfg, kSmLimit, ParsePercent, "%", &cfg.sm_limit_percent);

  if (auto v = env.Get("GPU_CORE_UTILIZATION_POLICY")) {
    auto r = ParsePolicy(*v);
    if (r.ok()) {
      cfg.utilization_policy = *r;
    } else {
      Warn(cfg, "GPU_CORE_UTILIZATION_POLICY", *v, r.status(), "using default");
    }
  }
  if (auto v = env.Get("CUDA_TASK_PRIORITY")) {
    auto r = ParseDecimal(*v, INT32_MIN, INT32_MAX);
    if (r.ok()) {
      cfg.task_priority = static_cast<int32_t>(*r);
    } else {
      Warn(cfg, "CUDA_TASK_PRIORITY", *v, r.status(), "using 1");
    }
  }
  if (auto v = env.Get("LIBCUDA_LOG_LEVEL")) {
    auto r = ParseDecimal(*v, 0, 4);
    if (r.ok()) {
      cfg.log_level = static_cast<int>(*r);
    } else {
      Warn(cfg, "LIBCUDA_LOG_LEVEL", *v, r.status(), "using 2");
    }
  }
  if (auto v = env.Get("CUDA_DEVICE_MEMORY_SHARED_CACHE")) {
    if (v->size() >= PATH_MAX) {
      Warn(cfg, "CUDA_DEVICE_MEMORY_SHARED_CACHE", *v,
           Status::Error(Code::kInvalidArgument, "path longer than PATH_MAX"),
           std::string("using ") + kDefaultSharedCachePath);
    } else {
      cfg.shared_cache_path = std::string(*v);
    }
  }
  if (auto v = env.Get("CUDA_OVERSUBSCRIBE")) {
    auto r = ParseBool(*v);
    if (r.ok()) {
      cfg.oversubscribe = *r;
    } else {
      Warn(cfg, "CUDA_OVERSUBSCRIBE", *v, r.status(), "using false");
    }
  }
  if (auto v = env.Get("RECORD_KERNEL_INTERVAL")) {
    auto r = ParseDecimal(*v, 0, 86400);
    if (r.ok()) {
      cfg.record_kernel_interval_s = static_cast<uint32_t>(*r);
    } else {
      Warn(cfg, "RECORD_KERNEL_INTERVAL", *v, r.status(), "using 1");
    }
  }
  return cfg;
}

EnvConfig ParseProcessEnv() {
  return ParseEnv([](const char* name) -> const char* { return std::getenv(name); });
}

}  // namespace hami::vgpu
