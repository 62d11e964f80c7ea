// Building blocks shared by the pages: bars with legends, page status (last updated, error
// banner), loading / empty / error states and sortable table headers.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { ApiError, Poll } from "./api";
import { kPollMs } from "./api";
import { pct } from "./format";

export interface Segment {
  key: string;
  label: string;
  value: number;
  color: string;
}

// A horizontal bar of `total` split into segments; the rest is free. `marker` draws a line at a
// value (e.g. memory actually used). The whole bar is one image for screen readers.
export function StackedBar(props: {
  label: string;
  total: number;
  segments: Segment[];
  marker?: { value: number; label: string } | null;
  testid?: string;
}) {
  const { total, segments, marker } = props;
  return (
    <div class="bar" role="img" aria-label={props.label} title={props.label} data-testid={props.testid}>
      {segments.map((s) => (
        <span
          key={s.key}
          class="bar-seg"
          style={{ width: `${pct(s.value, total)}%`, background: s.color }}
        />
      ))}
      {marker ? <span class="bar-marker" style={{ left: `${pct(marker.value, total)}%` }} /> : null}
    </div>
  );
}

export function Legend(props: { items: { key: string; color: string; label: ComponentChildren }[] }) {
  if (props.items.length === 0) return null;
  return (
    <ul class="legend">
      {props.items.map((i) => (
        <li key={i.key}>
          <span class="swatch" style={{ background: i.color }} aria-hidden="true" />
          {i.label}
        </li>
      ))}
    </ul>
  );
}

// Ticks every second so "updated 3 s ago" stays true between polls.
function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), periodMs);
    return () => window.clearInterval(t);
  }, [periodMs]);
  return now;
}

export function errorText(e: ApiError): string {
  return e.status === 0 ? e.message : `${e.message} (HTTP ${e.status})`;
}

// "Last updated" line and, while the latest poll failed, an error banner (the page keeps showing
// the last data it had).
export function PageStatus<T>(props: { poll: Poll<T> }) {
  const { poll } = props;
  const now = useNow();
  const stale = poll.error && poll.error.status !== 404;
  return (
    <>
      {stale ? (
        <div class="banner banner-error" role="alert" data-testid="error-banner">
          <strong>Cannot reach the HAMi scheduler API:</strong> {errorText(poll.error!)}.{" "}
          {poll.data ? "Showing the last data received; " : ""}retrying every {kPollMs / 1000} s.
        </div>
      ) : null}
      <p class="updated" data-testid="last-updated" aria-live="polite">
        {poll.updatedAt
          ? `Last updated ${Math.max(0, Math.round((now - poll.updatedAt) / 1000))} s ago · refreshes every ${kPollMs / 1000} s`
          : poll.loading
            ? "Loading…"
            : "Not updated yet"}
      </p>
    </>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p class="state state-loading" data-testid="loading" role="status">
      Loading {props.what}…
    </p>
  );
}

export function Empty(props: { testid?: string; children: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid={props.testid ?? "empty"}>
      {props.children}
    </div>
  );
}

export function Failed(props: { what: string; error: ApiError }) {
  return (
    <div class="state state-failed" data-testid="load-failed">
      Could not load {props.what}: {errorText(props.error)}.
    </div>
  );
}

export type SortDir = "asc" | "desc";
export interface Sort<K extends string> {
  key: K;
  dir: SortDir;
}

// A column header that sorts the table when activated (a real button; aria-sort on the th).
export function SortTh<K extends string>(props: {
  k: K;
  sort: Sort<K>;
  onSort: (s: Sort<K>) => void;
  children: ComponentChildren;
  num?: boolean;
}) {
  const active = props.sort.key === props.k;
  const next: SortDir = active && props.sort.dir === "asc" ? "desc" : "asc";
  return (
    <th
      scope="col"
      class={props.num ? "num" : undefined}
      aria-sort={active ? (props.sort.dir === "asc" ? "ascending" : "descending") : "none"}
    >
      <button type="button" class="sort" onClick={() => props.onSort({ key: props.k, dir: next })}>
        {props.children}
        <span aria-hidden="true" class="sort-ind">
          {active ? (props.sort.dir === "asc" ? "▲" : "▼") : "↕"}
        </span>
      </button>
    </th>
  );
}

export function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// Keyboard focus goes to the page's h1 when the route changes, so screen readers announce it.
export function PageTitle(props: { children: ComponentChildren; testid?: string }) {
  return (
    <h1 tabIndex={-1} id="page-title" data-testid={props.testid ?? "page-title"}>
      {props.children}
    </h1>
  );
}
