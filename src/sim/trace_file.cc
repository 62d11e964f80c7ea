// File wrappers around the openb parsers: the only place the trace loaders touch the filesystem,
// so the parsers stay pure and testable on strings.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/strings.h"
#include "sim/trace.h"

namespace hami::sim {
namespace {

// Opens `path` for reading or explains why not. A directory opens "successfully" as a stream on
// Linux and then fails on read, so it is rejected up front with a clearer message.
Status OpenForRead(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument(QuoteForError(path, 200) + " is a directory, not a CSV file");
  }
  errno = 0;
  in.open(path, std::ios::in | std::ios::binary);
  if (!in.is_open()) {
    const int err = errno;
    return NotFound("cannot open " + QuoteForError(path, 200) + ": " +
                    (err != 0 ? std::strerror(err) : "unknown error"));
  }
  return Status::Ok();
}

}  // namespace

Result<Cluster> LoadOpenbNodes(const std::string& path) {
  std::ifstream in;
  Status opened = OpenForRead(path, in);
  if (!opened.ok()) {
    return opened;
  }
  return ParseOpenbNodes(in, path);
}

Result<Workload> LoadOpenbPods(const std::string& path) {
  std::ifstream in;
  Status opened = OpenForRead(path, in);
  if (!opened.ok()) {
    return opened;
  }
  return ParseOpenbPods(in, path);
}

}  // namespace hami::sim
