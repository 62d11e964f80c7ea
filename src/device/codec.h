// Byte-compatible codecs for the values HAMi keeps in node and pod annotations.
//
// Every decoder takes untrusted text (anything a user or a buggy agent could have written into
// an annotation) and returns either a value or an InvalidArgument Status whose message quotes
// the offending input (truncated) and says what was expected. Decoders never throw, never
// crash and never allocate more than a small multiple of the input.
// Encoders produce exactly the bytes the Go original writes for the same value.
// All functions are pure and thread-safe; results are owned by the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "device/annotations.h"
#include "device/device.h"

namespace hami {

// ===== Node registration (§1.1, §1.2) =========================================================

// Encodes the NVIDIA register annotation value: a JSON array of objects with the keys
// id,index,count,devmem,devcore,type,numa,mode,migProfiles,health in that order, each omitted
// when zero / empty / false (Go `omitempty`; a MIG profile writes all of its fields), no
// whitespace, strings escaped like Go's encoding/json
// (HTML-safe \u003c \u003e \u0026, \u2028 \u2029, invalid UTF-8 -> \ufffd).
// Preconditions (not checked): index >= 0. An empty vector encodes as "[]".
std::string EncodeNodeDevicesJson(const std::vector<DeviceInfo>& devices);

// Decodes the JSON register value. Keys match case-insensitively and the last duplicate wins
// (Go semantics); unknown keys (custominfo, ...) are ignored; a JSON null value
// leaves the field at its default; missing index/numa => 0, missing health => false, missing
// or empty mode => "hami-core". The literal `null` decodes to no devices.
// Failure (InvalidArgument): not JSON, not an array, nesting deeper than 32, an element that is
// not an object, a field of the wrong JSON type (e.g. "count":"10", "health":1, 1.0 for an
// integer), an integer outside int32, a negative index/count/devmem/devcore/numa, or an empty
// id / an id containing ',', ':' or ';' (it could not be written into a pod device string),
// a MIG profile without a name or a placement without a positive size.
Result<std::vector<DeviceInfo>> DecodeNodeDevicesJson(std::string_view json);

// Encodes the legacy colon form, always 9 fields per device and a trailing ':' per device:
// "<id>,<count>,<devmem>,<devcore>,<type>,<numa>,<health>,<index>,<mode>:" (health "true" or
// "false"). An empty vector encodes as "" (which the decoder rejects, as HAMi's does).
// Preconditions (not checked): no field contains ',' or ':'.
std::string EncodeNodeDevicesLegacy(const std::vector<DeviceInfo>& devices);

// Decodes the legacy colon form. The text (surrounding whitespace ignored) must contain at
// least one ':'; it is split on ':' and each non-blank piece must have 7 or 9 comma-separated
// fields. index defaults to 0 and mode to "hami-core" (also when given empty); health is
// parsed with Go strconv.ParseBool.
// Failure (InvalidArgument): no ':', a piece with another field count, a non-integer or
// negative count/devmem/devcore/numa/index, a health value ParseBool rejects, an empty id.
// Stricter than HAMi, which silently reads unparsable numbers as 0.
Result<std::vector<DeviceInfo>> DecodeNodeDevicesLegacy(std::string_view text);

// Auto-detects the format: JSON when the first non-blank character is '[', else legacy.
Result<std::vector<DeviceInfo>> DecodeNodeDevices(std::string_view text);

// ===== Pod device strings (§2.5) ==============================================================
//
// Round-trip rule: every container group is written followed by ';' and every device followed
// by ':', so the canonical string of N groups ends with ';' (N = 0 gives ""). The decoder treats
// the text after the last ';' as a final group only when it is non-empty; so
//   Decode(Encode(x)) == x for every x, and Encode(Decode(s)) == s for every canonical s,
// e.g. ";GPU-aaa,NVIDIA,3000,30:GPU-bbb,NVIDIA,3000,30:;;" <-> {[], [aaa, bbb], []}
// and ";;;" <-> {[], [], []}. Non-canonical input that HAMi accepts (a last group without ';',
// a device without ':', empty pieces between ':') decodes to the same groups HAMi sees, minus
// HAMi's extra empty trailing group.

// Encodes one container's devices: "<uuid>,<type>,<mem>,<cores>:" per device ("" for none).
// Preconditions (not checked): uuid/type contain none of ',', ':', ';'.
std::string EncodeContainerDevices(const ContainerDevices& devices);

// Decodes one container group (no ';' inside). Pieces are split on ':'; empty pieces are
// skipped; each other piece needs >= 4 comma-separated fields (extra fields ignored).
// Failure (InvalidArgument): a piece with < 4 fields, an empty uuid, mem/cores not a decimal
// int32 or negative, a ';' in the text.
Result<ContainerDevices> DecodeContainerDevices(std::string_view text);

// Encodes all groups (one per container, init containers first), see the round-trip rule.
std::string EncodePodDevices(const PodDevices& pod_devices);

// Decodes a whole pod device string, see the round-trip rule. Empty groups anywhere are kept.
// Failure: as DecodeContainerDevices, with the group index in the message.
Result<PodDevices> DecodePodDevices(std::string_view text);

// ===== MIG allocations (§2.4 hami.io/vgpu-mig-allocations) ================================

// One MIG instance the scheduler reserved for device `device_index` of container group
// `container_index` (the pod device string's indexes); the device plugin adds the runtime
// identity of the instance it hands out.
struct MigAllocation {
  int32_t container_index = 0;
  int32_t device_index = 0;
  std::string gpu_uuid;
  std::string profile;
  MigPlacement placement;
  // Runtime identity: all three or none.
  std::string mig_uuid;
  std::optional<uint32_t> gpu_instance_id;
  std::optional<uint32_t> compute_instance_id;

