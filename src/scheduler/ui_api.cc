#include "scheduler/ui_api.h"

#include <algorithm>
#include <charconv>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace hami::scheduler {

namespace {

using nlohmann::json;

bool IsIdle(const DeviceUsage& d) {
  return d.used == 0 && d.used_mem_mib == 0 && d.used_cores == 0;
}

bool IsFull(const DeviceUsage& d) {
  return d.FreeMemMib() <= 0 || d.FreeCores() <= 0 || (d.info.count > 0 && d.used >= d.info.count);
}

std::string FirstVendor(const PodAllocation& pod) {
  return pod.by_vendor.empty() ? std::string() : pod.by_vendor.begin()->first;
}

json PodDevicesJson(const PodAllocation& pod) {
  json out = json::array();
  for (const auto& [vendor, containers] : pod.by_vendor) {
    for (size_t c = 0; c < containers.size(); ++c) {
      for (const ContainerDevice& d : containers[c]) {
        out.push_back({{"container", c},
                       {"uuid", d.uuid},
                       {"memoryMiB", d.used_mem_mib},
                       {"cores", d.used_cores}});
      }
    }
  }
  return out;
}

std::string ShapeLabel(const FitShape& s) {
  if (s.memory_percent == 100 && s.cores_percent == 100 && s.memory_mib == 0) {
    return std::to_string(s.count) + " whole GPU" + (s.count == 1 ? "" : "s");
  }
  std::string label = std::to_string(s.count) + " GPU" + (s.count == 1 ? "" : "s") + ", ";
  label += s.memory_mib > 0 ? std::to_string(s.memory_mib) + " MiB"
                            : std::to_string(s.memory_percent) + "% memory";
  return label + ", " + std::to_string(s.cores_percent) + "%";
}

FitShape Shape(int32_t count, int64_t memory_mib, int32_t memory_percent, int32_t cores) {
  FitShape s;
  s.count = count;
  s.memory_mib = memory_mib;
  s.memory_percent = memory_percent;
  s.cores_percent = cores;
  s.label = ShapeLabel(s);
  return s;
}

}  // namespace

std::string ErrorBody(const std::string& message) { return json{{"error", message}}.dump(); }

std::string MainVendor(std::span<const policy::NodeState> nodes) {
  std::map<std::string, size_t> devices;
  for (const policy::NodeState& node : nodes) {
    for (const DeviceUsage& d : node.devices) ++devices[d.vendor];
  }
  std::string best;
  size_t most = 0;
  for (const auto& [vendor, n] : devices) {
    if (n > most) best = vendor, most = n;
  }
  return best;
}

std::vector<FitShape> CommonFitShapes(std::span<const PodAllocation> pods,
                                      const std::string& vendor, size_t extra) {
  std::vector<FitShape> out = {Shape(1, 0, 100, 100), Shape(2, 0, 100, 100), Shape(1, 0, 50, 50),
                               Shape(1, 0, 25, 25)};
  // (count, memory, cores) -> how many containers asked it.
  std::map<std::tuple<int32_t, int64_t, int32_t>, int64_t> seen;
  for (const PodAllocation& pod : pods) {
    auto it = pod.by_vendor.find(vendor);
    if (it == pod.by_vendor.end()) continue;
    for (const ContainerDevices& devices : it->second) {
      if (devices.empty() || !devices.front().mig_profile.empty()) continue;
      ++seen[{static_cast<int32_t>(devices.size()), devices.front().used_mem_mib,
              devices.front().used_cores}];
    }
  }
  std::vector<std::pair<int64_t, std::tuple<int32_t, int64_t, int32_t>>> ranked;
  for (const auto& [key, n] : seen) ranked.emplace_back(n, key);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  size_t added = 0;
  for (const auto& [n, key] : ranked) {
    if (added >= extra) break;
    const auto [count, memory, cores] = key;
    if (memory <= 0) continue;
    FitShape s = Shape(count, memory, -1, cores);
    if (std::find(out.begin(), out.end(), s) != out.end()) continue;
    out.push_back(std::move(s));
    ++added;
  }
  return out;
}

