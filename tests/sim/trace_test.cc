// Tests for the openb loaders: format rules on small inline inputs (table-driven), file
// wrappers, and the facts the trace README states about the real files when they are present.
#include "sim/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace hami::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPodHeader[] =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";
constexpr char kShortPodHeader[] = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n";
constexpr char kNodeHeader[] = "sn,cpu_milli,memory_mib,gpu,model\n";

Result<Workload> Pods(const std::string& text) {
  std::istringstream in(text);
  return ParseOpenbPods(in, "pods.csv");
}

Result<Cluster> Nodes(const std::string& text) {
  std::istringstream in(text);
  return ParseOpenbNodes(in, "nodes.csv");
}

TEST(OpenbModelMemoryMibTest, KnownModelsAndUnknown) {
  const std::map<std::string, int32_t> want = {
      {"P100", 16384}, {"T4", 15360}, {"V100M16", 16384}, {"V100M32", 32768},
      {"A10", 24576},  {"G2", 32768}, {"G3", 81920},      {"t4", 0},
      {"", 0},         {"H100", 0},   {"T4 ", 0}};
  for (const auto& [model, mib] : want) {
    EXPECT_EQ(OpenbModelMemoryMib(model), mib) << model;
  }
}

TEST(ParseOpenbNodesTest, ParsesRowsAndSumsCapacity) {
  auto cluster = Nodes(std::string(kNodeHeader) +
                       "n0,64000,262144,2,P100\n"
                       "n1,96000,393216,8,G2\n");
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  ASSERT_EQ(cluster->nodes.size(), 2u);
  const SimNode& n1 = cluster->nodes[1];
  EXPECT_EQ(n1.name, "n1");
  EXPECT_EQ(n1.cpu_milli, 96000);
  EXPECT_EQ(n1.memory_mib, 393216);
  EXPECT_EQ(n1.gpu_count, 8);
  EXPECT_EQ(n1.model, "G2");
  EXPECT_EQ(n1.gpu_memory_mib, 32768);
  EXPECT_EQ(cluster->TotalGpuMilli(), 10000);
}

TEST(ParseOpenbPodsTest, ParsesLongAndShortForms) {
  auto full = Pods(std::string(kPodHeader) +
                   "p0,12000,16384,1,1000,,LS,Running,0,12537496,0\n"
                   "p1,6000,12288,1,460,T4|G2,BE,Pending,1,2,3\n"
                   "p2,4000,8192,0,0,,LS,Failed,1,2,3\n"
                   "p3,64000,262144,8,1000,G3,LS,Running,1,2,3\n");
  ASSERT_TRUE(full.ok()) << full.status().message();
  ASSERT_EQ(full->pods.size(), 4u);
  EXPECT_EQ(full->pods[0].gpu_spec.size(), 0u);
  EXPECT_EQ(full->pods[1].gpu_milli, 460);
  EXPECT_EQ(full->pods[1].gpu_spec, (std::vector<std::string>{"T4", "G2"}));
  EXPECT_EQ(full->pods[2].GpuMilliTotal(), 0);
  EXPECT_EQ(full->pods[3].GpuMilliTotal(), 8000);

  auto short_form = Pods(std::string(kShortPodHeader) + "p0,12000,16384,2,1000\n");
  ASSERT_TRUE(short_form.ok()) << short_form.status().message();
  EXPECT_EQ(short_form->pods[0].num_gpu, 2);
  EXPECT_EQ(short_form->pods[0].cpu_milli, 12000);
  EXPECT_EQ(short_form->pods[0].memory_mib, 16384);
}

TEST(ParseOpenbPodsTest, AcceptsCrlfBomAndTrailingBlankLines) {
  auto crlf =
      Pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\r\np0,1,2,1,500\r\np1,1,2,0,0\r\n\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().message();
  EXPECT_EQ(crlf->pods.size(), 2u);
  EXPECT_EQ(crlf->pods[1].name, "p1");

  auto no_final_newline = Pods(std::string(kShortPodHeader) + "p0,1,2,1,500");
  ASSERT_TRUE(no_final_newline.ok());
  EXPECT_EQ(no_final_newline->pods[0].gpu_milli, 500);

  auto bom = Pods("\xEF\xBB\xBF" + std::string(kShortPodHeader) + "p0,1,2,1,500\n\n\n");
  ASSERT_TRUE(bom.ok()) << bom.status().message();
}

