#!/usr/bin/env python3
"""Scheduling throughput on the real control plane: plain kube-scheduler vs hami, side by side.

In one run, on the same machine, for each repetition, two fresh clusters of the kit in
$HAMI_K8S_KIT (default ../shared/k8s; a real kube-apiserver + etcd + kube-scheduler v1.26.3),
started and stopped with the e2e harness (tests/e2e/k8s_harness.py):

  plain  --nodes nodes with status nvidia.com/gpu = --gpus-per-node, the stock kube-scheduler
         (default-scheduler), and `podblaster --mode plain` (each pod: nvidia.com/gpu 1).
  hami   --nodes nodes whose devices come from the real hami-device-plugin on the fake NVML
         (--gpus-per-node A100 80GB each, split 10) through fake-kubelet --set-running,
         hami-scheduler as mutating webhook (deploy/base/webhook.yaml) and extender,
         kube-scheduler configured from deploy/base's ConfigMap (https-kube-scheduler-config.yaml,
         leader election off as on the plain side), and `podblaster --mode hami`
         (nvidia.com/gpu 1 + gpumem 4000 + gpucores 10, no schedulerName: the webhook sets it).

Printed per side: pods/s and create->bind p50/p99 (podblaster's JSON summary), the CPU
milliseconds per pod of each process group (utime+stime deltas of /proc/<pid>/stat from just
before the burst until every pod is bound, in hami mode until every pod has also left Pending,
i.e. Allocate and Running are included), the API server's requests per pod by verb and resource
(apiserver_request_total from /metrics before/after), etcd operations and watch events per pod,
and the ratio hami/plain. --audit adds requests per pod by client (API server audit log; every
component gets a client certificate of its own). --reps N: medians over N repetitions (the
order of the sides alternates). --json prints everything as JSON.

--plugins N runs the real device plugin on N nodes only; the other nodes are registered by this
script (the registration annotation of a real plugin node with its UUIDs renamed, allocatable
nvidia.com/gpu) and one helper process plays their device plugin's Allocate writes and
kubelet's Running (its CPU is the "plugin emulator" group). Default: a real plugin on every
node.

Needs: the kit, and build/hami-scheduler, build/hami-device-plugin,
build/fake_nvml/libnvidia-ml.so.1 ($HAMI_BUILD_DIR overrides build/). Exits 1 with a message
when one is missing. Every process runs from the kit's run directory and is recorded in its
pids/; the kit's down.sh stops them all at the end, also on errors, Ctrl-C and SIGTERM.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
try:
    import k8s_harness as h  # noqa: E402
except ImportError as _e:
    sys.exit("k8s_bench: error: cannot import the e2e harness tests/e2e/k8s_harness.py: %s" % _e)

CLK_TCK = os.sysconf("SC_CLK_TCK")
NAMESPACE = "bench"
SPLIT = 10                      # the device plugin's default --device-split-count
GPU_MIB = 81920                 # each fake GPU: an A100 80GB
GPU_MODEL = "NVIDIA A100-SXM4-80GB"
POD_GPUMEM, POD_GPUCORES = 4000, 10   # podblaster's defaults in --mode hami


class BenchError(Exception):
    """A failure with a message for the user (exit status 1)."""


def log(msg):
    print("k8s_bench: " + msg, file=sys.stderr, flush=True)


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def watch_events(kube, path):
    """Yields the events of a watch on `path` (a connection of its own, with kube's TLS
    identity); ends when the server closes it."""
    c = http.client.HTTPSConnection(kube.host, kube.port, context=kube.ctx, timeout=3600)
    try:
        c.request("GET", path, headers={"Accept": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            raise BenchError("watch %s -> HTTP %d" % (path, r.status))
        while True:
            line = r.readline()
            if not line:
                return
            yield json.loads(line)
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# Processes: CPU accounting

def proc_cpu_seconds(pid):
    """utime + stime of a live process (all threads), seconds; None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def machine_busy_seconds():
    """CPU seconds the whole machine has been busy (all cores; /proc/stat, idle and iowait
    excluded)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def self_cpu_seconds():
    t = os.times()
    return t.user + t.system


def group_cpu(groups):
    """{group: total CPU seconds of its processes} (processes that are gone count 0)."""
    return {g: sum(proc_cpu_seconds(p) or 0.0 for p in pids) for g, pids in groups.items()}


# --------------------------------------------------------------------------------------------
# API server metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_counters(text, names):
    """{(name, frozenset(labels)): value} for the counters named."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _SAMPLE.match(line)
        if not m or m.group(1) not in names:
            continue
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def counter_delta(before, after):
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0}


def request_breakdown(delta):
    """apiserver_request_total deltas grouped as 'VERB resource[/subresource]' (codes >= 400
    counted apart), plus etcd operations and watch events sent."""
    requests, errors, etcd, watch_events, webhooks = {}, {}, {}, {}, {}
    for (name, labels), v in delta.items():
        lab = dict(labels)
        if name == "apiserver_request_total":
            res = lab.get("resource", "")
            if lab.get("subresource"):
                res += "/" + lab["subresource"]
            if lab.get("group"):
                res += "." + lab["group"]
            key = "%s %s" % (lab.get("verb", "?"), res or lab.get("component", "?"))
            requests[key] = requests.get(key, 0) + v
            if lab.get("code", "200")[:1] in "45":
                ek = "%s %s" % (key, lab["code"])
                errors[ek] = errors.get(ek, 0) + v
        elif name == "etcd_request_duration_seconds_count":
            key = "%s %s" % (lab.get("operation", "?"), lab.get("type", "?"))
            etcd[key] = etcd.get(key, 0) + v
        elif name.startswith("apiserver_admission_webhook_admission_duration_seconds_"):
            key = "%s %s" % (lab.get("name", "?"), name.rsplit("_", 1)[1])
            webhooks[key] = webhooks.get(key, 0) + v
        elif name == "apiserver_watch_events_total":
            key = lab.get("kind", "?")
            watch_events[key] = watch_events.get(key, 0) + v
    mean_ms = {k[:-6]: 1000.0 * webhooks.get(k[:-6] + " sum", 0.0) / v
               for k, v in webhooks.items() if k.endswith(" count") and v}
    return {"requests": requests, "errors": errors, "etcd": etcd, "watchEvents": watch_events,
            "webhookMeanMs": mean_ms}


