// Presentation of replay results: summary statistics, a console table, CSV and an SVG plot.
//
// Numbers are formatted with std::to_chars so the output does not depend on the global C or
// stream locale (a comma decimal separator would corrupt the CSV).
#include "sim/report.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/strings.h"

namespace hami::sim {
namespace {

std::string Fixed(double value, int decimals) {
  std::array<char, 64> buf{};
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, decimals);
  if (ec != std::errc()) {
    return "nan";  // only for values too large for the buffer
  }
  return std::string(buf.data(), end);
}

double Mean(const std::vector<double>& values) {
  if (values.empty()) {
    return 0;
  }
  double sum = 0;
  for (double v : values) {
    sum += v;
  }
  return sum / static_cast<double>(values.size());
}

// Sample standard deviation; a single seed has no spread to estimate, reported as 0.
double SampleSd(const std::vector<double>& values) {
  if (values.size() < 2) {
    return 0;
  }
  const double mean = Mean(values);
  double sum_sq = 0;
  for (double v : values) {
    sum_sq += (v - mean) * (v - mean);
  }
  return std::sqrt(sum_sq / static_cast<double>(values.size() - 1));
}

// Indices of `results` grouped by policy, groups in first-seen order.
std::vector<std::vector<size_t>> GroupByPolicy(const std::vector<ReplayResult>& results) {
  std::vector<std::string> names;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < results.size(); ++i) {
    auto it = std::find(names.begin(), names.end(), results[i].policy);
    if (it == names.end()) {
      names.push_back(results[i].policy);
      groups.push_back({i});
    } else {
      groups[static_cast<size_t>(it - names.begin())].push_back(i);
    }
  }
  return groups;
}

// Terminal columns taken by UTF-8 text, so "±" (two bytes) pads like one character.
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

std::string MeanSd(double mean, double sd) { return Fixed(mean, 2) + " ± " + Fixed(sd, 2); }

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    return text;
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  return out + "\"";
}

// Escapes text for XML content and attribute values. Control characters are not allowed in
// XML 1.0 at all, so they are replaced rather than escaped.
std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

// Plot geometry (SVG user units). The x range extends to 130 % because the standard replay
// inflates the workload to 130 % of capacity.
constexpr double kWidth = 800, kHeight = 520;
constexpr double kLeft = 70, kRight = 30, kTop = 50, kBottom = 70;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
constexpr double kMaxX = 130, kMaxY = 100, kGridStep = 0.5;

double PlotX(double x) { return kLeft + std::clamp(Finite(x), 0.0, kMaxX) / kMaxX * kPlotW; }
double PlotY(double y) {
  return kTop + kPlotH - std::clamp(Finite(y), 0.0, kMaxY) / kMaxY * kPlotH;
}
std::string Coord(double v) { return Fixed(v, 2); }

// Colour-blind-friendly distinct hues (Okabe-Ito, then Tableau), cycled if there are more.
constexpr std::array<const char*, 10> kColors = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                 "#E69F00", "#56B4E9", "#000000", "#8C564B",
                                                 "#7F7F7F", "#BCBD22"};

// The mean curve of a policy's runs on the 0.5 % grid of arrived. Each run is a step function
// (allocation only changes when a pod arrives): its value at x is the allocation at the last
// point with arrived <= x, or 0 before its first point. The grid stops at the furthest point any
// run reached, so a shorter run contributes its final allocation beyond its end.
std::vector<CurvePoint> MeanCurve(const std::vector<const ReplayResult*>& runs) {
  std::vector<const std::vector<CurvePoint>*> curves;
  double x_end = 0;
  for (const ReplayResult* run : runs) {
    if (run->curve.empty()) {
      continue;
    }
    curves.push_back(&run->curve);
    x_end = std::max(x_end, Finite(run->curve.back().arrived_percent));
  }
  std::vector<CurvePoint> out;
  if (curves.empty()) {
    return out;
  }
  x_end = std::min(x_end, kMaxX);
  // Tiny slack so an arrived value like 99.99999999 still counts at the 100 % grid point.
  constexpr double kEps = 1e-9;
  const auto steps = static_cast<size_t>(std::floor(x_end / kGridStep + kEps));
  std::vector<size_t> next(curves.size(), 0);
  for (size_t k = 0; k <= steps; ++k) {
    const double x = static_cast<double>(k) * kGridStep;
    double sum = 0;
    for (size_t r = 0; r < curves.size(); ++r) {
      const auto& curve = *curves[r];
      while (next[r] < curve.size() && curve[next[r]].arrived_percent <= x + kEps) {
        ++next[r];
      }
      if (next[r] > 0) {
        sum += Finite(curve[next[r] - 1].allocated_percent);
      }
    }
    out.push_back(CurvePoint{x, sum / static_cast<double>(curves.size())});
  }
  return out;
}

