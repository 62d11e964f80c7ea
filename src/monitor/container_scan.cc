#include "monitor/container_scan.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace hami::monitor {

namespace fs = std::filesystem;

bool SplitContainerDirName(const std::string& name, std::string* pod_uid,
                           std::string* container_name) {
  const size_t sep = name.find('_');
  if (sep == std::string::npos || sep == 0 || sep + 1 == name.size()) return false;
  *pod_uid = name.substr(0, sep);
  *container_name = name.substr(sep + 1);
  return true;
}

namespace {

bool EndsWithCache(const std::string& name) {
  constexpr std::string_view kSuffix = ".cache";
  return name.size() > kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

// Finds the single *.cache regular file of `dir`; an error message otherwise.
bool FindCacheFile(const fs::path& dir, std::string* path, std::string* why) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    *why = "cannot list directory: " + ec.message();
    return false;
  }
  std::vector<std::string> found;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    if (!EndsWithCache(e.path().filename().string())) continue;
    std::error_code sec;
    if (!e.is_regular_file(sec) || e.is_symlink(sec)) continue;
    found.push_back(e.path().string());
  }
  if (ec) {
    *why = "cannot list directory: " + ec.message();
    return false;
  }
  if (found.empty()) {
    *why = "no *.cache file";
    return false;
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    *why = std::to_string(found.size()) + " *.cache files (" + found[0] + ", " + found[1] +
           (found.size() > 2 ? ", ..." : "") + ")";
    return false;
  }
  *path = found[0];
  return true;
}

}  // namespace

Result<ScanResult> ScanContainers(const std::string& root,
                                  const std::set<std::string>& live_pod_uids,
                                  const ScanOptions& options) {
  const fs::path base = fs::path(root) / "containers";
  struct stat st {};
  if (::stat(base.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(base.string() + ": no such directory");
    return InvalidArgument(base.string() + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(base.string() + ": not a directory");

  std::error_code ec;
  fs::directory_iterator it(base, ec);
  if (ec) return InvalidArgument(base.string() + ": cannot list: " + ec.message());
  std::vector<fs::path> entries;
  for (; it != fs::directory_iterator(); it.increment(ec)) entries.push_back(it->path());
  if (ec) return InvalidArgument(base.string() + ": cannot list: " + ec.message());
  std::sort(entries.begin(), entries.end());

  ScanResult out;
  for (const fs::path& dir : entries) {
    const std::string name = dir.filename().string();
    struct stat dst {};
    if (::lstat(dir.c_str(), &dst) != 0) {  // vanished since listing
      out.problems.push_back({dir.string(), std::string("lstat: ") + std::strerror(errno)});
      continue;
    }
    if (!S_ISDIR(dst.st_mode)) {
      out.problems.push_back({dir.string(), "not a directory"});
      continue;
    }
    std::string pod_uid, container;
    if (!SplitContainerDirName(name, &pod_uid, &container)) {
      out.problems.push_back({dir.string(), "name is not <podUID>_<containerName>"});
      continue;
    }
    if (live_pod_uids.count(pod_uid) == 0) {
      const int64_t age_s = options.now_unix_s - static_cast<int64_t>(dst.st_mtime);
      if (age_s < options.stale_grace_s) continue;  // maybe a pod our list does not show yet
      std::error_code rec;
      fs::remove_all(dir, rec);
      if (rec) {
        out.problems.push_back({dir.string(), "removing stale directory: " + rec.message()});
      } else {
        out.deleted.push_back(dir.string());
      }
      continue;
    }
    std::string cache, why;
    if (!FindCacheFile(dir, &cache, &why)) {
      out.problems.push_back({dir.string(), why});
      continue;
    }
    out.containers.push_back({pod_uid, container, dir.string(), cache});
  }
  return out;
}

}  // namespace hami::monitor