TEST(ParseOpenbPodsTest, EmptyAndHeaderOnlyAreErrors) {
  for (const std::string& text : {std::string(), std::string("\n"), std::string(kPodHeader),
                                  std::string(kShortPodHeader) + "\r\n"}) {
    auto r = Pods(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), StartsWith("pods.csv"));
    EXPECT_THAT(r.status().message(), HasSubstr("no pods"));
  }
  auto nodes = Nodes(kNodeHeader);
  ASSERT_FALSE(nodes.ok());
  EXPECT_THAT(nodes.status().message(), HasSubstr("no nodes"));
  EXPECT_THAT(Nodes("").status().message(), HasSubstr("no nodes"));
}

TEST(ParseOpenbPodsTest, BlankLineInTheMiddleIsAnError) {
  auto r = Pods(std::string(kShortPodHeader) + "p0,1,2,1,500\n\np1,1,2,1,500\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("pods.csv:3: "));
  EXPECT_THAT(r.status().message(), HasSubstr("blank line"));
}

TEST(ParseOpenbPodsTest, HeaderErrorsNameTheColumns) {
  struct Case {
    std::string header;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"name,cpu_milli,memory_mib,num_gpu,gpu_mili",
       {"unknown column(s) \"gpu_mili\"", "missing column(s) \"gpu_milli\""}},
      {"name,cpu_milli,memory_mib,num_gpu", {"missing column(s) \"gpu_milli\""}},
      {"name,cpu_milli,memory_mib,num_gpu,gpu_milli,extra", {"unknown column(s) \"extra\""}},
      {"name,memory_mib,cpu_milli,num_gpu,gpu_milli", {"out of order"}},
      {"NAME,cpu_milli,memory_mib,num_gpu,gpu_milli", {"\"NAME\"", "\"name\""}},
      // Closest to the long form: reports the long form's missing columns.
      {"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time",
       {"missing column(s) \"deletion_time\", \"scheduled_time\""}},
      // A node list given where pods are expected.
      {"sn,cpu_milli,memory_mib,gpu,model", {"unknown column(s) \"sn\", \"gpu\", \"model\""}},
  };
  for (const Case& c : cases) {
    auto r = Pods(c.header + "\np0,1,2,1,500\n");
    ASSERT_FALSE(r.ok()) << c.header;
    EXPECT_THAT(r.status().message(), StartsWith("pods.csv:1: ")) << c.header;
    for (const std::string& piece : c.want) {
      EXPECT_THAT(r.status().message(), HasSubstr(piece)) << c.header;
    }
  }
  auto nodes = Nodes("sn,cpu_milli,memory_mib,gpus,model\nn0,1,1,1,T4\n");
  ASSERT_FALSE(nodes.ok());
  EXPECT_THAT(nodes.status().message(), StartsWith("nodes.csv:1: "));
  EXPECT_THAT(nodes.status().message(), HasSubstr("unknown column(s) \"gpus\""));
  EXPECT_THAT(nodes.status().message(), HasSubstr("missing column(s) \"gpu\""));
}

// One bad row after a good one: the error must name line 3 and quote the value.
TEST(ParseOpenbPodsTest, RowErrors) {
  struct Case {
    std::string row;  // 11-column form
    std::string want;
  };
  const std::vector<Case> cases = {
      {"p,12x,1,0,0,,LS,Running,1,2,3", "cpu_milli \"12x\" is not an integer"},
      {"p, 12,1,0,0,,LS,Running,1,2,3", "cpu_milli \" 12\" is not an integer"},
      {"p,,1,0,0,,LS,Running,1,2,3", "cpu_milli \"\" is not an integer"},
      {"p,1.5,1,0,0,,LS,Running,1,2,3", "cpu_milli \"1.5\" is not an integer"},
      {"p,99999999999999999999,1,0,0,,LS,Running,1,2,3", "is not an integer"},
      {"p,-1,1,0,0,,LS,Running,1,2,3", "cpu_milli \"-1\" is negative"},
      {"p,1,-1,0,0,,LS,Running,1,2,3", "memory_mib \"-1\" is negative"},
      {"p,10000001,1,0,0,,LS,Running,1,2,3", "cpu_milli \"10000001\" is absurd"},
      {"p,1,100000001,0,0,,LS,Running,1,2,3", "memory_mib \"100000001\" is absurd"},
      {"p,1,1,9,1000,,LS,Running,1,2,3", "num_gpu \"9\" out of range 0..8"},
      {"p,1,1,-1,1000,,LS,Running,1,2,3", "num_gpu \"-1\" out of range 0..8"},
      {"p,1,1,4294967297,1000,,LS,Running,1,2,3", "num_gpu \"4294967297\" out of range"},
      {"p,1,1,1,1001,,LS,Running,1,2,3", "gpu_milli \"1001\" out of range 0..1000"},
      {"p,1,1,0,500,,LS,Running,1,2,3", "gpu_milli \"500\" with num_gpu \"0\""},
      {"p,1,1,1,0,,LS,Running,1,2,3", "gpu_milli \"0\" with num_gpu \"1\""},
      {"p,1,1,2,500,,LS,Running,1,2,3", "gpu_milli \"500\" below 1000 with num_gpu \"2\""},
      {"p,1,1,1,1000,H100,LS,Running,1,2,3", "unknown GPU model \"H100\""},
      {"p,1,1,1,1000,T4|t4,LS,Running,1,2,3", "unknown GPU model \"t4\""},
      {"p,1,1,1,1000,T4||G2,LS,Running,1,2,3", "gpu_spec \"T4||G2\" has an empty model"},
      {"p,1,1,1,1000,,LS,Running,1,2", "expected 11 fields, got 10"},
      {"p,1,1,1,1000,,LS,Running,1,2,3,4", "expected 11 fields, got 12"},
      {",1,1,1,1000,,LS,Running,1,2,3", "empty pod name"},
      {"\"p,1\",1,1,1,1000,,LS,Running,1,2,3", "quoted fields are not supported"},
      {" ", "expected 11 fields, got 1"},
  };
  for (const Case& c : cases) {
    auto r = Pods(std::string(kPodHeader) + "ok,1,1,1,1000,,LS,Running,1,2,3\n" + c.row + "\n");
    ASSERT_FALSE(r.ok()) << c.row;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), StartsWith("pods.csv:3: ")) << c.row;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.row;
  }
}

