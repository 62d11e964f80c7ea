// hami: command-line front end. `hami simulate` replays a cluster and a pod trace through
// the scheduler's own placement code; see docs/simulate.md.
#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "common/guarded_main.h"
#include "common/strings.h"
#include "device/config.h"
#include "inspect_cmd.h"
#include "sim/extender_replay.h"
#include "sim/mig_replay.h"
#include "sim/replay.h"
#include "sim/report.h"
#include "sim/trace.h"
#include "sim/vendor_pods.h"

namespace {

struct SimulateArgs {
  std::string nodes_path;
  std::string pods_path;
  std::vector<std::string> policies;
  int seeds = 10;
  uint64_t first_seed = 42;
  double inflation_percent = 130;
  std::string out_dir = "hami-sim-out";
  bool quiet = false;
  bool verify = false;
  bool kube_cpu_pods = false;
  std::string path = "daemon";
  std::string device_config_path;
  bool mig = false;  // the MIG replay instead of the openb one
  hami::sim::MigReplayOptions mig_options;
};

int RunSimulate(const SimulateArgs& args) {
  using namespace hami::sim;
  if (args.mig) {
    if (args.seeds < 1 || args.mig_options.requests < 1 ||
        args.mig_options.a100_gpus + args.mig_options.h100_gpus < 1 ||
        args.mig_options.a100_gpus < 0 || args.mig_options.h100_gpus < 0 ||
        !(args.mig_options.mean_lifetime_ticks >= 1)) {
      std::cerr << "error: --mig needs --seeds >= 1, --mig-requests >= 1, at least one GPU and "
                   "--mig-lifetime >= 1\n";
      return 2;
    }
    for (const MigReplayResult& r :
         RunMigComparison(args.mig_options, args.seeds, args.first_seed, std::cout)) {
      if (r.violations > 0) {
        std::cerr << "error: " << r.rule << " seed " << r.seed << ": " << r.violations
                  << " placements break HAMi's MIG rules\n";
        return 1;
      }
    }
    return 0;
  }
  Cluster cluster;
  Workload workload;
  if (args.nodes_path.empty() != args.pods_path.empty()) {
    std::cerr << "error: --nodes and --pods go together (or give neither for the built-in "
                 "synthetic cluster)\n";
    return 2;
  }
  if (args.nodes_path.empty()) {
    cluster = MakeSyntheticCluster(/*seed=*/7);
    workload = MakeSyntheticWorkload(cluster, /*seed=*/7);
    if (!args.quiet) {
      std::cout << "no --nodes/--pods given: using the built-in synthetic cluster ("
                << cluster.nodes.size() << " nodes) and workload (" << workload.pods.size()
                << " pods)\n";
    }
  } else {
    auto loaded_nodes = LoadOpenbNodes(args.nodes_path);
    if (!loaded_nodes.ok()) {
      std::cerr << "error: " << loaded_nodes.status().message() << "\n";
      return 2;
    }
    auto loaded_pods = LoadOpenbPods(args.pods_path);
    if (!loaded_pods.ok()) {
      std::cerr << "error: " << loaded_pods.status().message() << "\n";
      return 2;
    }
    cluster = std::move(*loaded_nodes);
    workload = std::move(*loaded_pods);
  }
  int32_t split_count = 10;  // HAMi chart default deviceSplitCount
  if (!args.device_config_path.empty()) {
    auto config = hami::LoadDeviceConfigFile(args.device_config_path);
    if (!config.ok()) {
      std::cerr << "error: " << config.status().message() << "\n";
      return 2;
    }
    if (config->nvidia) split_count = config->nvidia->device_split_count;
  }
  // Vendor keys are checked on both paths (the daemon path would refuse them only once a
  // replay starts; the direct one would leave a misspelt vendor's pods silently unplaced).
  {
    auto sim_config = SimDeviceConfig(split_count);
    auto registry = sim_config.ok() ? hami::MakeVendorRegistry(*sim_config)
                                    : hami::Result<hami::VendorRegistry>(sim_config.status());
    if (!registry.ok()) {
      std::cerr << "error: " << registry.status().message() << "\n";
      return 2;
    }
    auto plans = PlanVendorPods(*registry, cluster, workload);
    if (!plans.ok()) {
      std::cerr << "error: " << plans.status().message() << "\n";
      return 2;
    }
  }
  std::vector<std::string> policies = args.policies;
  if (policies.empty()) policies = PolicyNames();
  if (args.seeds < 1 || args.seeds > 1000) {
    std::cerr << "error: --seeds must be between 1 and 1000\n";
    return 2;
  }
  if (!(args.inflation_percent >= 100 && args.inflation_percent <= 1000)) {
    std::cerr << "error: --inflation must be between 100 and 1000 (percent)\n";
    return 2;
  }
  // Validate every policy name before spending minutes on the first one.
  for (const std::string& name : policies) {
    auto made = MakePolicy(name, workload);
    if (!made.ok()) {
      std::cerr << "error: " << made.status().message() << "\n";
      return 2;
    }
  }
  if (args.path != "daemon" && args.path != "direct") {
    std::cerr << "error: --path must be daemon or direct\n";
    return 2;
  }
  std::vector<ReplayResult> results;
  ProgressBar progress(std::cerr, static_cast<int>(policies.size()) * args.seeds, !args.quiet);
  for (const std::string& name : policies) {
    for (int s = 0; s < args.seeds; ++s) {
      ReplayOptions options;
      options.seed = args.first_seed + static_cast<uint64_t>(s);
      options.inflation_percent = args.inflation_percent;
      options.verify = args.verify;
      options.cpu_pods_by_kube_default = args.kube_cpu_pods;
      options.split_count = split_count;
      auto policy = MakePolicy(name, workload);  // fresh caches per run
      auto result = args.path == "daemon"
                        ? RunExtenderReplay(cluster, workload, std::move(*policy), options)
                        : RunReplay(cluster, workload, **policy, options);
      if (!result.ok()) {
        progress.Finish();
        std::cerr << "error: " << result.status().message() << "\n";
        return 1;
      }
      results.push_back(std::move(*result));
      progress.Step(name + " seed " + std::to_string(options.seed));
    }
  }
  progress.Finish();
  PrintSummaryTable(Summarize(results), std::cout);
  hami::Status written = WriteReportFiles(results, args.out_dir);
  if (!written.ok()) {
    std::cerr << "error: " << written.message() << "\n";
    return 1;
  }
  if (!args.quiet) {
    std::cout << "wrote " << args.out_dir << "/results.csv and " << args.out_dir << "/curve.svg\n";
  }
  return 0;
}

}  // namespace