std::vector<FitCount> CountFits(std::span<const policy::NodeState> nodes, const std::string& vendor,
                                std::span<const FitShape> shapes, int per_node_cap) {
  std::vector<FitCount> out;
  const policy::GpuPolicy gpu_policy;  // spread, as the scheduler's default
  for (const FitShape& shape : shapes) {
    policy::PodRequest pod;
    ContainerDeviceRequest c;
    c.count = shape.count;
    c.type = vendor;
    c.memory_mib = static_cast<int32_t>(shape.memory_mib);
    c.memory_percent = shape.memory_mib > 0 ? kMemoryPercentUnset : shape.memory_percent;
    c.cores_percent = shape.cores_percent;
    pod.containers.push_back(std::move(c));
    FitCount count{shape, 0};
    for (const policy::NodeState& original : nodes) {
      if (original.devices.empty()) continue;
      policy::NodeState node = original;
      node.generation = 0;
      for (int i = 0; i < per_node_cap; ++i) {
        auto placed = policy::FitPod(node, pod, gpu_policy, nullptr);
        if (!placed) break;
        policy::CommitPlacement(node, pod, *placed);
        ++count.pods;
      }
    }
    out.push_back(std::move(count));
  }
  return out;
}

std::vector<DecisionPtr> PendingDecisions(std::span<const DecisionPtr> latest_per_pod,
                                          std::span<const PodAllocation> pods) {
  std::unordered_set<std::string> held;
  held.reserve(pods.size());
  for (const PodAllocation& pod : pods) held.insert(pod.uid);
  std::vector<DecisionPtr> out;
  for (const DecisionPtr& r : latest_per_pod) {
    if (!r->Placed() && !held.contains(r->uid)) out.push_back(r);
  }
  return out;
}

