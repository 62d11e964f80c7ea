#!/usr/bin/env python3
"""e2e (issue 16): a heterogeneous cluster on the real control plane.

Four accelerator nodes registered the way each vendor's HAMi-compatible device plugin does:
- nv-node: 2 fake T4s behind our real hami-device-plugin and the kit's fake kubelet;
- dcu-node: Hygon DCUs in the legacy colon form under hami.io/node-dcu-register;
- npu-node: Ascend 910B3 NPUs as JSON under hami.io/node-register-Ascend910B3;
- mlu-node: Cambricon MLUs, only as extended resources in status.capacity
  (cambricon.com/mlu.smlu.vcore / .vmemory), from which the scheduler synthesises the cards;
and bad-node, whose Ascend registration is malformed while its DCU one is fine.
hami-scheduler runs with a device config enabling the four vendors (and --enable-ascend);
kube-scheduler's extender manages every vendor resource, as HAMi's chart configures it. The
vendors' own plugins are not running, so a small stand-in releases the node locks after each
bind, as their Allocate would.

- test_each_vendors_pod_lands_on_its_node_with_hamis_annotations
- test_pod_asking_two_vendors_is_refused_at_admission
- test_dcu_burst_never_goes_over_capacity
- test_malformed_registration_raises_an_event_and_keeps_the_other_vendor
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NODE_LOCK = "hami.io/mutex.lock"
MLU_LOCK = "cambricon.com/dsmlu.lock"

# Two Z100L cards of 65520 MiB, 4 tasks each, 100 cores (spec §1.2, 9-field form).
DCU_CARDS = ("{u}-0,4,65520,100,DCU-Z100L,0,true,0,hami-core:"
             "{u}-1,4,65520,100,DCU-Z100L,0,true,1,hami-core:")
ASCEND = "Ascend910B3"

DEVICE_CONFIG = """nvidia:
  resourceCountName: nvidia.com/gpu
  resourceMemoryName: nvidia.com/gpumem
  resourceMemoryPercentageName: nvidia.com/gpumem-percentage
  resourceCoreName: nvidia.com/gpucores
  resourcePriorityName: nvidia.com/priority
  deviceSplitCount: 10
hygon:
  resourceCountName: hygon.com/dcunum
  resourceMemoryName: hygon.com/dcumem
  resourceCoreName: hygon.com/dcucores
cambricon:
  resourceCountName: cambricon.com/vmlu
  resourceMemoryName: cambricon.com/mlu.smlu.vmemory
  resourceCoreName: cambricon.com/mlu.smlu.vcore
vnpus:
  configs:
  - chipName: 910B3
    commonWord: Ascend910B3
    resourceName: huawei.com/Ascend910B3
    resourceMemoryName: huawei.com/Ascend910B3-memory
    resourceCoreName: huawei.com/Ascend910B3-core
    memoryAllocatable: 65536
    memoryCapacity: 65536
    aiCore: 20
    aiCPU: 7
    templates:
    - name: vir05_1c_16g
      memory: 16384
      aiCore: 5
      aiCPU: 1
    - name: vir10_3c_32g
      memory: 32768
      aiCore: 10
      aiCPU: 3
