// Tests for the synthetic cluster and workload: determinism, validity under the loader's rules
// (checked both directly and by a round trip through the CSV parsers), and the intended mix.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "sim/trace.h"

namespace hami::sim {
namespace {

std::string NodesCsv(const Cluster& cluster) {
  std::ostringstream out;
  out << "sn,cpu_milli,memory_mib,gpu,model\n";
  for (const SimNode& n : cluster.nodes) {
    out << n.name << ',' << n.cpu_milli << ',' << n.memory_mib << ',' << n.gpu_count << ','
        << n.model << '\n';
  }
  return out.str();
}

std::string PodsCsv(const Workload& workload) {
  std::ostringstream out;
  out << "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
         "deletion_time,scheduled_time\n";
  for (const SimPod& p : workload.pods) {
    std::string spec;
    for (const std::string& m : p.gpu_spec) {
      spec += (spec.empty() ? "" : "|") + m;
    }
    out << p.name << ',' << p.cpu_milli << ',' << p.memory_mib << ',' << p.num_gpu << ','
        << p.gpu_milli << ',' << spec << ",LS,Running,0,0,0\n";
  }
  return out.str();
}

// FNV-1a over the CSV text: a compact fingerprint of everything generated.
uint64_t Fingerprint(const std::string& text) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

TEST(SyntheticTest, SameSeedSameOutput) {
  const Cluster a = MakeSyntheticCluster(42);
  const Cluster b = MakeSyntheticCluster(42);
  EXPECT_EQ(NodesCsv(a), NodesCsv(b));
  EXPECT_EQ(PodsCsv(MakeSyntheticWorkload(a, 7)), PodsCsv(MakeSyntheticWorkload(b, 7)));
}

TEST(SyntheticTest, DifferentSeedDifferentOutput) {
  const Cluster a = MakeSyntheticCluster(42);
  EXPECT_NE(NodesCsv(a), NodesCsv(MakeSyntheticCluster(43)));
  EXPECT_NE(PodsCsv(MakeSyntheticWorkload(a, 42)), PodsCsv(MakeSyntheticWorkload(a, 43)));
}

// The generator must not depend on the standard library's distributions: these values are the
// same on every conforming implementation. If the generator is changed on purpose, update them.
TEST(SyntheticTest, OutputIsPinned) {
  const Cluster cluster = MakeSyntheticCluster(42, 50);
  const Workload workload = MakeSyntheticWorkload(cluster, 42, 200);
  EXPECT_EQ(Fingerprint(NodesCsv(cluster)), 8692447260036087057ULL)
      << NodesCsv(cluster).substr(0, 300);
  EXPECT_EQ(Fingerprint(PodsCsv(workload)), 15663011636228712845ULL)
      << PodsCsv(workload).substr(0, 300);
}

TEST(SyntheticTest, EverythingIsValidAndRoundTripsThroughTheLoader) {
  for (uint64_t seed : {0ULL, 1ULL, 42ULL, 0xFFFFFFFFFFFFFFFFULL}) {
    const Cluster cluster = MakeSyntheticCluster(seed);
    const Workload workload = MakeSyntheticWorkload(cluster, seed);
    ASSERT_EQ(cluster.nodes.size(), 400u);
    ASSERT_EQ(workload.pods.size(), 3000u);
    for (const SimNode& n : cluster.nodes) {
      Status s = ValidateSimNode(n);
      ASSERT_TRUE(s.ok()) << n.name << ": " << s.message();
    }
    for (const SimPod& p : workload.pods) {
      Status s = ValidateSimPod(p);
      ASSERT_TRUE(s.ok()) << p.name << ": " << s.message();
    }
    std::istringstream nodes_in(NodesCsv(cluster));
    auto nodes = ParseOpenbNodes(nodes_in, "synthetic-nodes");
    ASSERT_TRUE(nodes.ok()) << nodes.status().message();
    EXPECT_EQ(nodes->nodes.size(), cluster.nodes.size());
    EXPECT_EQ(nodes->TotalGpuMilli(), cluster.TotalGpuMilli());
    std::istringstream pods_in(PodsCsv(workload));
    auto pods = ParseOpenbPods(pods_in, "synthetic-pods");
    ASSERT_TRUE(pods.ok()) << pods.status().message();
    EXPECT_EQ(pods->pods.size(), workload.pods.size());
  }
}

bool Fits(const SimPod& pod, const SimNode& node) {
  if (pod.cpu_milli > node.cpu_milli || pod.memory_mib > node.memory_mib) {
    return false;
  }
  if (pod.num_gpu > node.gpu_count) {
    return false;
  }
  if (pod.num_gpu > 0 && !pod.gpu_spec.empty() &&
      std::find(pod.gpu_spec.begin(), pod.gpu_spec.end(), node.model) == pod.gpu_spec.end()) {
    return false;
  }
  return true;
}

TEST(SyntheticTest, EveryPodFitsSomeEmptyNode) {
  const Cluster cluster = MakeSyntheticCluster(5);
  const Workload workload = MakeSyntheticWorkload(cluster, 5);
  for (const SimPod& pod : workload.pods) {
    const bool fits = std::any_of(cluster.nodes.begin(), cluster.nodes.end(),
                                  [&](const SimNode& n) { return Fits(pod, n); });
    EXPECT_TRUE(fits) << pod.name;
  }
}

TEST(SyntheticTest, ClusterAndWorkloadMix) {
  const Cluster cluster = MakeSyntheticCluster(42);
  std::set<int32_t> shapes;
  std::set<std::string> models;
  for (const SimNode& n : cluster.nodes) {
    shapes.insert(n.gpu_count);
    models.insert(n.model);
  }
  EXPECT_EQ(shapes, (std::set<int32_t>{1, 2, 4, 8}));
  EXPECT_GE(models.size(), 5u);

  const Workload workload = MakeSyntheticWorkload(cluster, 42);
  int whole = 0, sharing = 0, multi = 0, cpu_only = 0, with_spec = 0;
  int64_t request = 0;
  for (const SimPod& p : workload.pods) {
    request += p.GpuMilliTotal();
    if (!p.gpu_spec.empty()) {
      ++with_spec;
    }
    if (p.num_gpu == 0) {
      ++cpu_only;
    } else if (p.num_gpu > 1) {
      ++multi;
    } else if (p.gpu_milli == 1000) {
      ++whole;
    } else {
      ++sharing;
      EXPECT_GE(p.gpu_milli, 100);
      EXPECT_LE(p.gpu_milli, 900);
    }
    EXPECT_GE(p.cpu_milli, 1000);
    EXPECT_LE(p.cpu_milli, 128000);
  }
  const double n = static_cast<double>(workload.pods.size());
  EXPECT_NEAR(whole / n, 0.47, 0.04);
  EXPECT_NEAR(sharing / n, 0.31, 0.04);
  EXPECT_NEAR(multi / n, 0.06, 0.02);
  EXPECT_NEAR(cpu_only / n, 0.16, 0.03);
  EXPECT_GT(with_spec, 0);
  EXPECT_LT(with_spec / n, 0.15);
  // The default sizes ask for roughly the cluster's GPU capacity, like the openb default trace.
  const double ratio = static_cast<double>(request) / static_cast<double>(cluster.TotalGpuMilli());
  EXPECT_GT(ratio, 0.8);
  EXPECT_LT(ratio, 1.6);
}

TEST(SyntheticTest, DegenerateSizes) {
  EXPECT_TRUE(MakeSyntheticCluster(1, 0).nodes.empty());
  EXPECT_TRUE(MakeSyntheticCluster(1, -5).nodes.empty());
  const Cluster cluster = MakeSyntheticCluster(1, 10);
  EXPECT_TRUE(MakeSyntheticWorkload(cluster, 1, 0).pods.empty());
  // Without GPU nodes only CPU-only pods make sense.
  const Workload cpu = MakeSyntheticWorkload(Cluster{}, 1, 100);
  ASSERT_EQ(cpu.pods.size(), 100u);
  for (const SimPod& p : cpu.pods) {
    EXPECT_EQ(p.num_gpu, 0);
    EXPECT_TRUE(ValidateSimPod(p).ok());
  }
  // A cluster of single-GPU nodes gets no multi-GPU pods it could never run.
  Cluster small;
  small.nodes.push_back(SimNode{"a", 32000, 131072, 1, "A10", 24576});
  for (const SimPod& p : MakeSyntheticWorkload(small, 3, 500).pods) {
    EXPECT_LE(p.num_gpu, 1);
    EXPECT_LE(p.cpu_milli, 32000);
    EXPECT_LE(p.memory_mib, 131072);
  }
}

}  // namespace
}  // namespace hami::sim
