// openb CSV parsing and validation. Everything here works on text already in memory; the file
// wrappers live in trace_file.cc so this file stays pure (and fuzzable).
//
// The trace files are plain comma-separated values without quoting, so a hand-written splitter
// is exact; a quote character means the file is not what we expect and is rejected rather than
// guessed at.
#include "sim/trace.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "common/strings.h"

namespace hami::sim {
namespace {

struct ModelMemory {
  std::string_view model;
  int32_t memory_mib;
};

// Per-GPU device memory, from the trace README (G2/G3 are undisclosed models; the sizes are
// its stated assumption). Sorted by name so the "known models" list in errors is stable.
constexpr std::array<ModelMemory, 7> kModels = {{
    {"A10", 24576},
    {"G2", 32768},
    {"G3", 81920},
    {"P100", 16384},
    {"T4", 15360},
    {"V100M16", 16384},
    {"V100M32", 32768},
}};

constexpr std::array<std::string_view, 5> kNodeColumns = {"sn", "cpu_milli", "memory_mib", "gpu",
                                                          "model"};
// Mixed-vendor extensions: the openb columns, then the vendor key, then the per-GPU memory.
constexpr std::array<std::string_view, 6> kVendorNodeColumns = {"sn",  "cpu_milli", "memory_mib",
                                                                "gpu", "model",     "vendor"};
constexpr std::array<std::string_view, 7> kVendorMemoryNodeColumns = {
    "sn", "cpu_milli", "memory_mib", "gpu", "model", "vendor", "gpu_memory_mib"};
constexpr std::array<std::string_view, 11> kPodColumns = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",     "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time"};
// The multigpu* variants ship only the columns a scheduler needs.
constexpr std::array<std::string_view, 5> kShortPodColumns = {"name", "cpu_milli", "memory_mib",
                                                              "num_gpu", "gpu_milli"};
constexpr std::array<std::string_view, 12> kVendorPodColumns = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",      "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time", "vendor"};
constexpr std::array<std::string_view, 6> kVendorShortPodColumns = {
    "name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "vendor"};

std::string Quote(std::string_view text) { return QuoteForError(text); }
std::string Quote(int64_t value) { return Quote(std::to_string(value)); }

std::string KnownModelList() {
  std::string out;
  for (const auto& m : kModels) {
    if (!out.empty()) {
      out += ", ";
    }
    out += m.model;
  }
  return out;
}

Status UnknownModel(const char* field, std::string_view model) {
  return InvalidArgument(std::string(field) + ": unknown GPU model " + Quote(model) +
                         " (known: " + KnownModelList() + ")");
}

Status CheckRange(const char* field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return InvalidArgument(std::string(field) + " " + Quote(value) + " out of range " +
                           std::to_string(lo) + ".." + std::to_string(hi));
  }
  return Status::Ok();
}

// Host resources: negative is malformed, above the absurd bound is almost surely corruption
// (for example a value in bytes where MiB were expected).
Status CheckHostAmount(const char* field, int64_t value, int64_t absurd) {
  if (value < 0) {
    return InvalidArgument(std::string(field) + " " + Quote(value) + " is negative");
  }
  if (value > absurd) {
    return InvalidArgument(std::string(field) + " " + Quote(value) + " is absurd (more than " +
                           std::to_string(absurd) + ")");
  }
  return Status::Ok();
}

struct Line {
  size_t number = 0;  // 1-based
  std::string_view text;
};

// Splits into lines, dropping a '\r' before each '\n' (files edited on Windows) and a UTF-8 BOM.
// Blank lines are allowed only at the end, where editors commonly leave them; in the middle they
// usually mean a truncated or concatenated file, so they are an error.
Result<std::vector<Line>> SplitLines(std::string_view text, const std::string& source) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) {
    text.remove_prefix(kBom.size());
  }
  std::vector<Line> lines;
  size_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(Line{++number, line});
    start = end + 1;
  }
  while (!lines.empty() && lines.back().text.empty()) {
    lines.pop_back();
  }
  for (const Line& line : lines) {
    if (line.text.empty()) {
      return InvalidArgument(source + ":" + std::to_string(line.number) +
                             ": blank line before the end of the file");
    }
  }
  return lines;
}

template <size_t N>
bool HeaderIs(const std::vector<std::string_view>& got,
              const std::array<std::string_view, N>& want) {
  return got.size() == N && std::equal(got.begin(), got.end(), want.begin());
}

