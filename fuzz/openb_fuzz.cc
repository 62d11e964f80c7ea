// Fuzz target for the openb CSV loaders: arbitrary bytes must yield either a parse error that
// names the source, or data that satisfies the same validation rules the loader promises.
// Anything else (a crash, a sanitizer report, a broken invariant) is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "sim/trace.h"

namespace {

constexpr char kSource[] = "<fuzz>";

// Aborts on a broken invariant so libFuzzer (and the standalone driver) report the input.
void Require(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void CheckError(const hami::Status& status) {
  Require(!status.ok());
  Require(status.message().rfind(kSource, 0) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  {
    std::istringstream in(text);
    auto pods = hami::sim::ParseOpenbPods(in, kSource);
    if (pods.ok()) {
      Require(!pods->pods.empty());
      for (const auto& pod : pods->pods) Require(hami::sim::ValidateSimPod(pod).ok());
    } else {
      CheckError(pods.status());
    }
  }
  {
    std::istringstream in(text);
    auto nodes = hami::sim::ParseOpenbNodes(in, kSource);
    if (nodes.ok()) {
      Require(!nodes->nodes.empty());
      for (const auto& node : nodes->nodes) Require(hami::sim::ValidateSimNode(node).ok());
      Require(nodes->TotalGpuMilli() >= 0);
    } else {
      CheckError(nodes.status());
    }
  }
  return 0;
}
