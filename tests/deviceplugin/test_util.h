// Shared set-up for the device plugin tests that run the daemon on the fake NVML.
#pragma once

#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace hami::deviceplugin::testing {

// Writes <dir>/nvml.json describing two Tesla T4s (GPU-aaa, GPU-bbb; 15360 MiB) and points
// the fake libnvidia-ml.so.1 at it.
inline void UseTwoT4s(const std::string& dir) {
  const nlohmann::json config = {{"devices",
                                  {{{"uuid", "GPU-aaa"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3B:00.0"}},
                                   {{"uuid", "GPU-bbb"},
                                    {"name", "Tesla T4"},
                                    {"memory_mib", 15360},
                                    {"bus_id", "00000000:3C:00.0"}}}}};
  std::ofstream(dir + "/nvml.json") << config.dump();
  setenv("HAMI_FAKE_NVML_CONFIG", (dir + "/nvml.json").c_str(), 1);
}

}  // namespace hami::deviceplugin::testing
