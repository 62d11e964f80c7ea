// Number and time formatting shared by the pages. Exact values stay available to tests and
// screen readers through data-value / aria-label; these strings are for people.

export function fmtMiB(mib: number): string {
  if (!Number.isFinite(mib)) return "–";
  if (Math.abs(mib) >= 1024) {
    const gib = mib / 1024;
    return `${gib >= 100 ? Math.round(gib) : Number(gib.toFixed(1))} GiB`;
  }
  return `${Math.round(mib)} MiB`;
}

export function fmtCores(percent: number): string {
  return `${Math.round(percent)}%`;
}

export function pct(part: number, whole: number): number {
  if (!(whole > 0)) return 0;
  return Math.max(0, Math.min(100, (part / whole) * 100));
}

export function fmtAgo(unixSeconds: number, nowMs: number = Date.now()): string {
  const s = Math.max(0, Math.round(nowMs / 1000 - unixSeconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// A stable colour per pod (by uid), so the same pod has the same colour on every card.
const kPalette = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d",
];
export function colorFor(key: string): string {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return kPalette[(h >>> 0) % kPalette.length];
}
