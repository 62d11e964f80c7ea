// Maps an API server error response to a Status.
//
// Pure function; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"
#include "kube/http.h"

namespace hami::kube {

// For a non-2xx `response` to `method` `path`, returns a Status whose code follows the HTTP
// status and the Kubernetes Status object's `reason`, and whose message is
// "<method> <path>: HTTP <code> <reason>: <server message>" (the body, truncated, when it is
// not a Status object):
//   400 -> kInvalidArgument   401 -> kUnauthenticated   403 -> kPermissionDenied
//   404 -> kNotFound          409 -> kAlreadyExists (reason AlreadyExists) else kConflict
//   410 -> kGone              422 -> kInvalidArgument   429, 5xx -> kUnavailable
//   504 / reason Timeout -> kDeadlineExceeded           anything else -> kInternal
// A 2xx response gives OK.
Status StatusFromResponse(std::string_view method, std::string_view path,
                          const HttpResponse& response);

}  // namespace hami::kube
