// Keeps the usage ledger equal to what the API server says: pod and node events (from the
// watch cache, or a list on start) are applied here. Rebuilding the ledger after a restart is
// just replaying a list of pods and nodes through these functions.
// Thread-safe (the ledger is); the functions themselves hold no state.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "device/vendor.h"
#include "kube/objects.h"
#include "policy/pod_request.h"
#include "scheduler/ledger.h"
#include "scheduler/node_health.h"

namespace hami::scheduler {

// A pod was added or changed. Tracks it when it carries an allocation of ours and is alive;
// forgets it once it has finished (Succeeded/Failed); a terminating pod (deletionTimestamp set)
// keeps its devices until it is deleted from the API server, since its containers still run. A pod
// without an allocation annotation is left as the ledger has it: /filter records decisions before
// the annotation reaches the watch cache. Once every init container has exited 0, the pod's usage
// shrinks to its app containers. Returns an error for an undecodable annotation (the pod is then
// not tracked, and the error should be logged).
// Every other pod bound to a node counts with its host request only (UsageLedger::
// SetHostOnlyPod), so node states carry the CPU and memory left as kube-scheduler sees them.
Status ApplyPod(const VendorRegistry& registry, UsageLedger& ledger, const nlohmann::json& pod);
void ApplyPodDeleted(UsageLedger& ledger, const nlohmann::json& pod);

// What a vendor may read of a node (its annotations, capacity, allocatable, name and labels).
NodeFacts NodeFactsOf(const kube::NodeView& node);

// The containers' resources as the policy reads them (limits and requests of each).
std::vector<policy::ContainerResources> ContainerResourcesOf(
    const std::vector<kube::ContainerView>& containers);

// The pod's host request as kube-scheduler's NodeResourcesFit counts it (policy::
// PodHostRequest over its containers and overhead).
policy::HostRequest HostRequestOf(const nlohmann::json& pod);

// Reduces a pod to what ApplyPod reads (identity, deletion, node, bind and allocation
// annotations, init container count and states, phase) plus what the scheduler reads besides
// (schedulerName and the PodScheduled condition, for requeue.h), for the watch cache's
// transform: a
// real pod (managedFields, last-applied-configuration, container specs) is many times larger.
// ApplyPod gives the same result on the trimmed pod as on the original.
void TrimPodForCache(const VendorRegistry& registry, nlohmann::json& pod);
// Drops the parts of a node that can be large and that the scheduler never reads
// (managedFields, the image list, volume lists).
void TrimNodeForCache(nlohmann::json& node);

// What the registration loop must write back for one node after ApplyNode.
struct NodeActions {
  // Set hami.io/node-handshake (per vendor key) to this value, or remove it (nullopt).
  std::vector<std::pair<std::string, std::optional<std::string>>> handshake_writes;
  std::vector<std::string> log;  // one line per decision worth logging
  // Per vendor key, why the node's registration of that vendor does not decode (those devices
  // are dropped; the node's other vendors are unaffected). Empty when every present
  // registration decodes.
  std::map<std::string, std::string> registration_errors;
};

// A node was added or changed: per vendor, decode its registration, decide the handshake,
// and set (or drop, when unhealthy or unregistered) its devices; read the cordon list and the
// allocatable host CPU and memory.
NodeActions ApplyNode(const VendorRegistry& registry, UsageLedger& ledger,
                      AllocatableTracker& tracker, const nlohmann::json& node,
                      int64_t now_unix_seconds, int32_t utc_offset_seconds);
void ApplyNodeDeleted(const VendorRegistry& registry, UsageLedger& ledger,
                      AllocatableTracker& tracker, const nlohmann::json& node);

}  // namespace hami::scheduler
