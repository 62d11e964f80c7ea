#include "policy/frag.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "common/strings.h"

namespace hami::policy {

namespace {

int32_t ShareMilli(int64_t part, int64_t total) {
  if (total <= 0) return 0;
  if (part <= 0) return 0;
  return static_cast<int32_t>(std::min<int64_t>(1000, part * 1000 / total));
}

int32_t DemandMilli(const DeviceInfo& info, const ContainerDeviceRequest& request) {
  const int64_t cores = std::min(request.cores_percent, 100);
  const int64_t memory = request.ResolveMemoryMib(info.devmem_mib);
  auto ceil_share = [](int64_t part, int64_t total) -> int64_t {
    if (total <= 0 || part <= 0) return 0;
    return (part * 1000 + total - 1) / total;
  };
  return static_cast<int32_t>(
      std::max(ceil_share(cores, info.devcore), ceil_share(memory, info.devmem_mib)));
}

bool TypeInList(const std::string& type, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& t) { return ContainsIgnoreCase(type, t); });
}

}  // namespace

TargetKey KeyOfTarget(const TargetPod& p) {
  std::vector<std::string> types = p.allowed_types;
  std::sort(types.begin(), types.end());
  return TargetKey{p.request.count,
                   p.request.memory_mib,
                   p.request.memory_percent,
                   p.request.cores_percent,
                   std::move(types),
                   p.cpu_milli,
                   p.memory_mib};
}

TargetPod TargetOfKey(const TargetKey& key, double weight) {
  TargetPod t;
  t.request.count = std::get<0>(key);
  t.request.memory_mib = std::get<1>(key);
  t.request.memory_percent = std::get<2>(key);
  t.request.cores_percent = std::get<3>(key);
  t.allowed_types = std::get<4>(key);
  t.cpu_milli = std::get<5>(key);
  t.memory_mib = std::get<6>(key);
  t.weight = weight;
  return t;
}

std::vector<TargetPod> MergeTargets(const std::vector<TargetPod>& pods) {
  std::map<TargetKey, double> merged;
  for (const TargetPod& p : pods) {
    if (p.request.count <= 0) continue;
    merged[KeyOfTarget(p)] += p.weight;
  }
  std::vector<TargetPod> out;
  out.reserve(merged.size());
  for (const auto& [key, weight] : merged) out.push_back(TargetOfKey(key, weight));
  return out;
}

FragModel::FragModel(const std::vector<TargetPod>& targets) {
  std::vector<TargetPod> merged = MergeTargets(targets);
  double total_weight = 0;
  for (const TargetPod& t : merged) total_weight += t.weight;
  if (total_weight <= 0) total_weight = 1;
  for (const TargetPod& t : merged) {
    auto it = std::find_if(classes_.begin(), classes_.end(), [&](const GpuClass& c) {
      return c.request == t.request && c.allowed_types == t.allowed_types;
    });
    if (it == classes_.end()) {
      GpuClass c;
      c.request = t.request;
      c.allowed_types = t.allowed_types;
      c.exclusive = std::min(t.request.cores_percent, 100) == 100;
      classes_.push_back(std::move(c));
      it = classes_.end() - 1;
    }
    it->weight += t.weight / total_weight;
    it->variants.push_back(HostVariant{t.cpu_milli, t.memory_mib, t.weight / total_weight});
  }
  double gpu_milli = 0, cpu_milli = 0, memory_mib = 0;
  for (const TargetPod& t : merged) {
    const int32_t share =
        std::max(std::min(t.request.cores_percent, 100),
                 t.request.memory_percent == kMemoryPercentUnset ? 0 : t.request.memory_percent);
    gpu_milli += t.weight * t.request.count * share * 10.0;
    cpu_milli += t.weight * static_cast<double>(t.cpu_milli);
    memory_mib += t.weight * static_cast<double>(t.memory_mib);
  }
  if (gpu_milli > 0) {
    cpu_milli_per_gpu_milli_ = cpu_milli / gpu_milli;
    memory_mib_per_gpu_milli_ = memory_mib / gpu_milli;
  }
  BuildHostTable();
}

