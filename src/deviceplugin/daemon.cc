#include "deviceplugin/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "common/clock.h"
#include "device/annotations.h"
#include "device/codec.h"
#include "device/pair_scores.h"
#include "deviceplugin/registration.h"
#include "kube/objects.h"
#include "kube/paths.h"

namespace hami::deviceplugin {

namespace {
constexpr char kAsymmetricLinkReason[] = "AsymmetricGPUP2PLink";
}  // namespace

std::string RandomCacheFileName() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%08x-%04x-%04x-%04x-%012llx.cache",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(0x4000 | (a & 0x0fff)),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buffer;
}

PluginDaemon::PluginDaemon(std::shared_ptr<kube::KubeClient> client, PluginDaemonOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      flag_discovery_(options_.discovery),
      flag_allocate_(options_.allocate),
      flag_numa_topology_(options_.numa_topology),
      topology_warnings_(options_.topology_warning_interval) {}

Status PluginDaemon::LoadNodeConfig() {
  if (options_.node_config_file.empty()) return Status::Ok();
  struct stat st {};
  std::string stamp = "absent";
  if (stat(options_.node_config_file.c_str(), &st) == 0) {
    stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
            std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  if (stamp == node_config_stamp_) return Status::Ok();
  node_config_stamp_ = stamp;
  std::optional<NodeOverrides> overrides;
  if (stamp != "absent") {
    std::ifstream file(options_.node_config_file);
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    auto parsed = ParseNodeConfig(text, options_.node_name);
    if (!parsed.ok()) return parsed.status().WithContext(options_.node_config_file);
    overrides = std::move(*parsed);
  }
  options_.discovery = flag_discovery_;
  options_.allocate = flag_allocate_;
  options_.numa_topology = flag_numa_topology_;
  if (overrides) {
    ApplyNodeOverrides(*overrides, options_.discovery, options_.allocate, options_.numa_topology);
  }
  if (allocator_) allocator_->SetSettings(options_.allocate);
  spdlog::info("node config {}: {}", options_.node_config_file,
               overrides ? "entry for this node applied" : "no entry for this node");
  return Status::Ok();
}

PluginDaemon::~PluginDaemon() { Stop(); }

Status PluginDaemon::Start() {
  if (options_.node_name.empty()) return InvalidArgument("the node name is not set (NODE_NAME)");
  HAMI_RETURN_IF_ERROR(LoadNodeConfig());
  HAMI_ASSIGN_OR_RETURN(nvml_, nvml::Nvml::Open(options_.nvml_library));
  AllocatorOptions allocator;
  allocator.node_name = options_.node_name;
  allocator.settings = options_.allocate;
  allocator.lock = options_.lock;
  allocator.usable_devices = [this] {
    std::lock_guard<std::mutex> lock(health_mu_);
    return usable_;
  };
  // Asked of NVML at Allocate time, not from the last refresh: an instance that exists at the
  // reserved placement with the reserved profile is adopted (static MIG, restarts, kubelet
  // retries); a missing one is created there (dynamic MIG), and destroyed again if the
  // Allocate fails.
  mig_driver_ = std::make_unique<NvmlMigDriver>(*nvml_);
  mig_realizer_ = std::make_unique<MigRealizer>(*mig_driver_);
  allocator.mig_realizer = mig_realizer_.get();
  // Destroys dynamic-MIG instances no live pod reserves (mig_reconcile.h); every refresh, the
  // first right after start. Only GPUs of a node in operating mode "mig" that the node config
  // does not exclude: static-MIG instances are never touched.
  mig_reconciler_ = std::make_unique<MigReconciler>(
      *client_, *mig_driver_, options_.node_name, [this](const nvml::NvmlGpu& gpu) {
        return options_.discovery.mode == kModeMig &&
               options_.discovery.exclude_uuids.count(gpu.uuid) == 0 &&
               options_.discovery.exclude_indexes.count(gpu.index) == 0;
      });
  allocator.reclaim_stale_mig = [this] { ReconcileMig(); };
  allocator_ =
      std::make_unique<Allocator>(*client_, allocator, UnixNowSeconds, RandomCacheFileName);
  server_ = std::make_unique<PluginServer>(
      options_.kubelet_dir + "/" + options_.socket_name, /*preferred_allocation=*/true,
      [this](const v1beta1::AllocateRequest& request) { return allocator_->Allocate(request); });
  HAMI_RETURN_IF_ERROR(Refresh());  // a node whose GPUs cannot be read should say so at start
  HAMI_RETURN_IF_ERROR(server_->Start());
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  loop_ = std::thread([this] { Loop(); });
  if (options_.health.enabled) {
    if (Status watching = nvml_->WatchHealthEvents(); watching.ok()) {
      health_ = std::thread([this] { WatchHealth(); });
    } else {
      spdlog::warn("health checks off: {}", watching.message());
    }
  }
  return Status::Ok();
}

void PluginDaemon::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (health_.joinable()) health_.join();
  if (server_) server_->Stop();
}

uint64_t PluginDaemon::KubeletSocketIdentity() const {
  struct stat st {};
  const std::string path = options_.kubelet_dir + "/" + kKubeletSocketName;
  if (stat(path.c_str(), &st) != 0) return 0;
  // A restarted kubelet's new socket may reuse the old inode; its change time still differs.
  const uint64_t ctime_ns = static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000000000u +
                            static_cast<uint64_t>(st.st_ctim.tv_nsec);
  return ((ctime_ns * 1000003u) ^ static_cast<uint64_t>(st.st_ino)) | 1u;
}

bool PluginDaemon::Register() {
  // kubelet removes every plugin socket when it restarts: serve a fresh one before registering.
  server_->Stop();
  if (Status started = server_->Start(); !started.ok()) {
    spdlog::error("device plugin socket: {}", started.message());
    return false;
  }
  Status registered = RegisterWithKubelet(
      RegistrationRequest{options_.kubelet_dir + "/" + kKubeletSocketName, options_.socket_name,
                          options_.resource_name, false, true},
      options_.register_timeout);
  if (!registered.ok()) {
    spdlog::warn("{}", registered.message());
    return false;
  }
  ++registrations_;
  spdlog::info("registered resource={} endpoint={}", options_.resource_name, options_.socket_name);
  return true;
}

Status PluginDaemon::Refresh() {
  if (Status config = LoadNodeConfig(); !config.ok()) {
    spdlog::error("{} (keeping the previous configuration)", config.message());
  }
  auto gpus = nvml_->Gpus();
  std::vector<DeviceInfo> devices;
  if (!gpus.ok()) {
    // NVML no longer answers for the GPUs: they are in doubt. Keep them listed but unhealthy,
    // so kubelet and the scheduler stop handing them out until NVML answers again.
    devices = last_devices_;
    for (DeviceInfo& d : devices) d.health = false;
  } else {
    Discovered found = ToDeviceInfos(
        *gpus, options_.discovery,
        [this](const std::string& bus) { return NumaNode(options_.sysfs_root, bus); },
        [this](uint32_t gpu_index) { return nvml_->MigProfiles(gpu_index); });
    for (const std::string& line : found.skipped) spdlog::info("{}", line);
    for (const std::string& line : found.notes) spdlog::info("{}", line);
    devices = std::move(found.devices);
    std::lock_guard<std::mutex> lock(health_mu_);
    for (DeviceInfo& d : devices) {
      if (all_unhealthy_ || unhealthy_.count(static_cast<uint32_t>(d.index)) > 0) d.health = false;
    }
    last_devices_ = devices;
  }
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    usable_.clear();
    for (const DeviceInfo& d : devices) {
      if (d.health) usable_.insert(d.id);
    }
  }
  server_->SetDevices(ReplicaDevices(devices, options_.numa_topology));
  const std::string encoded = EncodeNodeDevicesJson(devices);
  std::optional<std::string> scores;
  if (options_.topology_score && gpus.ok()) scores = LinkScores(devices);
  std::map<std::string, std::optional<std::string>> changed;
  if (encoded != last_published_) changed[kNodeNvidiaRegisterAnnotation] = encoded;
  if (scores && *scores != last_published_scores_) changed[kNodeNvidiaScoreAnnotation] = *scores;
  if (!changed.empty()) {
    auto patched =
        client_->MergePatch(kube::NodePath(options_.node_name), kube::AnnotationsPatch(changed));
    if (!patched.ok()) return patched.status().WithContext("publish devices");
    last_published_ = encoded;
    if (scores) last_published_scores_ = *scores;
    ++publications_;
  }
  return gpus.status();
}

