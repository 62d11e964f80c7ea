#!/usr/bin/env python3
"""e2e (b): every manifest in examples/ applied to a real control plane, with the outcome
examples/README.md documents.

Cluster: node-t4 (2 × Tesla T4, 15360 MiB), node-a100 (A100-SXM4-40GB + A100-SXM4-80GB) and
node-mig (an A100 40GB in MIG mode with two 1g and one 3g instance, as the admin would have
created them). node-mig is tainted hami.io/e2e-mig=true:NoSchedule, and only mig.yaml is given a
toleration for it. hami-scheduler keeps pods without nvidia.com/vgpu-mode: mig off MIG GPUs by
default (README, Notes), but under --mig-unannotated-pods allow (HAMi's rule) they may land there,
and the examples' outcomes must not depend on how the scheduler under test is configured.

Adaptations, each as the README tells a user to make them: gpu-uuid.yaml gets a real UUID for
its placeholder; deployment.yaml's pods are created from its template (no controller-manager
runs here, so no ReplicaSet would create them); no-webhook.yaml is applied in a namespace
labelled hami.io/webhook=ignore so the webhook really does not see it. Each example's pods are
deleted before the next example.
"""

import copy
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
NS_NOWEBHOOK = "e2e-nowebhook"
EXAMPLES = os.path.join(h.SOURCE_DIR, "examples")
T4, A100, MIG = "node-t4", "node-a100", "node-mig"
MIG_TAINT = "hami.io/e2e-mig"
PLACEHOLDER_UUID = "GPU-00000000-0000-0000-0000-000000000001"

MIG_1G = ["MIG-11111111-1111-1111-1111-%012d" % i for i in (1, 2)]
MIG_3G = "MIG-33333333-3333-3333-3333-000000000003"


def _mig_gpu():
    profiles = [  # NVML GPU-instance profile ids of an A100 40GB
        {"id": 0, "slice_count": 1, "instance_count": 7, "sm": 14, "memory_mib": 4864},
        {"id": 1, "slice_count": 2, "instance_count": 3, "sm": 28, "memory_mib": 9856},
        {"id": 2, "slice_count": 3, "instance_count": 2, "sm": 42, "memory_mib": 19968},
        {"id": 4, "slice_count": 7, "instance_count": 1, "sm": 98, "memory_mib": 40192},
    ]
    instances = [
        {"uuid": MIG_1G[0], "profile_id": 0, "start": 0, "size": 1, "gi": 9, "ci": 0},
        {"uuid": MIG_1G[1], "profile_id": 0, "start": 1, "size": 1, "gi": 10, "ci": 0},
        {"uuid": MIG_3G, "profile_id": 2, "start": 4, "size": 4, "gi": 2, "ci": 0},
    ]
    return h.Gpu(h.gpu_uuid(MIG, 0), 40960, "NVIDIA A100-SXM4-40GB", mig=True,
                 mig_profiles=profiles, mig_instances=instances)


def load_example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return h.mini_yaml.load_all(f.read())


