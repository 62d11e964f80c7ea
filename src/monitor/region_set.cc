#include "monitor/region_set.h"

#include <sys/stat.h>

#include <utility>

namespace hami::monitor {

ReconcileReport RegionSet::Reconcile(const std::vector<ContainerDir>& containers) {
  ReconcileReport report;
  std::vector<Slot> next;
  std::map<std::string, std::string> failures;
  std::lock_guard<std::mutex> lock(mu_);
  for (const ContainerDir& dir : containers) {
    struct stat st {};
    if (::stat(dir.cache_path.c_str(), &st) != 0) continue;  // gone since the scan
    Slot* kept = nullptr;
    for (Slot& slot : slots_) {
      if (slot.open.dir.cache_path == dir.cache_path && slot.device == st.st_dev &&
          slot.inode == st.st_ino && slot.open.region != nullptr) {
        kept = &slot;
        break;
      }
    }
    if (kept != nullptr) {
      next.push_back(std::move(*kept));
      kept->open.region = nullptr;  // moved; marks it as taken
      continue;
    }
    auto region = MappedRegion::Open(dir.cache_path);
    if (!region.ok()) {
      const std::string& why = region.status().message();
      auto before = failures_.find(dir.cache_path);
      if (before == failures_.end() || before->second != why) {
        report.new_problems.push_back({dir.cache_path, why});
      }
      failures[dir.cache_path] = why;
      continue;
    }
    report.opened.push_back(dir.cache_path);
    next.push_back(Slot{OpenRegion{dir, std::shared_ptr<MappedRegion>(std::move(*region))},
                        st.st_dev, st.st_ino});
  }
  for (const Slot& slot : slots_) {
    if (slot.open.region != nullptr) report.dropped.push_back(slot.open.dir.cache_path);
  }
  slots_ = std::move(next);
  failures_ = std::move(failures);
  return report;
}

std::vector<OpenRegion> RegionSet::Entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OpenRegion> out;
  out.reserve(slots_.size());
  for (const Slot& slot : slots_) out.push_back(slot.open);
  return out;
}

size_t RegionSet::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

}  // namespace hami::monitor