std::optional<std::string> PluginDaemon::LinkScores(const std::vector<DeviceInfo>& devices) {
  auto topology = nvml_->Topology();
  if (!topology.ok()) {
    spdlog::warn("GPU link scores not published: {}", topology.status().message());
    return std::nullopt;
  }
  const LinkScoreReport report = ScoreLinks(*topology, devices);
  if (!report.asymmetric.empty() &&
      topology_warnings_.Allow(kAsymmetricLinkReason, std::chrono::steady_clock::now())) {
    std::string message = "asymmetric GPU P2P links scored 0:";
    for (const std::string& pair : report.asymmetric) message += " " + pair + ";";
    message.pop_back();
    spdlog::warn("node={} {}", options_.node_name, message);
    kube::EventSpec event;
    event.involved_kind = "Node";
    event.involved_name = options_.node_name;
    event.type = "Warning";
    event.reason = kAsymmetricLinkReason;
    event.message = message;
    event.component = "hami-device-plugin";
    event.host = options_.node_name;
    if (auto created = client_->CreateEvent(event); !created.ok()) {  // best effort
      spdlog::warn("event {}: {}", kAsymmetricLinkReason, created.status().message());
    }
  }
  return EncodePairScoresJson(report.scores);
}

void PluginDaemon::Loop() {
  uint64_t kubelet_seen = 0;  // 0: not registered with the current kubelet yet
  auto next_refresh = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const uint64_t kubelet = KubeletSocketIdentity();
    if (kubelet != 0 && kubelet != kubelet_seen) {
      if (Register()) kubelet_seen = kubelet;
    } else if (kubelet == 0 && kubelet_seen != 0) {
      spdlog::warn("kubelet socket gone; waiting for kubelet to come back");
      kubelet_seen = 0;
    }
    if (std::chrono::steady_clock::now() >= next_refresh) {
      Status refreshed = Refresh();
      if (!refreshed.ok()) spdlog::error("refresh: {}", refreshed.message());
      if (allocator_) {
        auto released = allocator_->ReleaseOrphanedLock();
        if (!released.ok()) {
          spdlog::warn("node lock check: {}", released.status().message());
        } else if (!released->empty()) {
          spdlog::info("node lock released reason=\"{}\"", *released);
        }
      }
      ReconcileMig();
      next_refresh = std::chrono::steady_clock::now() +
                     (refreshed.ok() ? options_.refresh_period : options_.retry_period);
    }
    lock.lock();
    cv_.wait_for(lock, options_.kubelet_check_period, [this] { return stopping_ || refresh_now_; });
    if (refresh_now_) {
      refresh_now_ = false;
      next_refresh = std::chrono::steady_clock::now();
    }
  }
}

