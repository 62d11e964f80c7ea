// A small populated cluster for the Web UI tests (ui_api_test.cc, ui_server_test.cc): two nodes,
// two allocated pods, and two pods whose /filter found no node, recorded through the real
// ExtenderServer /filter path into a DecisionLog.
//
// node-1 (locked): GPU-1a, GPU-1b: NVIDIA-Tesla T4, 16384 MiB.
// node-2: GPU-2a: NVIDIA-A100, 40960 MiB; GPU-2b: T4, unhealthy.
// default/train on node-1: GPU-1a 8000 MiB 50%.
// team-a/infer on node-1: one container with GPU-1a and GPU-1b, 4000 MiB 25% each.
// team-a/big asks 1 GPU with 50000 MiB: pending (memory everywhere, node-2's T4 unhealthy,
//   node-3 unregistered).
// team-b/typed asks 1 GPU of type H100 (nvidia.com/use-gputype): pending (type mismatch).
#pragma once

#include <memory>
#include <string>

#include "device/annotations.h"
#include "device/config.h"
#include "scheduler/binder.h"
#include "scheduler/decision_log.h"
#include "scheduler/filter.h"
#include "scheduler/http_server.h"
#include "scheduler/ledger.h"
#include "tests/scheduler/test_util.h"

namespace hami::scheduler::testing {

inline nlohmann::json UiPod(const std::string& ns, const std::string& name, const std::string& uid,
                            nlohmann::json limits, nlohmann::json annotations = nullptr) {
  nlohmann::json meta = {{"name", name}, {"namespace", ns}, {"uid", uid}};
  if (!annotations.is_null()) meta["annotations"] = std::move(annotations);
  return {
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata", std::move(meta)},
      {"spec",
       {{"containers", nlohmann::json::array(
                           {{{"name", "c"}, {"resources", {{"limits", std::move(limits)}}}}})}}}};
}

class UiCluster {
 public:
  UiCluster() : registry_(*MakeVendorRegistry(DefaultDeviceConfig())), decisions_(100) {
    DeviceInfo a100 = TestDevice("GPU-2a", 40960);
    a100.type = "NVIDIA-A100";
    DeviceInfo sick = TestDevice("GPU-2b");
    sick.health = false;
    sick.index = 1;
    DeviceInfo t4b = TestDevice("GPU-1b");
    t4b.index = 1;
    ledger_.SetNodeDevices("node-1", "NVIDIA", {TestDevice("GPU-1a"), t4b});
    ledger_.SetNodeDevices("node-2", "NVIDIA", {a100, sick});
    ledger_.SetNodeLocked("node-1", true);
    PodAllocation train = Allocation("uid-train", "node-1", {{{"GPU-1a", "NVIDIA", 8000, 50}}});
    train.name = "train";
    train.decided_unix_seconds = 1700000000;
    ledger_.AddPod(train);
    PodAllocation infer = Allocation(
        "uid-infer", "node-1", {{{"GPU-1a", "NVIDIA", 4000, 25}, {"GPU-1b", "NVIDIA", 4000, 25}}});
    infer.ns = "team-a";
    infer.name = "infer";
    ledger_.AddPod(infer);

    filter_ =
        std::make_unique<FilterCore>(registry_, ledger_,
                                     std::make_unique<policy::HamiPolicy>(
                                         "d", policy::NodePolicy::kBinpack, policy::GpuPolicy{}));
    // Never called: the tests do not bind.
    client_ = TestClient("http://127.0.0.1:1", 1);
    binder_ = std::make_unique<Binder>(*client_, registry_, ledger_, BindOptions{},
                                       [] { return int64_t{1700000100}; });
    ServerHooks hooks;
    hooks.decisions = &decisions_;
    hooks.now_unix_seconds = [] { return int64_t{1700000200}; };
    server_ = std::make_unique<ExtenderServer>(*filter_, *binder_, hooks);
    const nlohmann::json nodes = {"node-1", "node-2", "node-3"};
    server_->HandleFilter(nlohmann::json{
        {"Pod", UiPod("team-a", "big", "uid-big",
                      {{"nvidia.com/gpu", "1"}, {"nvidia.com/gpumem", "50000"}})},
        {"NodeNames", nodes}}.dump());
    server_->HandleFilter(
        nlohmann::json{{"Pod", UiPod("team-b", "typed", "uid-typed", {{"nvidia.com/gpu", "1"}},
                                     {{kNvidiaUseGpuTypeAnnotation, "H100"}})},
                       {"NodeNames", {"node-1", "node-2"}}}
            .dump());
  }

  VendorRegistry registry_;
  UsageLedger ledger_;
  DecisionLog decisions_;
  std::unique_ptr<FilterCore> filter_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<Binder> binder_;
  std::unique_ptr<ExtenderServer> server_;
};

}  // namespace hami::scheduler::testing