void WriteAxes(std::ostream& out) {
  // Grid and tick labels every 10 %.
  for (int t = 0; t <= static_cast<int>(kMaxX); t += 10) {
    const std::string x = Coord(PlotX(t));
    out << "  <line x1=\"" << x << "\" y1=\"" << Coord(kTop) << "\" x2=\"" << x << "\" y2=\""
        << Coord(kTop + kPlotH) << "\" stroke=\"#e5e5e5\" stroke-width=\"1\"/>\n";
    out << "  <line x1=\"" << x << "\" y1=\"" << Coord(kTop + kPlotH) << "\" x2=\"" << x
        << "\" y2=\"" << Coord(kTop + kPlotH + 5) << "\" stroke=\"#000\" stroke-width=\"1\"/>\n";
    out << "  <text x=\"" << x << "\" y=\"" << Coord(kTop + kPlotH + 18)
        << "\" font-size=\"11\" text-anchor=\"middle\">" << t << "</text>\n";
  }
  for (int t = 0; t <= static_cast<int>(kMaxY); t += 10) {
    const std::string y = Coord(PlotY(t));
    out << "  <line x1=\"" << Coord(kLeft) << "\" y1=\"" << y << "\" x2=\"" << Coord(kLeft + kPlotW)
        << "\" y2=\"" << y << "\" stroke=\"#e5e5e5\" stroke-width=\"1\"/>\n";
    out << "  <line x1=\"" << Coord(kLeft - 5) << "\" y1=\"" << y << "\" x2=\"" << Coord(kLeft)
        << "\" y2=\"" << y << "\" stroke=\"#000\" stroke-width=\"1\"/>\n";
    out << "  <text x=\"" << Coord(kLeft - 8) << "\" y=\"" << Coord(PlotY(t) + 4)
        << "\" font-size=\"11\" text-anchor=\"end\">" << t << "</text>\n";
  }
  // Axis lines on top of the grid.
  out << "  <line x1=\"" << Coord(kLeft) << "\" y1=\"" << Coord(kTop + kPlotH) << "\" x2=\""
      << Coord(kLeft + kPlotW) << "\" y2=\"" << Coord(kTop + kPlotH)
      << "\" stroke=\"#000\" stroke-width=\"1.5\"/>\n";
  out << "  <line x1=\"" << Coord(kLeft) << "\" y1=\"" << Coord(kTop) << "\" x2=\"" << Coord(kLeft)
      << "\" y2=\"" << Coord(kTop + kPlotH) << "\" stroke=\"#000\" stroke-width=\"1.5\"/>\n";
  out << "  <text x=\"" << Coord(kLeft + kPlotW / 2) << "\" y=\"" << Coord(kHeight - 22)
      << "\" font-size=\"13\" text-anchor=\"middle\">Arrived GPU request (% of capacity)</text>\n";
  out << "  <text x=\"18\" y=\"" << Coord(kTop + kPlotH / 2)
      << "\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
      << Coord(kTop + kPlotH / 2) << ")\">Allocated GPU (% of capacity)</text>\n";
  out << "  <text x=\"" << Coord(kWidth / 2)
      << "\" y=\"28\" font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\">"
      << "GPU allocation vs. arrived GPU request</text>\n";
  // Reference: every arrived request allocated. Ends at (100, 100) where the y axis ends.
  out << "  <line x1=\"" << Coord(PlotX(0)) << "\" y1=\"" << Coord(PlotY(0)) << "\" x2=\""
      << Coord(PlotX(kMaxY)) << "\" y2=\"" << Coord(PlotY(kMaxY))
      << "\" stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"6 4\"/>\n";
}