TEST(ParseOpenbPodsTest, ShortFormRowErrors) {
  auto r = Pods(std::string(kShortPodHeader) + "p0,1,2,1,500,T4\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pods.csv:2: expected 5 fields, got 6 in \"p0,1,2,1,500,T4\"");
}

TEST(ParseOpenbPodsTest, LongValuesAreTruncatedInErrors) {
  auto r = Pods(std::string(kShortPodHeader) + "p0," + std::string(100000, '9') + ",2,1,500\n");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 400u);
}

TEST(ParseOpenbNodesTest, RowErrors) {
  struct Case {
    std::string row;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"n1,64000,262144,2,H100", "model: unknown GPU model \"H100\""},
      {"n1,64000,262144,2,", "unknown GPU model \"\""},
      {"n1,64000,262144,65,G2", "gpu \"65\" out of range 0..64"},
      {"n1,64000,262144,-1,G2", "gpu \"-1\" out of range 0..64"},
      {"n1,64000,262144,x,G2", "gpu \"x\" is not an integer"},
      {"n1,-64000,262144,2,G2", "cpu_milli \"-64000\" is negative"},
      {"n1,64000,262144000000,2,G2", "memory_mib \"262144000000\" is absurd"},
      {"n1,64000,262144,2", "expected 5 fields, got 4"},
      {"n0,64000,262144,2,G2", "node name \"n0\" already used on line 2"},
      {",64000,262144,2,G2", "empty node name"},
  };
  for (const Case& c : cases) {
    auto r = Nodes(std::string(kNodeHeader) + "n0,64000,262144,2,P100\n" + c.row + "\n");
    ASSERT_FALSE(r.ok()) << c.row;
    EXPECT_THAT(r.status().message(), StartsWith("nodes.csv:3: ")) << c.row;
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << c.row;
  }
}

TEST(ValidateTest, AcceptsGoodAndRejectsBad) {
  SimPod pod{"p", 1000, 1024, 1, 500, {"T4"}};
  EXPECT_TRUE(ValidateSimPod(pod).ok());
  pod.gpu_spec = {"nope"};
  EXPECT_FALSE(ValidateSimPod(pod).ok());

  SimNode node{"n", 1000, 1024, 2, "T4", 15360};
  EXPECT_TRUE(ValidateSimNode(node).ok());
  node.gpu_memory_mib = 1;  // inconsistent with the model table
  EXPECT_FALSE(ValidateSimNode(node).ok());
}

