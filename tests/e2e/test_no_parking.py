#!/usr/bin/env python3
"""e2e (g): pods are never parked by kube-scheduler because hami-scheduler was not ready.

kube-scheduler v1.26 puts a pod whose /filter call failed into its unschedulable queue, where it
can stay for 5 minutes. hami's /filter therefore waits (bounded) for its state to sync and for
leadership instead of failing.
- test_restart_while_pods_pending: with hami-scheduler killed, pods are created (and
  kube-scheduler's filter calls fail); it is started again and one more pod is created while it
  is still syncing: all must be bound within ~15 s of the restart.
- test_leadership_flip: hami-scheduler runs with --leader-elect on a Lease in kube-system whose
  holder is another replica (sched-a_x); kube-scheduler has leader election off. A pod is
  created; after ~2 s the Lease names this replica (sched-b_y): the pod must be bound within ~3 s
  of the flip, and not before it.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NODE = "node-0"
LEASE = "hami-e2e-leader"


def _pod(name):
    # Created while the webhook may be down (failurePolicy Ignore): carry what it would add.
    return h.gpu_pod(name, gpu=1, mem=1000, cores=5, scheduler_name="hami-scheduler")


class NoParkingTest(h.ClusterTestCase):
    NAMESPACE = NS
    @classmethod
    def set_up_cluster(cls, c):
        c.bring_up({NODE: h.gpus(NODE, 2, memory_mib=16384)})

    def _kube_scheduler_tried(self, name, since_bytes):
        """True once kube-scheduler's log mentions the pod after offset since_bytes."""
        with open(self.cluster.proc("kube-scheduler").log_path, "rb") as f:
            f.seek(since_bytes)
            return ('"%s/%s"' % (NS, name)).encode() in f.read()

    def test_restart_while_pods_pending(self):
        c = self.cluster
        c.kill("hami-scheduler")  # kill -9
        log_off = os.path.getsize(c.proc("kube-scheduler").log_path)
        for n in ("down-1", "down-2"):
            c.create_pod(_pod(n))
        # kube-scheduler tries them against the dead extender (and fails) before the restart.
        h.wait_for(lambda: self._kube_scheduler_tried("down-2", log_off), 10,
                   "kube-scheduler to try down-2 while hami-scheduler is down")
        time.sleep(1)
        for n in ("down-1", "down-2"):
            self.assertFalse(c.kube.get_pod(NS, n)["spec"].get("nodeName"), "%s bound with no extender" % n)

        t_restart = time.monotonic()
        c.restart("hami-scheduler", wait=False)
        # As soon as it listens (it may still be syncing its caches), one more pod.
        c.wait_hami_ready(timeout=10, synced=False)
        c.create_pod(_pod("unsynced-1"))
        for n in ("down-1", "down-2", "unsynced-1"):
            left = max(1, 15 - (time.monotonic() - t_restart))
            c.wait_pod_bound(NS, n, timeout=left)
        h.log("all pods bound %.1f s after the restart" % (time.monotonic() - t_restart))
        for n in ("down-1", "down-2", "unsynced-1"):
            c.wait_pod_running(NS, n, timeout=10)
        self.assertEqual(c.overcommit_problems(), [])
        c.delete_pods(NS, ["down-1", "down-2", "unsynced-1"])

    def test_leadership_flip(self):
        c = self.cluster
        c.kube.put_lease("kube-system", LEASE, "sched-a_x", duration_s=15)
        c.procs["hami-scheduler"].stop()
        c.start_hami_scheduler(
            extra_args=["--leader-elect", "--leader-elect-resource-name", LEASE,
                        "--leader-elect-resource-namespace", "kube-system"],
            env={"POD_NAME": "sched-b"}, synced=False)
        try:
            c.create_pod(_pod("follower-1"))
            t_create = time.monotonic()
            # A follower must not bind.
            while time.monotonic() - t_create < 2:
                self.assertFalse(c.kube.get_pod(NS, "follower-1")["spec"].get("nodeName"),
                                 "a follower hami-scheduler bound the pod")
                time.sleep(h.POLL_S)
            c.kube.put_lease("kube-system", LEASE, "sched-b_y", duration_s=15)
            t_flip = time.monotonic()
            c.wait_pod_bound(NS, "follower-1", timeout=3)
            h.log("bound %.1f s after the lease flip" % (time.monotonic() - t_flip))
            c.wait_pod_running(NS, "follower-1", timeout=10)
            self.assertEqual(c.overcommit_problems(), [])
        finally:
            # back to a plain (always leader) scheduler for any later test
            c.procs["hami-scheduler"].stop()
            c.start_hami_scheduler()
        c.delete_pods(NS, ["follower-1"])


if __name__ == "__main__":
    h.main()
