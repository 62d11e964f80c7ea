// Tests for the replay report: summary statistics, table layout, exact CSV text, SVG structure
// and escaping, report files on disk, and the progress bar.
#include "sim/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace hami::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ReplayResult MakeRun(const std::string& policy, uint64_t seed, double u100, double u130 = 0,
                     double f90 = 0, int64_t failed = 0, double wall = 0) {
  ReplayResult r;
  r.policy = policy;
  r.seed = seed;
  r.unallocated_at_100 = u100;
  r.unallocated_at_130 = u130;
  r.fragmented_at_90 = f90;
  r.pods_total = 100;
  r.pods_failed = failed;
  r.wall_seconds = wall;
  return r;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(SummarizeTest, MeanAndSampleSdPerPolicyInFirstSeenOrder) {
  const std::vector<ReplayResult> results = {
      MakeRun("FGD", 42, 1, 10, 5, 2, 1.0), MakeRun("BestFit", 42, 7, 0, 0, 0, 4.0),
      MakeRun("FGD", 43, 2, 20, 5, 4, 2.0), MakeRun("FGD", 44, 3, 30, 5, 6, 3.0)};
  const auto summary = Summarize(results);
  ASSERT_EQ(summary.size(), 2u);
  const PolicySummary& fgd = summary[0];
  EXPECT_EQ(fgd.policy, "FGD");
  EXPECT_EQ(fgd.seeds, 3);
  EXPECT_DOUBLE_EQ(fgd.unalloc_100_mean, 2.0);
  EXPECT_DOUBLE_EQ(fgd.unalloc_100_sd, 1.0);  // sample sd of {1,2,3}
  EXPECT_DOUBLE_EQ(fgd.unalloc_130_mean, 20.0);
  EXPECT_DOUBLE_EQ(fgd.unalloc_130_sd, 10.0);
  EXPECT_DOUBLE_EQ(fgd.frag_90_mean, 5.0);
  EXPECT_DOUBLE_EQ(fgd.frag_90_sd, 0.0);
  EXPECT_DOUBLE_EQ(fgd.failed_mean, 4.0);
  EXPECT_DOUBLE_EQ(fgd.wall_seconds_mean, 2.0);

  const PolicySummary& best = summary[1];
  EXPECT_EQ(best.policy, "BestFit");
  EXPECT_EQ(best.seeds, 1);
  EXPECT_DOUBLE_EQ(best.unalloc_100_mean, 7.0);
  EXPECT_DOUBLE_EQ(best.unalloc_100_sd, 0.0);  // one seed: no spread

  EXPECT_TRUE(Summarize({}).empty());
}

TEST(PrintSummaryTableTest, AlignedColumnsWithMeanAndSd) {
  PolicySummary a;
  a.policy = "BestFit";
  a.seeds = 10;
  a.unalloc_100_mean = 7.834;
  a.unalloc_100_sd = 0.2051;
  a.unalloc_130_mean = 6.9;
  a.failed_mean = 123.45;
  a.wall_seconds_mean = 1.5;
  PolicySummary b;
  b.policy = "FragmentationGradientDescent";
  b.seeds = 1;
  b.unalloc_100_mean = 14.0;
  b.frag_90_mean = 3.25;
  std::ostringstream out;
  PrintSummaryTable({a, b}, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("7.83 ± 0.21"));
  EXPECT_THAT(text, HasSubstr("14.00 ± 0.00"));
  EXPECT_THAT(text, HasSubstr("123.5"));

  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 3u);
  for (const char* column :
       {"policy", "seeds", "unalloc@100%", "unalloc@130%", "frag@90%", "failed", "wall(s)"}) {
    EXPECT_THAT(lines[0], HasSubstr(column));
  }
  // Right-aligned numeric columns: every line has the same display width ("±" is 2 bytes),
  // and the columns end at the same offsets.
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (char c : s) {
      w += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return w;
  };
  EXPECT_EQ(width(lines[0]), width(lines[1]));
  EXPECT_EQ(width(lines[0]), width(lines[2]));
  EXPECT_EQ(lines[1].find("BestFit"), 0u);
  EXPECT_EQ(lines[1].rfind("1.50"), lines[1].size() - 4);
}

