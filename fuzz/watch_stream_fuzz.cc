// Fuzz target: the watch stream decoder (newline-delimited JSON from the API server) and the
// kubeconfig parser. Property: never crash; feeding the same bytes in one chunk or byte by
// byte yields the same events.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "kube/kube_config.h"
#include "kube/watch_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = hami::fuzz::AsText(data, size);
  hami::kube::WatchDecoder whole;
  auto all = whole.Feed(text);
  hami::kube::WatchDecoder split;
  std::vector<hami::kube::WatchEvent> events;
  bool failed = false;
  for (size_t i = 0; i < text.size() && !failed; ++i) {
    auto part = split.Feed(text.substr(i, 1));
    if (!part.ok()) {
      failed = true;
      break;
    }
    for (auto& e : *part) events.push_back(std::move(e));
  }
  HAMI_FUZZ_CHECK(all.ok() == !failed);
  if (all.ok()) {
    HAMI_FUZZ_CHECK(all->size() == events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      HAMI_FUZZ_CHECK((*all)[i].type == events[i].type && (*all)[i].object == events[i].object);
    }
  }
  (void)hami::kube::ParseKubeconfig(std::string(text), "/nonexistent-base", "", "fuzz");
  return 0;
}