void FragModel::BuildHostTable() {
  for (const GpuClass& c : classes_) {
    for (const HostVariant& v : c.variants) {
      cpu_values_.push_back(v.cpu_milli);
      memory_values_.push_back(v.memory_mib);
    }
  }
  auto unique_sorted = [](std::vector<int64_t>& values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  };
  unique_sorted(cpu_values_);
  unique_sorted(memory_values_);
  const size_t rows = cpu_values_.size() + 1, cols = memory_values_.size() + 1, n = classes_.size();
  // host_table_[(i * cols + j) * n + c]: weight of class c's variants whose cpu is at most
  // cpu_values_[i - 1] and whose memory is at most memory_values_[j - 1] (2-D prefix sums).
  host_table_.assign(rows * cols * n, 0.0);
  for (size_t c = 0; c < n; ++c) {
    for (const HostVariant& v : classes_[c].variants) {
      const size_t i = static_cast<size_t>(
                           std::lower_bound(cpu_values_.begin(), cpu_values_.end(), v.cpu_milli) -
                           cpu_values_.begin()) +
                       1;
      const size_t j = static_cast<size_t>(std::lower_bound(memory_values_.begin(),
                                                            memory_values_.end(), v.memory_mib) -
                                           memory_values_.begin()) +
                       1;
      host_table_[(i * cols + j) * n + c] += v.weight;
    }
  }
  for (size_t i = 1; i < rows; ++i) {
    for (size_t j = 1; j < cols; ++j) {
      for (size_t c = 0; c < n; ++c) {
        host_table_[(i * cols + j) * n + c] += host_table_[((i - 1) * cols + j) * n + c] +
                                               host_table_[(i * cols + j - 1) * n + c] -
                                               host_table_[((i - 1) * cols + j - 1) * n + c];
      }
    }
  }
}

const double* FragModel::HostOkWeights(int64_t cpu_free_milli, int64_t memory_free_mib) const {
  const size_t cols = memory_values_.size() + 1, n = classes_.size();
  size_t i = cpu_values_.size(), j = memory_values_.size();  // unknown host: every variant fits
  if (cpu_free_milli != kUnknownHostResource) {
    i = static_cast<size_t>(
        std::upper_bound(cpu_values_.begin(), cpu_values_.end(), cpu_free_milli) -
        cpu_values_.begin());
  }
  if (memory_free_mib != kUnknownHostResource) {
    j = static_cast<size_t>(
        std::upper_bound(memory_values_.begin(), memory_values_.end(), memory_free_mib) -
        memory_values_.begin());
  }
  return host_table_.data() + (i * cols + j) * n;
}

namespace {

GpuFreeState FreeStateOf(const DeviceUsage& device, int32_t used, int64_t used_mem_mib,
                         int32_t used_cores) {
  GpuFreeState state;
  state.untouched = used == 0;
  if (!device.info.health || device.cordoned || used >= device.info.count) {
    state.free_milli = 0;
    return state;
  }
  state.free_milli =
      std::min(ShareMilli(device.info.devcore - used_cores, device.info.devcore),
               ShareMilli(device.info.devmem_mib - used_mem_mib, device.info.devmem_mib));
  return state;
}

}  // namespace

GpuFreeState FragModel::FreeState(const DeviceUsage& device) {
  return FreeStateOf(device, device.used, device.used_mem_mib, device.used_cores);
}

GpuFreeState FragModel::FreeStateAfter(const DeviceUsage& device, const ResolvedDemand& demand) {
  // Same arithmetic as ApplyDemand(+1), without copying the device (its strings allocate).
  return FreeStateOf(device, device.used + 1, device.used_mem_mib + demand.memory_mib,
                     device.used_cores + demand.cores_percent);
}

