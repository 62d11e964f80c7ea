#!/usr/bin/env python3
"""e2e (h): namespace ResourceQuotas on GPU memory and cores (limits.nvidia.com/gpumem,
limits.nvidia.com/gpucores) are enforced by hami-scheduler on a real control plane.

2 nodes x 2 GPUs with room for far more than the quota; namespace e2e has a ResourceQuota of
10000 MiB, so 5 pods of 2000 MiB fit, and e2e-zero one of 0 cores.
- test_race_for_the_last_units_never_goes_over: 9 pods created at once from 9 threads. While
  they are scheduled, the memory the namespace's pods hold (their hami.io/vgpu-devices-allocated,
  decoded independently) and the scheduler's hami_resource_quota_used never pass 10000; exactly
  5 are bound, the others stay Pending with ResourceQuotaNotFit (or were refused at admission).
- test_webhook_refuses_a_pod_over_the_quota: with the quota used up, a new pod is refused by
  the webhook with "exceeding resource quota", the key, the namespace and the numbers.
- test_explicit_zero_blocks: a pod asking cores in e2e-zero is refused; one asking only memory
  is not limited by the cores quota.
- test_restart_keeps_usage: hami-scheduler restarted (SIGKILL) rebuilds the usage from the pods:
  the metric reads 10000 again and the pending pods stay pending; deleting a bound pod lets
  exactly one pending pod in.
"""

import os
import re
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NS_ZERO = "e2e-zero"
LIMIT_MIB = 10000
POD_MIB = 2000
N_PODS = 9
FIT = LIMIT_MIB // POD_MIB


def quota(name, ns, hard):
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": ns}, "spec": {"hard": hard}}


def held_mib(pods):
    """Memory the pods hold per their allocation annotation (count x per-GPU, app containers)."""
    total = 0
    for p in pods:
        ann = p["metadata"].get("annotations") or {}
        if p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for group in h.decode_pod_devices(ann.get(h.DEVICES_ALLOCATED, "")):
            total += sum(d["mem"] for d in group)
    return total


