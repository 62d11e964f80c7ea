// Finds the per-container shared-region files HAMi-core writes on a node (spec §6) and removes
// the directories of pods that are gone.
//
// Layout: <root>/containers/<podUID>_<containerName>/<something>.cache. The device plugin creates
// the directory at Allocate and libvgpu.so inside the container creates the file. A pod UID never
// contains '_', so the name splits at the FIRST '_' (a container name may hold one).
//
// Thread-safety: stateless; concurrent scans of one root may race on deletion (each sees ENOENT
// for the other's victims, which is reported, not fatal). Real filesystem I/O; time is injected.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace hami::monitor {

struct ContainerDir {
  std::string pod_uid;
  std::string container_name;
  std::string dir_path;    // <root>/containers/<podUID>_<containerName>
  std::string cache_path;  // the single *.cache file in it
};

struct ScanProblem {
  std::string path;
  std::string reason;  // for a key=value log line
};

struct ScanResult {
  std::vector<ContainerDir> containers;  // live pods with exactly one cache file; sorted by dir
  std::vector<ScanProblem> problems;     // skipped entries and failed deletions
  std::vector<std::string> deleted;      // directories removed as stale
};

struct ScanOptions {
  int64_t now_unix_s = 0;       // the injected clock
  int64_t stale_grace_s = 300;  // spec: HAMI_RESYNC_INTERVAL, 5 min by default
};

// Scans <root>/containers. For each directory entry:
//  * not a directory (symlinks included, never followed): reported, left alone;
//  * a name without '_' or with an empty part: reported, left alone (never delete what we do not
//    recognise);
//  * pod UID in `live_pod_uids`: listed if it holds exactly one regular file named "*.cache",
//    otherwise reported (none: the container has not started its CUDA work yet; several: we
//    cannot tell which one libvgpu.so maps);
//  * pod UID not live: removed recursively when its mtime is at least stale_grace_s old
//    (now - mtime >= grace), otherwise left alone and not listed (the pod may be newer than our
//    pod list). A directory whose pod is live is never deleted.
// Errors: kNotFound when <root>/containers does not exist, kInvalidArgument when it is not a
// directory or cannot be listed. Problems with single entries never fail the scan.
Result<ScanResult> ScanContainers(const std::string& root,
                                  const std::set<std::string>& live_pod_uids,
                                  const ScanOptions& options);

// Splits "<podUID>_<containerName>" at the first '_'. False when there is no '_' or either part
// is empty.
bool SplitContainerDirName(const std::string& name, std::string* pod_uid,
                           std::string* container_name);

}  // namespace hami::monitor
