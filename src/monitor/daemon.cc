#include "monitor/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/clock.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "kube/paths.h"
#include "monitor/feedback.h"
#include "monitor/limit_check.h"

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
  for (const char* key : {kVgpuMigAllocationsAnnotation, kVgpuDevicesAllocatedAnnotation}) {
    const nlohmann::json& value = Member(Member(meta, "annotations"), key);
    if (!value.is_null()) kept_meta["annotations"][key] = value;
  }
  trimmed["metadata"] = std::move(kept_meta);
  nlohmann::json spec = {{"containers", nlohmann::json::array()}};
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json& containers = Member(Member(pod, "spec"), list);
    if (!containers.is_array()) continue;
    nlohmann::json names = nlohmann::json::array();
    for (const nlohmann::json& c : containers) names.push_back({{"name", StringField(c, "name")}});
    spec[list] = std::move(names);
  }
  trimmed["spec"] = std::move(spec);
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
    // containerIndex is the pod device strings' group index: init containers first.
    const std::vector<std::string> containers = ContainerNamesInGroupOrder(*pod);
    for (const MigAllocation& a : *allocations) {
      if (a.mig_uuid.empty() || !a.gpu_instance_id || !a.compute_instance_id) continue;
      if (a.container_index < 0 || static_cast<size_t>(a.container_index) >= containers.size())
        continue;
      MigDeviceReading r;
      r.pod_uid = PodUid(*pod);
      r.container = containers[static_cast<size_t>(a.container_index)];
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
  PodsByUid pods;
  for (auto& pod : pods_->Snapshot()) {
    std::string uid = PodUid(*pod);
    if (uid.empty()) continue;
    live.insert(uid);
    pods.emplace(std::move(uid), std::move(pod));
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
  CheckRegionLimits(open, pods);
  rounds_.fetch_add(1);
  return true;
}

void MonitorDaemon::CheckRegionLimits(const std::vector<OpenRegion>& open, const PodsByUid& pods) {
  std::map<std::pair<std::string, std::string>, LimitFinding> findings;
  std::set<std::string> compared;  // region dirs whose allocation was compared this round
  for (const OpenRegion& r : open) {
    const auto pod = pods.find(r.dir.pod_uid);
    const nlohmann::json* pod_json = pod != pods.end() ? pod->second.get() : nullptr;
    const ContainerLimitCheck check =
        CheckContainerLimits(pod_json, r.dir.container_name, r.region->Limits());
    if (check.compared) compared.insert(r.dir.dir_path);
    if (pod_json == nullptr) continue;
    const nlohmann::json& meta = Member(*pod_json, "metadata");
    const std::string who = "namespace=" + StringField(meta, "namespace") +
                            " pod=" + StringField(meta, "name") +
                            " container=" + r.dir.container_name;
    if (!check.problem.empty()) {
      findings[{r.dir.dir_path, ""}] = {
          who, "cannot check the region limits: " + who + " reason=\"" + check.problem + "\""};
    }
    for (const LimitMismatch& m : check.mismatches) {
      const std::string item = who + " vdevice_index=" + std::to_string(m.vdevice_index) +
                               " limit=" + LimitKindLabel(m.kind);
      findings[{r.dir.dir_path, item}] = {
          item,
          "region limit differs from the allocation (tampered from inside the container, or a "
          "stale file; reported, not rewritten): " +
              who + " vdevice_index=" + std::to_string(m.vdevice_index) +
              " device_uuid=" + m.device_uuid + " limit=" + LimitKindLabel(m.kind) +
              " region_value=" + std::to_string(m.region_value) + " allocated_value=" +
              std::to_string(m.allocated_value) + " region=" + r.region->path()};
    }
  }
  for (const auto& [key, finding] : findings) {
    const auto before = limit_findings_.find(key);
    if (before == limit_findings_.end() || before->second.line != finding.line) {
      spdlog::warn("{}", finding.line);
    }
  }
  // A mismatch that is gone from a container still compared is logged as resolved; one whose
  // container left (or can no longer be compared) goes without a line.
  for (const auto& [key, finding] : limit_findings_) {
    const auto& [dir, item] = key;
    if (item.empty() || findings.count(key) || !compared.count(dir)) continue;
    spdlog::info("region limit agrees with the allocation again: {}", finding.subject);
  }
  limit_findings_ = std::move(findings);
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

std::vector<NodeMigInstanceReading> MonitorDaemon::ReadNodeMigs() {
  std::lock_guard<std::mutex> lock(nvml_mu_);
  if (nvml_ == nullptr) return {};
  auto gpus = nvml_->Gpus();
  if (!gpus.ok()) return {};
  std::vector<NodeMigInstanceReading> out;
  for (const nvml::NvmlGpu& gpu : *gpus) {
    for (const nvml::NvmlMigInstance& m : gpu.mig_instances) {
      out.push_back({options_.node_name, static_cast<int>(gpu.index), gpu.uuid, gpu.name, m.uuid,
                     m.profile, m.gpu_instance_id, m.compute_instance_id, m.placement.start,
                     m.placement.size});
    }
  }
  return out;
}

Result<std::string> MonitorDaemon::RenderMetrics() {
  MonitorReadings readings;
  readings.now_unix_s = Now();
  readings.hosts = ReadHosts();
  readings.node_migs = ReadNodeMigs();
  std::vector<std::shared_ptr<const nlohmann::json>> pods;
  if (pods_) pods = pods_->Snapshot();
  std::map<std::string, const nlohmann::json*> by_uid;
  for (const auto& pod : pods) {
    const nlohmann::json& meta = Member(*pod, "metadata");
    readings.pods[PodUid(*pod)] = PodRef{StringField(meta, "namespace"), StringField(meta, "name")};
    by_uid[PodUid(*pod)] = pod.get();
  }
  readings.migs = MigReadingsFromPods(pods);
  for (const OpenRegion& r : regions_.Entries()) {
    RegionSnapshot snapshot = r.region->Snapshot();
    const auto pod = by_uid.find(r.dir.pod_uid);
    const ContainerLimitCheck check = CheckContainerLimits(
        pod != by_uid.end() ? pod->second : nullptr, r.dir.container_name, snapshot.limits);
    for (const LimitMismatch& m : check.mismatches) {
      readings.limit_mismatches.push_back({r.dir.pod_uid, r.dir.container_name, m});
    }
    readings.containers.push_back({r.dir.pod_uid, r.dir.container_name, std::move(snapshot)});
  }
  return RenderMonitorMetrics(readings, options_.exposition);
}

}  // namespace hami::monitor
