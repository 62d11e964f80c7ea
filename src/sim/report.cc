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
#include <map>
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

double VendorPercent(const VendorAllocation& v) {
  return v.capacity_milli > 0 ? static_cast<double>(v.allocated_milli) * 100.0 /
                                    static_cast<double>(v.capacity_milli)
                              : 0.0;
}

double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

// Data domain of the plot (%). The x range extends to 130 % because the standard replay inflates
// the workload to 130 % of capacity; the mean curves are sampled every kGridStep of arrived.
constexpr double kMaxX = 130, kMaxY = 100, kGridStep = 0.5;

// The detail panel shows where the policies differ: past 80 % arrived, allocation near the top.
constexpr double kDetailMinX = 80;

// One plot panel: where its frame sits on the canvas (SVG user units) and which data ranges (%)
// it shows. Both panels are drawn by the same code from one of these.
struct Panel {
  const char* id;  // SVG id suffix of the panel's clip path, [a-z] only
  std::string title;
  double left, top, width, height;  // plot frame, without tick labels and axis titles
  double x_min, x_max, y_min, y_max;
  double x_step, y_step;  // spacing of ticks and grid lines (%)

  // Canvas coordinates of a data point. Values are clamped to the data domain (so a non-finite
  // or absurd value cannot produce a huge coordinate); the panel's clip path trims the rest.
  double X(double arrived) const {
    return left + (std::clamp(Finite(arrived), 0.0, kMaxX) - x_min) / (x_max - x_min) * width;
  }
  double Y(double allocated) const {
    return top + height -
           (std::clamp(Finite(allocated), 0.0, kMaxY) - y_min) / (y_max - y_min) * height;
  }
};

// Canvas layout: two panels side by side, the legend below them.
constexpr double kPanelTop = 60, kPanelW = 520, kPanelH = 400;
constexpr double kFullLeft = 70, kDetailLeft = kFullLeft + kPanelW + 90;
constexpr double kCanvasW = kDetailLeft + kPanelW + 30;
constexpr double kLegendTop = kPanelTop + kPanelH + 62, kLegendRowH = 18;

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

// Lower bound of the detail panel's y range: the lowest allocation any mean curve reaches within
// the panel's x range, rounded down to a multiple of 5 (0 without data there). Capped at 95 so
// the range never collapses when everything is fully allocated.
double DetailMinY(const std::vector<std::vector<CurvePoint>>& curves) {
  double lowest = kMaxY;
  bool any = false;
  for (const auto& curve : curves) {
    for (const CurvePoint& p : curve) {
      if (p.arrived_percent >= kDetailMinX && p.arrived_percent <= kMaxX) {
        lowest = std::min(lowest, std::clamp(Finite(p.allocated_percent), 0.0, kMaxY));
        any = true;
      }
    }
  }
  if (!any) {
    return 0;
  }
  return std::min(std::floor(lowest / 5) * 5, kMaxY - 5);
}

// Smallest of 1, 2, 5, 10 that puts at most 12 grid intervals into `span`.
double TickStep(double span) {
  for (double step : {1.0, 2.0, 5.0}) {
    if (span / step <= 12 + 1e-9) {
      return step;
    }
  }
  return 10;
}

// Tick values: the multiples of `step` within [lo, hi].
std::vector<double> Ticks(double lo, double hi, double step) {
  std::vector<double> out;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9; k += 1) {
    out.push_back(k * step);
  }
  return out;
}

std::string TickLabel(double value) { return std::to_string(std::lround(value)); }

void Line(std::ostream& out, double x1, double y1, double x2, double y2, const char* stroke,
          double width, const char* extra = "") {
  out << "  <line x1=\"" << Coord(x1) << "\" y1=\"" << Coord(y1) << "\" x2=\"" << Coord(x2)
      << "\" y2=\"" << Coord(y2) << "\" stroke=\"" << stroke << "\" stroke-width=\""
      << Fixed(width, 1) << '"' << extra << "/>\n";
}

constexpr const char* kDiagonalDash = " stroke-dasharray=\"6 4\"";