// Explains how `got` differs from `want`: names unknown and missing columns, or says the order
// is wrong when the sets agree.
template <size_t N>
std::string HeaderDiff(const std::vector<std::string_view>& got,
                       const std::array<std::string_view, N>& want, size_t* distance) {
  std::string unknown, missing;
  size_t count = 0;
  for (std::string_view column : got) {
    if (std::find(want.begin(), want.end(), column) == want.end()) {
      unknown += (unknown.empty() ? "" : ", ") + Quote(column);
      ++count;
    }
  }
  for (std::string_view column : want) {
    if (std::find(got.begin(), got.end(), column) == got.end()) {
      missing += (missing.empty() ? "" : ", ") + Quote(column);
      ++count;
    }
  }
  *distance = count;
  std::string expected;
  for (std::string_view column : want) {
    expected += (expected.empty() ? "" : ",") + std::string(column);
  }
  std::string out;
  if (!unknown.empty()) {
    out += "unknown column(s) " + unknown;
  }
  if (!missing.empty()) {
    out += std::string(out.empty() ? "" : "; ") + "missing column(s) " + missing;
  }
  if (out.empty()) {
    out = "columns repeated or out of order";
  }
  return out + " (expected " + Quote(expected) + ")";
}

// Matches a header against the known forms, tried in order; when none matches, `diff`
// explains the difference from the closest one (the first on ties), so the message lists few
// columns.
struct HeaderMatch {
  const std::vector<std::string_view>& got;
  size_t columns = 0;  // column count of the form that matched; 0 = none
  size_t distance = SIZE_MAX;
  std::string diff;

  template <size_t N>
  HeaderMatch& Try(const std::array<std::string_view, N>& want) {
    if (columns != 0) return *this;
    if (HeaderIs(got, want)) {
      columns = N;
      return *this;
    }
    size_t d = 0;
    std::string text = HeaderDiff(got, want, &d);
    if (d < distance) {
      distance = d;
      diff = std::move(text);
    }
    return *this;
  }
};

Result<int64_t> ParseIntField(const char* field, std::string_view text) {
  std::optional<int64_t> value = ParseInt64(text);
  if (!value) {
    return InvalidArgument(std::string(field) + " " + Quote(text) + " is not an integer");
  }
  return *value;
}

// Parses an int column that is stored as int32, checking the range before narrowing so a huge
// value is reported as out of range instead of wrapping.
Result<int32_t> ParseSmallField(const char* field, std::string_view text, int32_t lo, int32_t hi) {
  Result<int64_t> value = ParseIntField(field, text);
  if (!value.ok()) {
    return value.status();
  }
  Status range = CheckRange(field, *value, lo, hi);
  if (!range.ok()) {
    return range;
  }
  return static_cast<int32_t>(*value);
}

// Common row preamble: field count and the quoting check.
Result<std::vector<std::string_view>> SplitRow(std::string_view text, size_t want_fields) {
  if (text.find('"') != std::string_view::npos) {
    return InvalidArgument("quoted fields are not supported in " + Quote(text));
  }
  std::vector<std::string_view> fields = Split(text, ',');
  if (fields.size() != want_fields) {
    return InvalidArgument("expected " + std::to_string(want_fields) + " fields, got " +
                           std::to_string(fields.size()) + " in " + Quote(text));
  }
  return fields;
}

// `columns`: 5 (openb), 6 (+ vendor) or 7 (+ vendor, gpu_memory_mib).
Result<SimNode> ParseNodeRow(std::string_view text, size_t columns) {
  HAMI_ASSIGN_OR_RETURN(const std::vector<std::string_view> f, SplitRow(text, columns));
  SimNode node;
  node.name = std::string(f[0]);
  HAMI_ASSIGN_OR_RETURN(node.cpu_milli, ParseIntField("cpu_milli", f[1]));
  HAMI_ASSIGN_OR_RETURN(node.memory_mib, ParseIntField("memory_mib", f[2]));
  HAMI_ASSIGN_OR_RETURN(node.gpu_count, ParseSmallField("gpu", f[3], 0, kMaxNodeGpus));
  node.model = std::string(f[4]);
  if (columns > 5) node.vendor = std::string(f[5]);
  node.gpu_memory_mib = OpenbModelMemoryMib(node.model);
  // An empty gpu_memory_mib keeps the model table's size (the column is for other models).
  if (columns > 6 && !f[6].empty()) {
    HAMI_ASSIGN_OR_RETURN(node.gpu_memory_mib,
                          ParseSmallField("gpu_memory_mib", f[6], 1, kAbsurdGpuMemoryMib));
  } else if (node.gpu_memory_mib == 0) {
    return InvalidArgument(UnknownModel("model", node.model).message() +
                           "; a model outside the table needs the gpu_memory_mib column");
  }
  HAMI_RETURN_IF_ERROR(ValidateSimNode(node));
  return node;
}

