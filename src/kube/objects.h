// Typed read views of Pod, Node and Lease JSON, and builders for the patch bodies HAMi sends.
//
// A view borrows the JSON it was built from (which must outlive it) and never copies or
// rewrites it: the JSON stays the source of truth, unknown fields included, so an object read,
// viewed and written back loses nothing. Accessors never throw: a missing field or one of the
// wrong type (a number where a string belongs, a list where a map belongs) reads as
// empty/default, because objects come from the network. Quantities stay strings (as the API
// server serialises them); parsing them is the caller's job. Views are cheap to copy and
// thread-compatible (safe for concurrent reads of unchanging JSON).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hami::kube {

using StringMap = std::map<std::string, std::string>;

// Returns the value at `path` (object keys) or nullptr when a step is missing or not an object.
const nlohmann::json* FindPath(const nlohmann::json& root,
                               std::initializer_list<std::string_view> path);
// The string at `path`, "" when missing or not a string.
std::string_view StringAt(const nlohmann::json& root, std::initializer_list<std::string_view> path);
// The string-valued entries of the object at `path` (non-string values are skipped).
StringMap StringMapAt(const nlohmann::json& root, std::initializer_list<std::string_view> path);

// Informer/store key: "namespace/name", or "name" for cluster-scoped objects.
std::string ObjectKey(const nlohmann::json& object);

// Common metadata accessors shared by the views.
class ObjectView {
 public:
  explicit ObjectView(const nlohmann::json& object) : json_(&object) {}
  explicit ObjectView(nlohmann::json&&) = delete;  // would dangle

  const nlohmann::json& json() const { return *json_; }
  std::string_view Namespace() const;
  std::string_view Name() const;
  std::string_view Uid() const;
  std::string_view ResourceVersion() const;
  std::string Key() const { return ObjectKey(*json_); }
  StringMap Labels() const;
  StringMap Annotations() const;
  // One label/annotation without building the whole map; nullopt when absent or not a string.
  std::optional<std::string_view> Label(std::string_view key) const;
  std::optional<std::string_view> Annotation(std::string_view key) const;
  std::string_view DeletionTimestamp() const;  // RFC 3339, "" when not being deleted
  bool IsTerminating() const { return !DeletionTimestamp().empty(); }

 protected:
  const nlohmann::json* json_;
};

struct ContainerView {
  std::string name;
  StringMap limits;    // resources.limits, e.g. {"nvidia.com/gpu": "1"}
  StringMap requests;  // resources.requests
};

struct ContainerStatusView {
  std::string name;
  bool ready = false;
  int64_t restart_count = 0;
  std::string state;                 // "waiting", "running", "terminated" or "" (unknown)
  std::string reason;                // of the waiting/terminated state
  std::optional<int64_t> exit_code;  // set when state == "terminated"
};

class PodView : public ObjectView {
 public:
  using ObjectView::ObjectView;

  std::string_view NodeName() const;       // spec.nodeName, "" when not bound
  std::string_view SchedulerName() const;  // spec.schedulerName
  StringMap Overhead() const;              // spec.overhead (RuntimeClass pod overhead)
  std::string_view Phase() const;          // status.phase: Pending, Running, Succeeded, ...
  std::vector<ContainerView> Containers() const;
  std::vector<ContainerView> InitContainers() const;
  std::vector<ContainerStatusView> ContainerStatuses() const;
  std::vector<ContainerStatusView> InitContainerStatuses() const;
};

class NodeView : public ObjectView {
 public:
  using ObjectView::ObjectView;

  StringMap Allocatable() const;  // status.allocatable
  StringMap Capacity() const;     // status.capacity
  bool Unschedulable() const;     // spec.unschedulable (false unless a JSON true)
  // The Ready condition's status is "True"; false when absent.
  bool Ready() const;
};

class LeaseView : public ObjectView {
 public:
  using ObjectView::ObjectView;

  std::string_view HolderIdentity() const;              // spec.holderIdentity
  std::optional<int64_t> LeaseDurationSeconds() const;  // spec.leaseDurationSeconds
  std::string_view RenewTime() const;                   // spec.renewTime (RFC 3339 micro)
  std::string_view AcquireTime() const;                 // spec.acquireTime
};

// {"metadata":{"annotations":{k: v, k2: null},"resourceVersion":"rv"}} — a JSON merge patch
// that sets the given annotations, deletes those mapped to nullopt, and (when
// `resource_version` is not empty) makes the API server reject it with 409 Conflict if the
// object changed since that version (HAMi's node lock relies on this).
nlohmann::json AnnotationsPatch(
    const std::map<std::string, std::optional<std::string>>& annotations,
    std::string_view resource_version = "");
// The same for labels.
nlohmann::json LabelsPatch(const std::map<std::string, std::optional<std::string>>& labels,
                           std::string_view resource_version = "");

// A v1 Binding of a pod to a node (the body POSTed to pods/<name>/binding); `uid` may be empty.
nlohmann::json BindingBody(std::string_view ns, std::string_view pod, std::string_view uid,
                           std::string_view node);

// A core/v1 Event about an object, as kubectl describe shows it.
struct EventSpec {
  std::string involved_kind = "Pod";
  std::string involved_api_version = "v1";
  std::string involved_namespace;
  std::string involved_name;
  std::string involved_uid;
  std::string type = "Normal";  // or "Warning"
  std::string reason;           // CamelCase, e.g. "BindingFailed"
  std::string message;
  std::string component = "hami-scheduler";
  std::string host;  // source.host, optional
};
// Builds the Event object; its name is "<involved name>.<hex of `now` in ns>" (unique enough,
// like client-go's recorder), timestamps are `now` in RFC 3339 UTC.
nlohmann::json EventBody(const EventSpec& spec, std::chrono::system_clock::time_point now);

// RFC 3339 UTC with seconds ("2025-01-02T15:04:05Z"), or with microseconds
// ("2025-01-02T15:04:05.123456Z", the MicroTime form Leases use) when `micros`.
std::string FormatRfc3339Utc(std::chrono::system_clock::time_point time, bool micros = false);

}  // namespace hami::kube
