#!/usr/bin/env python3
"""e2e (i): hami-frag and PodGroup binds on the real control plane.

hami-scheduler runs with --node-scheduler-policy hami-frag and --node-lock-wait 0s (HAMi's
behaviour for pods outside a gang: a bind that finds the node lock held fails at once).

- hami-frag learns the workload from the pods it sees and fills a half-used GPU with a second
  half-GPU pod, keeping the other GPU whole for whole-GPU pods; the same pod with
  hami.io/node-scheduler-policy: binpack gets HAMi's choice (GPU spread: the idle GPU).
- Four pods of one PodGroup (scheduling.x-k8s.io/pod-group) created at once on one node all
  bind without a single BindingFailed: each waits for the node lock its fellow member holds
  until the device plugin's Allocate releases it (--node-lock-retry-timeout).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
FRAG = "node-frag"  # 3 GPUs
GANG = "node-gang"  # 4 GPUs


class FragGangTest(h.ClusterTestCase):
    NAMESPACE = NS

    @classmethod
    def set_up_cluster(cls, c):
        c.add_gpu_nodes({FRAG: h.gpus(FRAG, 3), GANG: h.gpus(GANG, 4)})
        c.start_fake_kubelet()
        c.start_device_plugins()
        c.wait_nodes_registered()
        c.start_hami_scheduler(extra_args=["--node-scheduler-policy", "hami-frag",
                                           "--node-lock-wait", "0s",
                                           "--node-lock-retry-timeout", "25s"])
        c.install_webhook()
        c.start_kube_scheduler()

    def uuids(self, node):
        return [g.uuid for g in self.cluster.gpu_nodes[node]]

    def only_on(self, node, **extra):
        return dict({"nvidia.com/use-gpuuuid": ",".join(self.uuids(node))}, **extra)

    def gpus_of(self, name):
        pod = self.cluster.wait_pod_running(NS, name, timeout=40)
        groups = h.decode_pod_devices(pod["metadata"]["annotations"].get(h.DEVICES_ALLOCATED))
        return pod["spec"]["nodeName"], [d["uuid"] for d in groups[0]]

    def half(self, name, **annotations):
        return h.gpu_pod(name, gpu=1, mem_percentage=50, cores=50,
                         annotations=self.only_on(FRAG, **annotations))

    def test_hami_frag_fills_the_half_used_gpu_and_the_annotation_overrides_it(self):
        c = self.cluster
        c.create_pod(h.gpu_pod("whole", gpu=1, annotations=self.only_on(FRAG)))
        _, whole = self.gpus_of("whole")
        c.create_pod(self.half("half-1"))
        _, first = self.gpus_of("half-1")
        self.assertNotEqual(first, whole)
        # HAMi's own policy on request: node binpack, GPU spread -> the idle GPU.
        c.create_pod(self.half("half-hami", **{"hami.io/node-scheduler-policy": "binpack"}))
        _, hami = self.gpus_of("half-hami")
        self.assertNotIn(hami[0], whole + first, "HAMi's spread should take the idle GPU")
        c.delete_pods(NS, ["half-hami"])
        # hami-frag: the second half pod completes the half-used GPU...
        c.create_pod(self.half("half-2"))
        _, second = self.gpus_of("half-2")
        self.assertEqual(second, first, "hami-frag split a whole GPU instead of filling a half one")
        # ...so a whole-GPU pod still finds a whole GPU.
        c.create_pod(h.gpu_pod("whole-2", gpu=1, annotations=self.only_on(FRAG)))
        _, last = self.gpus_of("whole-2")
        self.assertNotIn(last[0], whole + first)
        self.assertEqual(c.overcommit_problems(), [])
        c.delete_pods(NS, ["whole", "half-1", "half-2", "whole-2"])

    def burst(self, prefix, labels):
        """Four 1-GPU pods on the gang node created at once; returns the BindingFailed
        messages they got once all run."""
        c = self.cluster
        names = ["%s-%d" % (prefix, i) for i in range(4)]
        for name in names:
            c.create_pod(h.gpu_pod(name, gpu=1, annotations=self.only_on(GANG), labels=labels))
        for name in names:
            node, _ = self.gpus_of(name)
            self.assertEqual(node, GANG)
        events = c.kube.get("/api/v1/namespaces/%s/events" % NS).get("items", [])
        failed = [e.get("message") for e in events if e.get("reason") == "BindingFailed"
                  and e.get("involvedObject", {}).get("name") in names]
        self.assertEqual(c.overcommit_problems(), [])
        c.delete_pods(NS, names)
        return failed

    def test_pod_group_members_wait_for_each_others_node_lock(self):
        # Without a group (and --node-lock-wait 0s, as HAMi) the burst contends for the node
        # lock: some binds fail and kube-scheduler retries them later.
        solo = self.burst("solo", {})
        self.assertNotEqual(solo, [], "the burst never contended: the gang check below proves "
                            "nothing")
        gang = self.burst("gang", {"scheduling.x-k8s.io/pod-group": "train"})
        self.assertEqual(gang, [], "gang members failed their bind instead of waiting")


if __name__ == "__main__":
    h.main()