TEST(WriteResultsCsvTest, ExactText) {
  std::vector<ReplayResult> results = {MakeRun("FGD", 42, 4.77, 4.61, 1.23456, 12, 0.5),
                                       MakeRun("a,\"b\"", 7, 1.0 / 3.0, 0, 0, 0, 10)};
  results[1].pods_total = 9;
  std::ostringstream out;
  WriteResultsCsv(results, out);
  EXPECT_EQ(out.str(),
            "policy,seed,unallocated_at_100,unallocated_at_130,fragmented_at_90,pods_total,"
            "pods_failed,wall_seconds\n"
            "FGD,42,4.7700,4.6100,1.2346,100,12,0.5000\n"
            "\"a,\"\"b\"\"\",7,0.3333,0.0000,0.0000,9,0,10.0000\n");
  std::ostringstream empty;
  WriteResultsCsv({}, empty);
  EXPECT_EQ(Count(empty.str(), "\n"), 1u);
}

// A tiny well-formedness check: every element opened is closed in order, self-closing tags
// need no partner, and there is exactly one root element.
bool TagsBalanced(const std::string& svg, std::string* why) {
  std::vector<std::string> stack;
  int roots = 0;
  size_t pos = 0;
  while ((pos = svg.find('<', pos)) != std::string::npos) {
    const size_t end = svg.find('>', pos);
    if (end == std::string::npos) {
      *why = "unterminated tag";
      return false;
    }
    std::string tag = svg.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) {
      *why = "empty tag";
      return false;
    }
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) {
        *why = "unexpected </" + name + ">";
        return false;
      }
      stack.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (stack.empty()) {
      ++roots;
    }
    if (tag.back() != '/') {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) {
    *why = "unclosed <" + stack.back() + ">";
    return false;
  }
  if (roots != 1) {
    *why = "expected one root element, got " + std::to_string(roots);
    return false;
  }
  return true;
}

std::vector<ReplayResult> CurveResults() {
  ReplayResult a1 = MakeRun("A", 1, 0);
  a1.curve = {{0, 0}, {50, 50}, {100, 80}};
  ReplayResult a2 = MakeRun("A", 2, 0);
  a2.curve = {{0, 0}, {100, 100}, {130, 100}};
  ReplayResult b = MakeRun("B<&>\"'", 1, 0);
  b.curve = {{10, 10}, {130, 60}};
  return {a1, b, a2};
}

TEST(WriteCurveSvgTest, StructureAndOnePolylinePerPolicyPerPanel) {
  std::ostringstream out;
  WriteCurveSvg(CurveResults(), out);
  const std::string svg = out.str();
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("version=\"1.1\""));
  std::string why;
  EXPECT_TRUE(TagsBalanced(svg, &why)) << why;
  // Two policies, each drawn in the full and in the detail panel, each clipped to its panel.
  EXPECT_EQ(Count(svg, "<polyline"), 4u);
  EXPECT_EQ(Count(svg, "clip-path=\"url(#clip-full)\""), 2u);
  EXPECT_EQ(Count(svg, "clip-path=\"url(#clip-detail)\""), 2u);
  EXPECT_THAT(svg, HasSubstr("<clipPath id=\"clip-full\">"));
  EXPECT_THAT(svg, HasSubstr("<clipPath id=\"clip-detail\">"));
  // The y = x reference in both panels and once in the single legend.
  EXPECT_EQ(Count(svg, "stroke-dasharray"), 3u);
  EXPECT_EQ(Count(svg, "y = x (all arrived allocated)"), 1u);
  EXPECT_EQ(Count(svg, "Arrived GPU request"), 2u);
  EXPECT_EQ(Count(svg, "Allocated GPU"), 2u);
  EXPECT_THAT(svg, HasSubstr(">130</text>"));
  EXPECT_THAT(svg, HasSubstr(">100</text>"));
  EXPECT_THAT(svg, HasSubstr(">85</text>"));  // detail x ticks every 5 %
  EXPECT_EQ(Count(svg, "A (2 seeds)"), 1u);
  // Different colours for the two policies, the same in both panels.
  EXPECT_EQ(Count(svg, "stroke=\"#0072B2\" stroke-width=\"1.8\""), 2u);
  EXPECT_EQ(Count(svg, "stroke=\"#D55E00\" stroke-width=\"1.8\""), 2u);
}

