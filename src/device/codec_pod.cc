// Pod device strings (§2.5): "<uuid>,<type>,<mem>,<cores>:" per device, ';' after each container.
#include <string>

#include "common/strings.h"
#include "device/codec.h"

namespace hami {
namespace {

Result<ContainerDevice> DecodeDevice(std::string_view piece) {
  std::vector<std::string_view> f = Split(piece, ',');
  if (f.size() < 4) {
    return InvalidArgument("device " + QuoteForError(piece) + " has " + std::to_string(f.size()) +
                           " comma-separated fields, want at least 4 (uuid,type,mem,cores)");
  }
  ContainerDevice d;
  if (f[0].empty()) {
    return InvalidArgument("device " + QuoteForError(piece) + " has an empty uuid");
  }
  d.uuid = std::string(f[0]);
  d.type = std::string(f[1]);
  std::optional<int32_t> mem = ParseInt32(f[2]);
  if (!mem || *mem < 0) {
    return InvalidArgument("device " + QuoteForError(piece) + ": memory " + QuoteForError(f[2]) +
                           " is not a non-negative 32-bit integer (MiB)");
  }
  std::optional<int32_t> cores = ParseInt32(f[3]);
  if (!cores || *cores < 0) {
    return InvalidArgument("device " + QuoteForError(piece) + ": cores " + QuoteForError(f[3]) +
                           " is not a non-negative 32-bit integer (percent)");
  }
  d.used_mem_mib = *mem;
  d.used_cores = *cores;
  return d;
}

}  // namespace

std::string EncodeContainerDevices(const ContainerDevices& devices) {
  std::string out;
  for (const ContainerDevice& d : devices) {
    out += d.uuid;
    out.push_back(',');
    out += d.type;
    out.push_back(',');
    out += std::to_string(d.used_mem_mib);
    out.push_back(',');
    out += std::to_string(d.used_cores);
    out.push_back(':');
  }
  return out;
}

Result<ContainerDevices> DecodeContainerDevices(std::string_view text) {
  if (text.find(';') != std::string_view::npos) {
    return InvalidArgument("container device list " + QuoteForError(text) +
                           " contains ';' (that separates containers; use DecodePodDevices)");
  }
  ContainerDevices out;
  if (text.empty()) {
    return out;
  }
  for (std::string_view piece : Split(text, ':')) {
    if (piece.empty()) {
      continue;
    }
    Result<ContainerDevice> d = DecodeDevice(piece);
    if (!d.ok()) {
      return d.status();
    }
    out.push_back(std::move(d).value());
  }
  return out;
}

std::string EncodePodDevices(const PodDevices& pod_devices) {
  std::string out;
  for (const ContainerDevices& group : pod_devices) {
    out += EncodeContainerDevices(group);
    out.push_back(';');
  }
  return out;
}

Result<PodDevices> DecodePodDevices(std::string_view text) {
  PodDevices out;
  if (text.empty()) {
    return out;
  }
  std::vector<std::string_view> groups = Split(text, ';');
  // The canonical form ends every group with ';', so the piece after the last ';' is the end of
  // the string, not a container; keep it only when something is there.
  if (groups.back().empty()) {
    groups.pop_back();
  }
  out.reserve(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    Result<ContainerDevices> group = DecodeContainerDevices(groups[i]);
    if (!group.ok()) {
      return group.status().WithContext("pod device string " + QuoteForError(text) +
                                        ": container " + std::to_string(i));
    }
    out.push_back(std::move(group).value());
  }
  return out;
}

}  // namespace hami