// The clip path that keeps curves inside a panel's frame; goes into <defs>.
void WriteClipPath(const Panel& p, std::ostream& out) {
  out << "    <clipPath id=\"clip-" << p.id << "\"><rect x=\"" << Coord(p.left) << "\" y=\""
      << Coord(p.top) << "\" width=\"" << Coord(p.width) << "\" height=\"" << Coord(p.height)
      << "\"/></clipPath>\n";
}

// Grid, ticks, axes, axis titles, the panel title and the y = x reference line.
void WritePanelFrame(const Panel& p, std::ostream& out) {
  const double bottom = p.top + p.height, right = p.left + p.width;
  for (double t : Ticks(p.x_min, p.x_max, p.x_step)) {
    const double x = p.X(t);
    Line(out, x, p.top, x, bottom, "#e5e5e5", 1);
    Line(out, x, bottom, x, bottom + 5, "#000", 1);
    out << "  <text x=\"" << Coord(x) << "\" y=\"" << Coord(bottom + 18)
        << "\" font-size=\"11\" text-anchor=\"middle\">" << TickLabel(t) << "</text>\n";
  }
  for (double t : Ticks(p.y_min, p.y_max, p.y_step)) {
    const double y = p.Y(t);
    Line(out, p.left, y, right, y, "#e5e5e5", 1);
    Line(out, p.left - 5, y, p.left, y, "#000", 1);
    out << "  <text x=\"" << Coord(p.left - 8) << "\" y=\"" << Coord(y + 4)
        << "\" font-size=\"11\" text-anchor=\"end\">" << TickLabel(t) << "</text>\n";
  }
  // Axis lines on top of the grid.
  Line(out, p.left, bottom, right, bottom, "#000", 1.5);
  Line(out, p.left, p.top, p.left, bottom, "#000", 1.5);
  out << "  <text x=\"" << Coord(p.left + p.width / 2) << "\" y=\"" << Coord(bottom + 40)
      << "\" font-size=\"13\" text-anchor=\"middle\">Arrived GPU request (% of capacity)</text>\n";
  const std::string title_x = Coord(p.left - 52), title_y = Coord(p.top + p.height / 2);
  out << "  <text x=\"" << title_x << "\" y=\"" << title_y
      << "\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 " << title_x << ' '
      << title_y << ")\">Allocated GPU (% of capacity)</text>\n";
  out << "  <text x=\"" << Coord(p.left + p.width / 2) << "\" y=\"" << Coord(p.top - 10)
      << "\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">" << XmlEscape(p.title)
      << "</text>\n";
  // Reference: every arrived request allocated; only the part inside the panel's ranges.
  const double from = std::max(p.x_min, p.y_min), to = std::min(p.x_max, p.y_max);
  if (to > from) {
    Line(out, p.X(from), p.Y(from), p.X(to), p.Y(to), "#888", 1, kDiagonalDash);
  }
}

// A policy's mean curve in one panel: the points inside the panel's x range plus one neighbour
// on each side, so the line runs to the frame, where the clip path cuts it. Nothing is drawn
// when the curve has no segment there.
void WritePanelCurve(const Panel& p, const std::vector<CurvePoint>& curve, const char* color,
                     const std::string& policy, std::ostream& out) {
  size_t first = 0;
  while (first + 1 < curve.size() && curve[first + 1].arrived_percent <= p.x_min) {
    ++first;
  }
  size_t last = first;
  while (last + 1 < curve.size() && curve[last].arrived_percent < p.x_max) {
    ++last;
  }
  if (last == first) {
    return;
  }
  out << "  <polyline fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"1.8\" clip-path=\"url(#clip-" << p.id << ")\" points=\"";
  for (size_t k = first; k <= last; ++k) {
    if (k > first) {
      out << ' ';
    }
    out << Coord(p.X(curve[k].arrived_percent)) << ',' << Coord(p.Y(curve[k].allocated_percent));
  }
  out << "\"><title>" << XmlEscape(policy) << "</title></polyline>\n";
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
    std::map<std::string, std::vector<double>> by_vendor;
    for (size_t i : group) {
      const ReplayResult& r = results[i];
      for (const VendorAllocation& v : r.vendors) by_vendor[v.vendor].push_back(VendorPercent(v));
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
    for (const auto& [vendor, percents] : by_vendor) {
      s.vendor_allocated_percent.emplace_back(vendor, Mean(percents));
    }
    out.push_back(std::move(s));
  }
  return out;
}

