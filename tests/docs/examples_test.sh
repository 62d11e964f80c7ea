#!/usr/bin/env bash
# Checks every examples/*.yaml: it parses as Kubernetes objects, and every pod (a Pod, or the pod
# template of a workload) uses only the resource names and annotation keys HAMi's spec lists,
# with values the webhook and scheduler accept. Also checks that examples/README.md names every
# file. Exit 0 pass, 1 fail, 77 skip (no YAML parser: neither python3 with PyYAML nor kubectl).
# Usage: tests/docs/examples_test.sh [examples-dir]
# FORCE_KUBECTL=1 parses with `kubectl label --local` even when PyYAML is installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-$root/examples}
[[ -d $dir ]] || { echo "FAIL: $dir does not exist" >&2; exit 1; }

if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is not installed" >&2
  exit 77
fi
if [[ -z ${FORCE_KUBECTL:-} ]] && python3 -c 'import yaml' 2>/dev/null; then
  loader=yaml
elif command -v kubectl >/dev/null; then
  loader=kubectl  # `kubectl label --local` parses the files offline and prints JSON
else
  echo "SKIP: neither PyYAML nor kubectl is available to parse YAML" >&2
  exit 77
fi

exec python3 - "$dir" "$loader" <<'PY'
import glob, json, os, re, subprocess, sys

directory, loader = sys.argv[1], sys.argv[2]

# --- What the spec lists (../shared/spec/hami-control-plane.md) -----------------------------
# §2.1 NVIDIA resources (container resources.limits / requests) and their value ranges.
NVIDIA_RESOURCES = {
    "nvidia.com/gpu": (1, None),              # number of vGPUs, integer
    "nvidia.com/gpumem": (1, 2**31 - 1),      # MiB per vGPU, int32
    "nvidia.com/gpumem-percentage": (0, 100), # webhook rejects outside 0..100 (§4)
    "nvidia.com/gpucores": (0, 100),          # percent of SM time
    "nvidia.com/priority": (0, None),         # task priority, copied to CUDA_TASK_PRIORITY (§4)
}
# Kubernetes' own resources a pod may also ask for.
CORE_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
# §2.3 pod annotations read by the scheduler (user-set).
USER_ANNOTATIONS = {
    "nvidia.com/use-gputype", "nvidia.com/nouse-gputype",
    "nvidia.com/use-gpuuuid", "nvidia.com/nouse-gpuuuid",
    "nvidia.com/vgpu-mode", "nvidia.com/numa-bind",
    "hami.io/node-scheduler-policy", "hami.io/gpu-scheduler-policy",
    "hami.io/device-scoring-weights",
}
# §2.4 annotations the scheduler and device plugin write: never in a user's manifest.
WRITTEN_ANNOTATIONS = {
    "hami.io/vgpu-node", "hami.io/vgpu-time", "hami.io/vgpu-devices-to-allocate",
    "hami.io/vgpu-devices-allocated", "hami.io/vgpu-mig-allocations",
    "hami.io/bind-phase", "hami.io/bind-time",
}
# §2.3 label: hami.io/webhook=ignore skips the webhook.
WEBHOOK_LABEL = ("hami.io/webhook", "ignore")
NODE_POLICIES = {"binpack", "spread"}                                      # §2.3
GPU_POLICY_WORDS = {"binpack", "spread", "topology-aware", "mutex", "numa"} # §2.3, §3.5
VGPU_MODES = {"hami-core", "mig", "mps"}                                   # §1.1 `mode`
GO_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
SCHEDULER_NAME = "hami-scheduler"  # chart value schedulerName (§7); the webhook sets it (§4)
# Workload kinds whose pod template is checked, and where the template is.
TEMPLATE_PATHS = {
    ("apps/v1", "Deployment"): ["spec", "template"],
    ("apps/v1", "StatefulSet"): ["spec", "template"],
    ("apps/v1", "DaemonSet"): ["spec", "template"],
    ("apps/v1", "ReplicaSet"): ["spec", "template"],
    ("batch/v1", "Job"): ["spec", "template"],
    ("batch/v1", "CronJob"): ["spec", "jobTemplate", "spec", "template"],
}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def load(path):
    if loader == "yaml":
        import yaml
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    out = subprocess.run(
        ["kubectl", "label", "--local", "-f", path, "hami-examples-test=1", "-o", "json"],
        capture_output=True, text=True)
    if out.returncode != 0:
        raise ValueError(out.stderr.strip())
    items, text, pos = [], out.stdout, 0
    decoder = json.JSONDecoder()
    while True:  # one JSON object per document, printed back to back
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        doc, pos = decoder.raw_decode(text, pos)
        items.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    for item in items:  # undo the label added to make kubectl print the object
        labels = item.get("metadata", {}).get("labels", {})
        labels.pop("hami-examples-test", None)
        if not labels and "labels" in item.get("metadata", {}):
            del item["metadata"]["labels"]
    return items


