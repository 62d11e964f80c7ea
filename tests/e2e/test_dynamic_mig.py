#!/usr/bin/env python3
"""e2e (k): dynamic MIG (issue 17) on the real control plane.

node-mig runs hami-device-plugin in operating mode `mig` (per-node config) on one fake
A100-SXM4-40GB in MIG mode; node-t4 is an ordinary T4 node. fake-kubelet calls the real
plugin's Allocate, which creates the MIG instances in the fake NVML (persisted in
$RUN/nvml/node-mig.json, read here as a driver's state would be).

- At start the plugin returns the GPU to a clean state: an instance left by a pod that no
  longer exists is destroyed before anything registers.
- It publishes the profiles of the device config's migProfileAllowlist for the model (the
  chart's list: 1g.5gb, 2g.10gb, 3g.20gb, 7g.40gb; no 4g) with their legal placements.
- Pods annotated nvidia.com/vgpu-mode: mig get the smallest profile holding their memory at a
  placement no other reservation overlaps; Allocate creates exactly that GPU instance, hands
  the container its MIG UUID and writes migUUID / gpuInstanceID / computeInstanceID back.
- A 7g pod waits while any slice is taken, and is placed once the others are gone.
- A pod without the annotation never lands on the MIG GPU (it goes to the T4).
- A SIGKILLed plugin adopts the live instances at restart (nothing destroyed or duplicated).
- A pod reserved on slices whose pods just went gets them: Allocate reclaims the gone pods'
  instances before creating its own; with no pod waiting, the next refresh destroys them.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_harness as h  # noqa: E402

NS = "e2e"
MIG_NODE, T4_NODE = "node-mig", "node-t4"
MIG_MODE = {"nvidia.com/vgpu-mode": "mig"}
A100_PROFILES = {"1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"}  # the chart's allowlist for A100 40GB


def _a100():
    # A 2g.10gb GPU instance (GI 5, with its compute instance) at slices 2-3, left over by a
    # pod that is gone: the plugin must destroy it at start.
    leftover = [{"uuid": "MIG-5e5e5e5e-0000-0000-0000-000000000005", "profile_id": 1,
                 "start": 2, "size": 2, "gi": 5, "ci": 0}]
    return h.Gpu(h.gpu_uuid(MIG_NODE, 0), 40960, "NVIDIA A100-SXM4-40GB", mig=True,
                 mig_model="A100-SXM4-40GB", mig_instances=leftover)


class DynamicMigTest(h.ClusterTestCase):
    NAMESPACE = NS

    @classmethod
    def set_up_cluster(cls, c):
        c.add_gpu_nodes({MIG_NODE: [_a100()], T4_NODE: h.gpus(T4_NODE, 1)})
        with open(os.path.join(c.run, "nvml", MIG_NODE + ".nodeconfig.json"), "w") as f:
            json.dump({"nodeconfig": [{"name": MIG_NODE, "operatingmode": "mig"}]}, f)
        c.start_fake_kubelet()
        c.start_device_plugins()
        c.wait_nodes_registered()
        c.start_hami_scheduler()
        c.install_webhook()
        c.start_kube_scheduler()

    # -- observations ------------------------------------------------------------------------

    def gpu_instances(self):
        """[(gi id, start, size)] the fake NVML holds on node-mig's GPU now, sorted by start."""
        path = os.path.join(self.cluster.run, "nvml", MIG_NODE + ".json")
        for _ in range(20):  # the plugin replaces the file atomically; a read never sees half
            try:
                with open(path) as f:
                    gpu = json.load(f)["devices"][0]
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        if "gpu_instances" in gpu:
            out = [(g["id"], g["start"], g["size"]) for g in gpu["gpu_instances"]]
        else:  # never created nor destroyed anything: the initial instances
            out = [(m["gi"], m["start"], m["size"]) for m in gpu.get("mig_instances") or []]
        return sorted(out, key=lambda t: t[1])

    def wait_instances(self, want_placements, timeout=20):
        """Waits until the GPU's instances sit exactly at `want_placements` [(start, size)]."""
        want = sorted(want_placements)
        seen = {}

        def ok():
            seen["now"] = self.gpu_instances()
            return sorted((s, z) for _, s, z in seen["now"]) == want
        try:
            h.wait_for(ok, timeout, "GPU instances at %s" % want)
        except TimeoutError as e:
            raise AssertionError("%s; now %s" % (e, seen.get("now"))) from None
        return seen["now"]

    def mig_allocation(self, name):
        """The Running pod's single MIG reservation (annotation entry) and its Allocate envs."""
        c = self.cluster
        pod = c.wait_pod_running(NS, name, timeout=30)
        self.assertEqual(pod["spec"]["nodeName"], MIG_NODE, h.pod_summary(pod))
        entries = json.loads(pod["metadata"]["annotations"][h.MIG_ALLOCATIONS])
        self.assertEqual(len(entries), 1, entries)
        recs = [r for r in c.allocations("%s/%s" % (NS, name))
                if not r.get("error") and r.get("uid") == pod["metadata"]["uid"]]
        self.assertEqual(len(recs), 1, recs)
        return entries[0], recs[0].get("envs") or {}

    def mig_pod(self, name, mem):
        return h.gpu_pod(name, gpu=1, mem=mem, annotations=MIG_MODE)

    # -- the scenario ------------------------------------------------------------------------

    def test_dynamic_mig_lifecycle(self):
        c = self.cluster
        # Clean at start: the leftover instance is gone, and the registration offers the
        # allowlisted profiles with their placements.
        self.wait_instances([])
        reg = c.registered_devices(MIG_NODE)
        (dev,) = reg.values()
        self.assertEqual(dev.get("mode"), "mig", dev)
        profiles = {p["name"]: p for p in dev.get("migProfiles") or []}
        self.assertEqual(set(profiles), A100_PROFILES)
        self.assertEqual([(p["start"], p["size"]) for p in profiles["3g.20gb"]["placements"]],
                         [(0, 4), (4, 4)])

        # Three MIG pods: 1g, 2g, 3g by memory, at non-overlapping reserved placements that
        # Allocate realised exactly.
        sizes = {"mig-1g": (4000, "1g.5gb"), "mig-2g": (9000, "2g.10gb"),
                 "mig-3g": (19000, "3g.20gb")}
        for name, (mem, _) in sizes.items():
            c.create_pod(self.mig_pod(name, mem))
        reserved = {}
        for name, (_, profile) in sizes.items():
            entry, envs = self.mig_allocation(name)
            self.assertEqual(entry["profile"], profile, entry)
            self.assertTrue(entry.get("migUUID", "").startswith("MIG-"), entry)
            self.assertEqual(envs.get("NVIDIA_VISIBLE_DEVICES"), entry["migUUID"], envs)
            self.assertNotIn("CUDA_DEVICE_MEMORY_LIMIT_0", envs, "no libvgpu limit on MIG")
            reserved[name] = entry
        spans = sorted((e["placement"]["start"], e["placement"]["size"]) for e in reserved.values())
        for (s1, z1), (s2, _) in zip(spans, spans[1:]):
            self.assertLessEqual(s1 + z1, s2, "overlapping reservations %s" % spans)
        instances = self.wait_instances(spans)
        by_start = {s: gi for gi, s, _ in instances}
        for e in reserved.values():
            self.assertEqual(by_start[e["placement"]["start"]], e["gpuInstanceID"], e)

        # A whole-GPU pod without the annotation goes to the T4, never onto the MIG GPU.
        c.create_pod(h.gpu_pod("plain", gpu=1))
        plain = c.wait_pod_running(NS, "plain", timeout=30)
        self.assertEqual(plain["spec"]["nodeName"], T4_NODE)

        # The whole GPU (7g) does not fit while any slice is taken.
        c.create_pod(self.mig_pod("mig-7g", 39000))
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            p = c.kube.get_pod(NS, "mig-7g")
            self.assertFalse(p["spec"].get("nodeName"), h.pod_summary(p))
            time.sleep(h.POLL_S)

        # SIGKILL the plugin and start it again: it adopts the live instances.
        c.kill("device-plugin-" + MIG_NODE)
        c.restart("device-plugin-" + MIG_NODE)
        c.wait_nodes_registered([MIG_NODE])
        time.sleep(2)  # several reconcile passes
        self.assertEqual(self.gpu_instances(), instances, "restart changed the instances")

        # Pods end: their instances are destroyed, and the 7g pod gets the whole GPU.
        c.delete_pods(NS, list(sizes))
        entry, envs = self.mig_allocation("mig-7g")
        self.assertEqual((entry["profile"], entry["placement"]["start"]), ("7g.40gb", 0), entry)
        self.assertEqual([(s, z) for _, s, z in self.wait_instances([(0, 8)])], [(0, 8)])
        self.assertEqual(c.overcommit_problems(), [])
        # With no pod waiting for its slices, a gone pod's instance goes at the plugin's next
        # refresh (every 30 s).
        c.delete_pods(NS, ["mig-7g", "plain"])
        self.wait_instances([], timeout=45)


if __name__ == "__main__":
    h.main()