int FragModel::KindOf(int node_index, const NodeState& node) {
  if (static_cast<size_t>(node_index) >= node_cache_.size()) {
    node_cache_.resize(static_cast<size_t>(node_index) + 1);
  }
  NodeCache& cache = node_cache_[static_cast<size_t>(node_index)];
  // Kinds depend only on static device facts, but a slot may hold another node (or changed
  // devices) under a new generation: re-derive then.
  if (cache.kind >= 0 && cache.kind_generation == node.generation) return cache.kind;
  cache.kind_generation = node.generation;
  std::string key;
  for (const DeviceUsage& d : node.devices) {
    key += d.info.type + '\x1f' + std::to_string(d.info.devmem_mib) + '\x1f' +
           std::to_string(d.info.devcore) + '\x1e';
  }
  auto it = std::find(kind_keys_.begin(), kind_keys_.end(), key);
  if (it != kind_keys_.end()) {
    cache.kind = static_cast<int>(it - kind_keys_.begin());
    return cache.kind;
  }
  KindInfo kind;
  kind.uniform = std::all_of(node.devices.begin(), node.devices.end(), [&](const DeviceUsage& d) {
    const DeviceInfo& first = node.devices.front().info;
    return d.info.type == first.type && d.info.devmem_mib == first.devmem_mib &&
           d.info.devcore == first.devcore;
  });
  kind.demand_milli.resize(classes_.size());
  for (size_t c = 0; c < classes_.size(); ++c) {
    int allowed = 0;
    for (const DeviceUsage& d : node.devices) {
      const bool ok = TypeInList(d.info.type, classes_[c].allowed_types);
      kind.demand_milli[c].push_back(ok ? DemandMilli(d.info, classes_[c].request) : -1);
      allowed += ok ? 1 : 0;
    }
    kind.uniform_demand.push_back(kind.demand_milli[c].empty() ? -1 : kind.demand_milli[c][0]);
  }
  kind_keys_.push_back(std::move(key));
  kinds_.push_back(std::move(kind));
  cache.kind = static_cast<int>(kinds_.size() - 1);
  return cache.kind;
}

double FragModel::Evaluate(const KindInfo& kind, const GpuFreeState* gpus, size_t gpu_count,
                           int64_t cpu_free_milli, int64_t memory_free_mib) const {
  int64_t total = 0;
  for (size_t g = 0; g < gpu_count; ++g) total += gpus[g].free_milli;
  if (total == 0) return 0;
  // On a node whose devices are all alike (the usual case) a class's demand is the same on
  // every device, so "how many devices can take it, and how much free capacity do they
  // hold" is a prefix of the free shares sorted in descending order.
  int32_t any_free[64], fresh_free[64];
  int64_t any_prefix[65], fresh_prefix[65];
  size_t any_count = 0, fresh_count = 0;
  if (kind.uniform) {
    for (size_t g = 0; g < gpu_count; ++g) {
      if (gpus[g].free_milli <= 0) continue;
      any_free[any_count++] = gpus[g].free_milli;
      if (gpus[g].untouched) fresh_free[fresh_count++] = gpus[g].free_milli;
    }
    std::sort(any_free, any_free + any_count, std::greater<>());
    std::sort(fresh_free, fresh_free + fresh_count, std::greater<>());
    any_prefix[0] = fresh_prefix[0] = 0;
    for (size_t i = 0; i < any_count; ++i) any_prefix[i + 1] = any_prefix[i] + any_free[i];
    for (size_t i = 0; i < fresh_count; ++i) fresh_prefix[i + 1] = fresh_prefix[i] + fresh_free[i];
  }
  const double* host_ok = HostOkWeights(cpu_free_milli, memory_free_mib);
  double frag = 0;
  for (size_t c = 0; c < classes_.size(); ++c) {
    const GpuClass& cls = classes_[c];
    int32_t fitting = 0;
    int64_t too_small = 0;
    if (kind.uniform) {
      const int32_t d = kind.uniform_demand[c];
      if (d >= 0) {
        const int32_t* free = cls.exclusive ? fresh_free : any_free;
        const size_t count = cls.exclusive ? fresh_count : any_count;
        size_t k = 0;
        while (k < count && free[k] >= d) ++k;
        fitting = static_cast<int32_t>(k);
        too_small = total - (cls.exclusive ? fresh_prefix[k] : any_prefix[k]);
      } else {
        too_small = total;
      }
    } else {
      const std::vector<int32_t>& demand = kind.demand_milli[c];
      for (size_t g = 0; g < gpu_count; ++g) {
        const int32_t d = demand[g];
        const bool fits = d >= 0 && gpus[g].free_milli >= d && gpus[g].free_milli > 0 &&
                          (!cls.exclusive || gpus[g].untouched);
        if (fits) {
          ++fitting;
        } else {
          too_small += gpus[g].free_milli;
        }
      }
    }
    if (fitting < cls.request.count) {
      frag += cls.weight * static_cast<double>(total);
      continue;
    }
    const double host_ok_weight = host_ok[c];
    frag += host_ok_weight * static_cast<double>(too_small) +
            (cls.weight - host_ok_weight) * static_cast<double>(total);
  }
  return frag;
}