class QuotaTest(h.ClusterTestCase):
    NAMESPACE = NS
    EXTRA_NAMESPACES = (NS_ZERO,)

    @classmethod
    def set_up_cluster(cls, c):
        c.bring_up({"node-a": h.gpus("node-a", 2, memory_mib=15360),
                    "node-b": h.gpus("node-b", 2, memory_mib=15360)})
        path = "/api/v1/namespaces/%s/resourcequotas"
        c.kube.create(path % NS, quota("gpu", NS, {
            "limits.nvidia.com/gpumem": str(LIMIT_MIB), "limits.nvidia.com/gpucores": "1000"}))
        c.kube.create(path % NS_ZERO, quota("no-cores", NS_ZERO,
                                            {"limits.nvidia.com/gpucores": "0"}))
        # The quota reaches hami-scheduler through its watch.
        h.wait_for(lambda: cls.metric_limit(c) == LIMIT_MIB, 10, "hami_resource_quota_limit")
        cls.created, cls.refused = cls._race(c)

    @staticmethod
    def metrics(c):
        """hami-scheduler's /metrics (its port is in its log)."""
        with open(c.proc("hami-scheduler").log_path) as f:
            ports = re.findall(r"metrics port=(\d+)", f.read())
        if not ports:
            return ""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % ports[-1], timeout=2) as r:
                return r.read().decode()
        except OSError:
            return ""

    @classmethod
    def metric_value(cls, c, name):
        m = re.search(r'^%s\{namespace="%s",quota_name="nvidia.com/gpumem"[^}]*\} (\d+)$'
                      % (name, NS), cls.metrics(c), re.M)
        return int(m.group(1)) if m else None

    @classmethod
    def metric_limit(cls, c):
        return cls.metric_value(c, "hami_resource_quota_limit")

    @classmethod
    def _race(cls, c):
        """Creates the pods from N_PODS threads at once while a watcher samples what the
        namespace holds; returns (created names, refused names)."""
        created, refused, samples = [], [], []
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                samples.append((held_mib(c.kube.list_pods(NS)),
                                cls.metric_value(c, "hami_resource_quota_used") or 0))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        go = threading.Barrier(N_PODS)

        def create(i):
            name = "race-%d" % i
            go.wait()
            try:
                c.create_pod(h.gpu_pod(name, gpu=1, mem=POD_MIB, cores=10))
                created.append(name)
            except h.ApiError as e:
                if "exceeding resource quota" not in str(e):
                    raise
                refused.append(name)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(N_PODS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            h.wait_for(lambda: len(cls.bound(c)) >= FIT, 40, "%d pods bound" % FIT)
            time.sleep(3)  # let kube-scheduler retry the rest: none may get in
        finally:
            stop.set()
            watcher.join()
        cls.samples = samples
        h.log("race: %d created, %d refused at admission, %d samples, most held %d MiB"
              % (len(created), len(refused), len(samples), max([s[0] for s in samples] or [0])))
        return created, refused

    @staticmethod
    def bound(c):
        return [p["metadata"]["name"] for p in c.kube.list_pods(NS) if p["spec"].get("nodeName")]

    def test_race_for_the_last_units_never_goes_over(self):
        c = self.cluster
        self.assertEqual(len(self.created) + len(self.refused), N_PODS)
        self.assertGreaterEqual(len(self.created), FIT)
        self.assertTrue(self.samples)
        worst_held = max(s[0] for s in self.samples)
        worst_metric = max(s[1] for s in self.samples)
        self.assertLessEqual(worst_held, LIMIT_MIB)
        self.assertLessEqual(worst_metric, LIMIT_MIB)
        pods = c.kube.list_pods(NS)
        self.assertEqual(len(self.bound(c)), FIT, [h.pod_summary(p) for p in pods])
        self.assertEqual(held_mib(pods), LIMIT_MIB)
        pending = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
        self.assertEqual(len(pending), len(self.created) - FIT)
        for name in pending:
            c.wait_pod(NS, name, lambda p: any(
                "ResourceQuotaNotFit" in (cond.get("message") or "")
                for cond in p.get("status", {}).get("conditions") or []), 20,
                "Unschedulable with ResourceQuotaNotFit")
        self.assertEqual(c.overcommit_problems(), [])

    def test_webhook_refuses_a_pod_over_the_quota(self):
        c = self.cluster
        with self.assertRaises(h.ApiError) as cm:
            c.create_pod(h.gpu_pod("late", gpu=1, mem=POD_MIB, cores=10))
        msg = str(cm.exception)
        self.assertIn("exceeding resource quota", msg)
        self.assertIn("limits.nvidia.com/gpumem in namespace e2e", msg)
        self.assertIn("used %d + requested %d > limit %d" % (LIMIT_MIB, POD_MIB, LIMIT_MIB), msg)
        self.assertIsNone(c.kube.try_get_pod(NS, "late"))

    def test_explicit_zero_blocks(self):
        c = self.cluster
        with self.assertRaises(h.ApiError) as cm:
            c.create_pod(h.gpu_pod("cores", gpu=1, mem=1000, cores=10), ns=NS_ZERO)
        self.assertIn("exceeding resource quota", str(cm.exception))
        self.assertIn("limits.nvidia.com/gpucores", str(cm.exception))
        c.create_pod(h.gpu_pod("mem-only", gpu=1, mem=1000), ns=NS_ZERO)
        c.wait_pod_bound(NS_ZERO, "mem-only")
        c.delete_pods(NS_ZERO, ["mem-only"])

    def test_restart_keeps_usage(self):
        c = self.cluster
        c.kill("hami-scheduler")
        c.restart("hami-scheduler", synced=True)
        h.wait_for(lambda: self.metric_value(c, "hami_resource_quota_used") == LIMIT_MIB, 15,
                   "hami_resource_quota_used rebuilt to %d" % LIMIT_MIB)
        time.sleep(3)  # kube-scheduler retries the pending pods against the new replica
        self.assertEqual(len(self.bound(c)), FIT)
        pending = [p["metadata"]["name"] for p in c.kube.list_pods(NS)
                   if not p["spec"].get("nodeName")]
        if not pending:
            self.skipTest("every extra pod was refused at admission")
        # Freeing one pod's memory lets exactly one pending pod in.
        c.delete_pods(NS, [self.bound(c)[0]])
        h.wait_for(lambda: len(self.bound(c)) == FIT, 40, "a pending pod bound after a delete")
        time.sleep(2)
        self.assertEqual(len(self.bound(c)), FIT)
        self.assertLessEqual(held_mib(c.kube.list_pods(NS)), LIMIT_MIB)


if __name__ == "__main__":
    h.main()
