// A libFuzzer-compatible driver for builds without libFuzzer (gcc, CTest).
//
// Usage: <target> [corpus-dir-or-file] [mutations]
//   Runs every file of the corpus directory (sorted by name, so runs are reproducible), or the
//   single file given, through LLVMFuzzerTestOneInput; then runs `mutations` (default 20000)
//   deterministic pseudo-random mutations of those inputs (bit flips, byte edits, insertions of
//   grammar tokens, truncation, chunk duplication, splicing). A missing directory is not an
//   error: the mutations then start from a few built-in seeds. Exit status 0 unless the target
//   aborts (a property violation) or crashes; before each mutation the input is kept in memory
//   and, on abort, written to ./fuzz-crash-<target>.bin by a SIGABRT handler for reproduction.
#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t kMaxInputBytes = 8192;
constexpr uint64_t kDefaultMutations = 20000;

// Inputs that exercise every grammar at least a little when no corpus is given.
constexpr const char* kBuiltinSeeds[] = {
    "",
    "0",
    "1.5k",
    "16Gi",
    "1e3",
    ";GPU-aaa,NVIDIA,3000,30:GPU-bbb,NVIDIA,3000,30:;;",
    ";;;",
    R"([{"id":"GPU-0","count":10,"devmem":15360,"devcore":100,"type":"T4","health":true}])",
    "GPU-aaa,10,32768,100,NVIDIA-Tesla V100,0,true,0,hami-core:",
    "2025-01-02T15:04:05Z,default,gpu-pod",
    "2025-01-02T15:04:05+08:00",
    "Requesting_2025-01-02 15:04:05",
    "nvidia:\n  deviceSplitCount: 10\n  deviceMemoryScaling: 1.5\n",
};

// Fragments that are meaningful to one of the grammars; inserted whole by one mutation.
constexpr const char* kTokens[] = {
    ",",
    ":",
    ";",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "_",
    "-",
    "+",
    ".",
    "e",
    "E",
    "Ki",
    "Gi",
    "m",
    "k",
    "T",
    "Z",
    "+08:00",
    " ",
    "\n",
    "\t",
    "\\u2028",
    "\\",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "100",
    "2147483648",
    "9223372036854775808",
    "1e309",
    "\"id\":",
    "\"count\":",
    "\"health\":",
    "\"mode\":\"\"",
    "NVIDIA",
    "GPU-",
    "hami-core",
    "Requesting_",
    "Deleted_",
    "Reported_",
    "2024-02-29",
    "23:59:60",
    "nvidia:\n  ",
    "deviceSplitCount: ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "!!str ",
    "---\n",
    "\xff",
    "\xc3\xa9",
    "\xe2\x80\xa8",
};

// splitmix64: tiny, fast, identical on every platform (std distributions are not).
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }
};

std::string g_target_name = "target";
std::string g_current;  // input being run, saved on abort