"""

# Every vendor resource goes to the extender and is not counted by kube-scheduler itself.
MANAGED = ["hygon.com/dcunum", "hygon.com/dcumem", "hygon.com/dcucores",
           "huawei.com/Ascend910B3", "huawei.com/Ascend910B3-memory",
           "huawei.com/Ascend910B3-core", "cambricon.com/vmlu",
           "cambricon.com/mlu.smlu.vmemory", "cambricon.com/mlu.smlu.vcore"]


def npus(prefix, n):
    """As the ascend-device-plugin registers 910B3 NPUs (HAMi's common DeviceInfo JSON)."""
    return json.dumps([{"id": "%s-%d" % (prefix, i), "index": i, "count": 4, "devmem": 65536,
                        "devcore": 20, "type": ASCEND, "health": True} for i in range(n)])


def vendor_pod(name, limits):
    pod = h.gpu_pod(name)
    pod["spec"]["containers"][0]["resources"]["limits"] = dict(limits)
    return pod


def allocated(pod, key):
    return (pod["metadata"].get("annotations") or {}).get(key)


class LockReleaser:
    """Stands in for the vendors' device plugins on the nodes without one: once a pod bound
    there, its Allocate would release hami.io/mutex.lock (and Cambricon's dsmlu lock)."""

    def __init__(self, kube, nodes):
        self.kube, self.nodes = kube, nodes
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            for n in self.nodes:
                try:
                    ann = self.kube.get_node(n)["metadata"].get("annotations") or {}
                    held = {k: None for k in (NODE_LOCK, MLU_LOCK) if k in ann}
                    if held:
                        time.sleep(0.2)  # the plugin's Allocate takes a moment
                        self.kube.annotate_node(n, held)
                except Exception as e:  # noqa: BLE001 - keep standing in; the test reports
                    h.log("lock releaser: %s" % e)
            self.stop.wait(0.1)


class MixedVendorTest(h.ClusterTestCase):
    NAMESPACE = NS

    @classmethod
    def set_up_cluster(cls, c):
        c.add_gpu_nodes({"nv-node": h.gpus("nv-node", 2)})
        others = ["dcu-node", "npu-node", "mlu-node", "bad-node"]
        c.add_nodes(others)
        registrations = {
            "dcu-node": ({"hami.io/node-dcu-register": DCU_CARDS.format(u="DCU-A")},
                         {"hygon.com/dcunum": "8"}),
            "npu-node": ({"hami.io/node-register-" + ASCEND: npus("NPU-A", 2)},
                         {"huawei.com/" + ASCEND: "8"}),
            # 2 cards: vcore 200 (percent over the cards), vmemory 256 units of 256 MiB.
            "mlu-node": ({}, {"cambricon.com/mlu.smlu.vcore": "200",
                              "cambricon.com/mlu.smlu.vmemory": "256"}),
            "bad-node": ({"hami.io/node-dcu-register": DCU_CARDS.format(u="DCU-B"),
                          "hami.io/node-register-" + ASCEND: "[{\"id\": 5}]"},
                         {"hygon.com/dcunum": "8", "huawei.com/" + ASCEND: "8"}),
        }
        for name, (annotations, resources) in registrations.items():
            if annotations:
                c.kube.annotate_node(name, annotations)
            status = c.kube.get_node(name)["status"]
            capacity = dict(status.get("capacity") or {}, **resources)
            allocatable = dict(status.get("allocatable") or {}, **resources)
            c.kube.patch_node(name, {"status": {"capacity": capacity,
                                                "allocatable": allocatable}}, status=True)
        c.start_fake_kubelet(nodes=["nv-node"])
        c.start_device_plugins()
        c.wait_nodes_registered()
        config_path = os.path.join(c.run, "device-config.yaml")
        with open(config_path, "w") as f:
            f.write(DEVICE_CONFIG)
        c.start_hami_scheduler(extra_args=["--device-config-file", config_path,
                                           "--enable-ascend"])
        c.install_webhook()
        cfg = c.kube_scheduler_config()
        for ext in cfg["extenders"]:
            ext["managedResources"] += [{"name": r, "ignoredByScheduler": True} for r in MANAGED]
        c.start_kube_scheduler(cfg)
        cls.releaser = LockReleaser(c.kube, others)
        cls.releaser.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.releaser.stop.set()
        super().tearDownClass()

    def bound(self, name, timeout=30):
        return self.cluster.wait_pod_bound(NS, name, timeout=timeout)

    def test_each_vendors_pod_lands_on_its_node_with_hamis_annotations(self):
        c = self.cluster
        c.create_pod(h.gpu_pod("nv-pod", gpu=1, mem=3000, cores=30))
        dcu_pod = vendor_pod("dcu-pod", {"hygon.com/dcunum": "1", "hygon.com/dcumem": "2000",
                                         "hygon.com/dcucores": "30"})
        dcu_pod["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "dcu-node"}  # not bad-node
        c.create_pod(dcu_pod)
        # 3000 MiB rounds up to the smallest 910B3 template, vir05_1c_16g (16384 MiB).
        c.create_pod(vendor_pod("npu-pod", {"huawei.com/" + ASCEND: "1",
                                            "huawei.com/%s-memory" % ASCEND: "3000"}))
        # 4 units of 256 MiB and 20 % of one card.
        c.create_pod(vendor_pod("mlu-pod", {"cambricon.com/vmlu": "1",
                                            "cambricon.com/mlu.smlu.vmemory": "4",
                                            "cambricon.com/mlu.smlu.vcore": "20"}))
        nv = self.bound("nv-pod")
        self.assertEqual(nv["spec"]["nodeName"], "nv-node")
        self.assertIn("GPU-", allocated(nv, h.DEVICES_ALLOCATED))

        dcu = self.bound("dcu-pod")
        self.assertEqual(dcu["spec"]["nodeName"], "dcu-node")
        dev = allocated(dcu, "hami.io/dcu-devices-allocated")
        self.assertRegex(dev, r"^DCU-A-[01],DCU,2000,30:;$")
        self.assertEqual(allocated(dcu, "hami.io/dcu-devices-to-allocate"), dev)
        self.assertIsNone(allocated(dcu, h.DEVICES_ALLOCATED))

        npu = self.bound("npu-pod")
        self.assertEqual(npu["spec"]["nodeName"], "npu-node")
        dev = allocated(npu, "hami.io/%s-devices-allocated" % ASCEND)
        self.assertRegex(dev, r"^NPU-A-[01],%s,16384,0:;$" % ASCEND)
        runtime = json.loads(allocated(npu, "huawei.com/" + ASCEND))
        self.assertEqual(runtime[0]["temp"], "vir05_1c_16g")

        mlu = self.bound("mlu-pod")
        self.assertEqual(mlu["spec"]["nodeName"], "mlu-node")
        dev = allocated(mlu, "hami.io/cambricon-mlu-devices-allocated")
        self.assertRegex(dev, r"^mlu-node-cambricon-mlu-[01],MLU,1024,20:;$")
        self.assertEqual(allocated(mlu, "CAMBRICON_DSMLU_ASSIGNED"), "false")

    def test_pod_asking_two_vendors_is_refused_at_admission(self):
        with self.assertRaises(h.ApiError) as refused:
            self.cluster.create_pod(h.gpu_pod("greedy", gpu=1,
                                              extra_limits={"hygon.com/dcunum": "1"}))
        self.assertIn("several vendors (DCU, NVIDIA)", str(refused.exception))

    def test_dcu_burst_never_goes_over_capacity(self):
        """10 DCU pods of 30 cores created at once, pinned to dcu-node (2 cards of 100 cores and
        4 tasks): whatever ran there before, no card ever holds more than 100 cores or 4 tasks,
        and the pods that do not fit stay Pending."""
        c = self.cluster
        names = ["dcu-burst-%d" % i for i in range(10)]
        peak_cores, peak_tasks = {}, {}

        def sample():
            cores, tasks = {}, {}
            for p in c.kube.list_pods(NS):
                if p["spec"].get("nodeName") != "dcu-node":
                    continue
                for group in h.decode_pod_devices(allocated(p, "hami.io/dcu-devices-allocated")):
                    for d in group:
                        cores[d["uuid"]] = cores.get(d["uuid"], 0) + d["cores"]
                        tasks[d["uuid"]] = tasks.get(d["uuid"], 0) + 1
            for uuid in cores:
                peak_cores[uuid] = max(peak_cores.get(uuid, 0), cores[uuid])
                peak_tasks[uuid] = max(peak_tasks.get(uuid, 0), tasks[uuid])
            return cores

        before = sample()
        room = sum((100 - before.get(u, 0)) // 30 for u in ("DCU-A-0", "DCU-A-1"))
        for n in names:
            pod = vendor_pod(n, {"hygon.com/dcunum": "1", "hygon.com/dcucores": "30",
                                 "hygon.com/dcumem": "1000"})
            pod["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "dcu-node"}
            c.create_pod(pod)

        def bound():
            sample()
            return [p for p in c.kube.list_pods(NS)
                    if p["metadata"]["name"] in names and p["spec"].get("nodeName")]

        try:
            h.wait_for(lambda: len(bound()) >= room, 60, "%d burst pods bound" % room)
            time.sleep(3)  # kube-scheduler keeps retrying the rest: none may get in
            self.assertEqual(len(bound()), room)
            for uuid in peak_cores:
                self.assertLessEqual(peak_cores[uuid], 100, "card over its cores: %s" % peak_cores)
                self.assertLessEqual(peak_tasks[uuid], 4, "card over its tasks: %s" % peak_tasks)
        finally:
            c.delete_pods(NS, names)

    def test_malformed_registration_raises_an_event_and_keeps_the_other_vendor(self):
        c = self.cluster

        def events():
            return [e for e in c.kube.list("/api/v1/namespaces/default/events")
                    if e.get("reason") == "InvalidDeviceRegistration"
                    and e["involvedObject"]["name"] == "bad-node"]

        h.wait_for(lambda: events(), 20, "InvalidDeviceRegistration event on bad-node")
        message = events()[0]["message"]
        self.assertIn("%s devices ignored: hami.io/node-register-%s" % (ASCEND, ASCEND), message)
        time.sleep(2)  # more registration passes: still one event, not one per pass
        self.assertEqual(len(events()), 1)
        # bad-node's DCUs still serve: a DCU pod pinned there lands.
        pod = vendor_pod("dcu-on-bad", {"hygon.com/dcunum": "1", "hygon.com/dcucores": "10"})
        pod["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "bad-node"}
        c.create_pod(pod)
        bound = self.bound("dcu-on-bad")
        self.assertRegex(allocated(bound, "hami.io/dcu-devices-allocated"), r"^DCU-B-[01],DCU,")
        self.assertTrue(c.proc("hami-scheduler").alive())


if __name__ == "__main__":
    h.main()
