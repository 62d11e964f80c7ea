"""HAMi's wire formats as the end-to-end tests read them, decoded without any of hami's own
code: annotation keys, the pod device string, the node registration, GPU usage summed from
pods' annotations (the over-commit check), quantities, and builders of test GPUs and pods.
Part of the harness: k8s_harness re-exports it."""

import hashlib
import json

NODE_REGISTER = "hami.io/node-nvidia-register"
NODE_HANDSHAKE = "hami.io/node-handshake"
NODE_LOCK = "hami.io/mutex.lock"
VGPU_NODE = "hami.io/vgpu-node"
DEVICES_ALLOCATED = "hami.io/vgpu-devices-allocated"
DEVICES_TO_ALLOCATE = "hami.io/vgpu-devices-to-allocate"
MIG_ALLOCATIONS = "hami.io/vgpu-mig-allocations"
BIND_PHASE = "hami.io/bind-phase"
GPU_RESOURCE = "nvidia.com/gpu"


def decode_pod_devices(value):
    """Decodes a pod device string (spec §2.5): returns one list per container, each a list of
    dicts {uuid, type, mem, cores}. The trailing empty group after the last ';' is dropped;
    empty groups in the middle are kept. Raises ValueError on a malformed device."""
    if value is None:
        return []
    groups = value.split(";")
    if groups and groups[-1] == "":
        groups = groups[:-1]
    out = []
    for g in groups:
        devs = []
        for item in g.split(":"):
            if item == "":
                continue
            f = item.split(",")
            if len(f) < 4:
                raise ValueError("malformed device %r in %r" % (item, value))
            devs.append({"uuid": f[0], "type": f[1], "mem": int(f[2]), "cores": int(f[3])})
        out.append(devs)
    return out


def decode_node_register(value):
    """The node registration annotation (JSON array, spec §1.1) as {uuid: device dict}, with
    missing index/numa as 0 and missing health as False."""
    out = {}
    for d in json.loads(value or "[]"):
        d = dict(d)
        d.setdefault("index", 0)
        d.setdefault("numa", 0)
        d.setdefault("health", False)
        out[d["id"]] = d
    return out


def gpu_usage(pods, nodes, bound_only=True):
    """Sums the devices of every live pod carrying hami.io/vgpu-devices-allocated per GPU UUID
    (bound_only: only pods with spec.nodeName; False also counts decisions on unbound pods).
    Returns (used, registered, problems): used = {uuid: {mem, cores, count, pods}},
    registered = {uuid: (node, registered device)}, problems = devices on another node than the
    pod's, or unknown. Pods that are Succeeded/Failed hold nothing; terminating pods count."""
    registered = {}  # uuid -> (node, dev)
    for n in nodes:
        ann = n["metadata"].get("annotations") or {}
        if NODE_REGISTER in ann:
            for uuid, d in decode_node_register(ann[NODE_REGISTER]).items():
                registered[uuid] = (n["metadata"]["name"], d)
    used = {}
    problems = []
    for p in pods:
        ann = p["metadata"].get("annotations") or {}
        if DEVICES_ALLOCATED not in ann or p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if bound_only and not p["spec"].get("nodeName"):
            continue
        pod_node = p["spec"].get("nodeName") or ann.get(VGPU_NODE)
        name = "%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
        for ci, devs in enumerate(decode_pod_devices(ann[DEVICES_ALLOCATED])):
            for d in devs:
                if d["uuid"] not in registered:
                    problems.append("%s: container %d uses unknown device %s" % (name, ci, d["uuid"]))
                    continue
                node, _ = registered[d["uuid"]]
                if pod_node and node != pod_node:
                    problems.append("%s is on %s but uses %s of %s" % (name, pod_node, d["uuid"], node))
                u = used.setdefault(d["uuid"], {"mem": 0, "cores": 0, "count": 0, "pods": []})
                u["mem"] += d["mem"]
                u["cores"] += d["cores"]
                u["count"] += 1
                u["pods"].append(name)
    return used, registered, problems


