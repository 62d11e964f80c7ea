// The only file I/O of the device module: reading the device config file.
#include <cerrno>
#include <cstring>
#include <fstream>

#include "device/config.h"

namespace hami {

namespace {
constexpr std::streamoff kMaxConfigBytes = 4 << 20;
}  // namespace

Result<DeviceConfig> LoadDeviceConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("device config file \"" + path +
                    "\" cannot be opened: " + std::strerror(errno));
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<std::streamoff>(text.size()) > kMaxConfigBytes) {
      return InvalidArgument("device config file \"" + path + "\" is larger than " +
                             std::to_string(kMaxConfigBytes) + " bytes");
    }
  }
  if (in.bad()) {
    return InvalidArgument("device config file \"" + path + "\" could not be read");
  }
  return LoadDeviceConfig(text, path);
}

}  // namespace hami
