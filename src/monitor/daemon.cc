#include "monitor/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/clock.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "kube/paths.h"
#include "monitor/feedback.h"

namespace hami::monitor {

namespace {

// object[key] when `object` is an object holding it, else null (never throws on odd JSON).
const nlohmann::json& Member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = Member(object, key);
  return value.is_string() ? value.get<std::string>() : "";
}

std::string PodUid(const nlohmann::json& pod) {
  return StringField(Member(pod, "metadata"), "uid");
}

}  // namespace

void TrimPodForMonitor(nlohmann::json& pod) {
  nlohmann::json trimmed = {{"kind", "Pod"}, {"apiVersion", "v1"}};
  const nlohmann::json& meta = Member(pod, "metadata");
  nlohmann::json kept_meta = nlohmann::json::object();
  for (const char* key : {"name", "namespace", "uid", "resourceVersion"}) {
    if (!Member(meta, key).is_null()) kept_meta[key] = Member(meta, key);
  }
  const nlohmann::json& mig = Member(Member(meta, "annotations"), kVgpuMigAllocationsAnnotation);
  if (!mig.is_null()) kept_meta["annotations"][kVgpuMigAllocationsAnnotation] = mig;
  trimmed["metadata"] = std::move(kept_meta);
  nlohmann::json names = nlohmann::json::array();
  const nlohmann::json& containers = Member(Member(pod, "spec"), "containers");
  if (containers.is_array()) {
    for (const nlohmann::json& c : containers) names.push_back({{"name", StringField(c, "name")}});
  }
  trimmed["spec"] = {{"containers", std::move(names)}};
  pod = std::move(trimmed);
}

std::vector<MigDeviceReading> MigReadingsFromPods(
    const std::vector<std::shared_ptr<const nlohmann::json>>& pods) {
  std::vector<MigDeviceReading> out;
  for (const auto& pod : pods) {
    const std::string text =
        StringField(Member(Member(*pod, "metadata"), "annotations"), kVgpuMigAllocationsAnnotation);
    if (text.empty()) continue;
    auto allocations = DecodeMigAllocations(text);
    if (!allocations.ok()) continue;
    const nlohmann::json& containers = Member(Member(*pod, "spec"), "containers");
    if (!containers.is_array()) continue;
    for (const MigAllocation& a : *allocations) {
      if (a.mig_uuid.empty() || !a.gpu_instance_id || !a.compute_instance_id) continue;
      if (a.container_index < 0 || static_cast<size_t>(a.container_index) >= containers.size())
        continue;
      MigDeviceReading r;
      r.pod_uid = PodUid(*pod);
      r.container = StringField(containers[static_cast<size_t>(a.container_index)], "name");
      r.vdevice_index = a.device_index;
      r.device_uuid = a.gpu_uuid;
      r.mig_uuid = a.mig_uuid;
      r.profile = a.profile;
      r.gpu_instance_id = *a.gpu_instance_id;
      r.compute_instance_id = *a.compute_instance_id;
      out.push_back(std::move(r));
    }
  }
  return out;
}

MonitorDaemon::MonitorDaemon(std::shared_ptr<kube::KubeClient> client, MonitorDaemonOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

MonitorDaemon::~MonitorDaemon() { Stop(); }

int64_t MonitorDaemon::Now() const {
  return options_.now_unix_s ? options_.now_unix_s() : UnixNowSeconds();
}

void MonitorDaemon::ReportOnce(const std::string& key, const std::string& message) {
  std::lock_guard<std::mutex> lock(report_mu_);
  auto [it, inserted] = reported_.try_emplace(key, message);
  if (!inserted && it->second == message) return;
  it->second = message;
  if (!message.empty()) spdlog::warn("{}", message);
}

Status MonitorDaemon::Start() {
  if (options_.node_name.empty()) {
    return Status(StatusCode::kInvalidArgument, "no node name (--node-name or env NODE_NAME)");
  }
  kube::InformerOptions pod_options;
  pod_options.path = kube::PodsPath("");
  pod_options.field_selector = "spec.nodeName=" + options_.node_name;
  pod_options.transform = TrimPodForMonitor;
  pods_ = std::make_unique<kube::Informer>(client_, pod_options);
  if (options_.metrics_port >= 0) {
    metrics_endpoint_ = std::make_unique<MetricsEndpoint>([this]() { return RenderMetrics(); });
    HAMI_ASSIGN_OR_RETURN(metrics_port_,
                          metrics_endpoint_->Start(options_.metrics_host, options_.metrics_port));
  }
  pods_->Start();
  if (options_.background_rounds) loop_ = std::thread([this] { Loop(); });
  spdlog::info("hami-monitor node={} hook_path={} metrics port={} round={}ms", options_.node_name,
               options_.hook_path, metrics_port_, options_.round_period.count());
  return Status::Ok();
}

void MonitorDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (metrics_endpoint_) metrics_endpoint_->Stop();
  if (pods_) pods_->Stop();
}