TEST(WriteCurveSvgTest, AveragesStepCurvesOnTheGrid) {
  std::ostringstream out;
  WriteCurveSvg(CurveResults(), out);
  const std::string svg = out.str();
  // Full panel: x = 70 + arrived * 4, y = 460 - allocated * 4.
  // At arrived 50: run 1 is at 50, run 2 still at 0 (its last point <= 50 is (0, 0)) -> 25.
  EXPECT_THAT(svg, HasSubstr("270.00,360.00"));
  // At arrived 100: (80 + 100) / 2 = 90.
  EXPECT_THAT(svg, HasSubstr("470.00,100.00"));
  // At arrived 49.5: run 1 still at 0.
  EXPECT_THAT(svg, HasSubstr("268.00,460.00"));
  // Policy B starts at arrived 10: 0 before, and the grid reaches 130.
  EXPECT_THAT(svg, HasSubstr("108.00,460.00 110.00,420.00"));
  EXPECT_THAT(svg, HasSubstr("590.00,220.00"));
  // Detail panel (arrived 80..130, allocated 10..100, the lowest curve there being B at 10):
  // x = 680 + (arrived - 80) * 10.4, y = 460 - (allocated - 10) * 400 / 90. Its curves start at
  // the grid point 80 itself (A at 25, B at 10), so nothing before it is drawn.
  EXPECT_THAT(svg, HasSubstr("888.00,104.44"));  // A at 100: 90
  EXPECT_THAT(svg, HasSubstr("points=\"680.00,393.33 "));
  EXPECT_THAT(svg, HasSubstr("points=\"680.00,460.00 "));
}

// The curves' allocation within arrived 80..130 % only; the 80 % point counts, earlier ones not.
std::string DetailTitleFor(const std::vector<std::vector<CurvePoint>>& curves) {
  std::vector<ReplayResult> results;
  for (size_t i = 0; i < curves.size(); ++i) {
    ReplayResult r = MakeRun("P" + std::to_string(i), 1, 0);
    r.curve = curves[i];
    results.push_back(r);
  }
  std::ostringstream out;
  WriteCurveSvg(results, out);
  const std::string svg = out.str();
  const size_t start = svg.find("Detail: ");
  if (start == std::string::npos) {
    return "";
  }
  return svg.substr(start, svg.find('<', start) - start);
}

TEST(WriteCurveSvgTest, DetailPanelLowerBoundIsLowestCurveRoundedDownToFive) {
  // Lowest mean allocation in range is 83.7 (policy 1 from arrived 90); the 20 at arrived 50
  // lies left of the panel and does not count.
  EXPECT_EQ(DetailTitleFor({{{0, 0}, {50, 20}, {80, 88}, {130, 99}},
                            {{0, 0}, {79.5, 70}, {80, 95}, {90, 83.7}, {130, 90}}}),
            "Detail: arrived 80\u2013130 %, allocated 80\u2013100 %");
  // Exactly on a multiple of 5 stays there; the value at the 80 % grid point counts.
  EXPECT_EQ(DetailTitleFor({{{0, 0}, {80, 85}, {100, 97}, {130, 97}}}),
            "Detail: arrived 80\u2013130 %, allocated 85\u2013100 %");
  // Low curves round down to 0 at the least, and the detail y ticks widen to every 10 %.
  EXPECT_EQ(DetailTitleFor({{{0, 0}, {80, 3}, {130, 4}}}),
            "Detail: arrived 80\u2013130 %, allocated 0\u2013100 %");
  // Fully allocated everywhere: the range keeps 5 % of height instead of collapsing.
  EXPECT_EQ(DetailTitleFor({{{0, 0}, {80, 100}, {130, 100}}}),
            "Detail: arrived 80\u2013130 %, allocated 95\u2013100 %");
  // No curve reaches the panel: the full y range.
  EXPECT_EQ(DetailTitleFor({{{0, 0}, {60, 60}}}),
            "Detail: arrived 80\u2013130 %, allocated 0\u2013100 %");
}

TEST(WriteCurveSvgTest, DetailPanelTicksFollowItsRange) {
  ReplayResult r = MakeRun("P", 1, 0);
  r.curve = {{0, 0}, {80, 80}, {130, 92}};
  std::ostringstream out;
  WriteCurveSvg({r}, out);
  const std::string svg = out.str();
  // Range 80..100 gets a tick every 2 %: 80, 82, ... 100, labelled at the detail panel's left.
  EXPECT_THAT(svg, HasSubstr("x=\"672.00\" y=\"464.00\" font-size=\"11\" "
                             "text-anchor=\"end\">80</text>"));
  EXPECT_THAT(svg, HasSubstr("x=\"672.00\" y=\"424.00\" font-size=\"11\" "
                             "text-anchor=\"end\">82</text>"));
  EXPECT_THAT(svg, HasSubstr("x=\"672.00\" y=\"64.00\" font-size=\"11\" "
                             "text-anchor=\"end\">100</text>"));
  // The y = x line in the detail panel runs from (80, 80) to (100, 100) only.
  EXPECT_THAT(svg, HasSubstr("<line x1=\"680.00\" y1=\"460.00\" x2=\"888.00\" y2=\"60.00\""));
}