// Writes `contents` to `path`, reporting open and write failures (full disk, permissions).
Status WriteFile(const std::filesystem::path& path,
                 const std::function<void(std::ostream&)>& contents) {
  std::ofstream out(path, std::ios::out | std::ios::binary | std::ios::trunc);
  if (!out.is_open()) {
    return Status(StatusCode::kUnavailable,
                  "cannot open " + QuoteForError(path.string(), 200) + " for writing");
  }
  contents(out);
  out.flush();
  if (!out) {
    return Status(StatusCode::kUnavailable,
                  "write to " + QuoteForError(path.string(), 200) + " failed");
  }
  out.close();
  if (out.fail()) {
    return Status(StatusCode::kUnavailable,
                  "closing " + QuoteForError(path.string(), 200) + " failed");
  }
  return Status::Ok();
}

}  // namespace

std::vector<PolicySummary> Summarize(const std::vector<ReplayResult>& results) {
  std::vector<PolicySummary> out;
  for (const auto& group : GroupByPolicy(results)) {
    std::vector<double> u100, u130, f90, failed, wall;
    for (size_t i : group) {
      const ReplayResult& r = results[i];
      u100.push_back(r.unallocated_at_100);
      u130.push_back(r.unallocated_at_130);
      f90.push_back(r.fragmented_at_90);
      failed.push_back(static_cast<double>(r.pods_failed));
      wall.push_back(r.wall_seconds);
    }
    PolicySummary s;
    s.policy = results[group.front()].policy;
    s.seeds = static_cast<int>(group.size());
    s.unalloc_100_mean = Mean(u100);
    s.unalloc_100_sd = SampleSd(u100);
    s.unalloc_130_mean = Mean(u130);
    s.unalloc_130_sd = SampleSd(u130);
    s.frag_90_mean = Mean(f90);
    s.frag_90_sd = SampleSd(f90);
    s.failed_mean = Mean(failed);
    s.wall_seconds_mean = Mean(wall);
    out.push_back(std::move(s));
  }
  return out;
}

void PrintSummaryTable(const std::vector<PolicySummary>& summary, std::ostream& out) {
  // Percentages are of cluster GPU capacity; "failed" is pods per run, "wall(s)" per run.
  std::vector<std::vector<std::string>> rows = {
      {"policy", "seeds", "unalloc@100%", "unalloc@130%", "frag@90%", "failed", "wall(s)"}};
  for (const PolicySummary& s : summary) {
    rows.push_back({s.policy, std::to_string(s.seeds), MeanSd(s.unalloc_100_mean, s.unalloc_100_sd),
                    MeanSd(s.unalloc_130_mean, s.unalloc_130_sd),
                    MeanSd(s.frag_90_mean, s.frag_90_sd), Fixed(s.failed_mean, 1),
                    Fixed(s.wall_seconds_mean, 2)});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - DisplayWidth(row[c]), ' ');
      if (c > 0) {
        line += "  ";
      }
      // Names read best left-aligned, numbers right-aligned so decimal points line up.
      line += c == 0 ? row[c] + pad : pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out << line << '\n';
  }
}

void WriteResultsCsv(const std::vector<ReplayResult>& results, std::ostream& out) {
  out << "policy,seed,unallocated_at_100,unallocated_at_130,fragmented_at_90,pods_total,"
         "pods_failed,wall_seconds\n";
  for (const ReplayResult& r : results) {
    out << CsvField(r.policy) << ',' << r.seed << ',' << Fixed(r.unallocated_at_100, 4) << ','
        << Fixed(r.unallocated_at_130, 4) << ',' << Fixed(r.fragmented_at_90, 4) << ','
        << r.pods_total << ',' << r.pods_failed << ',' << Fixed(r.wall_seconds, 4) << '\n';
  }
}