json SummaryJson(const SummaryInputs& in) {
  struct Group {
    int64_t devices = 0, memory = 0, allocated = 0, used = 0, cores = 0, cores_allocated = 0,
            tasks = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  int64_t idle = 0, partial = 0, full = 0;
  const bool have_usage = in.usage != nullptr && in.usage->ok;
  for (const policy::NodeState& node : in.nodes) {
    for (const DeviceUsage& d : node.devices) {
      Group& g = groups[{d.vendor, d.info.type}];
      ++g.devices;
      g.memory += d.info.devmem_mib;
      g.allocated += d.used_mem_mib;
      g.cores += d.info.devcore;
      g.cores_allocated += d.used_cores;
      g.tasks += d.used;
      if (have_usage) {
        auto it = in.usage->by_uuid.find(d.info.id);
        if (it != in.usage->by_uuid.end()) g.used += it->second.memory_used_mib;
      }
      if (IsIdle(d)) {
        ++idle;
      } else if (IsFull(d)) {
        ++full;
      } else {
        ++partial;
      }
    }
  }
  json groups_json = json::array();
  for (const auto& [key, g] : groups) {
    groups_json.push_back({{"vendor", key.first},
                           {"type", key.second},
                           {"devices", g.devices},
                           {"memoryMiB", g.memory},
                           {"memoryAllocatedMiB", g.allocated},
                           {"memoryUsedMiB", have_usage ? json(g.used) : json(nullptr)},
                           {"cores", g.cores},
                           {"coresAllocated", g.cores_allocated},
                           {"tasks", g.tasks}});
  }
  json fits = json::array();
  for (const FitCount& f : in.fits) {
    json item = {{"label", f.shape.label},
                 {"count", f.shape.count},
                 {"memoryMiB", f.shape.memory_mib},
                 {"cores", f.shape.cores_percent},
                 {"pods", f.pods}};
    if (f.shape.memory_mib == 0) item["memoryPercent"] = f.shape.memory_percent;
    fits.push_back(std::move(item));
  }
  json prometheus = {{"configured", in.usage != nullptr && in.usage->configured},
                     {"ok", have_usage}};
  if (in.usage != nullptr && in.usage->configured && !in.usage->ok) {
    prometheus["error"] = in.usage->error;
  }
  return {{"version", in.version},
          {"generatedAt", in.now_unix_seconds},
          {"synced", in.synced},
          {"leader", in.leader},
          {"prometheus", std::move(prometheus)},
          {"groups", std::move(groups_json)},
          {"fragmentation",
           {{"devicesIdle", idle},
            {"devicesPartial", partial},
            {"devicesFull", full},
            {"fits", std::move(fits)}}},
          {"pods", {{"allocated", in.pods.size()}, {"pending", in.pending_pods}}}};
}

json NodesJson(std::span<const policy::NodeState> nodes, std::span<const PodAllocation> pods,
               const std::set<std::string>& locked) {
  std::unordered_map<std::string_view, int64_t> pods_on;
  for (const PodAllocation& pod : pods) ++pods_on[pod.node];
  json out = json::array();
  for (const policy::NodeState& node : nodes) {
    std::set<std::string> vendors;
    int64_t memory = 0, allocated = 0, cores = 0, cores_allocated = 0, tasks = 0, unhealthy = 0;
    for (const DeviceUsage& d : node.devices) {
      vendors.insert(d.vendor);
      memory += d.info.devmem_mib;
      allocated += d.used_mem_mib;
      cores += d.info.devcore;
      cores_allocated += d.used_cores;
      tasks += d.used;
      if (!d.info.health) ++unhealthy;
    }
    auto it = pods_on.find(node.name);
    out.push_back({{"name", node.name},
                   {"vendors", vendors},
                   {"devices", node.devices.size()},
                   {"memoryMiB", memory},
                   {"memoryAllocatedMiB", allocated},
                   {"cores", cores},
                   {"coresAllocated", cores_allocated},
                   {"tasks", tasks},
                   {"pods", it == pods_on.end() ? 0 : it->second},
                   {"locked", locked.contains(node.name)},
                   {"unhealthyDevices", unhealthy}});
  }
  return {{"nodes", std::move(out)}};
}

Result<json> NodeJson(const std::string& name, std::span<const policy::NodeState> nodes,
                      std::span<const PodAllocation> pods, const LiveUsage* usage) {
  auto node = std::find_if(nodes.begin(), nodes.end(),
                           [&](const policy::NodeState& n) { return n.name == name; });
  if (node == nodes.end()) return Status(StatusCode::kNotFound, "node " + name + " not found");
  // uuid -> the pods' uses of it.
  std::unordered_map<std::string, json> uses;
  for (const PodAllocation& pod : pods) {
    if (pod.node != name) continue;
    for (const auto& [vendor, containers] : pod.by_vendor) {
      for (size_t c = 0; c < containers.size(); ++c) {
        for (const ContainerDevice& d : containers[c]) {
          json use = {{"namespace", pod.ns},
                      {"name", pod.name},
                      {"uid", pod.uid},
                      {"container", c},
                      {"memoryMiB", d.used_mem_mib},
                      {"cores", d.used_cores}};
          if (!d.mig_profile.empty()) use["migProfile"] = d.mig_profile;
          uses[d.uuid].push_back(std::move(use));
        }
      }
    }
  }
  json devices = json::array();
  for (const DeviceUsage& d : node->devices) {
    json live = nullptr;
    if (usage != nullptr && usage->ok) {
      auto it = usage->by_uuid.find(d.info.id);
      if (it != usage->by_uuid.end()) {
        live = {{"memoryUsedMiB", it->second.memory_used_mib},
                {"smUtil", it->second.sm_util_percent}};
      }
    }
    auto it = uses.find(d.info.id);
    devices.push_back({{"uuid", d.info.id},
                       {"index", d.info.index},
                       {"vendor", d.vendor},
                       {"type", d.info.type},
                       {"mode", d.info.mode},
                       {"health", d.info.health},
                       {"numa", d.info.numa},
                       {"memoryMiB", d.info.devmem_mib},
                       {"memoryAllocatedMiB", d.used_mem_mib},
                       {"cores", d.info.devcore},
                       {"coresAllocated", d.used_cores},
                       {"split", d.info.count},
                       {"tasks", d.used},
                       {"usage", std::move(live)},
                       {"pods", it == uses.end() ? json::array() : std::move(it->second)}});
  }
  return json{{"name", name}, {"devices", std::move(devices)}};
}

Result<PodsQuery> ParsePodsQuery(const std::map<std::string, std::string>& params) {
  PodsQuery q;
  for (const auto& [key, value] : params) {
    if (key == "namespace") {
      q.ns = value;
    } else if (key == "state") {
      if (!value.empty() && value != "allocated" && value != "pending") {
        return InvalidArgument("state: must be allocated or pending, not \"" + value + "\"");
      }
      q.state = value;
    } else if (key == "vendor") {
      q.vendor = value;
    } else if (key == "limit") {
      size_t limit = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || end != value.data() + value.size() || limit < 1 || limit > 10000) {
        return InvalidArgument("limit: must be an integer from 1 to 10000, not \"" + value + "\"");
      }
      q.limit = limit;
    } else {
      return InvalidArgument("unknown query parameter \"" + key + "\"");
    }
  }
  return q;
}