void MonitorDaemon::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const bool ran = RunRound();
    lock.lock();
    // Until the first pod list arrives, look again soon rather than a whole period later.
    const auto wait = ran ? options_.round_period
                          : std::min<std::chrono::milliseconds>(options_.round_period,
                                                                std::chrono::milliseconds(100));
    cv_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

bool MonitorDaemon::RunRound() {
  if (!pods_ || !pods_->HasSynced()) return false;
  std::lock_guard<std::mutex> round_lock(round_mu_);
  std::set<std::string> live;
  for (const auto& pod : pods_->Snapshot()) {
    std::string uid = PodUid(*pod);
    if (!uid.empty()) live.insert(std::move(uid));
  }
  ScanOptions scan_options;
  scan_options.now_unix_s = Now();
  scan_options.stale_grace_s = options_.stale_grace_s;
  auto scan = ScanContainers(options_.hook_path, live, scan_options);
  if (!scan.ok()) {
    // Keep the regions already open (a transient failure must not blank the metrics); the
    // feedback below still runs on them.
    ReportOnce("scan",
               "cannot scan " + options_.hook_path + "/containers: " + scan.status().message());
  } else {
    ReportOnce("scan", "");  // a later failure is reported again
    for (const std::string& dir : scan->deleted) {
      spdlog::info("removed the directory of a pod that is gone: {}", dir);
    }
    std::set<std::string> problems;
    for (const ScanProblem& p : scan->problems) {
      std::string line = p.path + ": " + p.reason;
      if (!scan_problems_.count(line)) spdlog::warn("skipped {}", line);
      problems.insert(std::move(line));
    }
    scan_problems_ = std::move(problems);
    ReconcileReport report = regions_.Reconcile(scan->containers);
    for (const ScanProblem& p : report.new_problems) {
      spdlog::warn("cannot read the shared region {}: {}", p.path, p.reason);
    }
    for (const std::string& path : report.opened) spdlog::info("reading shared region {}", path);
  }

  // The priority feedback loop over every container of the node.
  std::vector<OpenRegion> open = regions_.Entries();
  std::vector<FeedbackInput> inputs;
  inputs.reserve(open.size());
  for (const OpenRegion& r : open) inputs.push_back(FeedbackInputFrom(*r.region));
  const std::vector<FeedbackOutput> outputs = ComputeFeedback(inputs);
  for (size_t i = 0; i < open.size(); ++i) {
    if (outputs[i].recent_kernel != inputs[i].recent_kernel ||
        outputs[i].utilization_switch != inputs[i].utilization_switch) {
      spdlog::debug("feedback {}: recent_kernel {} -> {}, utilization_switch {} -> {}",
                    open[i].dir.dir_path, inputs[i].recent_kernel, outputs[i].recent_kernel,
                    inputs[i].utilization_switch, outputs[i].utilization_switch);
    }
    ApplyFeedback(*open[i].region, inputs[i], outputs[i]);
  }
  rounds_.fetch_add(1);
  return true;
}

std::vector<HostDeviceReading> MonitorDaemon::ReadHosts() {
  std::lock_guard<std::mutex> lock(nvml_mu_);
  if (nvml_ == nullptr) {
    auto opened = nvml::Nvml::Open(options_.nvml_library);
    if (!opened.ok()) {
      ReportOnce("nvml", "no host GPU metrics: " + opened.status().message());
      return {};
    }
    nvml_ = std::move(*opened);
  }
  auto usage = nvml_->Usage();
  if (!usage.ok()) {
    ReportOnce("nvml", "no host GPU metrics: " + usage.status().message());
    return {};
  }
  ReportOnce("nvml", "");
  std::vector<HostDeviceReading> hosts;
  for (const nvml::NvmlGpuUsage& gpu : *usage) {
    HostDeviceReading h;
    h.node = options_.node_name;
    h.device_index = static_cast<int>(gpu.index);
    h.device_uuid = gpu.uuid;
    h.device_type = "NVIDIA-" + gpu.name;
    h.memory_used_bytes = gpu.memory_used_bytes;
    if (gpu.gpu_utilization_percent) h.utilization_percent = *gpu.gpu_utilization_percent;
    if (gpu.memory_utilization_percent) {
      h.memory_controller_utilization_percent = *gpu.memory_utilization_percent;
    }
    hosts.push_back(std::move(h));
  }
  return hosts;
}

Result<std::string> MonitorDaemon::RenderMetrics() {
  MonitorReadings readings;
  readings.now_unix_s = Now();
  readings.hosts = ReadHosts();
  std::vector<std::shared_ptr<const nlohmann::json>> pods;
  if (pods_) pods = pods_->Snapshot();
  for (const auto& pod : pods) {
    const nlohmann::json& meta = Member(*pod, "metadata");
    readings.pods[PodUid(*pod)] = PodRef{StringField(meta, "namespace"), StringField(meta, "name")};
  }
  readings.migs = MigReadingsFromPods(pods);
  for (const OpenRegion& r : regions_.Entries()) {
    readings.containers.push_back({r.dir.pod_uid, r.dir.container_name, r.region->Snapshot()});
  }
  return RenderMonitorMetrics(readings, options_.exposition);
}

}  // namespace hami::monitor