  bool operator==(const MigAllocation&) const = default;
};

// JSON array as HAMi writes it: containerIndex, deviceIndex, gpuUUID, profile,
// placement{start,size}, then migUUID / gpuInstanceID / computeInstanceID when set.
std::string EncodeMigAllocations(const std::vector<MigAllocation>& allocations);

// Failure (InvalidArgument): not a JSON array of objects, wrong field types, a negative index,
// an empty gpuUUID or profile, a placement without a positive size, a partial runtime identity
// (one or two of the three fields), two entries for the same (container, device). "" and
// "null" decode to no entries.
Result<std::vector<MigAllocation>> DecodeMigAllocations(std::string_view json);

// The MIG entries of a pod's devices: one per device with a mig_profile, in group order.
std::vector<MigAllocation> MigAllocationsOf(const PodDevices& pod_devices);

// Sets mig_profile / mig_placement on the devices the entries name.
// Failure (InvalidArgument): an entry naming a container or device the pod device string does
// not have, or a GPU other than the one at that position.
Status AttachMigAllocations(const std::vector<MigAllocation>& allocations, PodDevices* pod_devices);

// ===== Handshake (§1.3) =======================================================================

enum class HandshakeKind {
  kNone,        // absent or unrecognised value: the scheduler should write Requesting_<now>
  kRequesting,  // "Requesting_<ts>" (the value contains "Requesting")
  kReported,    // "Reported_<ts>" (older device plugins)
  kDeleted,     // "Deleted_<ts>" (older device plugins)
};

struct Handshake {
  HandshakeKind kind = HandshakeKind::kNone;
  // Unix seconds of the timestamp; nullopt when it is missing or does not parse ("no time").
  // For kRequesting, "no time" means the node is treated as healthy (HAMi behaviour).
  std::optional<int64_t> unix_seconds;

  bool operator==(const Handshake&) const = default;
};

// How long a Requesting handshake may stay unanswered before the node is checked (seconds).
inline constexpr int64_t kHandshakeGraceSeconds = 60;

// "Requesting_2025-01-02 15:04:05" etc.: the prefix of `kind` and the Go DateTime layout of
// `unix_seconds` in the zone `utc_offset_seconds` (HAMi writes the scheduler's local time).
// kNone encodes as "" (there is nothing to write).
std::string EncodeHandshake(HandshakeKind kind, int64_t unix_seconds, int32_t utc_offset_seconds);

// Classifies a handshake value (HAMi tests "contains Requesting" first, then Deleted, then
// Reported) and parses the timestamp between the first and the second '_' as Go DateTime in the
// zone `utc_offset_seconds`. Never fails: unparsable times give unix_seconds == nullopt.
Handshake ParseHandshake(std::string_view value, int32_t utc_offset_seconds);

// True when `h` is Requesting with a time and now >= time + kHandshakeGraceSeconds, i.e. the
// scheduler must look at the node's allocatable count to decide health (§1.3).
bool HandshakeRequestExpired(const Handshake& h, int64_t now_unix_seconds);

// ===== Node lock (§3.7) =======================================================================

struct NodeLock {
  int64_t unix_seconds = 0;  // when the lock was taken, floored to the second
  std::string ns;            // owner pod namespace; empty when legacy
  std::string name;          // owner pod name; empty when legacy
  bool legacy = false;       // bare RFC 3339 value without an owner

  bool operator==(const NodeLock&) const = default;
};

// "<RFC3339>,<ns>,<name>", or the bare RFC 3339 time when lock.legacy. The time is written in
// the zone `utc_offset_seconds` (Go writes local time; "Z" when the offset is 0).
// Preconditions (not checked): ns/name contain no ','; non-legacy ns/name are non-empty.
std::string EncodeNodeLock(const NodeLock& lock, int32_t utc_offset_seconds);

// Parses a lock value. Without ',' it is the legacy bare time; otherwise exactly three
// ','-separated fields: time, namespace, name.
// Failure (InvalidArgument): bad RFC 3339 time, a field count other than 1 or 3, an empty
// namespace or name.
Result<NodeLock> ParseNodeLock(std::string_view value);

// Whether a release by pod ns/name may delete this lock value: it ends with ",<ns>,<name>"
// (the rule HAMi uses, so it works even when the time part is unparsable).
bool NodeLockValueOwnedBy(std::string_view value, std::string_view ns, std::string_view name);

// ===== Bind phase (§2.4) ======================================================================

enum class BindPhase { kAllocating, kSuccess, kFailed };

// "allocating" | "success" | "failed".
std::string_view BindPhaseName(BindPhase phase);

// Exact, case-sensitive inverse of BindPhaseName.
// Failure (InvalidArgument) for anything else, quoting the value.
Result<BindPhase> ParseBindPhase(std::string_view value);

}  // namespace hami
