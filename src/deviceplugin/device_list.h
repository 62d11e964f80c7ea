// How a container's devices are passed to the container runtime: the device-list strategies
// of the NVIDIA k8s-device-plugin, which HAMi's plugin embeds (`--device-list-strategy`, env
// `DEVICE_LIST_STRATEGY`, a comma list of one or more of):
//   envvar           env NVIDIA_VISIBLE_DEVICES=<id>,<id>  (the default)
//   volume-mounts    env NVIDIA_VISIBLE_DEVICES=/var/run/nvidia-container-devices and one mount
//                    /dev/null -> /var/run/nvidia-container-devices/<id> per device
//   cdi-annotations  container annotation cdi.k8s.io/nvidia-device-plugin_<response id> =
//                    "<kind>=<id>,<kind>=<id>" (CDI injection by the runtime)
//   cdi-cri          the CRI's CDI device field: one "<kind>=<id>" per device
// As upstream, volume-mounts sets NVIDIA_VISIBLE_DEVICES after envvar (so it wins when both are
// on), and when only CDI strategies are on NVIDIA_VISIBLE_DEVICES is not set at all.
//
// Pure and I/O-free; all functions are thread-safe. Device ids are opaque (GPU or MIG UUIDs).
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hami::deviceplugin {

// The env var the NVIDIA container runtime reads (envvar and volume-mounts strategies).
inline constexpr std::string_view kVisibleDevicesEnv = "NVIDIA_VISIBLE_DEVICES";
// volume-mounts: the directory whose entry names list the devices, and what each entry is.
inline constexpr std::string_view kDeviceListMountRoot = "/var/run/nvidia-container-devices";
inline constexpr std::string_view kDeviceListMountHostPath = "/dev/null";
// The CDI kind (`<vendor>/<class>`) of the devices named in CDI strategies: the one the
// upstream plugin (and HAMi's) generates its CDI spec under, devices named by UUID.
inline constexpr std::string_view kCdiGpuKind = "k8s.device-plugin.nvidia.com/gpu";
// CDI annotation keys are "cdi.k8s.io/<plugin>_<response id>" (CDI's UpdateAnnotations).
inline constexpr std::string_view kCdiAnnotationPrefix = "cdi.k8s.io/";
inline constexpr std::string_view kCdiAnnotationPlugin = "nvidia-device-plugin";

// Which strategies are on. A set: order and repetition in the flag do not matter.
struct DeviceListStrategies {
  bool envvar = true;
  bool volume_mounts = false;
  bool cdi_annotations = false;
  bool cdi_cri = false;

  bool AnyCdi() const { return cdi_annotations || cdi_cri; }
  // Only CDI strategies: the runtime injects devices from CDI, no env / mount list is sent.
  bool OnlyCdi() const { return AnyCdi() && !envvar && !volume_mounts; }
  bool operator==(const DeviceListStrategies&) const = default;
};

// Parses the flag / env value: names separated by commas, whitespace around each ignored,
// repeats allowed (as upstream, a set). Failure (InvalidArgument, a message naming the value
// and the accepted names): no name at all, an empty name ("envvar,"), an unknown name (names
// are case-sensitive).
Result<DeviceListStrategies> ParseDeviceListStrategies(std::string_view text);

struct DeviceListMount {
  std::string container_path;
  std::string host_path;
  bool read_only = false;
  bool operator==(const DeviceListMount&) const = default;
};

// What the strategies add to one container's Allocate answer.
struct DeviceListAnswer {
  std::map<std::string, std::string> envs;
  std::vector<DeviceListMount> mounts;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cdi_devices;  // fully qualified CDI names, "<kind>=<id>"
  bool operator==(const DeviceListAnswer&) const = default;
};

// The answer for a container given `device_ids` (in order; a repeated id is listed once, as
// upstream does). `response_id` makes the cdi-annotations key unique per container answer (a
// fresh UUID: the key's name part, "nvidia-device-plugin_<id>", must stay within 63 characters
// of [A-Za-z0-9_.-] with alphanumeric ends). With CDI strategies and no device ids nothing CDI
// is added. Failure (InvalidArgument): an empty id or one with a comma; for volume-mounts an id
// that is not a single path element ("/", ".", ".."); for CDI strategies an id that is not a
// valid CDI device name ([A-Za-z0-9_.:-], alphanumeric ends) or a `response_id` that makes an
// invalid annotation key.
Result<DeviceListAnswer> DeviceListFor(const DeviceListStrategies& strategies,
                                       std::span<const std::string> device_ids,
                                       std::string_view response_id);

}  // namespace hami::deviceplugin