METRIC_NAMES = {"apiserver_request_total", "etcd_request_duration_seconds_count",
                "apiserver_watch_events_total",
                "apiserver_admission_webhook_admission_duration_seconds_sum",
                "apiserver_admission_webhook_admission_duration_seconds_count"}


# --------------------------------------------------------------------------------------------
# The cluster: the harness's, plus process groups, client identities and metrics

# process name (as the harness names them) -> (group, user of its client certificate)
def _identity(name):
    if name.startswith("device-plugin-"):
        return "device plugins", "hami-device-plugin"
    if name == "plugin-emulator":
        return "plugin emulator", "hami-device-plugin-emulator"
    if name in ("hami-scheduler", "fake-kubelet"):
        return name, name
    return None, None


class BenchCluster(h.Cluster):
    """h.Cluster whose processes each get a client certificate of their own (CN = component,
    O=system:masters), so the API server's audit log tells them apart; the harness starts them
    all with admin.kubeconfig, which spawn() swaps for the component's."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._kubeconfigs = {}

    def user_kubeconfig(self, user, group="system:masters"):
        if user in self._kubeconfigs:
            return self._kubeconfigs[user]
        pki = os.path.join(self.run, "pki")
        key, crt = os.path.join(pki, user + ".key"), os.path.join(pki, user + ".crt")
        ext = crt + ".ext"
        with open(ext, "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        for argv in (["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                      crt + ".csr", "-subj", "/O=%s/CN=%s" % (group, user)],
                     ["openssl", "x509", "-req", "-in", crt + ".csr", "-CA",
                      os.path.join(pki, "ca.crt"), "-CAkey", os.path.join(pki, "ca.key"),
                      "-CAcreateserial", "-out", crt, "-days", "30", "-extfile", ext]):
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.remove(crt + ".csr")
        os.remove(ext)
        path = os.path.join(self.run, user + ".kubeconfig")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config",
                       "clusters": [{"name": "local", "cluster": {
                           "server": self.env["K8S_APISERVER"],
                           "certificate-authority": os.path.join(pki, "ca.crt")}}],
                       "users": [{"name": user, "user": {"client-certificate": crt,
                                                          "client-key": key}}],
                       "contexts": [{"name": "local", "context": {"cluster": "local",
                                                                  "user": user}}],
                       "current-context": "local"}, f)
        os.chmod(path, 0o600)
        self._kubeconfigs[user] = path
        return path

    def spawn(self, name, argv, *rest, **kw):
        _, user = _identity(name)
        if user:
            admin = os.path.join(self.run, "admin.kubeconfig")
            mine = self.user_kubeconfig(user)
            argv = [mine if a == admin else a for a in argv]
        return super().spawn(name, argv, *rest, **kw)

    def dump_logs(self, lines=25):
        """On a failure: the tails of the logs, one device plugin's at most (there may be
        hundreds)."""
        if not self.run or not os.path.isdir(self.run):
            return
        plugin_shown = False
        for name in sorted(os.listdir(self.run)):
            if not name.endswith(".log"):
                continue
            if name.startswith("device-plugin-"):
                if plugin_shown:
                    continue
                plugin_shown = True
            path = os.path.join(self.run, name)
            sys.stderr.write("---- tail %s\n%s\n" % (path, h._tail(path, lines)))
        sys.stderr.flush()

    def groups(self):
        """{process group: [pid]} of the control plane and every process started so far."""
        out = {"kube-apiserver": [int(self.env["K8S_APISERVER_PID"])],
               "etcd": [int(self.env["K8S_ETCD_PID"])]}
        for name, p in self.procs.items():
            group = _identity(name)[0] or name
            out.setdefault(group, []).append(p.pid)
        return out

    def metrics(self):
        return parse_counters(self.kube.request("GET", "/metrics"), METRIC_NAMES)


# --------------------------------------------------------------------------------------------
# The two sides

def node_names(n):
    return ["node-%d" % i for i in range(n)]


def setup_plain(c, args):
    """Nodes with nvidia.com/gpu in their status and the stock kube-scheduler."""
    c.add_nodes_bulk(node_names(args.nodes), gpu_count=args.gpus_per_node, workers=8)
    c.start_kube_scheduler(with_qps({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": os.path.join(c.run, "kube-scheduler.kubeconfig")},
        "leaderElection": {"leaderElect": False}}, args))


def with_qps(config, args):
    """--kube-scheduler-qps: clientConnection.qps and burst (2x) of a KubeSchedulerConfiguration
    (kube-scheduler's defaults, 50 and 100, otherwise)."""
    if args.kube_scheduler_qps:
        config.setdefault("clientConnection", {}).update(
            {"qps": args.kube_scheduler_qps, "burst": 2 * args.kube_scheduler_qps})
    return config


def setup_hami(c, args):
    names = node_names(args.nodes)
    plugin_nodes, emulated = names[:args.plugins], names[args.plugins:]
    want = args.gpus_per_node * SPLIT
    c.add_nodes_bulk(names, workers=8)
    for n in names:
        c.gpu_nodes[n] = h.gpus(n, args.gpus_per_node, memory_mib=GPU_MIB, name=GPU_MODEL)
        c.split_count[n] = SPLIT
    if plugin_nodes:
        for n in plugin_nodes:
            c.write_nvml_config(n, c.gpu_nodes[n])
        c.start_fake_kubelet(nodes=plugin_nodes, qps=args.kubelet_qps)
        # The fake NVML implements nvmlEventSetWait by polling every 5 ms, which the real
        # one does not (it blocks in the driver): with health checks on, each idle plugin
        # would burn ~3 ms of CPU per second that a real node does not spend.
        env = None if args.plugin_health_checks else {"DP_DISABLE_HEALTHCHECKS": "all"}
        for i, n in enumerate(plugin_nodes):
            c.start_device_plugin(n, env=env)
            if i % 20 == 19:
                time.sleep(0.5)   # 2 cores: let a batch start before the next
        c.wait_nodes_registered(plugin_nodes, timeout=args.ready_timeout)
    if emulated:
        register_emulated(c, emulated, plugin_nodes[0] if plugin_nodes else None, want)
    c.start_hami_scheduler(timeout=args.ready_timeout)
    c.install_webhook()
    # deploy/base's config, extender at the local hami
    c.start_kube_scheduler(with_qps(c.kube_scheduler_config(), args))
    if emulated:
        c.spawn("plugin-emulator", [sys.executable, os.path.abspath(__file__),
                                    "--emulate-plugins", c.run, ",".join(emulated)])
    # Ready when hami-scheduler has taken every registration: it writes the handshake
    # annotation then (so that write does not fall into the measured burst).
    def ready():
        for p in c.procs.values():
            if not p.alive():
                raise BenchError("%s exited: %s" % (p.name, h._tail(p.log_path, 10)))
        bad = [n["metadata"]["name"] for n in c.kube.list_nodes() if not node_ready(n, want)]
        return not bad or None
    try:
        h.wait_for(ready, args.ready_timeout, "every node registered and handshaken", 1.0)
    except TimeoutError as e:
        raise BenchError(str(e))


def node_ready(node, want):
    ann = node["metadata"].get("annotations") or {}
    alloc = (node.get("status", {}).get("allocatable") or {}).get(h.GPU_RESOURCE, "0")
    return h.NODE_REGISTER in ann and h.NODE_HANDSHAKE in ann and alloc == str(want)


def register_emulated(c, nodes, template_node, want):
    """What a device plugin and kubelet publish, written directly: the registration annotation
    (a real plugin node's, its UUIDs renamed; without one, HAMi's JSON form) and allocatable
    nvidia.com/gpu. Our plugin answers the scheduler's handshake through allocatable only, so
    with allocatable > 0 the handshake stays healthy without further writes."""
    template = None
    if template_node:
        template = c.kube.get_node(template_node)["metadata"]["annotations"][h.NODE_REGISTER]

    def one(n):
        gs = c.gpu_nodes[n]
        if template is not None:
            reg = template
            for old, new in zip(c.gpu_nodes[template_node], gs):
                reg = reg.replace(old.uuid, new.uuid)
        else:
            reg = json.dumps([{"id": g.uuid, "index": i, "count": SPLIT, "devmem": GPU_MIB,
                               "devcore": 100, "type": "NVIDIA-" + GPU_MODEL, "mode": "hami-core",
                               "health": True} for i, g in enumerate(gs)],
                             separators=(",", ":"))
        c.kube.patch_node(n, {"status": {"capacity": {h.GPU_RESOURCE: str(want)},
                                         "allocatable": {h.GPU_RESOURCE: str(want)}}},
                          status=True)
        c.kube.annotate_node(n, {h.NODE_REGISTER: reg})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, nodes))