class TempDir {
 public:
  TempDir() {
    path_ =
        std::filesystem::temp_directory_path() /
        ("hami_trace_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(LoadOpenbTest, ReadsFilesAndReportsMissingOnes) {
  TempDir dir;
  const std::string nodes_path = (dir.Path() / "nodes.csv").string();
  const std::string pods_path = (dir.Path() / "pods.csv").string();
  std::ofstream(nodes_path) << kNodeHeader << "n0,64000,262144,2,P100\n";
  std::ofstream(pods_path) << kShortPodHeader << "p0,1,2,1,500\np1,1,2,1,x\n";

  auto nodes = LoadOpenbNodes(nodes_path);
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  EXPECT_EQ(nodes->nodes.size(), 1u);

  auto pods = LoadOpenbPods(pods_path);
  ASSERT_FALSE(pods.ok());
  EXPECT_THAT(pods.status().message(), StartsWith(pods_path + ":3: gpu_milli \"x\""));

  auto missing = LoadOpenbPods((dir.Path() / "absent.csv").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.csv"));

  auto directory = LoadOpenbNodes(dir.Path().string());
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.status().message(), HasSubstr("directory"));
}

// --- The real trace (skipped when the shared data folder is absent) -------------------------

std::string OpenbPath(const std::string& file) {
  const char* root = std::getenv("HAMI_SHARED_DATA");
  if (root == nullptr || *root == '\0') {
    return "";
  }
  std::filesystem::path path = std::filesystem::path(root) / "openb" / file;
  return std::filesystem::exists(path) ? path.string() : "";
}

TEST(OpenbRealTraceTest, NodeListMatchesReadme) {
  const std::string path = OpenbPath("openb_node_list_gpu_node.csv");
  if (path.empty()) {
    GTEST_SKIP() << "HAMI_SHARED_DATA/openb not available";
  }
  auto cluster = LoadOpenbNodes(path);
  ASSERT_TRUE(cluster.ok()) << cluster.status().message();
  EXPECT_EQ(cluster->nodes.size(), 1213u);
  EXPECT_EQ(cluster->TotalGpuMilli(), 6212 * 1000);

  std::map<std::string, int> gpus_by_model;
  std::map<int32_t, int> nodes_by_gpus;
  for (const SimNode& node : cluster->nodes) {
    gpus_by_model[node.model] += node.gpu_count;
    ++nodes_by_gpus[node.gpu_count];
  }
  const std::map<std::string, int> want_models = {{"G2", 4392},  {"T4", 842},      {"G3", 312},
                                                  {"P100", 265}, {"V100M32", 204}, {"V100M16", 195},
                                                  {"A10", 2}};
  EXPECT_EQ(gpus_by_model, want_models);
  const std::map<int32_t, int> want_shapes = {{8, 617}, {2, 518}, {4, 54}, {1, 24}};
  EXPECT_EQ(nodes_by_gpus, want_shapes);
}

TEST(OpenbRealTraceTest, PodListsParse) {
  const std::string nodes_path = OpenbPath("openb_node_list_gpu_node.csv");
  if (nodes_path.empty()) {
    GTEST_SKIP() << "HAMI_SHARED_DATA/openb not available";
  }
  auto cluster = LoadOpenbNodes(nodes_path);
  ASSERT_TRUE(cluster.ok());

  auto def = LoadOpenbPods(OpenbPath("openb_pod_list_default.csv"));
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->pods.size(), 8152u);
  int64_t request = 0;
  for (const SimPod& pod : def->pods) {
    request += pod.GpuMilliTotal();
  }
  // README: the default trace asks for 98 % of all GPUs.
  const double percent =
      100.0 * static_cast<double>(request) / static_cast<double>(cluster->TotalGpuMilli());
  EXPECT_GT(percent, 97.0);
  EXPECT_LT(percent, 99.0);

  for (const char* variant : {"cpu100", "gpushare40", "gpushare80", "gpuspec20", "multigpu30"}) {
    const std::string path = OpenbPath(std::string("openb_pod_list_") + variant + ".csv");
    if (path.empty()) {
      continue;
    }
    auto pods = LoadOpenbPods(path);
    ASSERT_TRUE(pods.ok()) << variant << ": " << pods.status().message();
    EXPECT_GT(pods->pods.size(), 7000u) << variant;
  }
  auto multi = LoadOpenbPods(OpenbPath("openb_pod_list_multigpu30.csv"));
  ASSERT_TRUE(multi.ok());
  int multi_gpu_pods = 0;
  for (const SimPod& pod : multi->pods) {
    multi_gpu_pods += pod.num_gpu > 1 ? 1 : 0;
  }
  EXPECT_EQ(multi_gpu_pods, 112 + 83 + 236);

  auto spec = LoadOpenbPods(OpenbPath("openb_pod_list_gpuspec20.csv"));
  ASSERT_TRUE(spec.ok());
  int constrained = 0;
  for (const SimPod& pod : spec->pods) {
    constrained += pod.gpu_spec.empty() ? 0 : 1;
  }
  EXPECT_EQ(constrained, 8152 - 6708);
}

}  // namespace
}  // namespace hami::sim