def as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        return int(value)
    return None


def check_resources(where, container):
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            if name in NVIDIA_RESOURCES:
                low, high = NVIDIA_RESOURCES[name]
                n = as_int(value)
                if n is None:
                    fail(where, f"{section}.{name}: {value!r} is not a whole number")
                elif n < low or (high is not None and n > high):
                    fail(where, f"{section}.{name}: {n} is outside {low}..{high or 'inf'}")
                if section == "requests" and name not in limits:
                    fail(where, f"{name} is in requests only; extended resources need limits")
                if section == "requests" and name in limits and str(limits[name]) != str(value):
                    fail(where, f"{name}: requests {value} != limits {limits[name]}")
            elif name not in CORE_RESOURCES and not name.startswith("hugepages-"):
                fail(where, f"{section}.{name}: not a resource name the spec lists (§2.1)")
    asked = set(limits) | set(requests)
    uses_gpu = bool(asked & set(NVIDIA_RESOURCES) - {"nvidia.com/priority"})
    if uses_gpu and "nvidia.com/gpu" not in asked:
        fail(where, "asks for nvidia.com/* without nvidia.com/gpu (write the count explicitly)")
    return uses_gpu


def check_annotations(where, annotations):
    for key, value in (annotations or {}).items():
        if key in WRITTEN_ANNOTATIONS:
            fail(where, f"annotation {key} is written by the scheduler/plugin (§2.4), not by users")
            continue
        if key not in USER_ANNOTATIONS:
            fail(where, f"annotation {key} is not one the spec lists (§2.3)")
            continue
        if not isinstance(value, str):
            fail(where, f"annotation {key}: value {value!r} must be a string")
            continue
        v = value.strip()
        if key == "hami.io/node-scheduler-policy" and v not in NODE_POLICIES:
            fail(where, f"{key}: {value!r} is not binpack or spread")
        elif key == "hami.io/gpu-scheduler-policy":
            words = [w.strip() for w in v.split(",") if w.strip()]
            bad = [w for w in words if w not in GPU_POLICY_WORDS]
            if not words or bad:
                fail(where, f"{key}: {value!r} has unknown policies {bad}")
        elif key == "nvidia.com/numa-bind" and v not in GO_BOOLS:
            fail(where, f"{key}: {value!r} is not a Go boolean")
        elif key == "nvidia.com/vgpu-mode" and not any(m in v for m in VGPU_MODES):
            fail(where, f"{key}: {value!r} matches no device mode {sorted(VGPU_MODES)}")
        elif key == "hami.io/device-scoring-weights":
            items = dict(kv.split("=", 1) for kv in v.split(",") if "=" in kv)
            if (set(items) != {"slot", "core", "memory"} or len(v.split(",")) != 3
                    or any(as_int(x.strip()) is None for x in items.values())
                    or all(as_int(x.strip()) == 0 for x in items.values())):
                fail(where, f"{key}: {value!r} is not slot=<n>,core=<n>,memory=<n>")
        elif key.endswith("-gputype") or key.endswith("-gpuuuid"):
            if not v:
                fail(where, f"{key}: empty value (means no constraint; drop the annotation)")