TEST(WriteCurveSvgTest, EscapesPolicyNames) {
  std::ostringstream out;
  WriteCurveSvg(CurveResults(), out);
  const std::string svg = out.str();
  EXPECT_THAT(svg, HasSubstr("B&lt;&amp;&gt;&quot;&apos;"));
  EXPECT_THAT(svg, Not(HasSubstr("B<&")));
}

TEST(WriteCurveSvgTest, EmptyAndCurvelessInputsStayValid) {
  std::string why;
  std::ostringstream empty;
  WriteCurveSvg({}, empty);
  EXPECT_TRUE(TagsBalanced(empty.str(), &why)) << why;
  EXPECT_EQ(Count(empty.str(), "<polyline"), 0u);

  std::ostringstream no_curve;
  WriteCurveSvg({MakeRun("X", 1, 5)}, no_curve);
  EXPECT_TRUE(TagsBalanced(no_curve.str(), &why)) << why;
  EXPECT_THAT(no_curve.str(), HasSubstr("X (1 seed)"));
}

class ScratchDir {
 public:
  ScratchDir() {
    path_ =
        std::filesystem::temp_directory_path() /
        ("hami_report_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(WriteReportFilesTest, CreatesDirectoryAndWritesBothFiles) {
  ScratchDir scratch;
  const auto dir = scratch.Path() / "nested" / "out";
  const auto results = CurveResults();
  Status s = WriteReportFiles(results, dir.string());
  ASSERT_TRUE(s.ok()) << s.message();
  std::ostringstream csv, svg;
  WriteResultsCsv(results, csv);
  WriteCurveSvg(results, svg);
  EXPECT_EQ(ReadFile(dir / "results.csv"), csv.str());
  EXPECT_EQ(ReadFile(dir / "curve.svg"), svg.str());
  // Writing again into the existing directory overwrites.
  EXPECT_TRUE(WriteReportFiles({}, dir.string()).ok());
  EXPECT_EQ(Count(ReadFile(dir / "results.csv"), "\n"), 1u);
}

TEST(WriteReportFilesTest, UnwritablePathIsAnError) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.Path());
  // A regular file where a directory is needed fails even for root, unlike permission bits.
  const auto blocker = scratch.Path() / "file";
  std::ofstream(blocker) << "x";
  Status s = WriteReportFiles(CurveResults(), (blocker / "out").string());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("file"));

  Status on_file = WriteReportFiles(CurveResults(), blocker.string());
  ASSERT_FALSE(on_file.ok());
  EXPECT_THAT(on_file.message(), HasSubstr("file"));
}

TEST(ProgressBarTest, DrawsFixedWidthBarAndEndsWithNewline) {
  std::ostringstream out;
  ProgressBar bar(out, 10, /*enabled=*/true);
  bar.Step("FGD seed 42");
  EXPECT_EQ(out.str(), "\r[###...........................] 1/10 FGD seed 42");
  out.str("");
  bar.Step("x");
  // The shorter label blanks out what is left of the previous one.
  EXPECT_EQ(out.str(), "\r[######........................] 2/10 x" + std::string(10, ' '));
  for (int i = 0; i < 10; ++i) {
    bar.Step("y");  // over-counting stays at total
  }
  EXPECT_THAT(out.str(), HasSubstr("[##############################] 10/10 y"));
  out.str("");
  bar.Finish();
  EXPECT_EQ(out.str(), "\n");
  bar.Finish();
  EXPECT_EQ(out.str(), "\n");
}

TEST(ProgressBarTest, QuietWhenDisabled) {
  std::ostringstream out;
  ProgressBar bar(out, 3, /*enabled=*/false);
  bar.Step("a");
  bar.Step("b");
  bar.Finish();
  EXPECT_EQ(out.str(), "");
  ProgressBar zero(out, 0, /*enabled=*/true);
  zero.Step("z");
  EXPECT_THAT(out.str(), HasSubstr("] 0/0 z"));
}

}  // namespace
}  // namespace hami::sim