void PrintSummaryTable(const std::vector<PolicySummary>& summary, std::ostream& out) {
  // Percentages are of cluster GPU capacity; "failed" is pods per run, "wall(s)" per run.
  std::vector<std::vector<std::string>> rows = {
      {"policy", "seeds", "unalloc@100%", "unalloc@130%", "frag@90%", "failed", "wall(s)"}};
  const bool mixed = std::any_of(summary.begin(), summary.end(), [](const PolicySummary& s) {
    return s.vendor_allocated_percent.size() > 1;
  });
  if (mixed) rows[0].push_back("alloc@130% by vendor");
  for (const PolicySummary& s : summary) {
    rows.push_back({s.policy, std::to_string(s.seeds), MeanSd(s.unalloc_100_mean, s.unalloc_100_sd),
                    MeanSd(s.unalloc_130_mean, s.unalloc_130_sd),
                    MeanSd(s.frag_90_mean, s.frag_90_sd), Fixed(s.failed_mean, 1),
                    Fixed(s.wall_seconds_mean, 2)});
    if (!mixed) continue;
    std::string cell;
    for (const auto& [vendor, percent] : s.vendor_allocated_percent) {
      cell += (cell.empty() ? "" : ", ") + vendor + " " + Fixed(percent, 2);
    }
    rows.back().push_back(cell);
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
  std::map<std::string, size_t> vendor_column;  // vendor key -> extra column, key order
  for (const ReplayResult& r : results) {
    for (const VendorAllocation& v : r.vendors) vendor_column.emplace(v.vendor, 0);
  }
  if (vendor_column.size() < 2) vendor_column.clear();  // one vendor: the columns above say it
  size_t next = 0;
  for (auto& [vendor, column] : vendor_column) column = next++;
  out << "policy,seed,unallocated_at_100,unallocated_at_130,fragmented_at_90,pods_total,"
         "pods_failed,wall_seconds";
  for (const auto& [vendor, column] : vendor_column) {
    out << ',' << CsvField("allocated_at_130_" + vendor);
  }
  out << '\n';
  for (const ReplayResult& r : results) {
    out << CsvField(r.policy) << ',' << r.seed << ',' << Fixed(r.unallocated_at_100, 4) << ','
        << Fixed(r.unallocated_at_130, 4) << ',' << Fixed(r.fragmented_at_90, 4) << ','
        << r.pods_total << ',' << r.pods_failed << ',' << Fixed(r.wall_seconds, 4);
    std::vector<std::string> cells(vendor_column.size());
    for (const VendorAllocation& v : r.vendors) {
      auto it = vendor_column.find(v.vendor);
      if (it != vendor_column.end()) cells[it->second] = Fixed(VendorPercent(v), 4);
    }
    for (const std::string& cell : cells) out << ',' << cell;
    out << '\n';
  }
}

void WriteCurveSvg(const std::vector<ReplayResult>& results, std::ostream& out) {
  const auto groups = GroupByPolicy(results);
  std::vector<std::vector<CurvePoint>> curves;
  std::vector<std::string> labels;  // legend text, not yet escaped
  for (const auto& group : groups) {
    std::vector<const ReplayResult*> runs;
    runs.reserve(group.size());
    for (size_t i : group) {
      runs.push_back(&results[i]);
    }
    curves.push_back(MeanCurve(runs));
    labels.push_back(runs.front()->policy + " (" + std::to_string(runs.size()) +
                     (runs.size() == 1 ? " seed)" : " seeds)"));
  }

  const double detail_min_y = DetailMinY(curves);
  const Panel full{.id = "full",
                   .title = "Full range",
                   .left = kFullLeft,
                   .top = kPanelTop,
                   .width = kPanelW,
                   .height = kPanelH,
                   .x_min = 0,
                   .x_max = kMaxX,
                   .y_min = 0,
                   .y_max = kMaxY,
                   .x_step = 10,
                   .y_step = 10};
  const Panel detail{.id = "detail",
                     .title = "Detail: arrived " + TickLabel(kDetailMinX) + "\u2013" +
                              TickLabel(kMaxX) + " %, allocated " + TickLabel(detail_min_y) +
                              "\u2013" + TickLabel(kMaxY) + " %",
                     .left = kDetailLeft,
                     .top = kPanelTop,
                     .width = kPanelW,
                     .height = kPanelH,
                     .x_min = kDetailMinX,
                     .x_max = kMaxX,
                     .y_min = detail_min_y,
                     .y_max = kMaxY,
                     .x_step = 5,
                     .y_step = TickStep(kMaxY - detail_min_y)};
  const std::array<const Panel*, 2> panels = {&full, &detail};

  // Legend below the panels, in as many equal columns as fit; the column width is estimated from
  // the longest label (about 7 units per character at font size 12).
  const std::string diagonal_label = "y = x (all arrived allocated)";
  size_t longest = DisplayWidth(diagonal_label);
  for (const std::string& label : labels) {
    longest = std::max(longest, DisplayWidth(label));
  }
  const double legend_w_max = kCanvasW - 2 * kFullLeft;
  const double column_w = std::min(legend_w_max, 60 + 7 * static_cast<double>(longest));
  const size_t entries = labels.size() + 1;
  const size_t columns = std::clamp<size_t>(static_cast<size_t>(legend_w_max / column_w), 1,
                                            std::max<size_t>(1, entries));
  const size_t rows = (entries + columns - 1) / columns;
  const double legend_w = column_w * static_cast<double>(columns);
  const double legend_h = kLegendRowH * static_cast<double>(rows) + 12;
  const double legend_x = (kCanvasW - legend_w) / 2;
  const double canvas_h = kLegendTop + legend_h + 16;

  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kCanvasW
      << "\" height=\"" << canvas_h << "\" viewBox=\"0 0 " << kCanvasW << ' ' << canvas_h
      << "\" font-family=\"sans-serif\">\n";
  out << "  <defs>\n";
  for (const Panel* p : panels) {
    WriteClipPath(*p, out);
  }
  out << "  </defs>\n";
  out << "  <rect x=\"0\" y=\"0\" width=\"" << kCanvasW << "\" height=\"" << canvas_h
      << "\" fill=\"#fff\"/>\n";
  out << "  <text x=\"" << Coord(kCanvasW / 2)
      << "\" y=\"28\" font-size=\"16\" font-weight=\"bold\" text-anchor=\"middle\">"
      << "GPU allocation vs. arrived GPU request</text>\n";
  for (const Panel* p : panels) {
    WritePanelFrame(*p, out);
  }
  // Where the detail panel sits within the full view.
  out << "  <rect x=\"" << Coord(full.X(detail.x_min)) << "\" y=\"" << Coord(full.Y(detail.y_max))
      << "\" width=\"" << Coord(full.X(detail.x_max) - full.X(detail.x_min)) << "\" height=\""
      << Coord(full.Y(detail.y_min) - full.Y(detail.y_max))
      << "\" fill=\"none\" stroke=\"#555\" stroke-width=\"1\"/>\n";
  for (const Panel* p : panels) {
    for (size_t g = 0; g < groups.size(); ++g) {
      // A policy without data draws nothing; the legend still lists it.
      WritePanelCurve(*p, curves[g], kColors[g % kColors.size()], results[groups[g].front()].policy,
                      out);
    }
  }

  out << "  <rect x=\"" << Coord(legend_x) << "\" y=\"" << Coord(kLegendTop) << "\" width=\""
      << Coord(legend_w) << "\" height=\"" << Coord(legend_h)
      << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  auto legend_entry = [&](size_t index, const char* stroke, const char* extra,
                          const std::string& label) {
    const size_t row = index / columns, column = index % columns;
    const double x = legend_x + column_w * static_cast<double>(column);
    const double y = kLegendTop + 15 + kLegendRowH * static_cast<double>(row);
    Line(out, x + 10, y, x + 38, y, stroke, 2, extra);
    out << "  <text x=\"" << Coord(x + 46) << "\" y=\"" << Coord(y + 4) << "\" font-size=\"12\">"
        << XmlEscape(label) << "</text>\n";
  };
  for (size_t g = 0; g < groups.size(); ++g) {
    legend_entry(g, kColors[g % kColors.size()], "", labels[g]);
  }
  legend_entry(groups.size(), "#888", kDiagonalDash, diagonal_label);
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
