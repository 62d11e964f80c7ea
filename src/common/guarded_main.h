// The body of every binary's main(): errors travel as values, so this only turns an unexpected
// exception (out of memory, a bug) into "error: <what>" on stderr and exit code 1 instead of an
// abort.
#pragma once

#include <exception>
#include <iostream>

namespace hami {

template <typename Run>
int GuardedMain(Run run, int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace hami
