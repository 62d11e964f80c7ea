#include "vgpu/env.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

namespace hami::vgpu {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

EnvConfig Parse(const std::map<std::string, std::string>& env) {
  return ParseEnv([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

bool AnyWarningContains(const EnvConfig& cfg, const std::string& needle) {
  for (const auto& w : cfg.warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(ParseMemoryBytesTest, AcceptedForms) {
  struct Case {
    const char* text;
    uint64_t bytes;
  } cases[] = {
      {"0", 0},
      {"1", 1},
      {"4096", 4096},
      {"010", 10},  // decimal, not octal
      {"1k", kKiB},
      {"1K", kKiB},
      {"3m", 3 * kMiB},
      {"3000M", 3000 * kMiB},
      {"2g", 2 * kGiB},
      {"2G", 2 * kGiB},
      {"1t", kGiB * 1024},
      {"512Mi", 512 * kMiB},
      {"4Gi", 4 * kGiB},
      {"4GiB", 4 * kGiB},
      {"16KiB", 16 * kKiB},
  };
  for (const auto& c : cases) {
    auto r = ParseMemoryBytes(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
  auto max = ParseMemoryBytes("65536T");  // exactly 64 PiB
  ASSERT_TRUE(max.ok()) << max.status().message();
  EXPECT_EQ(*max, uint64_t{1} << 56);
}

TEST(ParseMemoryBytesTest, RejectedForms) {
  struct Case {
    const char* text;
    const char* why;  // substring of the message
  } cases[] = {
      {"", "empty"},
      {"-1", "negative"},
      {"-1g", "negative"},
      {"+5", "not a decimal size"},
      {"abc", "not a decimal size"},
      {"g", "not a decimal size"},
      {"0x10", "unknown unit"},  // no hex
      {"1gb", "unknown unit"},   // upstream: 1 byte
      {"1GB", "unknown unit"},
      {"1MB", "unknown unit"},
      {"1.5g", "fractions"},    // upstream: 1 GiB
      {"1g ", "unknown unit"},  // internal trailing garbage (ParseEnv trims, this does not)
      {"1 g", "unknown unit"},
      {"1gg", "unknown unit"},
      {"1Gib", "unknown unit"},
      {"1e9", "unknown unit"},
      {"99999999999999999999", "overflows"},
      {"18446744073709551615k", "overflows"},
      {"17179869184G", "overflows"},  // 2^34 GiB = 2^64
      {"18446744073709551615", "64 PiB"},
      {"65537T", "64 PiB"},
  };
  for (const auto& c : cases) {
    auto r = ParseMemoryBytes(c.text);
    ASSERT_FALSE(r.ok()) << "accepted \"" << c.text << "\"";
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(std::string(r.status().message()).find(c.why), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

TEST(ParseScalarsTest, PercentBoolPolicyDecimal) {
  EXPECT_EQ(*ParsePercent("0"), 0u);
  EXPECT_EQ(*ParsePercent("30"), 30u);
  EXPECT_EQ(*ParsePercent("100"), 100u);
  EXPECT_EQ(*ParsePercent("50%"), 50u);
  for (const char* bad : {"101", "-1", "30.5", "0x1e", "", "%", "3 0"}) {
    EXPECT_FALSE(ParsePercent(bad).ok()) << bad;
  }
  for (const char* t : {"true", "TRUE", "1", "yes", "On"}) EXPECT_TRUE(*ParseBool(t)) << t;
  for (const char* f : {"false", "False", "0", "no", "OFF"}) EXPECT_FALSE(*ParseBool(f)) << f;
  for (const char* bad : {"", "2", "y", "truee"}) EXPECT_FALSE(ParseBool(bad).ok()) << bad;
  EXPECT_EQ(*ParsePolicy("FORCE"), UtilizationPolicy::kForce);
  EXPECT_EQ(*ParsePolicy("Disable"), UtilizationPolicy::kDisable);
  EXPECT_EQ(*ParsePolicy("default"), UtilizationPolicy::kDefault);
  EXPECT_FALSE(ParsePolicy("forced").ok());
  EXPECT_EQ(*ParseDecimal("-7", -10, 10), -7);
  EXPECT_EQ(*ParseDecimal("-9223372036854775808", INT64_MIN, INT64_MAX), INT64_MIN);
  EXPECT_FALSE(ParseDecimal("9223372036854775808", INT64_MIN, INT64_MAX).ok());
  EXPECT_FALSE(ParseDecimal("11", -10, 10).ok());
  EXPECT_FALSE(ParseDecimal("-", -10, 10).ok());
  EXPECT_FALSE(ParseDecimal("1-", -10, 10).ok());
}

TEST(ParseEnvTest, DefaultsWhenUnset) {
  EnvConfig cfg = Parse({});
  for (int i = 0; i < kMaxDevices; ++i) {
    EXPECT_EQ(cfg.memory_limit_bytes[i], 0u);
    EXPECT_EQ(cfg.sm_limit_percent[i], 0u);
  }
  EXPECT_EQ(cfg.utilization_policy, UtilizationPolicy::kDefault);
  EXPECT_EQ(cfg.task_priority, 1);
  EXPECT_EQ(cfg.log_level, 2);
  EXPECT_EQ(cfg.shared_cache_path, "/tmp/cudevshr.cache");
  EXPECT_FALSE(cfg.oversubscribe);
  EXPECT_EQ(cfg.record_kernel_interval_s, 1u);
  EXPECT_TRUE(cfg.warnings.empty());
}

TEST(ParseEnvTest, PerDeviceOverridesGeneral) {
  EnvConfig cfg = Parse({{"CUDA_DEVICE_MEMORY_LIMIT", "2g"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_1", "3000m"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_15", "1Gi"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_3", "0"},  // 0 = not set here (upstream)
                         {"CUDA_DEVICE_SM_LIMIT", "50"},
                         {"CUDA_DEVICE_SM_LIMIT_2", "25"}});
  EXPECT_TRUE(cfg.warnings.empty());
  EXPECT_EQ(cfg.memory_limit_bytes[0], 2 * kGiB);
  EXPECT_EQ(cfg.memory_limit_bytes[1], 3000 * kMiB);
  EXPECT_EQ(cfg.memory_limit_bytes[3], 2 * kGiB);
  EXPECT_EQ(cfg.memory_limit_bytes[15], kGiB);
  EXPECT_EQ(cfg.sm_limit_percent[0], 50u);
  EXPECT_EQ(cfg.sm_limit_percent[2], 25u);
  EXPECT_EQ(cfg.sm_limit_percent[15], 50u);
}

TEST(ParseEnvTest, PerDeviceOnlyLeavesOthersUnlimited) {
  EnvConfig cfg = Parse({{"CUDA_DEVICE_MEMORY_LIMIT_0", "1024m"}});
  EXPECT_EQ(cfg.memory_limit_bytes[0], kGiB);
  EXPECT_EQ(cfg.memory_limit_bytes[1], 0u);
}

TEST(ParseEnvTest, BlankValuesAreTrimmedOrUnset) {
  EnvConfig cfg = Parse({{"CUDA_DEVICE_MEMORY_LIMIT", " 2g\n"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_1", ""},
                         {"CUDA_TASK_PRIORITY", "  "}});
  EXPECT_TRUE(cfg.warnings.empty());
  EXPECT_EQ(cfg.memory_limit_bytes[0], 2 * kGiB);
  EXPECT_EQ(cfg.memory_limit_bytes[1], 2 * kGiB);
  EXPECT_EQ(cfg.task_priority, 1);
}

TEST(ParseEnvTest, InvalidPerDeviceFallsBackToGeneralWithWarning) {
  EnvConfig cfg =
      Parse({{"CUDA_DEVICE_MEMORY_LIMIT", "2g"}, {"CUDA_DEVICE_MEMORY_LIMIT_1", "3gb"}});
  EXPECT_EQ(cfg.memory_limit_bytes[1], 2 * kGiB);
  ASSERT_EQ(cfg.warnings.size(), 1u);
  EXPECT_NE(cfg.warnings[0].find("CUDA_DEVICE_MEMORY_LIMIT_1=\"3gb\""), std::string::npos)
      << cfg.warnings[0];
  EXPECT_NE(cfg.warnings[0].find("using CUDA_DEVICE_MEMORY_LIMIT (2147483648 bytes)"),
            std::string::npos)
      << cfg.warnings[0];
}

TEST(ParseEnvTest, InvalidGeneralMeansNoLimitWithLoudWarning) {
  EnvConfig cfg = Parse({{"CUDA_DEVICE_MEMORY_LIMIT", "0x80000000"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_2", "1g"},
                         {"CUDA_DEVICE_MEMORY_LIMIT_3", "-1"}});
  EXPECT_EQ(cfg.memory_limit_bytes[0], 0u);
  EXPECT_EQ(cfg.memory_limit_bytes[2], kGiB);
  EXPECT_EQ(cfg.memory_limit_bytes[3], 0u);
  ASSERT_EQ(cfg.warnings.size(), 2u);
  EXPECT_TRUE(AnyWarningContains(cfg, "CUDA_DEVICE_MEMORY_LIMIT=\"0x80000000\": unknown unit"));
  EXPECT_TRUE(AnyWarningContains(cfg, "no general limit applies"));
  EXPECT_TRUE(AnyWarningContains(cfg,
                                 "CUDA_DEVICE_MEMORY_LIMIT_3=\"-1\": negative size; "
                                 "device 3 is unlimited"));
}

TEST(ParseEnvTest, InvalidSmLimitsAreWarnedAndIgnored) {
  EnvConfig cfg = Parse({{"CUDA_DEVICE_SM_LIMIT", "150"},
                         {"CUDA_DEVICE_SM_LIMIT_1", "x"},
                         {"CUDA_DEVICE_SM_LIMIT_2", "40"}});
  EXPECT_EQ(cfg.sm_limit_percent[0], 0u);
  EXPECT_EQ(cfg.sm_limit_percent[1], 0u);
  EXPECT_EQ(cfg.sm_limit_percent[2], 40u);
  EXPECT_EQ(cfg.warnings.size(), 2u);
}

TEST(ParseEnvTest, ScalarsAndTheirWarnings) {
  struct Case {
    std::map<std::string, std::string> env;
    bool warns;
    std::function<void(const EnvConfig&)> check;
  } cases[] = {
      {{{"GPU_CORE_UTILIZATION_POLICY", "FORCE"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.utilization_policy, UtilizationPolicy::kForce); }},
      {{{"GPU_CORE_UTILIZATION_POLICY", "disable"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.utilization_policy, UtilizationPolicy::kDisable); }},
      {{{"GPU_CORE_UTILIZATION_POLICY", "sometimes"}},
       true,
       [](const EnvConfig& c) { EXPECT_EQ(c.utilization_policy, UtilizationPolicy::kDefault); }},
      {{{"CUDA_TASK_PRIORITY", "0"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.task_priority, 0); }},
      {{{"CUDA_TASK_PRIORITY", "-3"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.task_priority, -3); }},
      {{{"CUDA_TASK_PRIORITY", "high"}},
       true,
       [](const EnvConfig& c) { EXPECT_EQ(c.task_priority, 1); }},
      {{{"CUDA_TASK_PRIORITY", "4294967296"}},
       true,
       [](const EnvConfig& c) { EXPECT_EQ(c.task_priority, 1); }},
      {{{"LIBCUDA_LOG_LEVEL", "4"}}, false, [](const EnvConfig& c) { EXPECT_EQ(c.log_level, 4); }},
      {{{"LIBCUDA_LOG_LEVEL", "9"}}, true, [](const EnvConfig& c) { EXPECT_EQ(c.log_level, 2); }},
      {{{"CUDA_DEVICE_MEMORY_SHARED_CACHE", "/usr/local/vgpu/x.cache"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.shared_cache_path, "/usr/local/vgpu/x.cache"); }},
      {{{"CUDA_DEVICE_MEMORY_SHARED_CACHE", std::string(5000, 'a')}},
       true,
       [](const EnvConfig& c) { EXPECT_EQ(c.shared_cache_path, "/tmp/cudevshr.cache"); }},
      {{{"CUDA_OVERSUBSCRIBE", "true"}},
       false,
       [](const EnvConfig& c) { EXPECT_TRUE(c.oversubscribe); }},
      {{{"CUDA_OVERSUBSCRIBE", "maybe"}},
       true,
       [](const EnvConfig& c) { EXPECT_FALSE(c.oversubscribe); }},
      {{{"RECORD_KERNEL_INTERVAL", "5"}},
       false,
       [](const EnvConfig& c) { EXPECT_EQ(c.record_kernel_interval_s, 5u); }},
      {{{"RECORD_KERNEL_INTERVAL", "1s"}},
       true,
       [](const EnvConfig& c) { EXPECT_EQ(c.record_kernel_interval_s, 1u); }},
  };
  for (const auto& c : cases) {
    EnvConfig cfg = Parse(c.env);
    SCOPED_TRACE(c.env.begin()->first + "=" + c.env.begin()->second.substr(0, 40));
    EXPECT_EQ(!cfg.warnings.empty(), c.warns);
    c.check(cfg);
    if (c.warns) {
      EXPECT_NE(cfg.warnings[0].find(c.env.begin()->first + "="), std::string::npos)
          << cfg.warnings[0];
    }
  }
}

TEST(ParseEnvTest, WarningQuotesUnprintableValuesSafely) {
  EnvConfig cfg =
      Parse({{"CUDA_DEVICE_MEMORY_LIMIT", std::string("1\x01\x7f") + std::string(100, 'g')}});
  ASSERT_EQ(cfg.warnings.size(), 1u);
  EXPECT_NE(cfg.warnings[0].find("\"1??ggg"), std::string::npos) << cfg.warnings[0];
  EXPECT_NE(cfg.warnings[0].find("...\""), std::string::npos) << cfg.warnings[0];
}

TEST(PolicyNameTest, Names) {
  EXPECT_STREQ(PolicyName(UtilizationPolicy::kDefault), "default");
  EXPECT_STREQ(PolicyName(UtilizationPolicy::kForce), "force");
  EXPECT_STREQ(PolicyName(UtilizationPolicy::kDisable), "disable");
}

}  // namespace
}  // namespace hami::vgpu
