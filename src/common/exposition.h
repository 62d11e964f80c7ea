// The Prometheus text exposition format, version 0.0.4, written by hand (no Prometheus client
// library is packaged for Debian). Shared by hami-scheduler's registry (scheduler/metrics.h) and
// hami-monitor's families (monitor/exposition.h), so both escape and format alike.
//
// Everything here is pure and thread-compatible: no state, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hami::exposition {

// Label pairs in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Escapes a label value: backslash, double quote and line feed (the only escapes 0.0.4 defines).
std::string EscapeLabelValue(std::string_view value);
// Escapes HELP text: backslash and line feed (a double quote stays as is).
std::string EscapeHelp(std::string_view help);
// A sample value: "NaN", "+Inf", "-Inf"; integral values with |v| < 1e15 as plain integers
// (exact, no exponent: byte counts up to ~888 TiB); anything else as the shortest decimal that
// round-trips (std::to_chars), which may use an exponent.
std::string FormatValue(double value);
// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool ValidMetricName(std::string_view name);
// Label names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool ValidLabelName(std::string_view name);

enum class MetricType { kCounter, kGauge, kUntyped };
const char* TypeName(MetricType type);

// One family: a name, HELP, TYPE and its samples in insertion order. Plain data.
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  struct Sample {
    Labels labels;
    double value = 0;
  };
  std::vector<Sample> samples;

  void Add(Labels labels, double value) { samples.push_back({std::move(labels), value}); }
};

// Renders families in the given order, each as "# HELP", "# TYPE" and its samples in insertion
// order; every line ends in '\n'. A family without samples renders nothing (as the Go client
// does). Errors (kInvalidArgument, nothing rendered): an invalid metric or label name, a family
// name used twice, a label name repeated within a sample.
Result<std::string> Render(const std::vector<Family>& families);

// `{a="x",b="y"}` with values escaped, `extra` (e.g. a histogram's le) appended when given, or
// "" for no labels. Names are not checked.
std::string LabelText(const Labels& labels,
                      const std::pair<std::string, std::string>* extra = nullptr);

}  // namespace hami::exposition
