#!/usr/bin/env python3
"""e2e (e): a terminating pod keeps its GPU until it is gone.

One node with one 8192 MiB GPU; fake-kubelet confirms deletions only after --termination-delay
(15 s), as kubelet does once the containers have stopped. Pod A asks 6000 MiB and runs; A is
deleted with a 30 s grace period and stays Terminating; B, created at once and asking 6000 MiB,
must stay unbound for as long as A exists (6000 + 6000 > 8192), and be bound soon after A is
gone (the scheduler must notice the freed memory without waiting minutes).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NODE = "node-0"
TERMINATION_DELAY_S = 15


class TerminatingTest(h.E2ETestCase):
    def test_terminating_pod_holds_its_gpu(self):
        with h.Cluster(namespace=NS) as c:
            self.cluster = c
            c.bring_up({NODE: h.gpus(NODE, 1, memory_mib=8192)},
                       termination_delay="%ds" % TERMINATION_DELAY_S)
            c.create_pod(h.gpu_pod("pod-a", gpu=1, mem=6000, cores=10))
            a = c.wait_pod_running(NS, "pod-a", timeout=20)
            a_uid = a["metadata"]["uid"]

            c.kube.delete_pod(NS, "pod-a", grace_seconds=30)
            t_delete = time.monotonic()
            c.create_pod(h.gpu_pod("pod-b", gpu=1, mem=6000, cores=10))

            # While A exists (Terminating), B must not be bound.
            a_gone_at = None
            while time.monotonic() - t_delete < TERMINATION_DELAY_S + 15:
                cur_a = c.kube.try_get_pod(NS, "pod-a")
                b = c.kube.get_pod(NS, "pod-b")
                if cur_a is None or cur_a["metadata"]["uid"] != a_uid:
                    a_gone_at = time.monotonic()
                    break
                self.assertTrue(cur_a["metadata"].get("deletionTimestamp"), "A is not terminating")
                self.assertFalse(
                    b["spec"].get("nodeName"),
                    "B was bound %.1f s after A's deletion while A still holds 6000 of 8192 MiB: %s"
                    % (time.monotonic() - t_delete, h.pod_summary(b)))
                time.sleep(h.POLL_S)
            self.assertIsNotNone(a_gone_at, "A was never deleted (fake-kubelet termination)")
            h.log("A gone %.1f s after its deletion" % (a_gone_at - t_delete))
            self.assertGreater(a_gone_at - t_delete, TERMINATION_DELAY_S - 3,
                               "A went away before the termination delay: the test proves nothing")

            # Once A is gone, B gets the GPU promptly.
            b = c.wait_pod_bound(NS, "pod-b", timeout=20)
            h.log("B bound %.1f s after A was gone" % (time.monotonic() - a_gone_at))
            c.wait_pod_running(NS, "pod-b", timeout=10)
            self.assertEqual(b["spec"]["nodeName"], NODE)
            self.assertEqual(c.overcommit_problems(), [])


if __name__ == "__main__":
    h.main()
