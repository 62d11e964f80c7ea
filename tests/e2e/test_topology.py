#!/usr/bin/env python3
"""e2e (h): topology-aware GPU selection on the real control plane.

One node with 4 fake GPUs in two NVLink pairs that interleave with the GPU index (0-2 and 1-3,
two NVLinks each, so that index order alone never finds a pair). The real device plugin runs
with ENABLE_TOPOLOGY_SCORE=true and publishes hami.io/node-nvidia-score from the fake NVML's
link matrix; two whole-GPU pods asking for 2 GPUs with hami.io/gpu-scheduler-policy:
topology-aware each land on one NVLink pair; a 1-GPU pod on a node with one NVLink pair and two
PCIe-only GPUs keeps the pair whole.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
PAIRS = "node-pairs"     # 0-2 and 1-3 joined by NVLinks
ONE_PAIR = "node-one-pair"  # 1-3 joined, 0 and 2 on PCIe only
SCORE_ANNOTATION = "hami.io/node-nvidia-score"
POLICY = {"hami.io/gpu-scheduler-policy": "topology-aware"}


def linked_gpus(node, peers):
    """4 GPUs of `node`; peers[i] is the GPU that GPU i has two NVLinks to (None: no NVLink)."""
    gs = h.gpus(node, 4)
    for i, g in enumerate(gs):
        if peers[i] is not None:
            g.extra["nvlinks"] = [peers[i], peers[i]]
    return gs


class TopologyTest(h.ClusterTestCase):
    NAMESPACE = NS

    @classmethod
    def set_up_cluster(cls, c):
        c.add_gpu_nodes({PAIRS: linked_gpus(PAIRS, [2, 3, 0, 1]),
                         ONE_PAIR: linked_gpus(ONE_PAIR, [None, 3, None, 1])})
        c.start_fake_kubelet()
        for node in (PAIRS, ONE_PAIR):
            c.start_device_plugin(node, env={"ENABLE_TOPOLOGY_SCORE": "true"})
        c.wait_nodes_registered()
        c.start_hami_scheduler()
        c.install_webhook()
        c.start_kube_scheduler()

    def scores(self, node):
        ann = self.cluster.kube.get_node(node)["metadata"].get("annotations") or {}
        self.assertIn(SCORE_ANNOTATION, ann, "device plugin did not publish the link scores")
        return {e["uuid"]: e["score"] for e in json.loads(ann[SCORE_ANNOTATION])}

    def uuids(self, node):
        return [g.uuid for g in self.cluster.gpu_nodes[node]]

    def on_node(self, node):
        """The pod annotations: topology-aware, and only this node's GPUs may be used."""
        return dict(POLICY, **{"nvidia.com/use-gpuuuid": ",".join(self.uuids(node))})

    def pod_gpus(self, name):
        pod = self.cluster.wait_pod_running(NS, name, timeout=30)
        groups = h.decode_pod_devices(pod["metadata"]["annotations"].get(h.DEVICES_ALLOCATED))
        return pod["spec"]["nodeName"], [d["uuid"] for d in groups[0]]

    def test_published_scores_follow_hamis_scale(self):
        u = self.uuids(PAIRS)
        scores = self.scores(PAIRS)
        self.assertEqual(set(scores), set(u))
        # Same CPU, no shared switch or bridge (20) plus 2 NVLinks x 100.
        self.assertEqual(scores[u[0]][u[2]], 220)
        self.assertEqual(scores[u[1]][u[3]], 220)
        self.assertEqual(scores[u[0]][u[1]], 20)
        self.assertNotIn(u[0], scores[u[0]])

    def test_two_gpu_pods_land_on_the_nvlink_pairs(self):
        c = self.cluster
        u = self.uuids(PAIRS)
        pairs = [{u[0], u[2]}, {u[1], u[3]}]
        names = ["pair-a", "pair-b"]
        for name in names:
            c.create_pod(h.gpu_pod(name, gpu=2, annotations=self.on_node(PAIRS)))
        taken = []
        for name in names:
            node, gpus = self.pod_gpus(name)
            self.assertEqual(node, PAIRS)
            self.assertIn(set(gpus), pairs, "%s got %s, not an NVLink pair" % (name, gpus))
            taken.append(set(gpus))
        self.assertNotEqual(taken[0], taken[1])
        self.assertEqual(c.overcommit_problems(), [])
        c.delete_pods(NS, names)

    def test_one_gpu_pod_keeps_the_nvlink_pair_whole(self):
        c = self.cluster
        u = self.uuids(ONE_PAIR)
        c.create_pod(h.gpu_pod("single", gpu=1, annotations=self.on_node(ONE_PAIR)))
        node, gpus = self.pod_gpus("single")
        self.assertEqual(node, ONE_PAIR)
        self.assertIn(gpus[0], (u[0], u[2]), "the 1-GPU pod broke up the NVLink pair 1-3")
        c.delete_pods(NS, ["single"])


if __name__ == "__main__":
    h.main()
