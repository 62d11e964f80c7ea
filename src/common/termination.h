// Blocking until the process is asked to stop (SIGTERM from the kubelet, SIGINT from a
// terminal), for the daemons' main threads.
#pragma once

namespace hami {

// Installs SIGTERM/SIGINT handlers and returns once either arrives.
void WaitForTerminationSignal();

}  // namespace hami