static int RunMain(int argc, char** argv) {
  CLI::App app{"hami: GPU sharing for Kubernetes — simulation and inspection tools"};
  app.require_subcommand(0, 1);

  SimulateArgs sim;
  CLI::App* simulate = app.add_subcommand(
      "simulate", "Replay a cluster and a pod trace through the scheduler's placement policies");
  simulate->add_option("--nodes", sim.nodes_path,
                       "openb node list CSV (sn,cpu_milli,memory_mib,gpu,model"
                       "[,vendor[,gpu_memory_mib]])");
  simulate->add_option("--pods", sim.pods_path,
                       "openb pod list CSV (either openb form, optionally followed by vendor)");
  simulate
      ->add_option("--policy", sim.policies,
                   "policies to compare (repeat or comma list; default all)")
      ->delimiter(',');
  simulate->add_option("--seeds", sim.seeds, "number of seeds, starting at --first-seed")
      ->capture_default_str();
  simulate->add_option("--first-seed", sim.first_seed, "first shuffle seed")->capture_default_str();
  simulate
      ->add_option("--inflation", sim.inflation_percent,
                   "replay until the GPU request reaches this % of capacity")
      ->capture_default_str();
  simulate->add_option("--out-dir", sim.out_dir, "where results.csv and curve.svg go")
      ->capture_default_str();
  simulate->add_flag("--quiet", sim.quiet, "no progress bar or chatter");
  simulate->add_flag("--verify", sim.verify,
                     "check every placement against HAMi's fit rules (slower)");

  simulate
      ->add_option("--path", sim.path,
                   "daemon: every pod with devices goes through hami-scheduler's /filter code "
                   "(FilterCore, ledger, learned workload) with kube-scheduler's host filter "
                   "and default scoring emulated around it, as in a real cluster; direct: the "
                   "policy places every pod itself (the FGD paper's protocol)")
      ->capture_default_str();
  simulate->add_flag("--kube-cpu-pods", sim.kube_cpu_pods,
                     "--path direct only: place pods without devices by kube-scheduler's "
                     "default scoring (always so on the daemon path)");

  simulate->add_option("--device-config", sim.device_config_path,
                       "device config YAML (deviceSplitCount is taken from it)");

  simulate->add_flag("--mig", sim.mig,
                     "MIG replay (docs/simulate.md): A100/H100 GPUs in MIG mode, 1g..7g requests "
                     "with departures, HAMi's first-fit vs our compact placement");
  simulate->add_option("--mig-a100", sim.mig_options.a100_gpus, "--mig: A100-80GB GPUs")
      ->capture_default_str();
  simulate->add_option("--mig-h100", sim.mig_options.h100_gpus, "--mig: H100-80GB GPUs")
      ->capture_default_str();
  simulate->add_option("--mig-requests", sim.mig_options.requests, "--mig: arrivals per seed")
      ->capture_default_str();
  simulate
      ->add_option("--mig-lifetime", sim.mig_options.mean_lifetime_ticks,
                   "--mig: mean instance lifetime in arrivals")
      ->capture_default_str();

  CLI::App* config = app.add_subcommand("config", "Device config (device-config.yaml) tools");
  config->require_subcommand(1);
  std::string config_path;
  CLI::App* validate = config->add_subcommand("validate", "Load and validate a device config");
  validate->add_option("file", config_path, "YAML file, or - for stdin")->required();
  CLI::App* show_default = config->add_subcommand("default", "Print the built-in default config");
  bool all_vendors = false;
  show_default->add_flag("--all-vendors", all_vendors,
                         "append every other vendor's section as HAMi's chart renders them");

  std::string decode_kind, decode_value;
  CLI::App* decode = app.add_subcommand(
      "decode", "Decode a HAMi annotation value into JSON (node registration, pod devices, ...)");
  decode->add_option("format", decode_kind, hami::cli::DecodeKinds())->required();
  decode->add_option("value", decode_value, "the annotation value, or - for stdin")->required();

  CLI11_PARSE(app, argc, argv);
  if (validate->parsed()) return hami::cli::RunConfigValidate(config_path, std::cout, std::cerr);
  if (show_default->parsed()) return hami::cli::RunConfigDefault(all_vendors, std::cout);
  if (decode->parsed()) {
    if (decode_value == "-") {
      decode_value.assign(std::istreambuf_iterator<char>(std::cin),
                          std::istreambuf_iterator<char>());
    }
    return hami::cli::RunDecode(decode_kind, decode_value, std::cout, std::cerr);
  }
  // `hami` alone runs the main job on the embedded default.
  return RunSimulate(sim);
}

int main(int argc, char** argv) { return hami::GuardedMain(RunMain, argc, argv); }
