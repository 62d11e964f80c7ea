#include "common/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>

namespace hami::exposition {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

namespace {
bool NameChars(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}
}  // namespace

bool ValidMetricName(std::string_view name) { return NameChars(name, true); }

bool ValidLabelName(std::string_view name) {
  return NameChars(name, false) && name.substr(0, 2) != "__";
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

std::string LabelText(const Labels& labels, const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra != nullptr) add(extra->first, extra->second);
  out += '}';
  return out;
}

Result<std::string> Render(const std::vector<Family>& families) {
  std::set<std::string> seen;
  std::string out;
  for (const Family& f : families) {
    if (!ValidMetricName(f.name)) return InvalidArgument("invalid metric name \"" + f.name + "\"");
    if (!seen.insert(f.name).second) {
      return InvalidArgument("metric family \"" + f.name + "\" given twice");
    }
    if (f.samples.empty()) continue;
    out += "# HELP " + f.name + " " + EscapeHelp(f.help) + "\n";
    out += "# TYPE " + f.name + " " + TypeName(f.type) + "\n";
    for (const Family::Sample& s : f.samples) {
      for (size_t i = 0; i < s.labels.size(); ++i) {
        const std::string& key = s.labels[i].first;
        if (!ValidLabelName(key)) {
          return InvalidArgument("metric " + f.name + ": invalid label name \"" + key + "\"");
        }
        for (size_t j = 0; j < i; ++j) {
          if (s.labels[j].first == key) {
            return InvalidArgument("metric " + f.name + ": label \"" + key + "\" repeated");
          }
        }
      }
      out += f.name + LabelText(s.labels) + " " + FormatValue(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace hami::exposition