void PluginDaemon::ReconcileMig() {
  std::lock_guard<std::mutex> lock(mig_reconcile_mu_);
  if (!mig_reconciler_) return;
  auto reconciled = mig_reconciler_->RunOnce();
  if (!reconciled.ok()) {
    spdlog::warn("mig reconcile: nothing destroyed: {}", reconciled.status().message());
  }
}

std::set<uint32_t> PluginDaemon::unhealthy() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return unhealthy_;
}

void PluginDaemon::WatchHealth() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    auto event = nvml_->WaitForEvent(options_.event_wait_ms);
    if (!event.ok()) {
      spdlog::error("health events: {}", event.status().message());
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.retry_period, [this] { return stopping_; });
      continue;
    }
    if (!*event) continue;
    const EventVerdict verdict = JudgeEvent(**event, options_.health);
    if (verdict == EventVerdict::kIgnore) continue;
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      if (verdict == EventVerdict::kAllUnhealthy) {
        all_unhealthy_ = true;
      } else {
        unhealthy_.insert(*(*event)->index);
      }
    }
    spdlog::warn("Xid {} on {}: marked unhealthy", (*event)->data,
                 verdict == EventVerdict::kAllUnhealthy
                     ? std::string("an unknown GPU (all GPUs)")
                     : "GPU " + std::to_string(*(*event)->index));
    {
      std::lock_guard<std::mutex> lock(mu_);
      refresh_now_ = true;
    }
    cv_.notify_all();
  }
}

}  // namespace hami::deviceplugin
