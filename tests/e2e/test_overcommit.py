#!/usr/bin/env python3
"""e2e (c): a burst of mixed pods never over-commits a GPU, checked independently of the
scheduler.

3 nodes with 2, 3 and 4 fake GPUs of different sizes (one node with split count 3), 54 pods of
mixed sizes created at once from several threads; their total demand exceeds the cluster, so
some must stay pending. Once the placement settles:
- test_no_overcommit: every bound pod's hami.io/vgpu-devices-allocated, decoded and summed per
  GPU UUID, stays within the GPU's registration (node annotation hami.io/node-nvidia-register):
  memory <= devmem, cores <= 100, tasks <= split count; no node lock is left behind.
- test_bound_pods_run_on_their_devices: every bound pod is Running, and its Allocate answer names
  the GPUs and limits of its annotation (the device plugin served the pod the scheduler placed).
- test_pending_pods_do_not_fit: every pod left pending was refused for lack of room
  (Unschedulable, not a bind error) and plainly does not fit what the bound pods leave free (no
  capacity held by decisions of pods that never got bound).
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
N_PODS = 54
ZERO = {"mem": 0, "cores": 0, "count": 0}


def _workload(seed=7):
    rnd = random.Random(seed)
    pods = []
    for i in range(N_PODS):
        gpu = 2 if i % 9 == 4 else 1
        mem = rnd.choice([500, 1000, 1500, 2000, 3000, 4000, 8000])
        cores = rnd.choice([0, 5, 10, 15, 20, 30, 50])
        pods.append(h.gpu_pod("burst-%02d" % i, gpu=gpu, mem=mem, cores=cores))
    return pods


class OvercommitTest(h.ClusterTestCase):
    NAMESPACE = NS
    @classmethod
    def set_up_cluster(cls, c):
        # node-c: 3 tasks per GPU, so the count limit binds too
        c.add_gpu_nodes({"node-c": h.gpus("node-c", 4, memory_mib=8192, name="Tesla P4")},
                        split_count=3)
        c.add_gpu_nodes({"node-a": h.gpus("node-a", 2, memory_mib=16384, name="Tesla T4"),
                         "node-b": h.gpus("node-b", 3, memory_mib=24576, name="NVIDIA A10")})
        c.start_fake_kubelet(qps=100)
        c.start_device_plugins()
        c.wait_nodes_registered()
        c.start_hami_scheduler()
        c.install_webhook()
        c.start_kube_scheduler()
        cls._burst()

    @classmethod
    def _burst(cls):
        c = cls.cluster
        pods = _workload()
        total_mem = sum(h.limit(p["spec"]["containers"][0], "nvidia.com/gpumem")
                        * h.limit(p["spec"]["containers"][0], "nvidia.com/gpu") for p in pods)
        capacity = sum(g.memory_mib for gs in c.gpu_nodes.values() for g in gs)
        assert total_mem > capacity, "the workload must not fit entirely"
        errors = []

        def create(chunk):
            for p in chunk:
                try:
                    c.create_pod(p)
                except Exception as e:  # noqa: BLE001
                    errors.append("%s: %s" % (p["metadata"]["name"], e))
        threads = [threading.Thread(target=create, args=(pods[i::6],)) for i in range(6)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        h.log("created %d pods in %.1f s" % (len(pods), time.monotonic() - t0))

        # Settled: bound pods and phases unchanged for 6 s, no bound pod still Pending, no pod
        # waiting to retry after a bind error. At most 30 s; the tests judge what is left.
        state = {"sig": None, "since": time.monotonic()}

        def settled():
            live = c.kube.list_pods(NS)
            sig = sorted((p["metadata"]["name"], p["spec"].get("nodeName"),
                          p.get("status", {}).get("phase")) for p in live)
            busy = [p for p in live if (p["spec"].get("nodeName") and p["status"].get("phase") == "Pending")
                    or _sched_reason(p) == "SchedulerError"]
            if sig != state["sig"]:
                state["sig"], state["since"] = sig, time.monotonic()
            return not busy and time.monotonic() - state["since"] >= 6
        try:
            h.wait_for(settled, 30, "placement to settle")
        except TimeoutError as e:
            h.log("placement did not settle: %s" % str(e)[:300])
        cls.live = c.kube.list_pods(NS)
        cls.nodes_json = c.kube.list_nodes()
        cls.bound = [p for p in cls.live if p["spec"].get("nodeName")]
        cls.unbound = [p for p in cls.live if not p["spec"].get("nodeName")]
        cls.used, cls.registered, _ = h.gpu_usage(cls.live, cls.nodes_json)
        held, _, _ = h.gpu_usage(cls.live, cls.nodes_json, bound_only=False)
        h.log("bound %d, pending %d (%.1f s after the burst)" % (
            len(cls.bound), len(cls.unbound), time.monotonic() - t0))
        for uuid, (node, dev) in sorted(cls.registered.items(), key=lambda x: x[1][0]):
            u, a = cls.used.get(uuid, ZERO), held.get(uuid, ZERO)
            h.log("  %s %s: bound %5d/%5d MiB %3d%% cores %2d/%2d tasks; with pending pods' "
                  "decisions %5d MiB %3d%% %2d tasks" % (
                      node, uuid[:12], u["mem"], dev["devmem"], u["cores"], u["count"],
                      dev["count"], a["mem"], a["cores"], a["count"]))

    def test_no_overcommit(self):
        self.assertGreater(len(self.bound), 0)
        self.assertGreater(len(self.unbound), 0, "some pods cannot fit and must stay pending")
        problems = h.check_no_overcommit(self.live, self.nodes_json)
        self.assertEqual(problems, [], "over-commit:\n" + "\n".join(problems))
        self.assertEqual(self.cluster.locked_nodes(), {}, "node locks left behind")

    def test_bound_pods_run_on_their_devices(self):
        c = self.cluster
        failed = [(p["metadata"]["name"], p["status"].get("reason"), p["status"].get("message"))
                  for p in self.bound if p["status"].get("phase") != "Running"]
        self.assertEqual(failed, [], "bound pods that are not Running")
        for p in self.bound:
            name = p["metadata"]["name"]
            ann = p["metadata"]["annotations"]
            self.assertEqual(ann.get(h.BIND_PHASE), "success", h.pod_summary(p))
            devs = h.decode_pod_devices(ann[h.DEVICES_ALLOCATED])[0]
            ctr = p["spec"]["containers"][0]
            self.assertEqual(len(devs), h.limit(ctr, "nvidia.com/gpu"), name)
            self.assertEqual(len({d["uuid"] for d in devs}), len(devs), "%s: one GPU twice" % name)
            self.assertTrue(all(d["mem"] == h.limit(ctr, "nvidia.com/gpumem") for d in devs), name)
            recs = [r for r in c.allocations("%s/%s" % (NS, name)) if not r.get("error")]
            self.assertEqual(len(recs), 1, "%s: Allocate records %s" % (name, recs))
            envs = recs[0].get("envs") or {}
            self.assertEqual(recs[0]["node"], p["spec"]["nodeName"])
            self.assertEqual(envs.get("NVIDIA_VISIBLE_DEVICES", "").split(","),
                             [d["uuid"] for d in devs], "%s: %s" % (name, envs))
            for i, d in enumerate(devs):
                self.assertEqual(envs.get("CUDA_DEVICE_MEMORY_LIMIT_%d" % i), "%dm" % d["mem"], name)

    def test_pending_pods_do_not_fit(self):
        c = self.cluster
        not_refused = ["%s: %s" % (p["metadata"]["name"], h.pod_summary(p)) for p in self.unbound
                       if _sched_reason(p) != "Unschedulable"]

        def fits(ctr):  # a conservative fit: room for memory and cores, a free task slot
            n, mem, cores = (h.limit(ctr, "nvidia.com/gpu"), h.limit(ctr, "nvidia.com/gpumem"),
                             h.limit(ctr, "nvidia.com/gpucores"))
            for node in c.gpu_nodes:
                ok = [u for u, (nd, dev) in self.registered.items() if nd == node
                      and self.used.get(u, ZERO)["mem"] + mem <= dev["devmem"]
                      and self.used.get(u, ZERO)["cores"] + cores <= 100
                      and self.used.get(u, ZERO)["cores"] < 100
                      and self.used.get(u, ZERO)["count"] + 1 <= dev["count"]]
                if len(ok) >= n:
                    return node
            return None
        leaks = ["%s fits on %s" % (p["metadata"]["name"], fits(p["spec"]["containers"][0]))
                 for p in self.unbound if fits(p["spec"]["containers"][0])]
        msg = []
        if not_refused:
            msg.append("%d pending pods not refused for lack of room (a pod whose bind failed can stay in "
                       "kube-scheduler's unschedulable queue for 5 min):\n%s"
                       % (len(not_refused), "\n".join(not_refused)))
        if leaks:
            msg.append("%d pending pods fit the room bound pods leave free:\n%s"
                       % (len(leaks), "\n".join(leaks)))
        self.assertFalse(msg, "\n".join(msg))


def _sched_reason(pod):
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("reason")
    return None


if __name__ == "__main__":
    h.main()