double FragModel::NodeFrag(int node_index, const NodeState& node) {
  const int kind = KindOf(node_index, node);
  NodeCache& cache = node_cache_[static_cast<size_t>(node_index)];
  if (cache.valid && cache.generation == node.generation) return cache.frag;
  GpuFreeState states[64];
  const size_t n = std::min<size_t>(node.devices.size(), 64);
  for (size_t g = 0; g < n; ++g) states[g] = FreeState(node.devices[g]);
  cache.frag = Evaluate(kinds_[static_cast<size_t>(kind)], states, n, node.cpu_free_milli,
                        node.memory_free_mib);
  cache.generation = node.generation;
  cache.valid = true;
  return cache.frag;
}

size_t FragModel::MemoKeyHash::operator()(const MemoKey& key) const {
  uint64_t h = (static_cast<uint64_t>(key.kind) << 32) ^ key.host_row;
  for (uint16_t g : key.gpus) h = (h ^ g) * 0x100000001B3ULL;
  return static_cast<size_t>(h ^ (h >> 29));
}

double FragModel::EvaluateWith(int node_index, const NodeState& node, const GpuFreeState* gpus,
                               int64_t cpu_free_milli, int64_t memory_free_mib) {
  const int kind_index = KindOf(node_index, node);
  const KindInfo& kind = kinds_[static_cast<size_t>(kind_index)];
  const size_t n = std::min<size_t>(node.devices.size(), 64);
  if (!kind.uniform || n > MemoKey::kMaxGpus) {
    return Evaluate(kind, gpus, n, cpu_free_milli, memory_free_mib);
  }
  // On a uniform node the result depends only on the multiset of device states and on which
  // host variants fit, so equal nodes (common: idle nodes, full nodes) share one evaluation.
  MemoKey key;
  key.kind = static_cast<uint32_t>(kind_index);
  key.host_row =
      static_cast<uint32_t>(HostOkWeights(cpu_free_milli, memory_free_mib) - host_table_.data());
  for (size_t g = 0; g < n; ++g) {
    key.gpus[g] = static_cast<uint16_t>((gpus[g].free_milli << 1) | (gpus[g].untouched ? 1 : 0));
  }
  std::sort(key.gpus.begin(), key.gpus.begin() + static_cast<long>(n), std::greater<>());
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  if (memo_.size() >= kMaxMemoEntries) memo_.clear();  // bound memory on long runs
  const double frag = Evaluate(kind, gpus, n, cpu_free_milli, memory_free_mib);
  memo_.emplace(key, frag);
  return frag;
}

