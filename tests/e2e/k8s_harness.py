"""End-to-end harness: hami on a real kube-apiserver + kube-scheduler (Python 3 standard library).

The control plane comes from the kit in ``../shared/k8s`` (``$HAMI_K8S_KIT`` overrides; see its
README): ``up.sh`` starts etcd + kube-apiserver v1.26.3 in a run directory, ``nodes.sh`` makes
Node objects, ``scheduler.sh`` starts kube-scheduler, ``fake-kubelet`` plays kubelet's
device-plugin side and ``down.sh`` stops everything recorded under ``$RUN/pids``.
On top of it this module runs the project's real binaries: ``hami-scheduler`` (extender +
webhook), one ``hami-device-plugin`` per GPU node on the fake ``libnvidia-ml.so.1``, and
kube-scheduler with the KubeSchedulerConfiguration shipped in ``deploy/base``.

Typical use::

    import k8s_harness as h
    with h.Cluster(namespace="e2e") as c:           # up.sh; down.sh on exit, even on errors
        c.add_gpu_nodes({"node-0": h.gpus("node-0", 2)})   # Node objects + NVML configs
        c.start_fake_kubelet()                      # for every GPU node
        c.start_device_plugins()                    # one hami-device-plugin per GPU node
        c.wait_nodes_registered()
        c.start_hami_scheduler()
        c.install_webhook()
        c.start_kube_scheduler()                    # deploy/base config, local extender URL
        c.kube.create_pod("e2e", h.gpu_pod("p", mem=3000, cores=30))
        pod = c.wait_pod_bound("e2e", "p")

API summary (all timeouts in seconds; every wait polls every ``POLL_S`` and raises
``TimeoutError`` with the last observed value in the message):

- ``Binaries.locate()``: paths of hami-scheduler, hami-device-plugin and the fake NVML, from
  ``parse_args()`` options, env ``HAMI_SCHEDULER_BIN``/``HAMI_DEVICE_PLUGIN_BIN``/
  ``HAMI_FAKE_NVML_DIR``, else ``<source>/build``.
- ``kit_dir()`` / ``require_kit()``: the kit, or exit 77 (CTest's SKIP_RETURN_CODE) when absent.
- ``Kube``: a small REST client (admin client certificate): ``get``, ``list``, ``create``,
  ``patch`` (merge / strategic / json), ``delete``, pod/node/lease helpers. Raises ``ApiError``.
- ``Cluster``: the run directory (``run``) and its processes: ``start``/``stop`` (or ``with``),
  ``bring_up`` (the whole stack), ``add_nodes`` (nodes.sh), ``add_nodes_bulk`` (hundreds of
  nodes through the API, with annotations), ``add_gpu_nodes`` + ``write_nvml_config``,
  ``start_fake_kubelet``, ``start_device_plugin(s)``, ``wait_nodes_registered``,
  ``start_hami_scheduler``, ``install_webhook``, ``kube_scheduler_config`` +
  ``start_kube_scheduler``, ``spawn``/``kill``/``restart`` (any process, ``kill -9`` included),
  ``wait_pod*``, ``delete_pods``, ``allocations`` (fake-kubelet's Allocate records),
  ``locked_nodes``, ``overcommit_problems``, ``dump_logs``.
- ``gpu_pod`` / ``gpus`` / ``Gpu``: pod and fake-GPU builders; ``parse_quantity`` / ``limit``:
  quantities as the API server returns them ("2000" comes back as "2k").
- ``decode_pod_devices`` / ``decode_node_register`` / ``gpu_usage`` / ``check_no_overcommit``:
  HAMi wire formats and the scheduler-independent over-commit check.
- ``E2ETestCase``: a ``unittest.TestCase`` that prints the cluster's log tails when a test fails.
- ``main()``: parse the harness options, skip (77) without the kit, run unittest.

Each process's log is ``$RUN/<name>.log``; its PID is in ``$RUN/pids/<name>.pid`` (with the
start time, as the kit records it) so ``down.sh`` stops it even if this process dies.
``HAMI_E2E_KEEP=1`` keeps the run directory after a successful run (it is always kept, and
its path printed, after a failure).
"""

import atexit
import copy
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mini_yaml  # noqa: E402
from kube_rest import ApiError, Kube  # noqa: E402,F401
from wire import (  # noqa: E402,F401
    NODE_REGISTER,
    NODE_HANDSHAKE,
    NODE_LOCK,
    VGPU_NODE,
    DEVICES_ALLOCATED,
    DEVICES_TO_ALLOCATE,
    MIG_ALLOCATIONS,
    BIND_PHASE,
    GPU_RESOURCE,
    decode_pod_devices,
    decode_node_register,
    gpu_usage,
    check_no_overcommit,
    parse_quantity,
    limit,
    Gpu,
    gpu_uuid,
    gpus,
    gpu_pod,
)

