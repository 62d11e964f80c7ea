// Memory over time from api/v1/usage (Prometheus query_range), drawn as plain SVG polylines.
import type { Poll, Summary, Usage } from "../api";
import { Empty, Legend, Loading, errorText } from "../components";
import { fmtMiB } from "../format";

const kColors: Record<string, string> = {
  memoryMiB: "#9aa5b1",
  memoryAllocatedMiB: "#4e79a7",
  memoryUsedMiB: "#e15759",
};
const kNames: Record<string, string> = {
  memoryMiB: "capacity",
  memoryAllocatedMiB: "allocated",
  memoryUsedMiB: "used",
};

export function UsageChart(props: { poll: Poll<Usage>; prometheus: Summary["prometheus"] }) {
  const { poll, prometheus } = props;
  if (!prometheus.configured)
    return (
      <Empty testid="usage-unavailable">
        No usage history: connect Prometheus with <code>--ui-prometheus-url</code> to see memory
        allocated and used over time (and live usage per GPU).
      </Empty>
    );
  const u = poll.data;
  if (!u) {
    if (poll.error)
      return <Empty testid="usage-unavailable">Usage history could not be loaded: {errorText(poll.error)}.</Empty>;
    return <Loading what="usage history" />;
  }
  if (!u.available)
    return (
      <Empty testid="usage-unavailable">
        Usage history is not available: {u.reason ?? "Prometheus did not answer"}.
      </Empty>
    );
  const series = u.series.filter((s) => s.points.length > 0);
  if (series.length === 0)
    return (
      <Empty testid="usage-unavailable">
        Prometheus answered but has no samples of HAMi's metrics for the last hour yet (is it scraping
        hami-scheduler and hami-monitor?).
      </Empty>
    );
  let t0 = Infinity, t1 = -Infinity, vmax = 0;
  for (const s of series)
    for (const [t, v] of s.points) {
      t0 = Math.min(t0, t);
      t1 = Math.max(t1, t);
      vmax = Math.max(vmax, v);
    }
  if (t1 <= t0) t1 = t0 + 1;
  if (vmax <= 0) vmax = 1;
  const W = 640, H = 200, L = 56, R = 8, T = 8, B = 24;
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v: number) => T + (1 - v / vmax) * (H - T - B);
  const fmtClock = (t: number) => new Date(t * 1000).toISOString().slice(11, 16);
  const label = series
    .map((s) => `${kNames[s.name] ?? s.name} now ${fmtMiB(s.points[s.points.length - 1][1])}`)
    .join(", ");
  return (
    <figure class="chart" data-testid="usage-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Memory over the last hour: ${label}`}>
        <line x1={L} y1={y(0)} x2={W - R} y2={y(0)} class="axis" />
        <line x1={L} y1={y(vmax)} x2={W - R} y2={y(vmax)} class="grid" />
        <line x1={L} y1={y(vmax / 2)} x2={W - R} y2={y(vmax / 2)} class="grid" />
        <text x={L - 4} y={y(vmax) + 4} class="tick" text-anchor="end">{fmtMiB(vmax)}</text>
        <text x={L - 4} y={y(vmax / 2) + 4} class="tick" text-anchor="end">{fmtMiB(vmax / 2)}</text>
        <text x={L - 4} y={y(0) + 4} class="tick" text-anchor="end">0</text>
        <text x={L} y={H - 6} class="tick">{fmtClock(t0)}</text>
        <text x={W - R} y={H - 6} class="tick" text-anchor="end">{fmtClock(t1)} UTC</text>
        {series.map((s) => (
          <polyline
            key={s.name}
            fill="none"
            stroke={kColors[s.name] ?? "#76b7b2"}
            stroke-width="2"
            points={s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}
          />
        ))}
      </svg>
      <figcaption>
        <Legend
          items={series.map((s) => ({
            key: s.name,
            color: kColors[s.name] ?? "#76b7b2",
            label: `${kNames[s.name] ?? s.name} (now ${fmtMiB(s.points[s.points.length - 1][1])})`,
          }))}
        />
      </figcaption>
    </figure>
  );
}