double FragModel::StrandedMilli(int64_t free_milli, int64_t cpu_free_milli,
                                int64_t memory_free_mib) const {
  if (cpu_free_milli == kUnknownHostResource || free_milli <= 0) return 0;
  double feedable = static_cast<double>(free_milli);
  if (cpu_milli_per_gpu_milli_ > 0) {
    feedable = std::min(feedable, static_cast<double>(std::max<int64_t>(cpu_free_milli, 0)) /
                                      cpu_milli_per_gpu_milli_);
  }
  if (memory_mib_per_gpu_milli_ > 0 && memory_free_mib != kUnknownHostResource) {
    feedable = std::min(feedable, static_cast<double>(std::max<int64_t>(memory_free_mib, 0)) /
                                      memory_mib_per_gpu_milli_);
  }
  return static_cast<double>(free_milli) - feedable;
}

void FragModel::UpdateTypePressure(NodeList nodes) {
  std::vector<double> kind_capacity(kinds_.size(), 0.0);
  double total_capacity = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const size_t kind = static_cast<size_t>(KindOf(static_cast<int>(nodes.Slot(i)), nodes[i]));
    if (kind >= kind_capacity.size()) kind_capacity.resize(kinds_.size(), 0.0);
    const double capacity = 1000.0 * static_cast<double>(nodes[i].devices.size());
    kind_capacity[kind] += capacity;
    total_capacity += capacity;
  }
  for (KindInfo& kind : kinds_) kind.type_pressure = 0;
  for (size_t c = 0; c < classes_.size(); ++c) {
    if (classes_[c].allowed_types.empty()) continue;  // flexible classes press on all alike
    auto serves = [&](const KindInfo& kind) {
      int32_t allowed = 0;
      for (int32_t d : kind.demand_milli[c]) allowed += d >= 0 ? 1 : 0;
      return allowed >= classes_[c].request.count && allowed > 0;
    };
    double servable_capacity = 0;
    for (size_t k = 0; k < kinds_.size(); ++k) {
      if (serves(kinds_[k])) servable_capacity += kind_capacity[k];
    }
    if (servable_capacity <= 0) continue;
    for (KindInfo& kind : kinds_) {
      if (!serves(kind)) continue;
      int32_t demand = 0;
      for (int32_t d : kind.demand_milli[c]) demand = std::max(demand, d);
      kind.type_pressure += classes_[c].weight * classes_[c].request.count * demand *
                            total_capacity / servable_capacity / 1000.0;
    }
  }
}

double FragModel::TypePressure(int node_index, const NodeState& node) {
  return kinds_[static_cast<size_t>(KindOf(node_index, node))].type_pressure;
}

FragPolicy::FragPolicy(std::string name, const std::vector<TargetPod>& targets,
                       FragPolicyOptions options)
    : name_(std::move(name)), model_(targets), options_(options) {}

void FragPolicy::SetTargets(const std::vector<TargetPod>& targets) {
  model_ = FragModel(targets);
  pressure_node_count_ = 0;  // type pressure depends on the targets: recompute at next Place
}

