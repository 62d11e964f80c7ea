// The tail every daemon binary shares: connect with the --kubeconfig flag, start the daemon,
// run until SIGTERM/SIGINT, stop. Exit codes: 2 bad configuration, 1 the daemon could not
// start, 0 a clean stop.
#pragma once

#include <spdlog/spdlog.h>

#include <iostream>
#include <string>

#include "common/termination.h"
#include "kube/client.h"

namespace hami::kube {

// `Daemon` is constructed from (std::shared_ptr<KubeClient>, Options) and has Start/Stop.
template <typename Daemon, typename Options>
int RunDaemonUntilTerminated(const std::string& kubeconfig, Options options) {
  auto client = KubeClient::FromKubeconfigFlag(kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 2;
  }
  Daemon daemon(*client, std::move(options));
  Status started = daemon.Start();
  if (!started.ok()) {
    std::cerr << "error: " << started.message() << "\n";
    return 1;
  }
  WaitForTerminationSignal();
  spdlog::info("shutting down");
  // In-flight requests may finish, but nothing is retried: with the API server going away,
  // retries and backoff would hold the exit beyond the pod's termination grace period.
  (*client)->Shutdown();
  daemon.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace hami::kube
