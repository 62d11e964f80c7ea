#include "deviceplugin/device_list.h"

#include <algorithm>
#include <set>

#include "common/strings.h"

namespace hami::deviceplugin {

namespace {

constexpr std::string_view kAccepted = "envvar, volume-mounts, cdi-annotations, cdi-cri";

bool IsAlphaNumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// `text` is non-empty, starts and ends alphanumeric, and its inner characters are
// alphanumeric or in `inner`: the shape CDI requires of device names and annotation keys.
bool IsCdiToken(std::string_view text, std::string_view inner) {
  if (text.empty() || !IsAlphaNumeric(text.front()) || !IsAlphaNumeric(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [inner](char c) {
    return IsAlphaNumeric(c) || inner.find(c) != std::string_view::npos;
  });
}

Status CheckId(const DeviceListStrategies& strategies, const std::string& id) {
  if (id.empty() || id.find(',') != std::string::npos) {
    return InvalidArgument("device id " + QuoteForError(id) +
                           " cannot be listed: empty or contains a comma");
  }
  if (strategies.volume_mounts && (id == "." || id == ".." || id.find('/') != std::string::npos)) {
    return InvalidArgument("device id " + QuoteForError(id) + " cannot be a file name under " +
                           std::string(kDeviceListMountRoot));
  }
  if (strategies.AnyCdi() && !IsCdiToken(id, "_.:-")) {
    return InvalidArgument("device id " + QuoteForError(id) +
                           " is not a valid CDI device name (letters, digits, _ . : -, "
                           "alphanumeric first and last)");
  }
  return Status::Ok();
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

}  // namespace

Result<DeviceListStrategies> ParseDeviceListStrategies(std::string_view text) {
  const auto invalid = [text](const std::string& what) {
    return InvalidArgument(what + " in " + QuoteForError(text) + " (want one or more of " +
                           std::string(kAccepted) + ", comma-separated)");
  };
  if (Trim(text).empty()) return invalid("no device list strategy");
  DeviceListStrategies out;
  out.envvar = false;
  for (std::string_view piece : Split(text, ',')) {
    const std::string_view name = Trim(piece);
    if (name == "envvar") {
      out.envvar = true;
    } else if (name == "volume-mounts") {
      out.volume_mounts = true;
    } else if (name == "cdi-annotations") {
      out.cdi_annotations = true;
    } else if (name == "cdi-cri") {
      out.cdi_cri = true;
    } else if (name.empty()) {
      return invalid("empty device list strategy name");
    } else {
      return invalid("unknown device list strategy " + QuoteForError(name));
    }
  }
  return out;
}

Result<DeviceListAnswer> DeviceListFor(const DeviceListStrategies& strategies,
                                       std::span<const std::string> device_ids,
                                       std::string_view response_id) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const std::string& id : device_ids) {
    HAMI_RETURN_IF_ERROR(CheckId(strategies, id));
    if (seen.insert(id).second) ids.push_back(id);
  }
  DeviceListAnswer out;
  if (strategies.AnyCdi() && !ids.empty()) {
    std::vector<std::string> names;
    for (const std::string& id : ids) names.push_back(std::string(kCdiGpuKind) + "=" + id);
    if (strategies.cdi_annotations) {
      // CDI's key rule: '/' in the id becomes '_', then the name must be a short token.
      std::string name = std::string(kCdiAnnotationPlugin) + "_" + std::string(response_id);
      std::replace(name.begin(), name.end(), '/', '_');
      if (response_id.empty() || name.size() > 63 || !IsCdiToken(name, "_.-")) {
        return InvalidArgument("CDI annotation key " + QuoteForError(name) +
                               " is invalid (at most 63 characters of letters, digits, _ . -)");
      }
      out.annotations[std::string(kCdiAnnotationPrefix) + name] = Join(names);
    }
    if (strategies.cdi_cri) out.cdi_devices = names;
  }
  if (strategies.OnlyCdi()) return out;
  if (strategies.envvar) out.envs[std::string(kVisibleDevicesEnv)] = Join(ids);
  if (strategies.volume_mounts) {
    out.envs[std::string(kVisibleDevicesEnv)] = std::string(kDeviceListMountRoot);
    for (const std::string& id : ids) {
      // Not read-only, as upstream: the runtime only reads the entry's name.
      out.mounts.push_back({std::string(kDeviceListMountRoot) + "/" + id,
                            std::string(kDeviceListMountHostPath), false});
    }
  }
  return out;
}

}  // namespace hami::deviceplugin