json PodsJson(const PodsQuery& q, std::span<const PodAllocation> pods,
              std::span<const DecisionPtr> pending) {
  json out = json::array();
  bool truncated = false;
  auto room = [&] {
    if (out.size() < q.limit) return true;
    truncated = true;
    return false;
  };
  if (q.state.empty() || q.state == "pending") {
    for (const DecisionPtr& p : pending) {
      const DecisionRecord& r = *p;
      if ((!q.ns.empty() && r.ns != q.ns) || (!q.vendor.empty() && r.vendor != q.vendor)) continue;
      if (!room()) break;
      json pod = {{"namespace", r.ns},    {"name", r.name},          {"uid", r.uid},
                  {"node", nullptr},      {"state", "pending"},      {"vendor", r.vendor},
                  {"decidedAt", nullptr}, {"devices", json::array()}};
      if (!r.error.empty()) {
        pod["reason"] = r.error;
      } else {
        pod["reason"] = "no node fits (" + std::to_string(r.failed_nodes.size()) + " of " +
                        std::to_string(r.nodes_evaluated) + " nodes refused)";
      }
      out.push_back(std::move(pod));
    }
  }
  if (!truncated && (q.state.empty() || q.state == "allocated")) {
    std::vector<const PodAllocation*> sorted;
    sorted.reserve(pods.size());
    for (const PodAllocation& pod : pods) {
      if (!q.ns.empty() && pod.ns != q.ns) continue;
      if (!q.vendor.empty() && !pod.by_vendor.contains(q.vendor)) continue;
      sorted.push_back(&pod);
    }
    std::sort(sorted.begin(), sorted.end(), [](const PodAllocation* a, const PodAllocation* b) {
      return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
    });
    for (const PodAllocation* pod : sorted) {
      if (!room()) break;
      out.push_back({{"namespace", pod->ns},
                     {"name", pod->name},
                     {"uid", pod->uid},
                     {"node", pod->node},
                     {"state", "allocated"},
                     {"vendor", FirstVendor(*pod)},
                     {"decidedAt", pod->decided_unix_seconds > 0 ? json(pod->decided_unix_seconds)
                                                                 : json(nullptr)},
                     {"devices", PodDevicesJson(*pod)}});
    }
  }
  return {{"pods", std::move(out)}, {"truncated", truncated}};
}

