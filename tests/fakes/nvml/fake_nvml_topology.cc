// The fake NVML's GPU topology: PCIe common ancestors and NVLinks, with NVML's semantics and
// return codes. Config keys per device (fake_nvml.cc reads the file):
//   "nvlinks": [<peer GPU index> | "switch" | null, ...]   one entry per NVLink, link i = entry i:
//              the GPU (by index) or NVSwitch at its far end, null = not active. Absent: the GPU
//              has no NVLink (every NVLink query answers NOT_SUPPORTED); links past the list
//              answer INVALID_ARGUMENT, as links a GPU does not have do.
//   "pcie_switches": ["sw1", "sw0"]  PCIe switches above the GPU, nearest first
//   "host_bridge": "hb0"             its host bridge ("" = one of its own)
//   "cpu": 0                         the CPU (NUMA node) its root port hangs off
//   "board": "b0"                    a multi-GPU board it shares ("" = none)
//   "topology_error": <code>         nvmlDeviceGetTopologyCommonAncestor answers it for this GPU
// nvmlDeviceGetTopologyCommonAncestor of two GPUs: INTERNAL (same board), SINGLE (same nearest
// switch), MULTIPLE (any switch in common), HOSTBRIDGE, NODE (same CPU) or SYSTEM. An NVLink's
// remote PCI info is its peer GPU's bus id, or kSwitchBusId for an NVSwitch. A GPU's links are
// as its own entry says: one side listing a link the other does not is how a test models an
// asymmetric (half-broken) pair.
#include <algorithm>
#include <cstring>

#include "fake_nvml_state.h"

namespace fake_nvml {

namespace {

constexpr char kSwitchBusId[] = "00000000:C0:00.0";

// The link's entry, or an error code as NVML answers for a link the GPU does not have.
nvmlReturn_t LinkOf(const FakeDevice& d, unsigned int link, int* peer) {
  if (d.nvlinks.empty()) return NVML_ERROR_NOT_SUPPORTED;
  if (link >= kNvmlNvLinkMaxLinks || link >= d.nvlinks.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *peer = d.nvlinks[link];
  return NVML_SUCCESS;
}

bool SharesAny(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(), [&](const std::string& s) {
    return std::find(b.begin(), b.end(), s) != b.end();
  });
}

nvmlGpuTopologyLevel_t CommonAncestor(const FakeDevice& a, const FakeDevice& b) {
  if (!a.board.empty() && a.board == b.board) return NVML_TOPOLOGY_INTERNAL;
  if (!a.pcie_switches.empty() && !b.pcie_switches.empty() &&
      a.pcie_switches.front() == b.pcie_switches.front()) {
    return NVML_TOPOLOGY_SINGLE;
  }
  if (SharesAny(a.pcie_switches, b.pcie_switches)) return NVML_TOPOLOGY_MULTIPLE;
  if (!a.host_bridge.empty() && a.host_bridge == b.host_bridge) return NVML_TOPOLOGY_HOSTBRIDGE;
  if (a.cpu == b.cpu) return NVML_TOPOLOGY_NODE;
  return NVML_TOPOLOGY_SYSTEM;
}

}  // namespace

void ReadTopology(const nlohmann::json& config, FakeDevice* device) {
  for (const nlohmann::json& link : config.value("nvlinks", nlohmann::json::array())) {
    if (link.is_number_integer()) {
      device->nvlinks.push_back(link.get<int>());
    } else if (link.is_string() && link.get<std::string>() == "switch") {
      device->nvlinks.push_back(kNvLinkToSwitch);
    } else {
      device->nvlinks.push_back(kNvLinkDown);
    }
  }
  device->pcie_switches = config.value("pcie_switches", std::vector<std::string>{});
  device->host_bridge = config.value("host_bridge", "");
  device->board = config.value("board", "");
  device->cpu = config.value("cpu", 0);
  device->topology_error = config.value("topology_error", NVML_SUCCESS);
}

}  // namespace fake_nvml

using namespace fake_nvml;  // NOLINT: this file is the fake's implementation

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(
    nvmlDevice_t first, nvmlDevice_t second, nvmlGpuTopologyLevel_t* level) {
  std::lock_guard<std::mutex> lock(mu);
  const FakeDevice* a = nullptr;
  const FakeDevice* b = nullptr;
  if (nvmlReturn_t r = Lookup(first, &a); r != NVML_SUCCESS) return r;
  if (nvmlReturn_t r = Lookup(second, &b); r != NVML_SUCCESS) return r;
  if (level == nullptr || a == b) return NVML_ERROR_INVALID_ARGUMENT;
  if (a->topology_error != NVML_SUCCESS) return a->topology_error;
  if (b->topology_error != NVML_SUCCESS) return b->topology_error;
  *level = CommonAncestor(*a, *b);
  return NVML_SUCCESS;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNvLinkState(
    nvmlDevice_t handle, unsigned int link, nvmlEnableState_t* active) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (active == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    int peer = 0;
    if (nvmlReturn_t r = LinkOf(d, link, &peer); r != NVML_SUCCESS) return r;
    *active = peer == kNvLinkDown ? 0 : kNvmlFeatureEnabled;
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(
    nvmlDevice_t handle, unsigned int link, nvmlPciInfo_t* pci) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    int peer = 0;
    if (nvmlReturn_t r = LinkOf(d, link, &peer); r != NVML_SUCCESS) return r;
    if (peer == kNvLinkDown) return NVML_ERROR_NOT_SUPPORTED;  // nothing at the far end
    std::string bus = kSwitchBusId;
    if (peer >= 0) {
      if (static_cast<size_t>(peer) >= devices.size()) return NVML_ERROR_UNKNOWN;  // bad config
      bus = devices[static_cast<size_t>(peer)].bus_id;
    }
    std::memset(pci, 0, sizeof(*pci));
    std::strncpy(pci->busId, bus.c_str(), sizeof(pci->busId) - 1);
    return NVML_SUCCESS;
  });
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(
    nvmlDevice_t handle, unsigned int link, nvmlIntNvLinkDeviceType_t* type) {
  return WithDevice(handle, [&](const FakeDevice& d) -> nvmlReturn_t {
    if (type == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
    int peer = 0;
    if (nvmlReturn_t r = LinkOf(d, link, &peer); r != NVML_SUCCESS) return r;
    if (peer == kNvLinkDown) return NVML_ERROR_NOT_SUPPORTED;
    *type = peer == kNvLinkToSwitch ? kNvmlNvLinkDeviceTypeSwitch : kNvmlNvLinkDeviceTypeGpu;
    return NVML_SUCCESS;
  });
}

}  // extern "C"