# --------------------------------------------------------------------------------------------
# Emulated device plugins (--plugins N < --nodes): a process of its own, so its CPU is counted

def emulate_plugins(run, nodes_csv):
    """For pods bound to the given nodes with hami.io/bind-phase allocating: what our device
    plugin's Allocate writes (devices-to-allocate emptied, bind-phase success, node lock
    released) and what fake-kubelet --set-running writes (phase Running)."""
    env = {}
    with open(os.path.join(run, "env")) as f:
        for line in f:
            if line.startswith("export "):
                for part in line[7:].strip().split(" "):
                    k, _, v = part.partition("=")
                    env[k] = v.strip("'")
    pki = os.path.join(run, "pki")
    user = "hami-device-plugin-emulator"
    if not os.path.exists(os.path.join(pki, user + ".crt")):
        user = "admin"
    kube = h.Kube(env["K8S_APISERVER"], os.path.join(pki, "ca.crt"),
                  os.path.join(pki, user + ".crt"), os.path.join(pki, user + ".key"))
    nodes = set(nodes_csv.split(","))
    done = set()
    pool = concurrent.futures.ThreadPoolExecutor(4)

    def allocate(ns, name, node):
        path = kube.pod_path(ns, name)
        try:
            kube.patch(path, {"metadata": {"annotations": {h.DEVICES_TO_ALLOCATE: ""}}})
            kube.patch(path, {"metadata": {"annotations": {h.BIND_PHASE: "success"}}})
            kube.annotate_node(node, {h.NODE_LOCK: None})
            kube.patch(path + "/status", {"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True"}]}}, kind="strategic")
        except (h.ApiError, OSError, http.client.HTTPException) as e:
            print("allocate %s/%s: %s" % (ns, name, e), flush=True)

    def seen(pod):
        node = pod.get("spec", {}).get("nodeName", "")
        uid = pod["metadata"]["uid"]
        ann = pod["metadata"].get("annotations") or {}
        if node in nodes and uid not in done and ann.get(h.BIND_PHASE) == "allocating":
            done.add(uid)
            pool.submit(allocate, pod["metadata"]["namespace"], pod["metadata"]["name"], node)

    while True:
        try:
            listing = kube.get(kube.pod_path(NAMESPACE))
            for pod in listing.get("items") or []:
                seen(pod)
            for ev in watch_events(kube, kube.pod_path(NAMESPACE) + "?watch=1&resourceVersion=%s"
                                   % listing["metadata"]["resourceVersion"]):
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    seen(ev["object"])
        except (BenchError, h.ApiError, OSError, http.client.HTTPException, ValueError) as e:
            print("watch: %s; again" % e, flush=True)
            time.sleep(1)


# --------------------------------------------------------------------------------------------
# The burst

