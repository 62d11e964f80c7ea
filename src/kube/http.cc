#include "kube/http.h"

namespace hami::kube {

void CancelToken::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.store(true, std::memory_order_release);
  for (auto& [id, wake] : wakes_) wake();
}

uint64_t CancelToken::Register(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_.load(std::memory_order_acquire)) wake();
  uint64_t id = next_id_++;
  wakes_.emplace_back(id, std::move(wake));
  return id;
}

void CancelToken::Unregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = wakes_.begin(); it != wakes_.end(); ++it) {
    if (it->first == id) {
      wakes_.erase(it);
      return;
    }
  }
}

}  // namespace hami::kube
