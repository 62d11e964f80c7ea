// A semantic diff of two renderings of the same install: `kubectl kustomize deploy/...` and
// `helm template charts/hami`. Pure functions over parsed documents, so that tests can feed them
// broken renderings too. Nothing here talks to a cluster or runs a tool.
#pragma once

#include <set>
#include <string>

#include "tests/deploy/manifest_checks.h"

namespace hami::deploy {

// What the comparison forgives, each on purpose:
//  - labels and annotations Helm adds to every object (helm.sh/chart,
//    app.kubernetes.io/managed-by, app.kubernetes.io/instance, app.kubernetes.io/version) and
//    checksum/* annotations, wherever they appear (selectors included, on both sides);
//  - labels the chart adds to an object's own metadata (a kustomize label missing or changed on
//    the helm side is still a difference; pod template labels and selectors must be equal);
//  - formatting: a ConfigMap value that parses as a YAML or JSON map or list on both sides is
//    compared parsed (comments, key order, quoting and the final newline do not count), any
//    other value with trailing whitespace removed; scalars compare by their resolved YAML type
//    and value ("443" and 443 differ, 443 and 0x1bb do not matter: neither renderer writes hex);
//  - the API server's default: a container without imagePullPolicy whose image has a tag other
//    than latest equals one with IfNotPresent;
//  - order of the lists named in `set_like_keys`: managedResources, and ports (a Service's or a
//    container's ports mean the same in any order).
// Every object is identified as "Kind/name" (cluster-scoped) or "Kind/namespace/name".
struct DiffOptions {
  std::set<std::string> kustomize_only;  // object ids the chart leaves out by design
  std::set<std::string> set_like_keys = {"managedResources", "ports"};
};

// One line per difference, "Kind/name: .path: kustomize X, helm Y" (X, Y: flow YAML, or
// <absent>), or "Kind/name: only in kustomize" / "only in helm". Empty: the same objects.
Problems DiffRenderings(const Objects& kustomize, const Objects& helm, const DiffOptions& options);

}  // namespace hami::deploy
