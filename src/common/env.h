// Reading the process environment in the binaries' flag parsing (not in libraries: those take
// their settings as values). Thread-safe as long as nobody calls setenv.
#pragma once

#include <cstdlib>
#include <string>

namespace hami {

// The variable's value, or `fallback` when it is unset or empty (an empty value means "unset",
// as HAMi's binaries treat it).
inline std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace hami