Result<json> DiagnosisJson(const std::string& ns, const std::string& name,
                           std::span<const PodAllocation> pods, const DecisionRecord* last,
                           const VendorRegistry& registry) {
  const PodAllocation* held = nullptr;
  for (const PodAllocation& pod : pods) {
    if (pod.ns == ns && pod.name == name) {
      held = &pod;
      break;
    }
  }
  if (held == nullptr && last == nullptr) {
    return Status(StatusCode::kNotFound, "pod " + ns + "/" + name + " was never seen");
  }
  json out = {{"namespace", ns},
              {"name", name},
              {"uid", held != nullptr ? held->uid : last->uid},
              {"state", held != nullptr ? "allocated" : "pending"}};
  // The request: as the last filter built it, else as the allocation shows it.
  json request = json::array();
  ReasonContext context;
  std::string vendor_key = last ? last->vendor : (held ? FirstVendor(*held) : std::string());
  if (const Vendor* vendor = registry.Find(vendor_key)) context.names = vendor->ResourceNames();
  if (last) {
    for (size_t c = 0; c < last->request.size(); ++c) {
      const ContainerDeviceRequest& r = last->request[c];
      if (r.count == 0) continue;
      request.push_back(
          {{"container", c},
           {"vendor", r.type},
           {"count", r.count},
           {"memoryMiB", r.memory_mib},
           {"memoryPercent",
            r.memory_percent == kMemoryPercentUnset ? json(nullptr) : json(r.memory_percent)},
           {"cores", r.cores_percent}});
      if (r.count >= context.count) {
        context.count = r.count;
        context.memory_mib = r.memory_mib;
        context.memory_percent = r.memory_percent == kMemoryPercentUnset ? -1 : r.memory_percent;
        context.cores_percent = r.cores_percent;
      }
    }
  } else {
    for (const auto& [vendor, containers] : held->by_vendor) {
      for (size_t c = 0; c < containers.size(); ++c) {
        if (containers[c].empty()) continue;
        request.push_back({{"container", c},
                           {"vendor", vendor},
                           {"count", containers[c].size()},
                           {"memoryMiB", containers[c].front().used_mem_mib},
                           {"memoryPercent", nullptr},
                           {"cores", containers[c].front().used_cores}});
      }
    }
  }
  out["request"] = std::move(request);
  // Reason code -> nodes it appears on, for the summary sentence.
  std::map<std::string, int64_t> code_nodes;
  std::map<std::string, std::string> code_text;
  if (last) {
    json nodes = json::array();
    for (const auto& [node, text] : last->failed_nodes) {
      json reasons = json::array();
      for (const ReasonCount& r : ParseFailedNodeReason(text)) {
        const ReasonExplanation e = ExplainReason(r, context);
        reasons.push_back(
            {{"code", r.code}, {"count", r.count}, {"text", e.text}, {"hint", e.hint}});
        ++code_nodes[r.code];
        code_text.try_emplace(r.code, e.text + "; " + e.hint);
      }
      nodes.push_back({{"node", node}, {"reasons", std::move(reasons)}});
    }
    json filter = {{"at", last->at_unix_seconds},
                   {"nodesEvaluated", last->nodes_evaluated},
                   {"feasibleNodes", last->feasible},
                   {"nodes", std::move(nodes)}};
    if (!last->error.empty()) filter["error"] = last->error;
    out["lastFilter"] = std::move(filter);
  } else {
    out["lastFilter"] = nullptr;
  }
  std::string summary;
  if (held != nullptr) {
    size_t devices = 0;
    for (const auto& [vendor, containers] : held->by_vendor) {
      for (const ContainerDevices& c : containers) devices += c.size();
    }
    summary = "Allocated on node " + held->node + " (" + std::to_string(devices) + " device" +
              (devices == 1 ? "" : "s") + ").";
  } else if (!last->error.empty()) {
    summary = "The last /filter failed: " + last->error + ".";
  } else if (last->Placed()) {
    summary = "The last /filter chose node " + last->feasible.front() +
              "; the pod is not allocated (its bind failed or has not happened yet).";
  } else if (code_nodes.empty()) {
    summary =
        "No node was offered to the scheduler (kube-scheduler's own filters removed every "
        "node).";
  } else {
    auto top = std::max_element(code_nodes.begin(), code_nodes.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
    summary = "Pending: on " + std::to_string(top->second) + " of " +
              std::to_string(last->nodes_evaluated) + " nodes " + code_text[top->first] + ".";
  }
  out["summary"] = summary;
  return out;
}

json QuotasJson(std::span<const QuotaStatus> rows, const std::map<std::string, int64_t>& factors) {
  json out = json::array();
  for (const QuotaStatus& row : rows) {
    if (!row.limit) continue;
    auto f = factors.find(row.resource);
    const int64_t factor = f == factors.end() ? 1 : f->second;
    out.push_back({{"namespace", row.ns},
                   {"resource", row.resource},
                   {"limit", row.limit->limit * factor},
                   {"used", row.used}});
  }
  return {{"quotas", std::move(out)}};
}

json UsageJson(const UsageHistory& history) {
  json out = {{"available", history.available}, {"series", json::array()}};
  if (!history.available) out["reason"] = history.reason;
  for (const UsageSeries& s : history.series) {
    json points = json::array();
    for (const auto& [t, v] : s.points) points.push_back({t, v});
    out["series"].push_back({{"name", s.name}, {"points", std::move(points)}});
  }
  return out;
}

}  // namespace hami::scheduler