bool FragPolicy::BestOnNode(const PodRequest& pod, int node_index, const NodeState& node,
                            double* score, FitFailure* failure) {
  const size_t n = std::min<size_t>(node.devices.size(), kMaxDevices);
  if (static_cast<size_t>(node_index) >= node_states_.size()) {
    node_states_.resize(static_cast<size_t>(node_index) + 1);
  }
  NodeStates& cached = node_states_[static_cast<size_t>(node_index)];
  if (!cached.valid || cached.generation != node.generation || cached.states.size() != n) {
    cached.states.resize(n);
    for (size_t g = 0; g < n; ++g) cached.states[g] = FragModel::FreeState(node.devices[g]);
    cached.generation = node.generation;
    cached.valid = true;
  }
  scratch_.assign(cached.states.begin(), cached.states.end());
  const int64_t cpu_after = node.cpu_free_milli == kUnknownHostResource
                                ? kUnknownHostResource
                                : node.cpu_free_milli - pod.cpu_milli;
  const int64_t mem_after = node.memory_free_mib == kUnknownHostResource
                                ? kUnknownHostResource
                                : node.memory_free_mib - pod.memory_mib;
  const double before = model_.NodeFrag(node_index, node);
  int64_t free_before = 0;
  for (size_t g = 0; g < n; ++g) free_before += scratch_[g].free_milli;

  // Scores the placement now in last_devices_ with scratch_ holding the devices' states after it.
  auto finish = [&]() {
    const double after =
        model_.EvaluateWith(node_index, node, scratch_.data(), cpu_after, mem_after);
    int64_t free_after = 0;
    for (size_t g = 0; g < n; ++g) free_after += scratch_[g].free_milli;
    int64_t chosen_left = 0;
    for (const std::vector<int>& container : last_devices_) {
      for (int g : container) chosen_left += scratch_[static_cast<size_t>(g)].free_milli;
    }
    double value = after - before;
    if (options_.stranding_weight != 0) {
      value += options_.stranding_weight *
               (model_.StrandedMilli(free_after, cpu_after, mem_after) -
                model_.StrandedMilli(free_before, node.cpu_free_milli, node.memory_free_mib));
    }
    if (options_.type_pressure_weight != 0) {
      value += options_.type_pressure_weight * model_.TypePressure(node_index, node) *
               static_cast<double>(free_before - free_after);
    }
    value += options_.packing_weight * static_cast<double>(free_after) +
             options_.device_fit_weight * static_cast<double>(chosen_left);
    *score = value;
    return true;
  };

  // The common case (one container asks for devices, no NUMA binding, no per-pod GPU
  // policy) is searched; anything else takes HAMi's own device choice on this node and is
  // only ranked by fragmentation.
  int device_containers = 0;
  size_t single = 0;
  for (size_t c = 0; c < pod.containers.size(); ++c) {
    if (pod.containers[c].count > 0) {
      ++device_containers;
      single = c;
    }
  }
  // MIG GPUs the pod may use take FitPod too: one may serve several uses of a container (the
  // search below gives each device at most one), and FitPod orders them by headroom cost.
  const bool fast =
      device_containers == 1 && !pod.selectors.numa_bind && !pod.gpu_policy &&
      !pod.containers[single].index_sets && static_cast<int>(single) >= pod.init_containers &&
      node.devices.size() <= kMaxDevices && !HasMigDevice(node.devices, pod.selectors);
  if (!fast) {
    GpuPolicy spread;
    auto fit = FitPod(node, pod, pod.gpu_policy ? *pod.gpu_policy : spread, failure);
    if (!fit) return false;
    NodeState after = node;
    CommitPlacement(after, pod, *fit);
    for (size_t g = 0; g < n; ++g) scratch_[g] = FragModel::FreeState(after.devices[g]);
    last_devices_ = std::move(*fit);
    return finish();
  }

  const ContainerDeviceRequest& request = pod.containers[single];
  int eligible[kMaxDevices];
  int eligible_count = 0;
  for (size_t g = 0; g < n; ++g) {
    if (!CheckDevice(node.devices[g], request, pod.selectors, /*mutex_policy=*/false)) {
      eligible[eligible_count++] = static_cast<int>(g);
    }
  }
  if (eligible_count < request.count) {
    if (failure) {
      std::vector<int> order(node.devices.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
      (void)FitContainer(node.devices, order, request, pod.selectors, false, failure);
    }
    return false;
  }

  // Greedy over the devices: each step takes the eligible device whose use raises the
  // node's fragmentation least (ties: the fuller device, then the lower index). For one
  // device this is exhaustive.
  last_devices_.resize(pod.containers.size());
  for (std::vector<int>& container : last_devices_) container.clear();
  std::vector<int>& chosen = last_devices_[single];
  bool taken[kMaxDevices] = {};
  for (int step = 0; step < request.count; ++step) {
    int best_device = -1;
    double best_frag = 0;
    GpuFreeState best_state;
    for (int e = 0; e < eligible_count; ++e) {
      const int g = eligible[e];
      if (taken[g]) continue;
      const DeviceUsage& device = node.devices[static_cast<size_t>(g)];
      // Devices in the same state on a homogeneous node give the same result.
      bool duplicate = false;
      for (int prev = 0; prev < e && !duplicate; ++prev) {
        const int h = eligible[prev];
        if (taken[h]) continue;
        const DeviceUsage& other = node.devices[static_cast<size_t>(h)];
        duplicate = other.used == device.used && other.used_cores == device.used_cores &&
                    other.used_mem_mib == device.used_mem_mib &&
                    other.info.devmem_mib == device.info.devmem_mib &&
                    other.info.devcore == device.info.devcore &&
                    other.info.type == device.info.type;
      }
      if (duplicate) continue;
      const GpuFreeState saved = scratch_[static_cast<size_t>(g)];
      const GpuFreeState after = FragModel::FreeStateAfter(device, ResolveDemand(device, request));
      scratch_[static_cast<size_t>(g)] = after;
      const double frag =
          model_.EvaluateWith(node_index, node, scratch_.data(), cpu_after, mem_after);
      scratch_[static_cast<size_t>(g)] = saved;
      const bool better = best_device < 0 || frag < best_frag - 1e-9 ||
                          (frag <= best_frag + 1e-9 && after.free_milli < best_state.free_milli);
      if (better) {
        best_device = g;
        best_frag = frag;
        best_state = after;
      }
    }
    if (best_device < 0) return false;  // cannot happen: eligible_count >= count
    taken[best_device] = true;
    scratch_[static_cast<size_t>(best_device)] = best_state;
    chosen.push_back(best_device);
  }
  return finish();
}

PlacementOutcome FragPolicy::Place(const PodRequest& pod, NodeList nodes, bool collect_reasons) {
  if (pod.node_policy && *pod.node_policy != NodePolicy::kFrag) {
    // The pod's own hami.io/node-scheduler-policy wins over our ranking: the user asked for
    // HAMi's binpack or spread explicitly.
    HamiPolicy hami(name_, *pod.node_policy, pod.gpu_policy.value_or(GpuPolicy{}));
    return hami.Place(pod, nodes, collect_reasons);
  }
  PlacementOutcome outcome;
  // Type pressure is a property of the cluster's capacity per device type: computed again
  // when the targets change (SetTargets) or more nodes are offered than last time, not for
  // every candidate list (the extender's differ per pod, by kube-scheduler's host filter).
  if (options_.type_pressure_weight != 0 &&
      (pressure_node_count_ == 0 || nodes.size() > pressure_node_count_)) {
    model_.UpdateTypePressure(nodes);
    pressure_node_count_ = nodes.size();
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeState& node = nodes[i];
    if (!HostFitsOrNote(node, pod, i, collect_reasons, &outcome)) continue;
    double score = 0;
    FitFailure failure;
    if (!BestOnNode(pod, static_cast<int>(nodes.Slot(i)), node, &score,
                    collect_reasons ? &failure : nullptr)) {
      if (collect_reasons)
        outcome.failed_nodes.emplace_back(static_cast<int>(i), failure.ToString());
      continue;
    }
    bool better = !outcome.placement;
    if (!better) {
      const double best = outcome.placement->score;
      if (score < best - 1e-9) {
        better = true;
      } else if (score <= best + 1e-9) {
        better = node.name < nodes[static_cast<size_t>(outcome.placement->node_index)].name;
      }
    }
    if (better) outcome.placement = Placement{static_cast<int>(i), last_devices_, score};
  }
  return outcome;
}

}  // namespace hami::policy