def check_pod(where, meta, spec):
    name = (meta or {}).get("name")
    if name is not None and not DNS1123.match(name):
        fail(where, f"metadata.name {name!r} is not a DNS-1123 name")
    labels = (meta or {}).get("labels") or {}
    if WEBHOOK_LABEL[0] in labels and labels[WEBHOOK_LABEL[0]] != WEBHOOK_LABEL[1]:
        fail(where, f"label {WEBHOOK_LABEL[0]} only means something as '{WEBHOOK_LABEL[1]}'")
    check_annotations(where, (meta or {}).get("annotations"))
    if not isinstance(spec, dict):
        fail(where, "no pod spec")
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        fail(where, "spec.containers is empty (the webhook refuses such pods)")
        return
    uses_gpu = False
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            cw = f"{where} {kind}[{c.get('name', '?')}]"
            if not c.get("name") or not c.get("image"):
                fail(cw, "a container needs name and image")
            container_gpu = check_resources(cw, c)
            if container_gpu and (c.get("securityContext") or {}).get("privileged") is True:
                fail(cw, "privileged GPU container (the webhook refuses it, §4)")
            uses_gpu = uses_gpu or container_gpu
    scheduler = spec.get("schedulerName")
    if scheduler is not None and scheduler != SCHEDULER_NAME:
        fail(where, f"schedulerName {scheduler!r}: omit it (the webhook sets it) or use "
                    f"{SCHEDULER_NAME!r}")
    if uses_gpu and spec.get("nodeName"):
        fail(where, "spec.nodeName is set on a GPU pod (the webhook refuses it, §4)")
    if not uses_gpu:
        fail(where, "the pod asks for no nvidia.com/* resource: not an example of HAMi")


files = sorted(glob.glob(os.path.join(directory, "*.yaml")) +
               glob.glob(os.path.join(directory, "*.yml")))
if not files:
    print(f"FAIL: no *.yaml in {directory}", file=sys.stderr)
    sys.exit(1)
readme_path = os.path.join(directory, "README.md")
readme = open(readme_path).read() if os.path.exists(readme_path) else ""
if not readme:
    fail(readme_path, "missing")

objects = 0
for path in files:
    base = os.path.basename(path)
    with open(path) as f:
        if not f.readline().startswith("#"):
            fail(base, "should start with a comment saying what it asks for")
    if readme and f"`{base}`" not in readme:
        fail(base, "not listed in examples/README.md")
    try:
        docs = load(path)
    except Exception as e:  # noqa: BLE001 - any parse error is a test failure
        fail(base, f"does not parse: {e}")
        continue
    if not docs:
        fail(base, "no objects")
    for i, doc in enumerate(docs):
        objects += 1
        where = f"{base}[{i}]"
        if not isinstance(doc, dict):
            fail(where, "not a mapping")
            continue
        key = (doc.get("apiVersion"), doc.get("kind"))
        meta = doc.get("metadata") or {}
        if not meta.get("name"):
            fail(where, "metadata.name missing")
        where = f"{base}[{i}] {key[1]}/{meta.get('name')}"
        if key == ("v1", "Pod"):
            check_pod(where, meta, doc.get("spec"))
        elif key in TEMPLATE_PATHS:
            node = doc
            for step in TEMPLATE_PATHS[key]:
                node = (node or {}).get(step) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                fail(where, "no pod template")
                continue
            check_annotations(where, meta.get("annotations"))
            check_pod(where + " template", node.get("metadata"), node.get("spec"))
        else:
            fail(where, f"unexpected apiVersion/kind {key}")

if errors:
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    sys.exit(1)
print(f"PASS: {len(files)} files, {objects} objects in {directory} (parser: {loader})")
PY