class ExamplesTest(h.ClusterTestCase):
    NAMESPACE = NS
    EXTRA_NAMESPACES = (NS_NOWEBHOOK,)

    @classmethod
    def set_up_cluster(cls, c):
        c.kube.patch("/api/v1/namespaces/" + NS_NOWEBHOOK,
                     {"metadata": {"labels": {"hami.io/webhook": "ignore"}}})
        c.bring_up({
            T4: h.gpus(T4, 2, memory_mib=15360, name="Tesla T4"),
            A100: [h.Gpu(h.gpu_uuid(A100, 0), 40960, "NVIDIA A100-SXM4-40GB"),
                   h.Gpu(h.gpu_uuid(A100, 1), 81920, "NVIDIA A100-SXM4-80GB")],
            MIG: [_mig_gpu()],
        })
        c.taint_node(MIG, MIG_TAINT)
        cls.registered = {}
        for n in (T4, A100, MIG):
            for uuid, d in c.registered_devices(n).items():
                cls.registered[uuid] = dict(d, node=n)

    def tearDown(self):
        c = self.cluster
        for ns in (NS, NS_NOWEBHOOK):
            names = [p["metadata"]["name"] for p in c.kube.list_pods(ns)]
            c.delete_pods(ns, names, grace_seconds=0, timeout=20)

    # -- helpers -------------------------------------------------------------------------------

    def apply_pods(self, name, ns=NS, edit=None, one_by_one=False):
        """Creates every Pod of an example file (edit(pod) may adapt it); returns their names.
        one_by_one: each pod is Running before the next is created."""
        names = []
        for obj in load_example(name):
            self.assertEqual(obj["kind"], "Pod", name)
            obj = copy.deepcopy(obj)
            if edit:
                edit(obj)
            created = self.cluster.create_pod(obj, ns)
            if ns == NS:  # through the webhook
                self.assertEqual(created["spec"].get("schedulerName"), "hami-scheduler", name)
            names.append(obj["metadata"]["name"])
            if one_by_one:
                self.cluster.wait_pod_running(ns, names[-1], timeout=20)
        return names

    def running(self, name, ns=NS, timeout=20):
        """The Running pod, its single container's devices, and its Allocate envs."""
        c = self.cluster
        pod = c.wait_pod_running(ns, name, timeout=timeout)
        ann = pod["metadata"]["annotations"]
        self.assertEqual(ann.get(h.BIND_PHASE), "success", h.pod_summary(pod))
        groups = h.decode_pod_devices(ann[h.DEVICES_ALLOCATED])
        recs = [r for r in c.allocations("%s/%s" % (ns, name))
                if not r.get("error") and r.get("uid") == pod["metadata"]["uid"]]
        self.assertEqual(len(recs), 1, recs)
        for d in groups[0]:
            self.assertEqual(self.registered[d["uuid"]]["node"], pod["spec"]["nodeName"])
        return pod, groups[0], recs[0].get("envs") or {}

    def devmem(self, uuid):
        return self.registered[uuid]["devmem"]

    def assert_limits(self, envs, devs):
        for i, d in enumerate(devs):
            self.assertEqual(envs.get("CUDA_DEVICE_MEMORY_LIMIT_%d" % i), "%dm" % d["mem"], envs)
        self.assertEqual(envs.get("NVIDIA_VISIBLE_DEVICES"), ",".join(d["uuid"] for d in devs), envs)

    def assert_stays_pending(self, name, seconds=3, ns=NS):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            p = self.cluster.kube.get_pod(ns, name)
            self.assertFalse(p["spec"].get("nodeName"), "%s bound: %s" % (name, h.pod_summary(p)))
            time.sleep(h.POLL_S)

    # -- the examples ----------------------------------------------------------------------------

    def test_every_example_has_a_test(self):
        files = {os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.yaml"))}
        covered = {m[len("test_"):].replace("_", "-") + ".yaml" for m in dir(self)
                   if m.startswith("test_") and m != "test_every_example_has_a_test"}
        self.assertEqual(sorted(files - covered), [], "examples without an e2e test")

    def test_memory_cores(self):
        (name,) = self.apply_pods("memory-cores.yaml")
        pod, devs, envs = self.running(name)
        self.assertEqual([(d["mem"], d["cores"]) for d in devs], [(3000, 30)])
        self.assertEqual(envs.get("CUDA_DEVICE_SM_LIMIT"), "30", envs)
        self.assert_limits(envs, devs)

    def test_whole_card(self):
        (name,) = self.apply_pods("whole-card.yaml")
        pod, devs, envs = self.running(name)
        self.assertEqual(h.limit(pod["spec"]["containers"][0], "nvidia.com/gpucores"), 100,
                         "webhook did not add gpucores: 100")
        (d,) = devs
        self.assertEqual((d["mem"], d["cores"]), (self.devmem(d["uuid"]), 100))
        self.assert_limits(envs, devs)
        # Exclusive: nothing else is placed on that GPU while it runs.
        self.cluster.create_pod(h.gpu_pod("on-whole-card", gpu=1, mem=1000, cores=10,
                                          annotations={"nvidia.com/use-gpuuuid": d["uuid"]}))
        self.assert_stays_pending("on-whole-card")

    def test_memory_percentage(self):
        (name,) = self.apply_pods("memory-percentage.yaml")
        pod, devs, envs = self.running(name)
        (d,) = devs
        self.assertEqual(d["mem"], self.devmem(d["uuid"]) * 50 // 100)
        self.assertEqual(d["cores"], 0)
        self.assert_limits(envs, devs)

    def test_cores_only(self):
        (name,) = self.apply_pods("cores-only.yaml")
        pod, devs, envs = self.running(name)
        (d,) = devs
        self.assertEqual((d["mem"], d["cores"]), (self.devmem(d["uuid"]), 20),
                         "no memory asked: defaultMemory 0 means the whole card")
        self.assertEqual(envs.get("CUDA_DEVICE_SM_LIMIT"), "20", envs)
        self.assert_limits(envs, devs)
        # A pod asking for memory no longer fits on that GPU.
        self.cluster.create_pod(h.gpu_pod("mem-on-cores-only", gpu=1, mem=1000, cores=10,
                                          annotations={"nvidia.com/use-gpuuuid": d["uuid"]}))
        self.assert_stays_pending("mem-on-cores-only")

    def test_multi_gpu(self):
        (name,) = self.apply_pods("multi-gpu.yaml")
        pod, devs, envs = self.running(name)
        self.assertEqual(len(devs), 2)
        self.assertNotEqual(devs[0]["uuid"], devs[1]["uuid"], "two vGPUs on one physical GPU")
        self.assertEqual([(d["mem"], d["cores"]) for d in devs], [(8000, 50), (8000, 50)])
        self.assert_limits(envs, devs)

    def test_gpu_type(self):
        (name,) = self.apply_pods("gpu-type.yaml")
        pod, devs, envs = self.running(name)
        (d,) = devs
        self.assertEqual(d["uuid"], h.gpu_uuid(A100, 0),
                         "only the A100 40GB matches A100|H100 and not 80GB; got %s"
                         % self.registered[d["uuid"]]["type"])

    def test_gpu_uuid(self):
        target = h.gpu_uuid(T4, 1)

        def edit(pod):
            ann = pod["metadata"]["annotations"]
            for k, v in ann.items():
                ann[k] = v.replace(PLACEHOLDER_UUID, target)
        pinned, avoid = self.apply_pods("gpu-uuid.yaml", edit=edit)
        _, devs, _ = self.running(pinned)
        self.assertEqual([d["uuid"] for d in devs], [target])
        _, devs, _ = self.running(avoid)
        self.assertNotEqual(devs[0]["uuid"], target)

    def _filler(self):
        """A 4000 MiB pod on node-t4's first GPU, so that node and GPU are the fullest."""
        uuid = h.gpu_uuid(T4, 0)
        self.cluster.create_pod(h.gpu_pod("filler", gpu=1, mem=4000, cores=10,
                                          annotations={"nvidia.com/use-gpuuuid": uuid}))
        self.running("filler")
        return uuid

    def test_policy_binpack(self):
        filled = self._filler()
        (name,) = self.apply_pods("policy-binpack.yaml")
        pod, devs, _ = self.running(name)
        self.assertEqual(pod["spec"]["nodeName"], T4, "binpack: the fullest node")
        self.assertEqual(devs[0]["uuid"], filled, "binpack: the most used GPU that fits")

    def test_policy_spread(self):
        self._filler()
        (name,) = self.apply_pods("policy-spread.yaml")
        pod, devs, _ = self.running(name)
        self.assertEqual(pod["spec"]["nodeName"], A100, "spread: the emptiest node")

    def test_priority(self):
        # One after the other: created together, the second pod is filtered while the first is
        # still being bound, and --prefer-idle-nodes (default) then ranks that node last.
        high, low = self.apply_pods("priority.yaml", one_by_one=True)
        ph, dh, _ = self.running(high)
        pl, dl, _ = self.running(low)

        def prio(p):
            return {e["name"]: e.get("value") for e in p["spec"]["containers"][0].get("env") or []
                    }.get("CUDA_TASK_PRIORITY")
        self.assertEqual((prio(ph), prio(pl)), ("0", "1"), "webhook env CUDA_TASK_PRIORITY")
        self.assertEqual(dh[0]["uuid"], dl[0]["uuid"], "binpack: both on the same GPU")

    def test_mig(self):
        def tolerate(pod):
            pod["spec"].setdefault("tolerations", []).append(
                {"key": MIG_TAINT, "operator": "Exists", "effect": "NoSchedule"})
        (name,) = self.apply_pods("mig.yaml", edit=tolerate)
        pod, devs, envs = self.running(name)
        self.assertEqual(pod["spec"]["nodeName"], MIG)
        self.assertIn(h.MIG_ALLOCATIONS, pod["metadata"]["annotations"])
        self.assertIn(envs.get("NVIDIA_VISIBLE_DEVICES"), MIG_1G,
                      "4000 MiB: the smallest free profile holding it is a 1g instance")
        self.assertNotIn("CUDA_DEVICE_MEMORY_LIMIT_0", envs, "no libvgpu limits on MIG")

    def test_numa_bind(self):
        (name,) = self.apply_pods("numa-bind.yaml")
        pod, devs, envs = self.running(name)
        self.assertEqual(len({d["uuid"] for d in devs}), 2)
        self.assertEqual(len({self.registered[d["uuid"]]["numa"] for d in devs}), 1,
                         "two GPUs on one NUMA node")
        self.assert_limits(envs, devs)

    def test_deployment(self):
        (dep,) = load_example("deployment.yaml")
        self.assertEqual(dep["kind"], "Deployment")
        c = self.cluster
        c.kube.create("/apis/apps/v1/namespaces/%s/deployments" % NS, dep)
        try:
            tmpl = dep["spec"]["template"]
            names = []
            for i in range(dep["spec"]["replicas"]):  # what the ReplicaSet controller would do
                pod = copy.deepcopy(tmpl)
                pod["metadata"]["name"] = "%s-%d" % (dep["metadata"]["name"], i)
                c.create_pod(pod)
                names.append(pod["metadata"]["name"])
            for n in names:
                _, devs, envs = self.running(n)
                self.assertEqual([(d["mem"], d["cores"]) for d in devs], [(2000, 25)])
                self.assert_limits(envs, devs)
        finally:
            c.kube.delete("/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, dep["metadata"]["name"]))

    def test_no_webhook(self):
        c = self.cluster
        names = self.apply_pods("no-webhook.yaml", ns=NS_NOWEBHOOK)
        for n in names:  # really unmutated: no runtime env added beyond the file's
            p = c.kube.get_pod(NS_NOWEBHOOK, n)
            self.assertEqual(p["spec"]["schedulerName"], "hami-scheduler")
        quick, whole = names
        _, devs, envs = self.running(quick, ns=NS_NOWEBHOOK)
        self.assertEqual([(d["mem"], d["cores"]) for d in devs], [(3000, 30)])
        self.assert_limits(envs, devs)
        _, devs, envs = self.running(whole, ns=NS_NOWEBHOOK)
        self.assertEqual([(d["mem"], d["cores"]) for d in devs], [(self.devmem(devs[0]["uuid"]), 100)])
        # The namespace is really outside the webhook: a GPU pod there keeps the default scheduler.
        created = c.create_pod(h.gpu_pod("not-mutated", gpu=1, mem=1000), NS_NOWEBHOOK)
        self.assertEqual(created["spec"].get("schedulerName"), "default-scheduler")


if __name__ == "__main__":
    h.main()
