// JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as the fake API server applies them.
//
// Pure functions: thread-safe, no exceptions escape. The error codes carry the HTTP meaning
// the real API server gives them, so the caller can map them 1:1:
//   kInvalidArgument     -> 400 BadRequest (the patch document itself is malformed)
//   kFailedPrecondition  -> 422 Invalid (a well-formed patch that does not apply: a failing
//                           `test`, a missing path, an array index out of range)
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace hami::fakes {

// RFC 7386: objects merge recursively, `null` deletes a key, anything else replaces. Fails
// (kInvalidArgument) when `patch` is not a JSON object: the API server only accepts object
// patches for object resources.
Result<nlohmann::json> ApplyMergePatch(const nlohmann::json& target, const nlohmann::json& patch);

// RFC 6902: an array of {op, path, value|from} with ops add, remove, replace, move, copy, test;
// paths are JSON pointers (RFC 6901, `~0` is '~', `~1` is '/', `-` appends to an array). The
// operations apply in order and atomically: on failure `target` is untouched (it is const) and
// nothing is returned.
Result<nlohmann::json> ApplyJsonPatch(const nlohmann::json& target, const nlohmann::json& patch);

}  // namespace hami::fakes
