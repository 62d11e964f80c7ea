// libvgpu's configuration from the environment (spec hami-core.md §2), parsed strictly.
//
// Upstream parses with strtoul(base 0): "010" is octal, "0x10" hex, "1gb" one byte and "1.5g"
// one GiB. We accept decimal integers only, reject anything we cannot read exactly, and say why:
// every rejected value adds a human-readable line to EnvConfig::warnings (the caller logs them)
// and a documented default applies. Surrounding blanks (space, tab, CR, LF) are ignored; an empty
// value counts as unset.
//
// Memory sizes: "<decimal>[unit]" with unit K, M, G or T (either case, binary: 2^10 .. 2^40),
// optionally followed by "i" or "iB" ("512Mi", "4GiB"); no unit = bytes. Refused: a sign,
// fractions ("1.5g"), hex/octal prefixes, SI-looking units ("1GB", "1gb"), trailing garbage,
// values that overflow 64 bits or exceed 64 PiB.
//
// Invalid-value policy (why these defaults):
//  * CUDA_DEVICE_MEMORY_LIMIT_<i> invalid -> device i uses CUDA_DEVICE_MEMORY_LIMIT. The general
//    value is the operator's stated intent for every device, so it is the nearest correct answer.
//  * CUDA_DEVICE_MEMORY_LIMIT invalid -> no general limit (devices without a valid per-device
//    value are unlimited), with a loud warning. Failing closed (refusing every allocation) was
//    considered and rejected: the environment is not a security boundary (a process that can set
//    it can unset it, which also means unlimited), upstream treats unparsable values as unlimited,
//    and HAMi's device plugin always writes the per-device variables, so the general one is a
//    hand-set knob where a typo should warn, not break the workload in a way that looks like a
//    driver OOM. The warning names the variable and the value.
//  * A per-device value of 0 means "not set here" and falls back to the general value, exactly
//    as upstream does (the more restrictive reading of an ambiguous 0).
//  * CUDA_DEVICE_SM_LIMIT[_<i>]: same structure; invalid or > 100 -> treated as unset.
//  * GPU_CORE_UTILIZATION_POLICY unknown -> default; CUDA_TASK_PRIORITY invalid -> 1;
//    LIBCUDA_LOG_LEVEL invalid -> 2; CUDA_OVERSUBSCRIBE invalid -> false;
//    RECORD_KERNEL_INTERVAL invalid -> 1; CUDA_DEVICE_MEMORY_SHARED_CACHE too long ->
//    /tmp/cudevshr.cache.
//
// Everything here is pure (the environment comes through EnvLookup) and thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vgpu/region_layout.h"
#include "vgpu/status.h"

namespace hami::vgpu {

inline constexpr int kMaxDevices = layout::kMaxDevices;
inline constexpr const char* kDefaultSharedCachePath = "/tmp/cudevshr.cache";
inline constexpr int kDefaultLogLevel = 2;
inline constexpr int32_t kDefaultTaskPriority = 1;

// GPU_CORE_UTILIZATION_POLICY (spec §4.4).
enum class UtilizationPolicy : uint8_t {
  kDefault,  // obey the region's utilization_switch (written by the host monitor)
  kForce,    // always throttle
  kDisable,  // never throttle (memory limits still apply)
};
const char* PolicyName(UtilizationPolicy policy);  // "default" / "force" / "disable"

struct EnvConfig {
  // Per CUDA device index as seen in the container; 0 = unlimited.
  std::array<uint64_t, kMaxDevices> memory_limit_bytes{};
  // Per CUDA device index; 0 = unthrottled, otherwise 1..100.
  std::array<uint32_t, kMaxDevices> sm_limit_percent{};
  UtilizationPolicy utilization_policy = UtilizationPolicy::kDefault;
  int32_t task_priority = kDefaultTaskPriority;  // HAMi: 0 = high, 1 = low
  int log_level = kDefaultLogLevel;              // 0/1 errors, 2 +warnings, 3 +info, 4 +debug
  std::string shared_cache_path = kDefaultSharedCachePath;
  bool oversubscribe = false;
  uint32_t record_kernel_interval_s = 1;  // seconds between last_kernel_time stamps
  // One line per rejected value: "<NAME>=\"<value>\": <why>; <what applies instead>".
  std::vector<std::string> warnings;
};

// Returns the value of an environment variable, or nullptr when unset. The pointer must stay
// valid until the next call.
using EnvLookup = std::function<const char*(const char* name)>;

// Parses every variable above. Never fails: invalid values become warnings plus defaults.
EnvConfig ParseEnv(const EnvLookup& lookup);
// ParseEnv over the process environment (getenv). Not safe against concurrent setenv().
EnvConfig ParseProcessEnv();

// Building blocks, exposed for tests and fuzzing. Each rejects with kInvalidArgument and a
// message saying what was wrong (without the variable name). Input is not trimmed here.
Result<uint64_t> ParseMemoryBytes(std::string_view text);
Result<uint32_t> ParsePercent(std::string_view text);  // 0..100, optional trailing '%'
Result<int64_t> ParseDecimal(std::string_view text, int64_t min, int64_t max);
Result<bool> ParseBool(std::string_view text);  // true/false/1/0/yes/no/on/off, any case
Result<UtilizationPolicy> ParsePolicy(std::string_view text);  // force/default/disable, any case

}  // namespace hami::vgpu
