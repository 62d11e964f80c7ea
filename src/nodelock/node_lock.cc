#include "nodelock/node_lock.h"

namespace hami::nodelock {

bool MayRelease(std::string_view current, std::string_view ns, std::string_view name, bool force) {
  if (force) return true;
  if (NodeLockValueOwnedBy(current, ns, name)) return true;
  auto lock = ParseNodeLock(current);
  return !lock.ok() || lock->legacy;
}

}  // namespace hami::nodelock
