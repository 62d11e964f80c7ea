#!/usr/bin/env python3
"""e2e (d): more than 100 nodes; the extender must see every feasible node.

kube-scheduler stops looking for feasible nodes once it has found 100 (its adaptive
percentageOfNodesToScore) and hands only those to the extender, so with 105 nodes some are
never offered to hami. The shipped KubeSchedulerConfiguration (deploy/base) must set
percentageOfNodesToScore: 100.

kube-scheduler walks its nodes from a rotating start index (0 for the first pod) in the order of
its node tree, where nodes it learns at start come in list order (random: the API server's watch
cache) and nodes added later are appended. So the target node, node-104, is created after
kube-scheduler started: it is then last in that order, and the first pod's search for 100
feasible nodes ends before it unless percentageOfNodesToScore is 100.

Nodes: real device plugins (and fake-kubelet) on node-000 and node-104; the other 103 carry a
registration annotation written here (4 GPUs each) and allocatable nvidia.com/gpu, which keeps
the scheduler's handshake healthy. A pod pinned with nvidia.com/use-gpuuuid to a free GPU of
node-104 must be bound there.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
N_NODES = 105
REAL = ["node-000", "node-%03d" % (N_NODES - 1)]
SPLIT = 10


def _register_annotation(node, n_gpus=4, memory_mib=15360):
    devs = []
    for i in range(n_gpus):
        d = {"id": h.gpu_uuid(node, i), "count": SPLIT, "devmem": memory_mib, "devcore": 100,
             "type": "NVIDIA-Tesla T4", "mode": "hami-core", "health": True}
        if i:
            d["index"] = i
        devs.append(d)
    return {h.NODE_REGISTER: json.dumps(devs, separators=(",", ":"))}


class ManyNodesTest(h.E2ETestCase):
    def test_pod_pinned_to_last_node_of_105(self):
        with h.Cluster(namespace=NS) as c:
            self.cluster = c
            t0 = time.monotonic()
            fake = ["node-%03d" % i for i in range(1, N_NODES - 1)]
            first, last = REAL
            c.add_nodes_bulk(fake, gpu_count=4 * SPLIT, annotations=_register_annotation)
            c.add_gpu_nodes({first: h.gpus(first, 2)}, split_count=SPLIT)
            c.start_fake_kubelet(nodes=REAL)
            c.start_device_plugins()
            c.wait_nodes_registered()
            c.start_hami_scheduler()
            c.install_webhook()
            cfg = c.kube_scheduler_config()  # as shipped: percentageOfNodesToScore untouched
            c.start_kube_scheduler(cfg)

            # The last node, added after kube-scheduler has listed the others.
            c.add_gpu_nodes({last: h.gpus(last, 2)}, split_count=SPLIT)
            c.start_device_plugin(last)
            c.wait_nodes_registered([last])
            # hami's registration pass has seen it once it asks for the handshake.
            h.wait_for(lambda: h.NODE_HANDSHAKE in (c.kube.get_node(last)["metadata"].get("annotations") or {}),
                       25, "hami-scheduler's handshake on %s" % last)
            self.assertEqual(len(c.kube.list_nodes()), N_NODES)
            h.log("%d nodes ready in %.1f s" % (N_NODES, time.monotonic() - t0))

            target = c.gpu_nodes[last][1].uuid
            c.create_pod(h.gpu_pod("pinned-last", gpu=1, mem=2000, cores=10,
                                   annotations={"nvidia.com/use-gpuuuid": target}))
            try:
                pod = c.wait_pod_bound(NS, "pinned-last", timeout=10)
            except TimeoutError as e:
                self.fail("pod pinned to %s's GPU was not bound (shipped config "
                          "percentageOfNodesToScore=%s; kube-scheduler offers the extender at "
                          "most 100 of %d nodes without 100): %s"
                          % (last, cfg.get("percentageOfNodesToScore"), N_NODES, e))
            self.assertEqual(pod["spec"]["nodeName"], last)
            devs = h.decode_pod_devices(pod["metadata"]["annotations"][h.DEVICES_ALLOCATED])
            self.assertEqual([d["uuid"] for d in devs[0]], [target])
            c.wait_pod_running(NS, "pinned-last", timeout=15)

            # And one pinned to the node that sorts first.
            c.create_pod(h.gpu_pod("pinned-first", gpu=1, mem=2000, cores=10,
                                   annotations={"nvidia.com/use-gpuuuid":
                                                c.gpu_nodes[REAL[0]][0].uuid}))
            self.assertEqual(c.wait_pod_running(NS, "pinned-first", timeout=20)["spec"]["nodeName"],
                             REAL[0])
            self.assertEqual(c.overcommit_problems(), [])
            self.assertEqual(c.locked_nodes(), {})


if __name__ == "__main__":
    h.main()