// `columns`: 5 or 11 (openb forms), 6 or 12 (the same followed by vendor).
Result<SimPod> ParsePodRow(std::string_view text, size_t columns) {
  HAMI_ASSIGN_OR_RETURN(const std::vector<std::string_view> f, SplitRow(text, columns));
  SimPod pod;
  if (columns == kVendorShortPodColumns.size() || columns == kVendorPodColumns.size()) {
    pod.vendor = std::string(f[columns - 1]);
  }
  pod.name = std::string(f[0]);
  HAMI_ASSIGN_OR_RETURN(pod.cpu_milli, ParseIntField("cpu_milli", f[1]));
  HAMI_ASSIGN_OR_RETURN(pod.memory_mib, ParseIntField("memory_mib", f[2]));
  HAMI_ASSIGN_OR_RETURN(pod.num_gpu, ParseSmallField("num_gpu", f[3], 0, kMaxPodGpus));
  HAMI_ASSIGN_OR_RETURN(pod.gpu_milli, ParseSmallField("gpu_milli", f[4], 0, kWholeGpuMilli));
  if (columns > kVendorShortPodColumns.size() && !f[5].empty()) {
    for (std::string_view model : Split(f[5], '|')) {
      if (model.empty()) {
        return InvalidArgument("gpu_spec " + Quote(f[5]) + " has an empty model name");
      }
      pod.gpu_spec.emplace_back(model);
    }
  }
  // qos, pod_phase and the timestamps describe the original cluster's history; the replay
  // model (arrive once, never leave) does not use them, so they are not interpreted.
  HAMI_RETURN_IF_ERROR(ValidateSimPod(pod));
  return pod;
}

std::string AtLine(const std::string& source, size_t line) {
  return source + ":" + std::to_string(line);
}

Result<std::string> ReadAll(std::istream& in, const std::string& source) {
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return Status(StatusCode::kUnavailable, source + ": read error");
  }
  return text;
}

}  // namespace

int64_t Cluster::TotalGpuMilli() const {
  int64_t total = 0;
  for (const SimNode& node : nodes) {
    total += static_cast<int64_t>(node.gpu_count) * kWholeGpuMilli;
  }
  return total;
}

int32_t OpenbModelMemoryMib(const std::string& model) {
  for (const auto& m : kModels) {
    if (m.model == model) {
      return m.memory_mib;
    }
  }
  return 0;
}