extern "C" void OnAbort(int) {
  const std::string path = "fuzz-crash-" + g_target_name + ".bin";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(g_current.data(), 1, g_current.size(), f);
    std::fclose(f);
    std::fprintf(stderr, "standalone driver: failing input (%zu bytes) saved to %s\n",
                 g_current.size(), path.c_str());
  }
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void Run(const std::string& input) {
  g_current = input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Mutate(std::string& s, const std::vector<std::string>& pool, Rng& rng) {
  const size_t steps = 1 + rng.Below(4);
  for (size_t step = 0; step < steps; ++step) {
    switch (rng.Below(9)) {
      case 0:  // flip one bit
        if (!s.empty()) {
          s[rng.Below(s.size())] ^= static_cast<char>(1u << rng.Below(8));
        }
        break;
      case 1:  // overwrite a byte
        if (!s.empty()) {
          s[rng.Below(s.size())] = static_cast<char>(rng.Below(256));
        }
        break;
      case 2:  // insert a random byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng.Below(s.size() + 1)),
                 static_cast<char>(rng.Below(256)));
        break;
      case 3:  // insert a grammar token
        s.insert(rng.Below(s.size() + 1), kTokens[rng.Below(std::size(kTokens))]);
        break;
      case 4:  // erase a range
        if (!s.empty()) {
          size_t pos = rng.Below(s.size());
          s.erase(pos, 1 + rng.Below(std::min<size_t>(8, s.size() - pos)));
        }
        break;
      case 5:  // truncate
        s.resize(rng.Below(s.size() + 1));
        break;
      case 6:  // duplicate a chunk in place
        if (!s.empty()) {
          size_t pos = rng.Below(s.size());
          size_t len = 1 + rng.Below(std::min<size_t>(32, s.size() - pos));
          s.insert(pos, s.substr(pos, len));
        }
        break;
      case 7: {  // splice: prefix of this, suffix of another input
        const std::string& other = pool[rng.Below(pool.size())];
        s = s.substr(0, rng.Below(s.size() + 1)) + other.substr(rng.Below(other.size() + 1));
        break;
      }
      default: {  // swap two bytes
        if (s.size() >= 2) {
          std::swap(s[rng.Below(s.size())], s[rng.Below(s.size())]);
        }
        break;
      }
    }
  }
  if (s.size() > kMaxInputBytes) {
    s.resize(kMaxInputBytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_target_name = std::filesystem::path(argv[0]).filename().string();
  std::signal(SIGABRT, OnAbort);

  std::vector<std::string> corpus;
  if (argc > 1) {
    const std::filesystem::path path = argv[1];
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        if (entry.is_regular_file(ec)) {
          files.push_back(entry.path());
        }
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        corpus.push_back(ReadFile(f));
      }
    } else if (std::filesystem::is_regular_file(path, ec)) {
      corpus.push_back(ReadFile(path));
    } else {
      std::fprintf(stderr, "standalone driver: %s not found; using built-in seeds\n", argv[1]);
    }
  }
  const size_t corpus_files = corpus.size();
  for (const std::string& input : corpus) {
    Run(input);
  }
  if (corpus.empty()) {
    for (const char* seed : kBuiltinSeeds) {
      corpus.emplace_back(seed);
    }
  }

  uint64_t mutations = kDefaultMutations;
  if (argc > 2) {
    mutations = std::strtoull(argv[2], nullptr, 10);
  }
  // Debugging aids: HAMI_FUZZ_TRACE=1 logs each mutation's index and size before running it;
  // HAMI_FUZZ_SAVE=<index> writes that mutation to fuzz-input-<index>.bin and exits.
  const bool trace = std::getenv("HAMI_FUZZ_TRACE") != nullptr;
  const char* save = std::getenv("HAMI_FUZZ_SAVE");
  const uint64_t save_index = save ? std::strtoull(save, nullptr, 10) : UINT64_MAX;
  Rng rng{0x68616d69ULL};  // "hami"
  std::string previous = corpus[0];
  for (uint64_t i = 0; i < mutations; ++i) {
    // Half the time keep mutating the last mutant, so changes can accumulate.
    std::string input = rng.Below(2) == 0 ? previous : corpus[rng.Below(corpus.size())];
    Mutate(input, corpus, rng);
    if (i == save_index) {
      const std::string path = "fuzz-input-" + std::to_string(i) + ".bin";
      std::ofstream(path, std::ios::binary) << input;
      std::printf("saved mutation %llu to %s\n", static_cast<unsigned long long>(i), path.c_str());
      return 0;
    }
    if (trace) {
      std::fprintf(stderr, "mutation %llu: %zu bytes\n", static_cast<unsigned long long>(i),
                   input.size());
    }
    Run(input);
    previous = std::move(input);
  }
  std::printf("%s: %zu corpus inputs, %llu mutations, no property violations\n",
              g_target_name.c_str(), corpus_files, static_cast<unsigned long long>(mutations));
  return 0;
}
