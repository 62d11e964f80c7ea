#include "scheduler/leader.h"

#include "common/clock.h"
#include "device/time_format.h"
#include "kube/objects.h"

namespace hami::scheduler {

bool LeaseHeldBy(const nlohmann::json& lease, std::string_view hostname, int64_t now_unix_seconds) {
  if (hostname.empty()) return false;
  const kube::LeaseView view(lease);
  const std::string_view holder = view.HolderIdentity();
  const bool ours = holder == hostname || (holder.size() > hostname.size() &&
                                           holder.substr(0, hostname.size()) == hostname &&
                                           holder[hostname.size()] == '_');
  if (!ours) return false;
  const auto duration = view.LeaseDurationSeconds();
  auto renewed = ParseRfc3339(view.RenewTime());
  if (!duration || !renewed.ok()) return false;
  return *renewed + *duration > now_unix_seconds;
}

LeaderWatcher::LeaderWatcher(kube::KubeClient& client, std::string lease_namespace,
                             std::string lease_name, std::string hostname,
                             std::chrono::milliseconds period, Callback on_change)
    : client_(client),
      namespace_(std::move(lease_namespace)),
      name_(std::move(lease_name)),
      hostname_(std::move(hostname)),
      period_(period),
      on_change_(std::move(on_change)) {}

LeaderWatcher::~LeaderWatcher() { Stop(); }

void LeaderWatcher::PollOnce() {
  auto lease = client_.GetLease(namespace_, name_);
  const int64_t now = UnixNowSeconds();
  // An unreadable lease means we cannot prove leadership: stop answering until we can.
  const bool leader = lease.ok() && LeaseHeldBy(*lease, hostname_, now);
  const bool was = leader_.exchange(leader);
  if (was != leader && on_change_) on_change_(leader);
}

void LeaderWatcher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> guard(mu_);
    while (!stop_) {
      guard.unlock();
      PollOnce();
      guard.lock();
      cv_.wait_for(guard, period_, [this] { return stop_; });
    }
  });
}

void LeaderWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hami::scheduler
