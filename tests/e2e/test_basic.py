#!/usr/bin/env python3
"""e2e (a): one pod through the whole stack on a real kube-apiserver + kube-scheduler.

The webhook gives a pod asking for nvidia.com/gpu + gpumem + gpucores schedulerName
hami-scheduler; kube-scheduler (deploy/base config) calls hami's /filter and /bind; the pod is
bound; fake-kubelet calls the real device plugin's Allocate, whose answer carries the memory and
compute limits and the fake GPU's UUID; the pod's hami.io annotations are complete; the node
lock is released. Also: the webhook leaves non-GPU pods alone and refuses bad requests.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NODE = "node-0"


class BasicTest(h.ClusterTestCase):
    NAMESPACE = NS
    @classmethod
    def set_up_cluster(cls, c):
        c.bring_up({NODE: h.gpus(NODE, 2, memory_mib=15360)})

    def test_gpu_pod_bound_and_allocated_with_limits(self):
        c = self.cluster
        created = c.create_pod(h.gpu_pod("basic", gpu=1, mem=3000, cores=30))
        self.assertEqual(created["spec"].get("schedulerName"), "hami-scheduler",
                         "webhook did not set schedulerName")

        pod = c.wait_pod_running(NS, "basic", timeout=20)
        self.assertEqual(pod["spec"]["nodeName"], NODE)
        ann = pod["metadata"]["annotations"]
        self.assertEqual(ann.get(h.VGPU_NODE), NODE)
        self.assertEqual(ann.get(h.BIND_PHASE), "success", h.pod_summary(pod))
        groups = h.decode_pod_devices(ann.get(h.DEVICES_ALLOCATED))
        self.assertEqual(len(groups), 1, ann.get(h.DEVICES_ALLOCATED))
        self.assertEqual(len(groups[0]), 1, ann.get(h.DEVICES_ALLOCATED))
        dev = groups[0][0]
        node_uuids = {g.uuid for g in c.gpu_nodes[NODE]}
        self.assertIn(dev["uuid"], node_uuids)
        self.assertEqual((dev["type"], dev["mem"], dev["cores"]), ("NVIDIA", 3000, 30))
        # The device plugin empties the to-allocate groups once it has served them.
        self.assertEqual(h.decode_pod_devices(ann.get(h.DEVICES_TO_ALLOCATE, "")), [[]])

        rec = c.wait_allocation(NS, "basic")
        self.assertFalse(rec.get("error"), rec)
        envs = rec.get("envs") or {}
        self.assertEqual(envs.get("CUDA_DEVICE_MEMORY_LIMIT_0"), "3000m", envs)
        self.assertEqual(envs.get("CUDA_DEVICE_SM_LIMIT"), "30", envs)
        self.assertEqual(envs.get("NVIDIA_VISIBLE_DEVICES"), dev["uuid"], envs)
        self.assertEqual(rec["node"], NODE)
        self.assertTrue(any("libvgpu.so" in m for m in rec.get("mounts") or []), rec.get("mounts"))

        h.wait_for(lambda: not c.locked_nodes(), 5, "node lock released (locks: %s)" % c.locked_nodes())
        self.assertEqual(c.overcommit_problems(), [])

    def test_second_pod_shares_node_after_first_bound(self):
        # The lock of the first bind must not delay the next pod on the same (only) node.
        c = self.cluster
        c.create_pod(h.gpu_pod("share-a", gpu=1, mem=4000, cores=20))
        c.wait_pod_running(NS, "share-a", timeout=20)
        c.create_pod(h.gpu_pod("share-b", gpu=1, mem=4000, cores=20))
        c.wait_pod_running(NS, "share-b", timeout=15)
        self.assertEqual(c.overcommit_problems(), [])
        c.delete_pods(NS, ["share-a", "share-b"])

    def test_webhook_leaves_plain_pods_alone(self):
        c = self.cluster
        pod = {"metadata": {"name": "plain"},
               "spec": {"containers": [{"name": "c", "image": "busybox",
                                        "resources": {"limits": {"cpu": "100m"}}}]}}
        created = c.create_pod(pod)
        self.assertEqual(created["spec"].get("schedulerName"), "default-scheduler")
        c.kube.delete_pod(NS, "plain", 0)

    def test_webhook_refuses_cores_above_100(self):
        c = self.cluster
        with self.assertRaises(h.ApiError) as cm:
            c.create_pod(h.gpu_pod("too-many-cores", gpu=1, mem=1000, cores=150))
        self.assertIn("gpucores", str(cm.exception))
        self.assertIsNone(c.kube.try_get_pod(NS, "too-many-cores"))


if __name__ == "__main__":
    h.main()