def check_no_overcommit(pods, nodes):
    """Per GPU UUID, the sum over bound live pods' hami.io/vgpu-devices-allocated compared with the
    GPU's registration on its node (see gpu_usage). Returns a list of violation strings (empty =
    fine): memory above devmem, cores above 100, more tasks than the split count, a device on a
    node other than the pod's, or an unknown UUID."""
    used, registered, problems = gpu_usage(pods, nodes)
    for uuid, u in sorted(used.items()):
        if uuid not in registered:
            continue
        node, dev = registered[uuid]
        devmem, count = dev.get("devmem", 0), dev.get("count", 0)
        if u["mem"] > devmem:
            problems.append("%s on %s: %d MiB allocated > %d MiB (%s)" % (uuid, node, u["mem"], devmem, u["pods"]))
        if u["cores"] > 100:
            problems.append("%s on %s: %d%% cores allocated > 100%% (%s)" % (uuid, node, u["cores"], u["pods"]))
        if u["count"] > count:
            problems.append("%s on %s: %d tasks > split count %d (%s)" % (uuid, node, u["count"], count, u["pods"]))
    return problems


_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(q):
    """A Kubernetes quantity ("2k", "3000", "1Gi", "500m", "1e3") as a number (int when whole).
    The API server canonicalises quantities, so "2000" comes back as "2k"."""
    q = str(q).strip()
    for suf in sorted(_SUFFIX, key=len, reverse=True):
        if suf and q.endswith(suf):
            v = float(q[:-len(suf)]) * _SUFFIX[suf]
            break
    else:
        if q.endswith("m"):
            v = float(q[:-1]) / 1000
        else:
            v = float(q)
    return int(v) if v == int(v) else v


def limit(container, resource, default=0):
    """A container's limit (else request) of `resource` as a number."""
    res = container.get("resources") or {}
    v = (res.get("limits") or {}).get(resource, (res.get("requests") or {}).get(resource))
    return default if v is None else parse_quantity(v)


class Gpu:
    """One fake GPU for the fake NVML config (tests/fakes/nvml/fake_nvml.cc)."""

    def __init__(self, uuid, memory_mib=15360, name="Tesla T4", bus_id=None, **extra):
        self.uuid, self.memory_mib, self.name = uuid, memory_mib, name
        self.bus_id = bus_id
        self.extra = extra  # e.g. mig=True, mig_profiles=[...], mig_instances=[...]

    def nvml_json(self, index):
        d = {"uuid": self.uuid, "name": self.name, "memory_mib": self.memory_mib,
             "bus_id": self.bus_id or "00000000:%02X:00.0" % (0x10 + index)}
        d.update(self.extra)
        return d


def gpu_uuid(node, index):
    """A deterministic, well-formed GPU UUID for (node, index)."""
    h = hashlib.sha1(("%s/%d" % (node, index)).encode()).hexdigest()
    return "GPU-%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def gpus(node, n, memory_mib=15360, name="Tesla T4"):
    """n identical fake GPUs for `node` with deterministic UUIDs."""
    return [Gpu(gpu_uuid(node, i), memory_mib, name) for i in range(n)]


def gpu_pod(name, gpu=1, mem=None, cores=None, mem_percentage=None, annotations=None,
            scheduler_name=None, node_selector=None, labels=None, containers=1, extra_limits=None):
    """A pod dict asking for HAMi resources in each of `containers` containers (limits only,
    as the examples do). scheduler_name=None leaves it to the webhook."""
    limits = {GPU_RESOURCE: str(gpu)}
    if mem is not None:
        limits["nvidia.com/gpumem"] = str(mem)
    if cores is not None:
        limits["nvidia.com/gpucores"] = str(cores)
    if mem_percentage is not None:
        limits["nvidia.com/gpumem-percentage"] = str(mem_percentage)
    limits.update(extra_limits or {})
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "annotations": dict(annotations or {}),
                        "labels": dict(labels or {})},
           "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 30,
                    "containers": [{"name": "c%d" % i, "image": "busybox",
                                    "command": ["sleep", "infinity"],
                                    "resources": {"limits": dict(limits)}}
                                   for i in range(containers)]}}
    if scheduler_name:
        pod["spec"]["schedulerName"] = scheduler_name
    if node_selector:
        pod["spec"]["nodeSelector"] = dict(node_selector)
    return pod
