#!/usr/bin/env python3
"""e2e (f): hami-scheduler killed with SIGKILL at every step of a bind, then restarted.

hami-scheduler honours HAMI_FAULT_KILL_AT_BIND_STEP=locked|bound: it SIGKILLs itself at that step
of its first /bind (locked: after taking the node lock; bound: after creating the Binding, which
carries the decision annotations; a kill before the lock leaves nothing on the API server, like
a kill inside /filter, which writes nothing). For each step: start it
with the variable, create a pod, wait for the process to die, restart it without the variable,
and check within ~20 s that the pod ends bound and Running, that no node keeps
hami.io/mutex.lock, that a second pod then binds to the same node promptly (no wait for the 5 min
lock expiry), and that no GPU is over-committed.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NODE = "node-0"
FAULT_ENV = "HAMI_FAULT_KILL_AT_BIND_STEP"


class BindFaultTest(h.ClusterTestCase):
    NAMESPACE = NS
    @classmethod
    def set_up_cluster(cls, c):
        c.bring_up({NODE: h.gpus(NODE, 2, memory_mib=16384)})

    def _kill_at(self, step):
        c = self.cluster
        first, second = "fault-%s-1" % step, "fault-%s-2" % step
        # A scheduler that dies at `step` of its first bind.
        c.restart("hami-scheduler", env={FAULT_ENV: step}, synced=True)
        proc = c.proc("hami-scheduler")
        c.create_pod(h.gpu_pod(first, gpu=1, mem=2000, cores=10))
        died = proc.wait_exit(20)
        self.assertTrue(died, "hami-scheduler did not kill itself at bind step %r within 20 s "
                        "(%s not honoured?); pod: %s" % (step, FAULT_ENV,
                                                         h.pod_summary(c.kube.try_get_pod(NS, first))))
        self.assertEqual(proc.exit_code(), -signal.SIGKILL,
                         "hami-scheduler ended with %s, not SIGKILL" % proc.exit_code())
        t_dead = time.monotonic()
        h.log("step %s: scheduler died; pod: %s" % (step, h.pod_summary(c.kube.try_get_pod(NS, first))))

        # Restart without the fault; everything must heal within ~20 s.
        c.restart("hami-scheduler", env={}, wait=False)
        pod = c.wait_pod_running(NS, first, timeout=20)
        h.log("step %s: first pod Running %.1f s after the kill" % (step, time.monotonic() - t_dead))
        self.assertEqual(pod["spec"]["nodeName"], NODE)
        ann = pod["metadata"]["annotations"]
        self.assertEqual(ann.get(h.BIND_PHASE), "success", h.pod_summary(pod))
        devs = h.decode_pod_devices(ann.get(h.DEVICES_ALLOCATED))
        self.assertEqual([(d["mem"], d["cores"]) for d in devs[0]], [(2000, 10)], ann)
        h.wait_for(lambda: not c.locked_nodes(), max(2, 20 - (time.monotonic() - t_dead)),
                   "no node lock left after the step-%s kill" % step)

        # The webhook must be back before the next pod is created (failurePolicy Ignore would
        # let it through unmutated).
        c.wait_hami_ready(timeout=max(2, 20 - (time.monotonic() - t_dead)))
        t2 = time.monotonic()
        c.create_pod(h.gpu_pod(second, gpu=1, mem=2000, cores=10))
        pod2 = c.wait_pod_running(NS, second, timeout=10)
        h.log("step %s: second pod Running in %.1f s" % (step, time.monotonic() - t2))
        self.assertEqual(pod2["spec"]["nodeName"], NODE)
        self.assertEqual(c.locked_nodes(), {})
        self.assertEqual(c.overcommit_problems(), [])
        # One Allocate per pod: the killed bind was not served twice.
        for name in (first, second):
            recs = c.allocations("%s/%s" % (NS, name))
            self.assertEqual(len(recs), 1, "%s: %s" % (name, recs))
            self.assertFalse(recs[0].get("error"), recs[0])
        c.delete_pods(NS, [first, second])

    def test_kill_after_locked(self):
        self._kill_at("locked")

    def test_kill_after_bound(self):
        self._kill_at("bound")


if __name__ == "__main__":
    h.main()
