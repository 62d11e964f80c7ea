// `hami config ...` and `hami decode ...`: validate a device config and decode HAMi's wire
// formats (annotation values) into readable JSON. Each returns the process exit code and
// writes results to `out`, errors to `err`.
#pragma once

#include <ostream>
#include <string>

namespace hami::cli {

// Loads and validates a device-config YAML file ("-" = stdin); prints a summary.
int RunConfigValidate(const std::string& path, std::ostream& out, std::ostream& err);

// Prints the embedded default device config (NVIDIA only); with `all_vendors`, followed by
// every other vendor's section as HAMi's chart renders them.
int RunConfigDefault(bool all_vendors, std::ostream& out);

// The formats `hami decode` knows, for the help text.
const char* DecodeKinds();

// Decodes one annotation value of the given kind (node-devices, legacy-devices, pod-devices,
// node-lock, handshake, bind-phase) and prints it as JSON; kind "node" takes a whole Node
// object and prints each vendor's devices (chart default config, all vendors enabled), or the
// vendor's error (exit 1). A value of "-" is read from stdin.
int RunDecode(const std::string& kind, const std::string& value, std::ostream& out,
              std::ostream& err);

}  // namespace hami::cli
