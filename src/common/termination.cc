#include "common/termination.h"

#include <chrono>
#include <csignal>
#include <thread>

namespace hami {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

void WaitForTerminationSignal() {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

}  // namespace hami