void WriteCurveSvg(const std::vector<ReplayResult>& results, std::ostream& out) {
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kWidth
      << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth << ' ' << kHeight
      << "\" font-family=\"sans-serif\">\n";
  out << "  <rect x=\"0\" y=\"0\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" fill=\"#fff\"/>\n";
  WriteAxes(out);

  const auto groups = GroupByPolicy(results);
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<const ReplayResult*> runs;
    for (size_t i : groups[g]) {
      runs.push_back(&results[i]);
    }
    const std::vector<CurvePoint> curve = MeanCurve(runs);
    if (curve.empty()) {
      continue;  // no data: the legend still lists the policy
    }
    out << "  <polyline fill=\"none\" stroke=\"" << kColors[g % kColors.size()]
        << "\" stroke-width=\"1.8\" points=\"";
    for (size_t k = 0; k < curve.size(); ++k) {
      if (k > 0) {
        out << ' ';
      }
      out << Coord(PlotX(curve[k].arrived_percent)) << ','
          << Coord(PlotY(curve[k].allocated_percent));
    }
    out << "\"><title>" << XmlEscape(runs.front()->policy) << "</title></polyline>\n";
  }

  // Legend in the plot's top-left corner, which the curves never reach (allocated <= arrived).
  const double row_h = 18;
  const double box_x = kLeft + 12, box_y = kTop + 12;
  const double box_h = row_h * static_cast<double>(groups.size() + 1) + 10;
  out << "  <rect x=\"" << Coord(box_x) << "\" y=\"" << Coord(box_y) << "\" width=\"230\" height=\""
      << Coord(box_h) << "\" fill=\"#fff\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n";
  auto legend_row = [&](size_t row, const std::string& stroke, const char* dash,
                        const std::string& label) {
    const double y = box_y + 14 + row_h * static_cast<double>(row);
    out << "  <line x1=\"" << Coord(box_x + 8) << "\" y1=\"" << Coord(y) << "\" x2=\""
        << Coord(box_x + 36) << "\" y2=\"" << Coord(y) << "\" stroke=\"" << stroke
        << "\" stroke-width=\"2\"" << dash << "/>\n";
    out << "  <text x=\"" << Coord(box_x + 44) << "\" y=\"" << Coord(y + 4)
        << "\" font-size=\"12\">" << label << "</text>\n";
  };
  for (size_t g = 0; g < groups.size(); ++g) {
    const size_t n = groups[g].size();
    legend_row(g, kColors[g % kColors.size()], "",
               XmlEscape(results[groups[g].front()].policy) + " (" + std::to_string(n) +
                   (n == 1 ? " seed)" : " seeds)"));
  }
  legend_row(groups.size(), "#888", " stroke-dasharray=\"6 4\"", "y = x (all arrived allocated)");
  out << "</svg>\n";
}

Status WriteReportFiles(const std::vector<ReplayResult>& results, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable,
                  "cannot create directory " + QuoteForError(dir, 200) + ": " + ec.message());
  }
  if (!fs::is_directory(dir, ec)) {
    return Status(StatusCode::kUnavailable, QuoteForError(dir, 200) + " is not a directory");
  }
  const fs::path base(dir);
  HAMI_RETURN_IF_ERROR(
      WriteFile(base / "results.csv", [&](std::ostream& out) { WriteResultsCsv(results, out); }));
  HAMI_RETURN_IF_ERROR(
      WriteFile(base / "curve.svg", [&](std::ostream& out) { WriteCurveSvg(results, out); }));
  return Status::Ok();
}

ProgressBar::ProgressBar(std::ostream& out, int total, bool enabled)
    : out_(out), total_(total), enabled_(enabled) {}

void ProgressBar::Step(const std::string& label) {
  if (done_ < total_) {
    ++done_;
  }
  if (!enabled_) {
    return;
  }
  constexpr int kBarWidth = 30;
  const int filled = total_ > 0 ? done_ * kBarWidth / total_ : kBarWidth;
  std::string line = "[" + std::string(static_cast<size_t>(filled), '#') +
                     std::string(static_cast<size_t>(kBarWidth - filled), '.') + "] " +
                     std::to_string(done_) + "/" + std::to_string(total_) + " " + label;
  const size_t len = line.size();
  // Blank out the rest of a longer previous line; "\r" alone does not clear it.
  if (len < last_len_) {
    line += std::string(last_len_ - len, ' ');
  }
  out_ << '\r' << line << std::flush;
  last_len_ = len;
}

void ProgressBar::Finish() {
  if (!enabled_ || last_len_ == 0) {
    return;
  }
  out_ << '\n' << std::flush;
  last_len_ = 0;
}

}  // namespace hami::sim