__all__ = [
    "SKIP", "POLL_S", "SOURCE_DIR", "ApiError", "Binaries", "Kube", "Cluster", "Proc", "Gpu",
    "gpus", "gpu_uuid", "gpu_pod", "pod_summary", "parse_quantity", "limit",
    "decode_pod_devices", "decode_node_register", "gpu_usage", "check_no_overcommit",
    "wait_for", "log", "kit_dir", "require_kit", "parse_args", "E2ETestCase", "ClusterTestCase", "main", "mini_yaml",
]

SKIP = 77          # CTest SKIP_RETURN_CODE
POLL_S = 0.15      # poll period of every wait
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Annotation keys and wire formats: wire.py (spec hami-control-plane.md §1, §2.4, §2.5).


def log(msg):
    """One timestamped line on stderr (CTest shows it with --output-on-failure)."""
    sys.stderr.write("%s e2e: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------------
# Locating the kit and the binaries


def kit_dir():
    """The kit directory: $HAMI_K8S_KIT, else <source>/../shared/k8s (may not exist)."""
    return os.environ.get("HAMI_K8S_KIT") or os.path.join(SOURCE_DIR, "..", "shared", "k8s")


def require_kit():
    """Exits with SKIP (77) and a message when the kit (its up.sh) is absent."""
    kit = kit_dir()
    if not os.path.isfile(os.path.join(kit, "up.sh")):
        print("skipped: Kubernetes kit %s absent (set HAMI_K8S_KIT)" % os.path.abspath(kit))
        sys.stdout.flush()
        sys.exit(SKIP)
    return os.path.abspath(kit)


_ARGS = {}


def parse_args(argv=None):
    """Removes the harness options from argv (default sys.argv) and remembers them:
    --scheduler PATH, --device-plugin PATH, --fake-nvml-dir DIR, --keep. The rest is left for
    unittest. Returns the dict of options."""
    argv = sys.argv if argv is None else argv
    names = {"--scheduler": "scheduler", "--device-plugin": "device_plugin",
             "--fake-nvml-dir": "fake_nvml_dir"}
    out, i = [argv[0]], 1
    while i < len(argv):
        a = argv[i]
        key, _, val = a.partition("=")
        if key in names:
            if not val:
                i += 1
                val = argv[i] if i < len(argv) else ""
            _ARGS[names[key]] = val
        elif a == "--keep":
            _ARGS["keep"] = True
        else:
            out.append(a)
        i += 1
    argv[:] = out
    return dict(_ARGS)


class Binaries:
    """Paths of the project's binaries used by the harness."""

    def __init__(self, scheduler, device_plugin, fake_nvml):
        self.scheduler = scheduler          # hami-scheduler
        self.device_plugin = device_plugin  # hami-device-plugin
        self.fake_nvml = fake_nvml          # .../libnvidia-ml.so.1 (the fake NVML)

    @staticmethod
    def locate():
        """From parse_args() options, then env, then <source>/build. Raises FileNotFoundError
        naming what is missing."""
        build = os.environ.get("HAMI_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
        sched = _ARGS.get("scheduler") or os.environ.get("HAMI_SCHEDULER_BIN") or \
            os.path.join(build, "hami-scheduler")
        plugin = _ARGS.get("device_plugin") or os.environ.get("HAMI_DEVICE_PLUGIN_BIN") or \
            os.path.join(build, "hami-device-plugin")
        nvml_dir = _ARGS.get("fake_nvml_dir") or os.environ.get("HAMI_FAKE_NVML_DIR") or \
            os.path.join(build, "fake_nvml")
        nvml = os.path.join(nvml_dir, "libnvidia-ml.so.1")
        for p in (sched, plugin, nvml):
            if not os.path.exists(p):
                raise FileNotFoundError("e2e: %s not found (build the project first)" % p)
        return Binaries(os.path.abspath(sched), os.path.abspath(plugin), os.path.abspath(nvml))

    def snapshot(self, directory):
        """Copies the binaries into `directory` and returns Binaries for the copies, so that a
        rebuild of the build tree during a run cannot swap or remove them under the tests
        (restarts run the same binary as the first start)."""
        os.makedirs(os.path.join(directory, "fake_nvml"), exist_ok=True)
        out = []
        for src, rel in ((self.scheduler, "hami-scheduler"),
                         (self.device_plugin, "hami-device-plugin"),
                         (self.fake_nvml, os.path.join("fake_nvml", "libnvidia-ml.so.1"))):
            dst = os.path.join(directory, rel)
            shutil.copy2(src, dst)
            out.append(dst)
        return Binaries(*out)


# ------------------------------------------------------------------------------------------------
# Waiting


def wait_for(predicate, timeout, what, interval=POLL_S):
    """Calls predicate() until it returns a truthy value, which is returned. Exceptions from
    predicate count as falsy (the last one is reported). Raises TimeoutError naming `what` and
    the last value seen after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = predicate()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 - a transient API error is a falsy poll
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s (last: %.600s)"
                               % (timeout, what, last))
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------
# Processes


def _proc_start(pid):
    """Start time of a process in clock ticks (field 22 of /proc/PID/stat), as lib.sh records."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return ""


def _proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[0] not in ("Z", "X")
    except (OSError, ValueError, IndexError):
        return False


class Proc:
    """A process started by the harness: name, pid, log path, and the Popen when we own it."""

    def __init__(self, name, pid, log_path, popen=None, argv=None, env=None, base_env=None):
        self.name, self.pid, self.log_path, self.popen = name, pid, log_path, popen
        self.argv, self.env, self.base_env = argv, env, base_env

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return _proc_alive(self.pid)

    def exit_code(self):
        """The exit status (negative: killed by that signal) or None while running/unknown."""
        return self.popen.poll() if self.popen is not None else None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait_exit(self, timeout):
        """Waits for the process to end; returns True when it did within timeout."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after timeout."""
        self.signal(signal.SIGTERM)
        if not self.wait_exit(timeout):
            self.signal(signal.SIGKILL)
            self.wait_exit(5)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.wait_exit(5)


def _tail(path, lines, width=600):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
        return "\n".join(ln if len(ln) <= width else ln[:width] + " ...[%d chars]" % len(ln)
                         for ln in data.splitlines()[-lines:])
    except OSError as e:
        return "(cannot read: %s)" % e


# ------------------------------------------------------------------------------------------------
# The cluster

_LIVE_CLUSTERS = []


def _stop_all_at_exit():
    for c in list(_LIVE_CLUSTERS):
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001
            log("teardown at exit failed: %s" % e)


atexit.register(_stop_all_at_exit)


def _sigterm(signum, frame):  # CTest's TIMEOUT sends SIGTERM first: tear down, then exit
    _stop_all_at_exit()
    sys.exit(128 + signum)


class Cluster:
    """One kit run directory with its processes. Use as a context manager (or call start() and
    stop()); stop() runs down.sh and is also registered with atexit and SIGTERM.

    Attributes: run (run dir), env (the kit's env file as a dict), kube (Kube as admin),
    namespace, bins (Binaries), procs (name -> Proc), gpu_nodes (node -> [Gpu])."""

    def __init__(self, namespace="e2e", extra_namespaces=(), binaries=None, keep=None,
                 apiserver_args=None):
        self.kit = require_kit()
        self.namespace = namespace
        self.namespaces = [namespace] + list(extra_namespaces)
        self.bins = binaries or Binaries.locate()
        self.keep = bool(_ARGS.get("keep") or os.environ.get("HAMI_E2E_KEEP")) if keep is None else keep
        self.apiserver_args = apiserver_args
        self.run = None
        self.env = {}
        self.kube = None
        self.procs = {}
        self.gpu_nodes = {}
        self.split_count = {}
        self.failed = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.failed = True
            self.dump_logs()
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
            self.dump_logs()
        self.stop()
        return False

    def start(self):
        """up.sh in a fresh temp dir with the namespaces; loads env; makes the Kube client."""
        base = os.environ.get("HAMI_E2E_TMP") or tempfile.gettempdir()
        self.run = tempfile.mkdtemp(prefix="hami-e2e-", dir=base)
        _LIVE_CLUSTERS.append(self)
        self._start_watchdog()
        self.bins = self.bins.snapshot(os.path.join(self.run, "bin"))
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _sigterm)
        env = dict(os.environ)
        if self.apiserver_args:
            env["K8S_APISERVER_ARGS"] = self.apiserver_args
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(self.kit, "up.sh"), self.run] + self.namespaces,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("up.sh failed (%d): %s" % (r.returncode, r.stderr[-3000:]))
        self.env = self._read_env()
        p = os.path.join(self.run, "pki")
        self.kube = Kube(self.env["K8S_APISERVER"], os.path.join(p, "ca.crt"),
                         os.path.join(p, "admin.crt"), os.path.join(p, "admin.key"))
        os.makedirs(os.path.join(self.run, "nvml"), exist_ok=True)
        log("control plane up in %.1f s: %s (apiserver %s)" % (time.monotonic() - t0, self.run,
                                                               self.env["K8S_APISERVER"]))
        return self

    def _start_watchdog(self):
        """A detached shell that runs down.sh once this Python process is gone, so that a test
        killed with SIGKILL (e.g. a CTest timeout) leaves no apiserver, etcd or daemon behind.
        stop() ends it. Its output goes nowhere (CTest waits for the test's pipes to close)."""
        script = ('while kill -0 %d 2>/dev/null; do sleep 1; done; '
                  'K8S_STOP_TIMEOUT=5 "$0" "$1" >/dev/null 2>&1' % os.getpid())
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script, os.path.join(self.kit, "down.sh"), self.run],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def _read_env(self):
        out = {}
        with open(os.path.join(self.run, "env")) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("export "):
                    continue
                for part in line[len("export "):].split(" "):
                    k, _, v = part.partition("=")
                    if k:
                        out[k] = v.strip("'")
        return out

    def stop(self):
        """Stops everything (down.sh, K8S_STOP_TIMEOUT=5). Removes the run dir unless the run
        failed or keep is set. Safe to call twice."""
        if self._stopped or self.run is None:
            return
        self._stopped = True
        if self.kube is not None:
            self.kube.close()
        env = dict(os.environ, K8S_STOP_TIMEOUT=os.environ.get("K8S_STOP_TIMEOUT", "5"))
        subprocess.run([os.path.join(self.kit, "down.sh"), self.run], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for p in self.procs.values():  # our own children: reap them
            if p.popen is not None:
                try:
                    p.popen.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    p.kill9()
        wd = getattr(self, "_watchdog", None)
        if wd is not None and wd.poll() is None:
            wd.kill()
            wd.wait()
        if self in _LIVE_CLUSTERS:
            _LIVE_CLUSTERS.remove(self)
        if self.failed or self.keep:
            log("run directory kept: %s" % self.run)
        else:
            shutil.rmtree(self.run, ignore_errors=True)

    def dump_logs(self, lines=40):
        """Prints the tail of every log in the run dir on stderr."""
        if not self.run or not os.path.isdir(self.run):
            return
        for name in sorted(os.listdir(self.run)):
            if name.endswith(".log"):
                path = os.path.join(self.run, name)
                n = min(lines, 8) if name in ("etcd.log", "kube-apiserver.log") else lines
                sys.stderr.write("---- tail %s\n%s\n" % (path, _tail(path, n)))
        alloc = os.path.join(self.run, "allocations.jsonl")
        if os.path.exists(alloc):
            sys.stderr.write("---- tail %s\n%s\n" % (alloc, _tail(alloc, 4, 400)))
        sys.stderr.flush()

    # -- processes -------------------------------------------------------------------------------

    def _record(self, name, pid):
        d = os.path.join(self.run, "pids")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".pid"), "w") as f:
            f.write("%d\n" % pid)
        with open(os.path.join(d, name + ".start"), "w") as f:
            f.write(_proc_start(pid) + "\n")

    def spawn(self, name, argv, env=None, cwd=None, base_env=None):
        """Starts argv as process `name`: log in $RUN/<name>.log (appended, so a restart keeps
        the earlier output), PID in $RUN/pids/<name>.pid, its own session (a signal to the
        test does not reach it; down.sh or stop() ends it). The environment is os.environ, then
        base_env (what the harness needs), then env (the caller's extras); a None value removes
        a variable. Returns the Proc."""
        old = self.procs.get(name)
        if old is not None and old.alive():
            raise RuntimeError("%s is already running (pid %d)" % (name, old.pid))
        full_env = dict(os.environ)
        for k, v in list((base_env or {}).items()) + list((env or {}).items()):
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = str(v)
        log_path = os.path.join(self.run, name + ".log")
        with open(log_path, "ab") as logf:
            logf.write(("==== %s start: %s\n" % (time.strftime("%H:%M:%S"), " ".join(argv))).encode())
            logf.flush()
            p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=full_env, cwd=cwd or self.run,
                                 start_new_session=True)
        self._record(name, p.pid)
        proc = Proc(name, p.pid, log_path, p, argv, env, base_env)
        self.procs[name] = proc
        return proc

    def proc(self, name):
        return self.procs[name]

    def kill(self, name, sig=signal.SIGKILL, wait=5):
        """Sends sig to process `name` (default SIGKILL, i.e. kill -9) and waits up to `wait` s
        for it to end. Returns True when it ended."""
        p = self.procs[name]
        p.signal(sig)
        return p.wait_exit(wait)

    def restart(self, name, env=None, wait=True, synced=False, timeout=30):
        """Stops process `name` (SIGTERM, then SIGKILL) if alive and starts it again with the
        same argv and harness environment. env, when given, replaces the caller's extra env of
        the earlier start (restart(name, env={}) drops e.g. a fault variable). A hami-scheduler
        is then waited for (/healthz, or /readyz with synced=True) unless wait=False. Processes
        started by scheduler.sh (kube-scheduler) cannot be restarted here: use
        start_kube_scheduler again."""
        p = self.procs[name]
        if p.argv is None:
            raise RuntimeError("%s was not started by spawn(); start it again instead" % name)
        if p.alive():
            p.stop()
        new = self.spawn(name, p.argv, env=p.env if env is None else env, base_env=p.base_env)
        if name.startswith("hami-scheduler") and wait:
            self.wait_hami_ready(name, timeout=timeout, synced=synced)
        return new

    # -- nodes -----------------------------------------------------------------------------------

    def add_nodes(self, names, *mknode_opts, prefix_env=None):
        """Creates Ready Node objects with the kit's nodes.sh (label gpu=on, no taints).
        mknode_opts are passed through (e.g. "--gpu-count", "8", "--label", "k=v")."""
        names = list(names)
        env = dict(os.environ)
        if prefix_env:
            env["K8S_NODE_PREFIX"] = prefix_env
        r = subprocess.run([os.path.join(self.kit, "nodes.sh"), self.run, ",".join(names)]
                           + list(mknode_opts), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("nodes.sh failed: %s" % r.stderr[-2000:])

    def add_nodes_bulk(self, names, gpu_count=0, annotations=None, labels=None, workers=4):
        """Creates many nodes fast through the API (the kit's mknode.py manifest, made once and
        renamed per node), removes their taints. annotations: dict, or a function
        name -> dict. gpu_count sets status nvidia.com/gpu (no device plugin needed)."""
        opts = ["--gpu-count", str(gpu_count)] if gpu_count else []
        for k, v in (labels or {}).items():
            opts += ["--label", "%s=%s" % (k, v)]
        r = subprocess.run([sys.executable, os.path.join(self.kit, "nodes", "mknode.py"),
                            "template-node"] + opts, stdout=subprocess.PIPE, check=True, text=True)
        template = json.loads(r.stdout)
        names = list(names)

        def make(name):
            node = copy.deepcopy(template)
            node["metadata"]["name"] = name
            node["metadata"]["labels"]["kubernetes.io/hostname"] = name
            ann = annotations(name) if callable(annotations) else annotations
            if ann:
                node["metadata"]["annotations"] = dict(ann)
            try:
                self.kube.create("/api/v1/nodes", node)
            except ApiError as e:
                if e.status != 409:
                    raise
            self.kube.patch_node(name, {"spec": {"taints": None}})

        errors = []

        def worker(chunk):
            for n in chunk:
                try:
                    make(n)
                except Exception as e:  # noqa: BLE001
                    errors.append("%s: %s" % (n, e))

        threads = [threading.Thread(target=worker, args=(names[i::workers],)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError("creating nodes failed: %s" % errors[:5])

    def add_gpu_nodes(self, nodes, split_count=10):
        """nodes: {name: [Gpu, ...]}. Creates the Node objects (nodes.sh) and writes each node's
        fake NVML config ($RUN/nvml/<node>.json). Device plugins start with
        start_device_plugins()."""
        self.add_nodes(list(nodes))
        for name, gs in nodes.items():
            self.gpu_nodes[name] = list(gs)
            self.split_count[name] = split_count
            self.write_nvml_config(name, gs)

    def write_nvml_config(self, node, gpu_list, **top):
        """(Re)writes the fake NVML JSON of a node (the fake re-reads it when it changes)."""
        cfg = {"devices": [g.nvml_json(i) for i, g in enumerate(gpu_list)]}
        cfg.update(top)
        path = os.path.join(self.run, "nvml", node + ".json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        os.replace(tmp, path)
        return path

    def taint_node(self, name, key, value="true", effect="NoSchedule"):
        node = self.kube.get_node(name)
        taints = [t for t in node["spec"].get("taints") or [] if t["key"] != key]
        taints.append({"key": key, "value": value, "effect": effect})
        self.kube.patch_node(name, {"spec": {"taints": taints}})

    # -- fake kubelet and device plugins ----------------------------------------------------------

    def kubelet_root(self):
        return os.path.join(self.run, "kubelet")

    def start_fake_kubelet(self, nodes=None, termination_delay="0s", qps=50, name="fake-kubelet"):
        """The kit's fake-kubelet for `nodes` (default: every GPU node): Registration sockets at
        $RUN/kubelet/<node>/kubelet.sock, Allocate records in $RUN/allocations.jsonl."""
        nodes = list(nodes or self.gpu_nodes)
        binary = subprocess.run([os.path.join(self.kit, "bin.sh"), "--path", "fake-kubelet"],
                                stdout=subprocess.PIPE, check=True, text=True).stdout.strip()
        argv = [binary, "--kubeconfig", os.path.join(self.run, "admin.kubeconfig"),
                "--nodes", ",".join(nodes), "--root", self.kubelet_root(),
                "--out", os.path.join(self.run, "allocations.jsonl"), "--set-running=true",
                "--qps", str(qps), "--termination-delay", termination_delay]
        p = self.spawn(name, argv)
        for n in nodes:
            sock = os.path.join(self.kubelet_root(), n, "kubelet.sock")
            wait_for(lambda: os.path.exists(sock) or (not p.alive() and "exited"), 20,
                     "fake-kubelet socket " + sock)
            if not p.alive():
                raise RuntimeError("fake-kubelet exited: " + _tail(p.log_path, 20))
        return p

    def start_device_plugin(self, node, extra_args=(), env=None):
        """One real hami-device-plugin for `node` on the fake NVML ($RUN/nvml/<node>.json), with
        --kubelet-dir $RUN/kubelet/<node> (where fake-kubelet serves kubelet.sock) and hook
        path $RUN/hook/<node>. Process name: device-plugin-<node>."""
        hook = os.path.join(self.run, "hook", node)
        os.makedirs(os.path.join(hook, "vgpu"), exist_ok=True)
        argv = [self.bins.device_plugin, "--node-name", node,
                "--kubelet-dir", os.path.join(self.kubelet_root(), node),
                "--nvml-library", self.bins.fake_nvml,
                "--kubeconfig", os.path.join(self.run, "admin.kubeconfig"),
                "--hook-path", hook,
                "--node-config-file", os.path.join(self.run, "nvml", node + ".nodeconfig.json"),
                "--device-split-count", str(self.split_count.get(node, 10))] + list(extra_args)
        base = {"HAMI_FAKE_NVML_CONFIG": os.path.join(self.run, "nvml", node + ".json"),
                "NODE_NAME": node, "KUBECONFIG": None}
        return self.spawn("device-plugin-" + node, argv, env=env, base_env=base)

    def start_device_plugins(self, nodes=None):
        for n in nodes or self.gpu_nodes:
            self.start_device_plugin(n)

    def wait_nodes_registered(self, nodes=None, timeout=40):
        """Waits until every GPU node carries its registration annotation with all its GPUs
        and advertises allocatable nvidia.com/gpu = GPUs × split count (MIG GPUs: their
        instances), i.e. the device plugin registered with fake-kubelet and annotated the
        node."""
        for n in nodes or self.gpu_nodes:
            want_uuids = {g.uuid for g in self.gpu_nodes[n]}

            def ok(n=n, want_uuids=want_uuids):
                p = self.procs.get("device-plugin-" + n)
                if p is not None and not p.alive():
                    raise RuntimeError("device plugin of %s exited: %s" % (n, _tail(p.log_path, 15)))
                node = self.kube.get_node(n)
                reg = decode_node_register((node["metadata"].get("annotations") or {}).get(NODE_REGISTER))
                alloc = int((node["status"].get("allocatable") or {}).get(GPU_RESOURCE, "0"))
                return set(reg) == want_uuids and alloc > 0 and node
            wait_for(ok, timeout, "registration of node %s" % n)

    # -- hami-scheduler --------------------------------------------------------------------------

    def hami_url(self):
        return "https://127.0.0.1:%s" % self.env["K8S_WEBHOOK_PORT"]

    def start_hami_scheduler(self, extra_args=(), env=None, name="hami-scheduler", wait=True,
                             synced=True, timeout=30, metrics_port=None):
        """hami-scheduler serving HTTPS on 127.0.0.1:$K8S_WEBHOOK_PORT with the kit's webhook
        certificate, as admin. wait: until /healthz answers (and /readyz says synced when
        synced=True). Env entries are added (None removes one)."""
        argv = [self.bins.scheduler,
                "--http_bind", "127.0.0.1:%s" % self.env["K8S_WEBHOOK_PORT"],
                "--cert_file", self.env["K8S_WEBHOOK_CERT"],
                "--key_file", self.env["K8S_WEBHOOK_KEY"],
                "--kubeconfig", os.path.join(self.run, "admin.kubeconfig"),
                "--metrics-bind-address", "127.0.0.1:%d" % (metrics_port or 0)] + list(extra_args)
        self.spawn(name, argv, env=env, base_env={"KUBECONFIG": None})
        if wait:
            self.wait_hami_ready(name, timeout=timeout, synced=synced)
        return self.procs[name]

    def hami_get(self, path, timeout=2):
        """GET on hami-scheduler's HTTPS port: (status, body text); raises OSError when down."""
        ctx = ssl._create_unverified_context()  # the webhook cert is checked by the apiserver
        c = http.client.HTTPSConnection("127.0.0.1", int(self.env["K8S_WEBHOOK_PORT"]),
                                        context=ctx, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def wait_hami_ready(self, name="hami-scheduler", timeout=30, synced=True):
        p = self.procs[name]

        def ok():
            if not p.alive():
                raise RuntimeError("%s exited (%s): %s" % (name, p.exit_code(), _tail(p.log_path, 20)))
            st, body = self.hami_get("/readyz" if synced else "/healthz")
            return st == 200 and (body or "ok")
        try:
            return wait_for(ok, timeout, "%s %s" % (name, "/readyz" if synced else "/healthz"))
        except TimeoutError:
            if not p.alive():
                raise RuntimeError("%s exited (%s): %s" % (name, p.exit_code(), _tail(p.log_path, 20)))
            raise

    def install_webhook(self, failure_policy=None, name="hami-webhook"):
        """The MutatingWebhookConfiguration of deploy/base/webhook.yaml, its service reference
        replaced by url https://127.0.0.1:$K8S_WEBHOOK_PORT/webhook and caBundle the kit's CA
        (rules, selectors, failurePolicy, timeout kept; failure_policy overrides)."""
        with open(os.path.join(SOURCE_DIR, "deploy", "base", "webhook.yaml")) as f:
            cfg = mini_yaml.load(f.read())
        cfg["metadata"]["name"] = name
        for wh in cfg["webhooks"]:
            wh["clientConfig"] = {"url": self.hami_url() + "/webhook",
                                  "caBundle": self.env["K8S_CA_BUNDLE"]}
            if failure_policy:
                wh["failurePolicy"] = failure_policy
        path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        self.kube.delete(path + "/" + name)
        self.kube.create(path, cfg)
        return cfg

    # -- kube-scheduler ------------------------------------------------------------------------------

    def kube_scheduler_config(self, leader_elect=False, percentage_of_nodes_to_score=None):
        """The KubeSchedulerConfiguration of deploy/base/https-kube-scheduler-config.yaml (the
        ConfigMap's config.yaml key) with extenders' urlPrefix set to the local hami-scheduler,
        clientConnection.kubeconfig added, and leader election off (leader_elect=False) or in
        kube-system (True). percentage_of_nodes_to_score, when given, is forced (the shipped
        value is kept otherwise)."""
        with open(os.path.join(SOURCE_DIR, "deploy", "base", "https-kube-scheduler-config.yaml")) as f:
            cm = mini_yaml.load(f.read())
        cfg = mini_yaml.load(cm["data"]["config.yaml"])
        for ext in cfg.get("extenders") or []:
            ext["urlPrefix"] = self.hami_url()
        cfg.setdefault("clientConnection", {})["kubeconfig"] = os.path.join(
            self.run, "kube-scheduler.kubeconfig")
        le = cfg.setdefault("leaderElection", {})
        if leader_elect:
            le["leaderElect"] = True
            le["resourceNamespace"] = "kube-system"
        else:
            cfg["leaderElection"] = {"leaderElect": False}
        if percentage_of_nodes_to_score is not None:
            cfg["percentageOfNodesToScore"] = percentage_of_nodes_to_score
        return cfg

    def start_kube_scheduler(self, config=None, name="kube-scheduler", extra_flags=()):
        """kube-scheduler through the kit's scheduler.sh with `config` (default:
        kube_scheduler_config()), written as YAML to $RUN/<name>.yaml. Waits for /healthz."""
        cfg = config or self.kube_scheduler_config()
        path = os.path.join(self.run, name + ".yaml")
        with open(path, "w") as f:
            f.write(mini_yaml.dump(cfg))
        env = dict(os.environ, K8S_SCHED_NAME=name)
        r = subprocess.run([os.path.join(self.kit, "scheduler.sh"), self.run, path]
                           + list(extra_flags), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("scheduler.sh failed: %s" % r.stderr[-3000:])
        with open(os.path.join(self.run, "pids", name + ".pid")) as f:
            pid = int(f.read().strip())
        self.procs[name] = Proc(name, pid, os.path.join(self.run, name + ".log"))
        return self.procs[name]

    # -- everything at once ----------------------------------------------------------------------

    def bring_up(self, gpu_nodes, split_count=10, termination_delay="0s", hami_args=(),
                 hami_env=None, kube_scheduler_config=None, webhook=True):
        """The usual stack in order: GPU nodes (Node objects + fake NVML configs), fake-kubelet,
        one device plugin per node, registration waited for, hami-scheduler (waited synced),
        the webhook, kube-scheduler (default: the deploy/base config). Returns self."""
        t0 = time.monotonic()
        self.add_gpu_nodes(gpu_nodes, split_count=split_count)
        self.start_fake_kubelet(termination_delay=termination_delay)
        self.start_device_plugins()
        self.wait_nodes_registered()
        self.start_hami_scheduler(extra_args=hami_args, env=hami_env)
        if webhook:
            self.install_webhook()
        self.start_kube_scheduler(kube_scheduler_config)
        log("stack up in %.1f s (%d GPU nodes)" % (time.monotonic() - t0, len(gpu_nodes)))
        return self

    # -- pods --------------------------------------------------------------------------------------

    def create_pod(self, pod, ns=None):
        return self.kube.create_pod(ns or self.namespace, pod)

    def wait_pod(self, ns, name, predicate, timeout, what="condition"):
        """Polls the pod until predicate(pod) is truthy; returns the pod. The TimeoutError
        carries a summary of the pod's last state."""
        last = {}

        def ok():
            p = self.kube.get_pod(ns, name)
            last["pod"] = p
            return p if predicate(p) else None
        try:
            return wait_for(ok, timeout, "pod %s/%s: %s" % (ns, name, what))
        except TimeoutError as e:
            raise TimeoutError("%s; pod state: %s" % (e, pod_summary(last.get("pod")))) from None

    def wait_pod_bound(self, ns, name, timeout=20):
        return self.wait_pod(ns, name, lambda p: p["spec"].get("nodeName"), timeout, "bound")

    def wait_pod_running(self, ns, name, timeout=20):
        return self.wait_pod(ns, name, lambda p: p.get("status", {}).get("phase") == "Running",
                             timeout, "Running")

    def wait_pod_gone(self, ns, name, timeout=20):
        wait_for(lambda: self.kube.try_get_pod(ns, name) is None, timeout,
                 "pod %s/%s deleted" % (ns, name))

    def delete_pods(self, ns, names, grace_seconds=0, wait=True, timeout=20):
        for n in names:
            self.kube.delete_pod(ns, n, grace_seconds)
        if wait:
            for n in names:
                self.wait_pod_gone(ns, n, timeout)

    # -- observations ------------------------------------------------------------------------------

    def allocations(self, pod=None):
        """fake-kubelet's Allocate records ($RUN/allocations.jsonl), optionally only those of
        pod "ns/name"."""
        path = os.path.join(self.run, "allocations.jsonl")
        out = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            r = json.loads(line)
                        except ValueError:
                            continue  # a line being written
                        if pod is None or r.get("pod") == pod:
                            out.append(r)
        return out

    def wait_allocation(self, ns, name, timeout=15):
        """The first Allocate record of the pod, waited for."""
        return wait_for(lambda: (self.allocations("%s/%s" % (ns, name)) or [None])[0], timeout,
                        "Allocate record for %s/%s" % (ns, name))

    def locked_nodes(self):
        """{node: lock value} for nodes carrying hami.io/mutex.lock."""
        out = {}
        for n in self.kube.list_nodes():
            v = (n["metadata"].get("annotations") or {}).get(NODE_LOCK)
            if v is not None:
                out[n["metadata"]["name"]] = v
        return out

    def overcommit_problems(self):
        """check_no_overcommit over every pod and node of the cluster."""
        return check_no_overcommit(self.kube.list_pods(), self.kube.list_nodes())

    def registered_devices(self, node):
        """{uuid: registered device} of a node."""
        n = self.kube.get_node(node)
        return decode_node_register((n["metadata"].get("annotations") or {}).get(NODE_REGISTER))


def pod_summary(pod):
    """A short one-line description of a pod for failure messages."""
    if not pod:
        return "absent"
    ann = pod["metadata"].get("annotations") or {}
    st = pod.get("status") or {}
    conds = [(c.get("type"), c.get("status"), c.get("reason"), (c.get("message") or "")[:200])
             for c in st.get("conditions") or []]
    return json.dumps({"node": pod["spec"].get("nodeName"), "phase": st.get("phase"),
                       "schedulerName": pod["spec"].get("schedulerName"),
                       "deleting": bool(pod["metadata"].get("deletionTimestamp")),
                       "hami": {k: v for k, v in ann.items() if k.startswith("hami.io/")},
                       "conditions": conds, "reason": st.get("reason"),
                       "message": (st.get("message") or "")[:300]})


# ------------------------------------------------------------------------------------------------
# unittest glue


class E2ETestCase(unittest.TestCase):
    """A TestCase whose failures print the log tails of `self.cluster` (or the class attribute
    `cluster`) and mark the cluster failed (its run directory is then kept)."""

    cluster = None
    maxDiff = None  # show whole lists of problems

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        t0 = time.monotonic()
        log("---- %s" % self.id())
        out = super().run(result)
        log("---- %s: %.1f s" % (self.id(), time.monotonic() - t0))
        if len(result.failures) + len(result.errors) > before:
            c = getattr(self, "cluster", None)
            if c is not None:
                c.failed = True
                c.dump_logs()
        return out


class ClusterTestCase(E2ETestCase):
    """An E2ETestCase whose tests share one cluster, started once for the class in namespace
    `NAMESPACE` (plus `EXTRA_NAMESPACES`) and set up by the class's `set_up_cluster(cluster)`;
    it is torn down after the last test, or at once when setting it up fails."""

    NAMESPACE = "e2e"
    EXTRA_NAMESPACES = ()

    @classmethod
    def set_up_cluster(cls, cluster):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(namespace=cls.NAMESPACE,
                              extra_namespaces=list(cls.EXTRA_NAMESPACES)).__enter__()
        try:
            cls.set_up_cluster(cls.cluster)
        except BaseException:
            cls.cluster.__exit__(*sys.exc_info())
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)


def main():
    """Entry point of a test script: harness options, skip without the kit, unittest.main."""
    parse_args()
    require_kit()
    try:
        Binaries.locate()
    except FileNotFoundError as e:
        print(str(e))
        sys.exit(1)
    unittest.main(verbosity=2)
