#include "scheduler/ui_usage.h"

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "kube/paths.h"

namespace hami::scheduler {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double SampleValue(const nlohmann::json& pair) {
  // A sample is [<unix time>, "<value as text>"].
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    throw std::runtime_error("a sample is not [time, \"value\"]");
  }
  return std::stod(pair[1].get<std::string>());
}

}  // namespace

PrometheusUsage::PrometheusUsage(std::shared_ptr<kube::HttpTransport> transport,
                                 PrometheusUsageOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') {
    options_.base_url.pop_back();
  }
  if (!options_.now_unix_seconds) options_.now_unix_seconds = UnixNowSeconds;
}

Result<std::string> PrometheusUsage::Get(const std::string& path_and_query) {
  kube::HttpRequest request;
  request.url = options_.base_url + path_and_query;
  request.timeout = options_.timeout;
  auto response = transport_->Request(request);
  if (!response.ok()) {
    return Status(StatusCode::kUnavailable, "prometheus: " + response.status().message());
  }
  if (response->status != 200) {
    return Status(StatusCode::kUnavailable, "prometheus: HTTP " + std::to_string(response->status) +
                                                ": " + response->body.substr(0, 200));
  }
  return std::move(response->body);
}

Result<std::map<std::string, double>> PrometheusUsage::ParseVector(const std::string& body,
                                                                   const std::string& label) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Status(StatusCode::kInvalidArgument, "prometheus: not JSON");
  if (!doc.is_object() || doc.value("status", "") != "success" || !doc.contains("data") ||
      !doc["data"].is_object() || doc["data"].value("resultType", "") != "vector" ||
      !doc["data"].contains("result") || !doc["data"]["result"].is_array()) {
    return Status(StatusCode::kInvalidArgument, "prometheus: not a success vector answer");
  }
  std::map<std::string, double> out;
  try {
    for (const nlohmann::json& sample : doc["data"]["result"]) {
      const nlohmann::json& metric = sample.at("metric");
      auto it = metric.find(label);
      if (it == metric.end() || !it->is_string()) continue;
      out[it->get<std::string>()] += SampleValue(sample.at("value"));
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, std::string("prometheus: bad sample: ") + e.what());
  }
  return out;
}

Result<std::vector<std::pair<int64_t, double>>> PrometheusUsage::ParseMatrix(
    const std::string& body) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Status(StatusCode::kInvalidArgument, "prometheus: not JSON");
  if (!doc.is_object() || doc.value("status", "") != "success" || !doc.contains("data") ||
      !doc["data"].is_object() || doc["data"].value("resultType", "") != "matrix" ||
      !doc["data"].contains("result") || !doc["data"]["result"].is_array()) {
    return Status(StatusCode::kInvalidArgument, "prometheus: not a success matrix answer");
  }
  std::vector<std::pair<int64_t, double>> out;
  try {
    for (const nlohmann::json& series : doc["data"]["result"]) {
      for (const nlohmann::json& pair : series.at("values")) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number()) {
          throw std::runtime_error("a sample is not [time, \"value\"]");
        }
        out.emplace_back(static_cast<int64_t>(pair[0].get<double>()), SampleValue(pair));
      }
      break;  // the queries are sum()s: one series
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, std::string("prometheus: bad sample: ") + e.what());
  }
  return out;
}

LiveUsage PrometheusUsage::Current() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && now - current_at_ < options_.cache_ttl) return *current_;
  }
  LiveUsage usage;
  usage.configured = true;
  auto query = [this](const char* promql) -> Result<std::map<std::string, double>> {
    HAMI_ASSIGN_OR_RETURN(std::string body, Get("/api/v1/query?query=" + kube::UrlEncode(promql)));
    return ParseVector(body, "device_uuid");
  };
  auto memory = query("hami_host_gpu_memory_used_bytes");
  auto util = memory.ok() ? query("hami_host_gpu_utilization_ratio")
                          : Result<std::map<std::string, double>>(memory.status());
  if (!memory.ok() || !util.ok()) {
    usage.error = (!memory.ok() ? memory.status() : util.status()).message();
  } else {
    usage.ok = true;
    for (const auto& [uuid, bytes] : *memory) {
      usage.by_uuid[uuid].memory_used_mib = static_cast<int64_t>(bytes / kMiB);
    }
    for (const auto& [uuid, percent] : *util) usage.by_uuid[uuid].sm_util_percent = percent;
  }
  std::lock_guard<std::mutex> lock(mu_);
  current_ = usage;
  current_at_ = now;
  return usage;
}

UsageHistory PrometheusUsage::History(std::chrono::seconds range) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = history_.find(range.count());
    if (it != history_.end() && now - it->second.first < options_.cache_ttl) {
      return it->second.second;
    }
  }
  UsageHistory history;
  const int64_t end = options_.now_unix_seconds();
  const int64_t step = std::max<int64_t>(15, range.count() / 120);  // about 120 points
  // Prometheus evaluates at start + k * step: start so that `end` (now) is one of them.
  const int64_t start = end - (range.count() / step) * step;
  const std::pair<const char*, const char*> queries[] = {
      {"memoryMiB", "sum(hami_gpu_memory_limit_bytes) / 1048576"},
      {"memoryAllocatedMiB", "sum(hami_gpu_memory_allocated_bytes) / 1048576"},
      {"memoryUsedMiB", "sum(hami_host_gpu_memory_used_bytes) / 1048576"},
  };
  history.available = true;
  for (const auto& [name, promql] : queries) {
    auto body = Get("/api/v1/query_range?query=" + kube::UrlEncode(promql) +
                    "&start=" + std::to_string(start) + "&end=" + std::to_string(end) +
                    "&step=" + std::to_string(step));
    Result<std::vector<std::pair<int64_t, double>>> points =
        body.ok() ? ParseMatrix(*body)
                  : Result<std::vector<std::pair<int64_t, double>>>(body.status());
    if (!points.ok()) {
      history = UsageHistory{};
      history.reason = points.status().message();
      break;
    }
    history.series.push_back(UsageSeries{name, std::move(*points)});
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (history_.size() >= 16) history_.clear();  // bounded: ranges are many, UIs ask few
  history_[range.count()] = {now, history};
  return history;
}

std::optional<std::chrono::seconds> ParseUsageRange(const std::string& text) {
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  int64_t value = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  const int64_t seconds = value * unit;
  if (seconds < 60 || seconds > 7 * 86400) return std::nullopt;
  return std::chrono::seconds(seconds);
}

}  // namespace hami::scheduler
