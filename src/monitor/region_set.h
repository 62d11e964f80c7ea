// The open shared regions of a node's containers, kept in step with each directory scan
// (container_scan.h): a new container's file is mapped, a file that was replaced (another inode:
// the container was recreated) is mapped again, and the mappings of containers no longer listed
// are dropped. A file that cannot be opened (corrupt, truncated, foreign, or still being created
// by libvgpu.so) is retried every round and reported only when its reason changes.
//
// Thread-safety: all methods may be called concurrently. Entries() hands out shared pointers,
// so a scrape may keep reading a region the next reconcile drops.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "monitor/container_scan.h"
#include "monitor/region_reader.h"

namespace hami::monitor {

struct OpenRegion {
  ContainerDir dir;
  std::shared_ptr<MappedRegion> region;
};

struct ReconcileReport {
  std::vector<std::string> opened;        // cache paths mapped this round
  std::vector<std::string> dropped;       // cache paths no longer mapped
  std::vector<ScanProblem> new_problems;  // open failures not reported before (or changed)
};

class RegionSet {
 public:
  // Brings the set in line with `containers` (a scan's listing).
  ReconcileReport Reconcile(const std::vector<ContainerDir>& containers);
  // The regions open now, in the order of the last listing.
  std::vector<OpenRegion> Entries() const;
  size_t size() const;

 private:
  struct Slot {
    OpenRegion open;
    dev_t device = 0;
    ino_t inode = 0;
  };
  mutable std::mutex mu_;
  std::vector<Slot> slots_;                      // GUARDED_BY(mu_)
  std::map<std::string, std::string> failures_;  // cache path -> last reason; GUARDED_BY(mu_)
};

}  // namespace hami::monitor