Status ValidateSimKey(const char* field, const std::string& key) {
  if (key.empty() || key.size() > kMaxVendorKeyLength) {
    return InvalidArgument(std::string(field) + " " + Quote(key) + " must be 1.." +
                           std::to_string(kMaxVendorKeyLength) + " characters");
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return InvalidArgument(std::string(field) + " " + Quote(key) +
                             " may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return Status::Ok();
}

Status ValidateSimNode(const SimNode& node) {
  if (node.name.empty()) {
    return InvalidArgument("empty node name");
  }
  HAMI_RETURN_IF_ERROR(CheckHostAmount("cpu_milli", node.cpu_milli, kAbsurdCpuMilli));
  HAMI_RETURN_IF_ERROR(CheckHostAmount("memory_mib", node.memory_mib, kAbsurdMemoryMib));
  HAMI_RETURN_IF_ERROR(CheckRange("gpu", node.gpu_count, 0, kMaxNodeGpus));
  HAMI_RETURN_IF_ERROR(ValidateSimKey("vendor", node.vendor));
  int32_t memory = OpenbModelMemoryMib(node.model);
  if (memory == 0) {
    // A model outside the openb table (another vendor's card): its memory is given.
    if (node.model.empty()) return UnknownModel("model", node.model);
    HAMI_RETURN_IF_ERROR(ValidateSimKey("model", node.model));
    return CheckRange("gpu_memory_mib", node.gpu_memory_mib, 1, kAbsurdGpuMemoryMib);
  }
  if (node.gpu_memory_mib != memory) {
    return InvalidArgument("gpu_memory_mib " + Quote(node.gpu_memory_mib) +
                           " does not match model " + Quote(node.model) + " (" +
                           std::to_string(memory) + ")");
  }
  return Status::Ok();
}

Status ValidateSimPod(const SimPod& pod) {
  if (pod.name.empty()) {
    return InvalidArgument("empty pod name");
  }
  HAMI_RETURN_IF_ERROR(ValidateSimKey("vendor", pod.vendor));
  HAMI_RETURN_IF_ERROR(CheckHostAmount("cpu_milli", pod.cpu_milli, kAbsurdCpuMilli));
  HAMI_RETURN_IF_ERROR(CheckHostAmount("memory_mib", pod.memory_mib, kAbsurdMemoryMib));
  HAMI_RETURN_IF_ERROR(CheckRange("num_gpu", pod.num_gpu, 0, kMaxPodGpus));
  HAMI_RETURN_IF_ERROR(CheckRange("gpu_milli", pod.gpu_milli, 0, kWholeGpuMilli));
  if (pod.num_gpu == 0 && pod.gpu_milli != 0) {
    return InvalidArgument("gpu_milli " + Quote(pod.gpu_milli) + " with num_gpu \"0\"");
  }
  if (pod.num_gpu > 0 && pod.gpu_milli == 0) {
    return InvalidArgument("gpu_milli \"0\" with num_gpu " + Quote(pod.num_gpu));
  }
  // A fraction of a GPU per device on a multi-GPU pod has no meaning in the trace (its README:
  // values below 1000 occur only with num_gpu = 1), and schedulers would disagree on it.
  if (pod.num_gpu > 1 && pod.gpu_milli != kWholeGpuMilli) {
    return InvalidArgument("gpu_milli " + Quote(pod.gpu_milli) + " below 1000 with num_gpu " +
                           Quote(pod.num_gpu) + " (sharing is single-GPU only)");
  }
  for (const std::string& model : pod.gpu_spec) {
    if (OpenbModelMemoryMib(model) == 0) {
      return UnknownModel("gpu_spec", model);
    }
  }
  return Status::Ok();
}

// A CSV input read whole: the lines (header first) view into `text`, which owns the bytes.
struct CsvText {
  std::string text;
  std::vector<Line> lines;
};

// An empty input is an error naming `what` it should have held. Heap-allocated so the line
// views stay valid when the result moves.
Result<std::unique_ptr<CsvText>> ReadCsvLines(std::istream& in, const std::string& source,
                                              const char* what) {
  auto csv = std::make_unique<CsvText>();
  HAMI_ASSIGN_OR_RETURN(csv->text, ReadAll(in, source));
  HAMI_ASSIGN_OR_RETURN(csv->lines, SplitLines(csv->text, source));
  if (csv->lines.empty()) {
    return InvalidArgument(source + ": empty file: no header and no " + what);
  }
  return csv;
}

Result<Cluster> ParseOpenbNodes(std::istream& in, const std::string& source) {
  HAMI_ASSIGN_OR_RETURN(const std::unique_ptr<CsvText> csv, ReadCsvLines(in, source, "nodes"));
  const std::vector<Line>* lines = &csv->lines;
  std::vector<std::string_view> header = Split((*lines)[0].text, ',');
  HeaderMatch match{header};
  match.Try(kNodeColumns).Try(kVendorNodeColumns).Try(kVendorMemoryNodeColumns);
  if (match.columns == 0) {
    return InvalidArgument(AtLine(source, 1) + ": not an openb node list header: " + match.diff);
  }
  const size_t columns = match.columns;
  if (lines->size() == 1) {
    return InvalidArgument(source + ": no nodes after the header");
  }
  Cluster cluster;
  cluster.nodes.reserve(lines->size() - 1);
  // A replay addresses nodes by name, so a repeated name would silently merge two machines.
  std::unordered_map<std::string, size_t> first_line;
  for (size_t i = 1; i < lines->size(); ++i) {
    const Line& line = (*lines)[i];
    Result<SimNode> node = ParseNodeRow(line.text, columns);
    if (!node.ok()) {
      return node.status().WithContext(AtLine(source, line.number));
    }
    auto [it, inserted] = first_line.emplace(node->name, line.number);
    if (!inserted) {
      return InvalidArgument(AtLine(source, line.number) + ": node name " + Quote(node->name) +
                             " already used on line " + std::to_string(it->second));
    }
    cluster.nodes.push_back(std::move(*node));
  }
  return cluster;
}

Result<Workload> ParseOpenbPods(std::istream& in, const std::string& source) {
  HAMI_ASSIGN_OR_RETURN(const std::unique_ptr<CsvText> csv, ReadCsvLines(in, source, "pods"));
  const std::vector<Line>* lines = &csv->lines;
  std::vector<std::string_view> header = Split((*lines)[0].text, ',');
  HeaderMatch match{header};
  match.Try(kPodColumns).Try(kShortPodColumns).Try(kVendorPodColumns).Try(kVendorShortPodColumns);
  if (match.columns == 0) {
    return InvalidArgument(AtLine(source, 1) + ": not an openb pod list header: " + match.diff);
  }
  const size_t columns = match.columns;
  if (lines->size() == 1) {
    return InvalidArgument(source + ": no pods after the header");
  }
  Workload workload;
  workload.pods.reserve(lines->size() - 1);
  for (size_t i = 1; i < lines->size(); ++i) {
    const Line& line = (*lines)[i];
    Result<SimPod> pod = ParsePodRow(line.text, columns);
    if (!pod.ok()) {
      return pod.status().WithContext(AtLine(source, line.number));
    }
    workload.pods.push_back(std::move(*pod));
  }
  return workload;
}

}  // namespace hami::sim
