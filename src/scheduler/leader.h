// Leadership: only the replica whose kube-scheduler holds the scheduler Lease answers
// /filter and /bind. kube-scheduler (running beside us in the same pod) does the election;
// we read its Lease (coordination.k8s.io/v1) and compare the holder with our pod's name:
// kube-scheduler's identity is "<hostname>_<uuid>", and the hostname is the pod name.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kube/client.h"

namespace hami::scheduler {

// Whether `lease` is held by `hostname` (holderIdentity == hostname or starts with
// "<hostname>_") and has not expired (renewTime + leaseDurationSeconds > now). A lease without
// a readable renewTime or duration is not held.
bool LeaseHeldBy(const nlohmann::json& lease, std::string_view hostname, int64_t now_unix_seconds);

// Polls the Lease every `period` on its own thread. Thread-safe.
class LeaderWatcher {
 public:
  using Callback = std::function<void(bool leader)>;
  LeaderWatcher(kube::KubeClient& client, std::string lease_namespace, std::string lease_name,
                std::string hostname, std::chrono::milliseconds period, Callback on_change = {});
  ~LeaderWatcher();

  void Start();
  void Stop();
  bool IsLeader() const { return leader_.load(); }
  // One poll, synchronously (also what the thread does).
  void PollOnce();

 private:
  kube::KubeClient& client_;
  std::string namespace_, name_, hostname_;
  std::chrono::milliseconds period_;
  Callback on_change_;
  std::atomic<bool> leader_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hami::scheduler