# Always on: the pod creations and bindings only (two log lines per pod), so create->bind
# latencies can be read from the API server itself when podblaster's watch is lost.
AUDIT_POLICY_MIN = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  verbs: [create]
  resources: [{group: "", resources: [pods, pods/binding]}]
- level: None
"""
# --audit: every request, to count them by client.
AUDIT_POLICY_ALL = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
"""


def audit_events(path):
    try:
        f = open(path, errors="replace")
    except OSError:
        return
    with f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def audit_time(e, key):
    try:
        return datetime.datetime.fromisoformat(e.get(key, "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def audit_latencies(path, start, n):
    """A podblaster-like summary from the audit log: per pod, from the API server receiving its
    creation to the completion of its Binding (server side, so no watch is involved)."""
    created, bound, create_lat = {}, {}, []
    for e in audit_events(path):
        ref = e.get("objectRef") or {}
        if (e.get("stage") != "ResponseComplete" or e.get("verb") != "create"
                or ref.get("namespace") != NAMESPACE or ref.get("resource") != "pods"
                or (e.get("responseStatus") or {}).get("code") not in (200, 201)):
            continue
        name = ref.get("name")
        if not name:
            continue
        if not ref.get("subresource"):
            created[name] = audit_time(e, "requestReceivedTimestamp")
            done = audit_time(e, "stageTimestamp")
            if created[name] and done:
                create_lat.append(done - created[name])
        elif ref["subresource"] == "binding":
            t = audit_time(e, "stageTimestamp")
            bound[name] = min(t, bound.get(name, t))
    lat = sorted(bound[k] - created[k] for k in bound if created.get(k) and bound[k])
    if not lat:
        return None
    last = max(bound.values())

    def pct(q, v=lat):
        return v[int(q * (len(v) - 1))] if v else None
    create_lat.sort()
    span = max(1e-9, last - start)
    return {"pods": n, "created": len(created), "createErrors": None,
            "createSeconds": max(t for t in created.values() if t) - start,
            "bound": len(lat), "firstCreateToLastBindSeconds": span,
            "boundPerSecond": len(lat) / span,
            "latencySeconds": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                               "max": pct(1.0)},
            "createRequestSeconds": {"p50": pct(0.5, create_lat), "p99": pct(0.99, create_lat)},
            "nodesUsed": None, "maxPodsOnOneNode": None}


class AuditBindingCounter:
    """Counts the successful Bindings in the bench namespace as the audit log grows (read
    incrementally, no API calls)."""

    def __init__(self, path):
        self.path, self.offset, self.n, self.partial = path, file_size(path), 0, b""

    def count(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self.n
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if b'"binding"' not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            ref = e.get("objectRef") or {}
            if (e.get("stage") == "ResponseComplete" and ref.get("subresource") == "binding"
                    and ref.get("namespace") == NAMESPACE
                    and (e.get("responseStatus") or {}).get("code") in (200, 201)):
                self.n += 1
        return self.n


def audit_breakdown(path, t0, t1):
    """{user: {'verb resource[/sub]': n}} of the requests received in [t0, t1] (Unix s): a
    watch counts when it starts, other requests when they complete."""
    out = {}
    for e in audit_events(path):
        verb = e.get("verb", "?")
        if e.get("stage") != ("ResponseStarted" if verb == "watch" else "ResponseComplete"):
            continue
        t = audit_time(e, "requestReceivedTimestamp")
        if t is None or not t0 <= t <= t1:
            continue
        ref = e.get("objectRef") or {}
        res = ref.get("resource") or e.get("requestURI", "?").split("?")[0]
        if ref.get("subresource"):
            res += "/" + ref["subresource"]
        user = (e.get("user") or {}).get("username", "?")
        key = "%s %s" % (verb, res)
        out.setdefault(user, {})
        out[user][key] = out[user].get(key, 0) + 1
    return out


def pods_state(kube):
    phases, bind_phase, schedulers, per_node = {}, {}, {}, {}
    items = kube.list_pods(NAMESPACE)
    for p in items:
        if p["spec"].get("nodeName"):
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        for d, v in ((phases, (p.get("status") or {}).get("phase", "?")),
                     (bind_phase, (p["metadata"].get("annotations") or {}).get(h.BIND_PHASE, "-")),
                     (schedulers, p["spec"].get("schedulerName", "-"))):
            d[v] = d.get(v, 0) + 1
    return {"pods": len(items), "phases": phases, "bindPhase": bind_phase,
            "schedulerName": schedulers, "nodesUsed": len(per_node),
            "maxPodsOnOneNode": max(per_node.values()) if per_node else 0}


SCHED_LOG_PATTERNS = ("Error scheduling pod", "Unable to schedule pod")
# the API server's watch cache dropping a watcher that did not keep up (machine saturated)
WATCHER_CLOSED = "watcher close due to unresponsiveness"
LOST_WATCH_GRACE_S = 20


def count_lines(path, offset, patterns):
    counts = {p: 0 for p in patterns}
    try:
        with open(path, errors="replace") as f:
            f.seek(offset)
            for line in f:
                for p in patterns:
                    if p in line:
                        counts[p] += 1
    except OSError:
        pass
    return counts


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def run_burst(c, mode, args, podblaster):
    """Idle CPU for --idle-seconds, then podblaster; CPU, API requests and pod states over the
    burst (until every pod is bound; in hami mode until every pod has also left Pending)."""
    groups = c.groups()
    kubeconfig = c.user_kubeconfig("podblaster")
    c_idle0 = group_cpu(groups)
    time.sleep(args.idle_seconds)
    c_idle1 = group_cpu(groups)
    idle = {g: (c_idle1[g] - c_idle0[g]) / args.idle_seconds for g in groups}
    sched_log = os.path.join(c.run, "kube-scheduler.log")
    sched_off = file_size(sched_log)
    api_log = os.path.join(c.run, "kube-apiserver.log")
    api_off = file_size(api_log)
    bindings = AuditBindingCounter(c.audit_log)
    m0 = c.metrics()
    c0 = group_cpu(groups)
    busy0, self0 = machine_busy_seconds(), self_cpu_seconds()
    t0 = time.time()
    pb_log_path = os.path.join(c.run, "podblaster.log")
    with open(pb_log_path, "w") as pb_log:
        pb = subprocess.Popen([podblaster, "--kubeconfig", kubeconfig, "--namespace", NAMESPACE,
                               "--n", str(args.pods), "--prefix", "p", "--mode", mode,
                               "--gpus", "1", "--gpumem", str(POD_GPUMEM),
                               "--gpucores", str(POD_GPUCORES), "--workers", str(args.workers),
                               "--qps", str(args.qps), "--timeout", "%ds" % args.timeout],
                              stdout=subprocess.PIPE, stderr=pb_log, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    c._record("podblaster", pb.pid)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(pb.stdout.read()), daemon=True)
    reader.start()
    # The window ends when the audit log shows every Binding (plain), or then every pod has
    # left Pending (hami: the device plugin's Allocate and Running belong to the pod), whether
    # or not podblaster has noticed: its watch may have been dropped by the API server.
    lost, pb_done, all_bound_at, end, next_poll = False, False, None, None, 0.0
    while True:
        if not pb_done:
            pid, status, ru = os.wait4(pb.pid, os.WNOHANG)   # ru: podblaster's own CPU
            pb_done = pid != 0
        now = time.time()
        if all_bound_at is None and bindings.count() >= args.pods:
            all_bound_at = now
        if end is None and all_bound_at is not None and (mode == "plain" or now >= next_poll):
            next_poll = now + 0.5
            if mode == "hami" and now - all_bound_at > args.settle_timeout:
                log("%s: pods still Pending %d s after the last bind (measuring anyway)" % (
                    mode, args.settle_timeout))
            if (mode == "plain" or now - all_bound_at > args.settle_timeout
                    or not c.kube.list(c.kube.pod_path(NAMESPACE), limit=1,
                                       fieldSelector="status.phase=Pending")):
                end = (group_cpu(groups), machine_busy_seconds(), self_cpu_seconds(),
                       time.time())
        if pb_done:
            if end is None:       # podblaster ended without every pod bound
                end = (group_cpu(groups), machine_busy_seconds(), self_cpu_seconds(),
                       time.time())
            break
        if all_bound_at is not None and now - all_bound_at > LOST_WATCH_GRACE_S and not lost:
            lost = True
            log("%s: every pod is bound but podblaster is still waiting (its watch was "
                "closed by the API server): stopping it; latencies from the audit log" % mode)
            pb.send_signal(signal.SIGTERM)
        time.sleep(0.1)
    pb.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    out = b"".join(chunks)
    t_bound = all_bound_at or time.time()
    audit_summary = audit_latencies(c.audit_log, t0, args.pods)
    if lost:
        if audit_summary is None:
            raise BenchError("podblaster's watch was lost and the audit log has no bindings")
        summary = dict(audit_summary, mode=mode,
                       source="API server audit log (podblaster's watch was lost)")
    elif pb.returncode != 0:
        raise BenchError("podblaster exited with %d; see %s:\n%s" % (pb.returncode, pb_log_path,
                                                                      tail(pb_log_path)))
    else:
        try:
            summary = json.loads(out)
        except ValueError:
            raise BenchError("podblaster printed no JSON summary: %r" % out[:300])
        summary["source"] = "podblaster"
    c1, busy1, self1, t1 = end
    m1 = c.metrics()
    cpu = {g: c1[g] - c0[g] for g in groups}
    cpu["podblaster"] = ru.ru_utime + ru.ru_stime
    # everything else the machine ran meanwhile (other jobs, this script): noise to report
    other = (busy1 - busy0) - sum(cpu.values())
    result = {
        "mode": mode, "podblaster": summary, "burstSeconds": t_bound - t0,
        "measuredSeconds": t1 - t0, "cpuSeconds": cpu, "idleCores": idle,
        "machineBusyCores": (busy1 - busy0) / (t1 - t0),
        "otherCores": other / (t1 - t0), "benchScriptCpuSeconds": self1 - self0,
        "loadAverage": os.getloadavg()[0],
        "processes": {g: len(p) for g, p in groups.items()},
        "rssMiB": {g: sum(proc_rss_mib(p) or 0 for p in pids) for g, pids in groups.items()},
        "api": request_breakdown(counter_delta(m0, m1)),
        "state": pods_state(c.kube),
        "kubeSchedulerLog": count_lines(sched_log, sched_off, SCHED_LOG_PATTERNS),
        "watchersClosed": count_lines(api_log, api_off, (WATCHER_CLOSED,))[WATCHER_CLOSED],
        "auditLatency": audit_summary,
    }
    if args.audit:
        result["auditByUser"] = audit_breakdown(c.audit_log, t0, t1)
    return result


def run_side(mode, args, podblaster):
    audit_dir = tempfile.mkdtemp(prefix="k8s-bench-audit-")
    with open(os.path.join(audit_dir, "policy.yaml"), "w") as f:
        f.write(AUDIT_POLICY_ALL if args.audit else AUDIT_POLICY_MIN)
    apiserver_args = ("--audit-policy-file=%s/policy.yaml --audit-log-path=%s/audit.log "
                      "--audit-log-format=json --audit-log-maxsize=0" % (audit_dir, audit_dir))
    t = time.time()
    try:
        c = BenchCluster(namespace=NAMESPACE, keep=args.keep, apiserver_args=apiserver_args)
        c.audit_log = os.path.join(audit_dir, "audit.log")
        with c:
            try:
                if mode == "plain":
                    setup_plain(c, args)
                else:
                    setup_hami(c, args)
                log("%s: %d nodes ready in %.0f s (run dir %s); burst of %d pods" % (
                    mode, args.nodes, time.time() - t, c.run, args.pods))
                result = run_burst(c, mode, args, podblaster)
            except (h.ApiError, RuntimeError, TimeoutError, OSError) as e:
                raise BenchError("%s side: %s: %s" % (mode, type(e).__name__, e))
            log("%s: %.1f pods/s, p99 %.2f s" % (
                mode, result["podblaster"]["boundPerSecond"],
                result["podblaster"]["latencySeconds"]["p99"]))
        return result
    finally:
        if not args.keep:
            shutil.rmtree(audit_dir, ignore_errors=True)
        else:
            log("audit log kept: %s/audit.log" % audit_dir)


# --------------------------------------------------------------------------------------------
# Report

GROUP_ORDER = ["kube-apiserver", "etcd", "kube-scheduler", "hami-scheduler", "fake-kubelet",
               "device plugins", "plugin emulator", "podblaster"]


def derive(r):
    s = r["podblaster"]
    pods = max(1, s["created"])
    cpu = {g: v * 1000.0 / pods for g, v in r["cpuSeconds"].items()}
    cpu["total"] = sum(cpu.values())
    net = {g: (v - r["idleCores"].get(g, 0.0) * r["measuredSeconds"]) * 1000.0 / pods
           for g, v in r["cpuSeconds"].items()}
    net["total"] = sum(net.values())
    return {
        "podsPerSecond": s["boundPerSecond"], "p50": s["latencySeconds"]["p50"],
        "p90": s["latencySeconds"]["p90"], "p99": s["latencySeconds"]["p99"],
        "max": s["latencySeconds"]["max"], "created": s["created"], "bound": s["bound"],
        "createSeconds": s["createSeconds"], "createErrors": s["createErrors"],
        "nodesUsed": r["state"]["nodesUsed"], "maxPodsOnOneNode": r["state"]["maxPodsOnOneNode"],
        "measuredSeconds": r["measuredSeconds"],
        "machineBusyCores": r["machineBusyCores"], "otherCores": r["otherCores"],
        "cpuMsPerPod": cpu,
        "cpuMsPerPodNetOfIdle": net,
        "auditP50": (r.get("auditLatency") or {}).get("latencySeconds", {}).get("p50"),
        "auditP99": (r.get("auditLatency") or {}).get("latencySeconds", {}).get("p99"),
        "auditPodsPerSecond": (r.get("auditLatency") or {}).get("boundPerSecond"),
        "createRequestP50": ((r.get("auditLatency") or {}).get("createRequestSeconds") or
                             {}).get("p50"),
        "createRequestP99": ((r.get("auditLatency") or {}).get("createRequestSeconds") or
                             {}).get("p99"),
        "webhookMeanMs": r["api"].get("webhookMeanMs", {}),
        "idleCores": r["idleCores"],
        "requestsPerPod": {k: v / pods for k, v in r["api"]["requests"].items()},
        "errorsPerPod": {k: v / pods for k, v in r["api"]["errors"].items()},
        "etcdPerPod": {k: v / pods for k, v in r["api"]["etcd"].items()},
        "watchEventsPerPod": {k: v / pods for k, v in r["api"]["watchEvents"].items()},
        "kubeSchedulerLog": r["kubeSchedulerLog"],
        "watchersClosed": r["watchersClosed"],
        "latencySource": s.get("source", "podblaster"),
        "auditPerPod": {u: {k: v / pods for k, v in d.items()}
                        for u, d in r.get("auditByUser", {}).items()},
    }


def median_of(values):
    """Median of numbers, or key-wise median of dicts (a missing key counts 0); None values
    are left out (all None: None); strings: the distinct values joined."""
    if isinstance(values[0], dict):
        keys = set().union(*values)
        return {k: median_of([v.get(k, 0) for v in values]) for k in sorted(keys)}
    if isinstance(values[0], str):
        return ", ".join(sorted(set(values)))
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    derived = [derive(r) for r in runs]
    return {k: median_of([d[k] for d in derived]) for k in derived[0]}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_report(args, out):
    sides = [s for s in ("plain", "hami") if s in out["median"]]
    med = out["median"]
    print("k8s_bench: %d pods on %d nodes x %d GPUs, %d repetition(s) (medians), kit %s" % (
        args.pods, args.nodes, args.gpus_per_node, args.reps, out["kit"]))
    print("  build: %s" % out["build"])
    if "hami" in sides:
        print("  hami: real hami-device-plugin on %d of %d nodes (fake NVML, %s %d MiB, split %d)%s"
              % (args.plugins, args.nodes, GPU_MODEL, GPU_MIB, SPLIT,
                 "" if args.plugins == args.nodes else
                 "; the other %d nodes registered by this script and their Allocate/Running "
                 "played by one emulator process" % (args.nodes - args.plugins)))
        print("  podblaster --mode hami: gpumem 4000, gpucores 10; webhook + extender "
              "hami-scheduler, kube-scheduler from deploy/base")
    if "plain" in sides:
        print("  plain: nodes with status nvidia.com/gpu=%d, stock kube-scheduler, podblaster "
              "--mode plain" % args.gpus_per_node)
    print("  kube-scheduler client QPS: %s" % (
        "%d, burst %d (--kube-scheduler-qps)" % (args.kube_scheduler_qps,
                                                 2 * args.kube_scheduler_qps)
        if args.kube_scheduler_qps else
        "its default 50, burst 100: plain kube-scheduler creates the Bindings itself, so about "
        "50 binds/s is its ceiling; with hami the extender creates them"))
    w = 40
    header = "%-*s" % (w, "") + "".join("%12s" % s for s in sides)
    both = len(sides) == 2
    if both:
        header += "%12s" % "hami/plain"
    print()
    print(header)

    def row(label, get, spec, ratio=False):
        vals = [get(med[s]) for s in sides]
        line = "%-*s" % (w, label) + "".join("%12s" % fmt(v, spec) for v in vals)
        if both and ratio and vals[0] and vals[1] is not None:
            line += "%11.2fx" % (vals[1] / vals[0])
        print(line)

    row("pods/s (bound)", lambda m: m["podsPerSecond"], ".1f", True)
    row("create->bind p50 (s)", lambda m: m["p50"], ".3f", True)
    row("create->bind p99 (s)", lambda m: m["p99"], ".3f", True)
    row("create->bind max (s)", lambda m: m["max"], ".3f")
    row("  p50, API server side (audit) (s)", lambda m: m["auditP50"], ".3f", True)
    row("  p99, API server side (audit) (s)", lambda m: m["auditP99"], ".3f", True)
    row("pods created / bound", lambda m: "%d/%d" % (m["created"], m["bound"]), "s")
    row("create phase (s)", lambda m: m["createSeconds"], ".2f")
    row("  POST pods p50 (audit) (ms)", lambda m: m["createRequestP50"] and
        1000 * m["createRequestP50"], ".1f")
    row("  POST pods p99 (audit) (ms)", lambda m: m["createRequestP99"] and
        1000 * m["createRequestP99"], ".1f")
    for k in sorted(set().union(*[med[s]["webhookMeanMs"] for s in sides])):
        row("  webhook %s mean (ms)" % k, lambda m, k=k: m["webhookMeanMs"].get(k), ".1f")
    row("nodes used / max pods on one", lambda m: "%s/%s" % (fmt(m["nodesUsed"], ".0f"),
                                                              fmt(m["maxPodsOnOneNode"], ".0f")),
        "s")
    row("measured window (s)", lambda m: m["measuredSeconds"], ".1f")
    row("kube-scheduler retries (log)", lambda m: sum(m["kubeSchedulerLog"].values()), ".0f")
    row("watchers dropped by apiserver", lambda m: m["watchersClosed"], ".0f")
    row("machine busy in window (cores)", lambda m: m["machineBusyCores"], ".2f")
    row("  other processes (incl. this script)", lambda m: m["otherCores"], ".2f")
    for side in sides:
        if med[side]["latencySource"] != "podblaster":
            print("  %s latencies: %s" % (side, med[side]["latencySource"]))
    print("CPU ms per pod (utime+stime over the window)")
    groups = [g for g in GROUP_ORDER if any(g in med[s]["cpuMsPerPod"] for s in sides)]
    for g in groups + ["total"]:
        label = "  " + g
        if g == "device plugins" and "hami" in sides:
            label += " (%d procs)" % out["processes"]["hami"].get("device plugins", 0)
        row(label, lambda m, g=g: m["cpuMsPerPod"].get(g), ".2f", g in ("total",
                                                                      "kube-apiserver"))
    print("CPU ms per pod, net of each group's idle rate (measured before the burst)")
    for g in groups + ["total"]:
        row("  " + g, lambda m, g=g: m["cpuMsPerPodNetOfIdle"].get(g), ".2f", g == "total")
    print("idle CPU before the burst (cores)")
    for g in groups:
        if g == "podblaster":
            continue
        row("  " + g, lambda m, g=g: m["idleCores"].get(g), ".3f")
    def per_pod_rows(field):
        """One row per key of med[side][field] reaching 0.01 on some side, largest first."""
        keys = sorted(set().union(*[med[s][field] for s in sides]),
                      key=lambda k: -max(med[s][field].get(k, 0) for s in sides))
        for k in keys:
            if max(med[s][field].get(k, 0) for s in sides) >= 0.01:
                row("  " + k, lambda m, k=k: m[field].get(k, 0), ".2f")

    print("API server requests per pod (apiserver_request_total; >= 0.01 shown)")
    per_pod_rows("requestsPerPod")
    row("  total", lambda m: sum(m["requestsPerPod"].values()), ".2f", True)
    errs = set().union(*[med[s]["errorsPerPod"] for s in sides])
    if errs:
        print("  of which failed (code)")
        for k in sorted(errs):
            row("    " + k, lambda m, k=k: m["errorsPerPod"].get(k, 0), ".2f")
    print("etcd operations per pod (etcd_request_duration_seconds_count; >= 0.01 shown)")
    per_pod_rows("etcdPerPod")
    print("watch events sent per pod (apiserver_watch_events_total)")
    for k in sorted(set().union(*[med[s]["watchEventsPerPod"] for s in sides])):
        if max(med[s]["watchEventsPerPod"].get(k, 0) for s in sides) >= 0.01:
            row("  " + k, lambda m, k=k: m["watchEventsPerPod"].get(k, 0), ".2f")
    if args.audit:
        print("requests per pod by client (audit log, user = client certificate CN)")
        users = sorted(set().union(*[med[s]["auditPerPod"] for s in sides]))
        for u in users:
            tot = [sum(med[s]["auditPerPod"].get(u, {}).values()) for s in sides]
            print("%-*s" % (w, "  " + u) + "".join("%12.2f" % t for t in tot))
            keys = sorted(set().union(*[med[s]["auditPerPod"].get(u, {}) for s in sides]),
                          key=lambda k: -max(med[s]["auditPerPod"].get(u, {}).get(k, 0)
                                             for s in sides))
            for k in keys:
                vals = [med[s]["auditPerPod"].get(u, {}).get(k, 0) for s in sides]
                if max(vals) >= 0.01:
                    print("%-*s" % (w, "    " + k) + "".join("%12.2f" % v for v in vals))
    for s in sides:
        st = out["runs"][s][-1]["state"]
        print("%s end state (last rep): phases %s, bind-phase %s, schedulerName %s" % (
            s, st["phases"], st["bindPhase"], st["schedulerName"]))


# --------------------------------------------------------------------------------------------

def build_identity():
    """Which hami binaries ran: the source commit (and whether the tree differs) and the
    binaries' modification times."""
    def git(*a):
        r = subprocess.run(["git", "-C", REPO] + list(a), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = " (tree modified)" if git("status", "--porcelain", "--untracked-files=no") else ""
    try:
        b = h.Binaries.locate()
        stamps = ", ".join("%s %s" % (os.path.basename(p), time.strftime(
            "%H:%M:%S", time.localtime(os.path.getmtime(p))))
            for p in (b.scheduler, b.device_plugin))
    except (FileNotFoundError, OSError):
        stamps = "?"
    return "git %s%s; %s" % (head, dirty, stamps)


def find_binaries():
    """The kit (with its executables) and the project's binaries; BenchError naming what is
    missing."""
    kit = os.path.abspath(h.kit_dir())
    missing = [os.path.join(kit, f) for f in ("up.sh", "down.sh", "scheduler.sh", "bin.sh",
                                             "nodes/mknode.py")
               if not os.path.isfile(os.path.join(kit, f))]
    if missing:
        raise BenchError("the Kubernetes kit is missing or incomplete (set HAMI_K8S_KIT): no " +
                         ", ".join(missing))
    for tool in ("openssl", "curl"):
        if shutil.which(tool) is None:
            raise BenchError("%s is required (the kit and this script use it)" % tool)
    paths = {}
    for name in ("kube-apiserver", "kube-scheduler", "fake-kubelet", "podblaster"):
        p = subprocess.run([os.path.join(kit, "bin.sh"), "--path", name], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        path = p.stdout.strip()
        if p.returncode != 0 or not os.access(path, os.X_OK):
            raise BenchError("the kit's %s is missing: %s" % (name, p.stderr.strip()))
        paths[name] = path
    try:
        h.Binaries.locate()
    except FileNotFoundError as e:
        raise BenchError(str(e).replace("e2e: ", ""))
    return kit, paths


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="plain kube-scheduler vs hami on the real control plane (pods/s, "
                    "create->bind latency, CPU and API requests per pod)")
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=1, help="repetitions; figures are medians")
    ap.add_argument("--plugins", type=int, default=None,
                    help="nodes with a real hami-device-plugin process (default: all); the "
                         "others are registered by this script and emulated")
    ap.add_argument("--sides", default="plain,hami", help="plain,hami (default), plain or hami")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--json-out", metavar="FILE", help="also write the JSON to FILE")
    ap.add_argument("--audit", action="store_true",
                    help="API server audit log on: requests per pod by client (costs the API "
                         "server some CPU)")
    ap.add_argument("--workers", type=int, default=16, help="podblaster --workers")
    ap.add_argument("--qps", type=int, default=500, help="podblaster --qps")
    ap.add_argument("--plugin-health-checks", action="store_true",
                    help="leave the device plugins' Xid health checks on (off by default: the "
                         "fake NVML polls for events every 5 ms, a cost real NVML has not)")
    ap.add_argument("--kube-scheduler-qps", type=int, default=0,
                    help="clientConnection.qps (burst 2x) of kube-scheduler on both sides "
                         "(default: kube-scheduler's own, 50/100, which caps the plain side's "
                         "Bindings at ~50/s)")
    ap.add_argument("--kubelet-qps", type=int, default=1000,
                    help="fake-kubelet --qps (it stands for every node's kubelet)")
    ap.add_argument("--timeout", type=int, default=600, help="podblaster --timeout, seconds")
    ap.add_argument("--ready-timeout", type=int, default=300,
                    help="seconds for all nodes to be registered with hami")
    ap.add_argument("--settle-timeout", type=int, default=120,
                    help="hami: seconds to wait after the last bind for pods to leave Pending")
    ap.add_argument("--idle-seconds", type=float, default=3.0,
                    help="idle CPU measured for this long before the burst")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (logs)")
    ap.add_argument("--emulate-plugins", nargs=2, metavar=("RUN_DIR", "NODES"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.emulate_plugins:
        emulate_plugins(*args.emulate_plugins)
        return 0
    if args.plugins is None:
        args.plugins = args.nodes
    if not 0 <= args.plugins <= args.nodes:
        ap.error("--plugins must be between 0 and --nodes")
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not sides or any(s not in ("plain", "hami") for s in sides):
        ap.error("--sides: plain, hami or plain,hami")

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if "plain" in sides and args.pods > args.nodes * args.gpus_per_node:
        ap.error("--pods %d > --nodes x --gpus-per-node: the plain side could not bind them all"
                 % args.pods)
    if "hami" in sides and args.pods > args.nodes * args.gpus_per_node * SPLIT:
        ap.error("--pods %d > --nodes x --gpus-per-node x %d tasks per GPU" % (args.pods, SPLIT))
    runs = {s: [] for s in sides}
    processes = {}
    # run directories under a folder of our own (the harness makes them in $HAMI_E2E_TMP)
    own_base = None
    if not os.environ.get("HAMI_E2E_TMP"):
        own_base = os.environ["HAMI_E2E_TMP"] = tempfile.mkdtemp(prefix="k8s-bench-")
    try:
        kit, paths = find_binaries()
        build = build_identity()      # before the runs: the builder may replace binaries
        for rep in range(args.reps):
            for s in (sides if rep % 2 == 0 else list(reversed(sides))):
                log("rep %d/%d: %s" % (rep + 1, args.reps, s))
                r = run_side(s, args, paths["podblaster"])
                runs[s].append(r)
                processes[s] = r["processes"]
    except BenchError as e:
        print("k8s_bench: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print("k8s_bench: interrupted (%s); clusters stopped" % (e or "Ctrl-C"), file=sys.stderr)
        return 130
    finally:
        if own_base:
            try:
                os.rmdir(own_base)     # left when a run directory in it was kept
            except OSError:
                pass
    out = {"kit": kit, "build": build, "nodes": args.nodes, "gpusPerNode": args.gpus_per_node,
           "pods": args.pods, "reps": args.reps, "plugins": args.plugins,
           "median": {s: summarize(runs[s]) for s in sides}, "processes": processes,
           "runs": runs}
    if "plain" in sides and "hami" in sides:
        pm, hm = out["median"]["plain"], out["median"]["hami"]
        out["ratio"] = {"podsPerSecond": hm["podsPerSecond"] / pm["podsPerSecond"],
                        "p99": hm["p99"] / pm["p99"] if pm["p99"] else None}
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    if args.json:
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        print_report(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
