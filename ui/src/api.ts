// Types of hami-scheduler's UI JSON API v1 (docs/web-ui.md) and the polling hook every page uses.
// Units: memory in MiB, cores in percent of one device (100 = whole), times in Unix seconds.
// All URLs are relative ("api/v1/..."), so the page works under any sub-path.
import { useEffect, useState } from "preact/hooks";

export interface Group {
  vendor: string;
  type: string;
  devices: number;
  memoryMiB: number;
  memoryAllocatedMiB: number;
  memoryUsedMiB: number | null;
  cores: number;
  coresAllocated: number;
  tasks: number;
}
export interface Fit {
  label: string;
  count: number;
  memoryMiB: number;
  cores: number;
  pods: number;
}
export interface Summary {
  version: string;
  generatedAt: number;
  synced: boolean;
  leader: boolean;
  prometheus: { configured: boolean; ok: boolean; error?: string };
  groups: Group[];
  fragmentation: { devicesIdle: number; devicesPartial: number; devicesFull: number; fits: Fit[] };
  pods: { allocated: number; pending: number };
}
export interface NodeRow {
  name: string;
  vendors: string[];
  devices: number;
  memoryMiB: number;
  memoryAllocatedMiB: number;
  coresAllocated: number;
  cores: number;
  tasks: number;
  pods: number;
  locked: boolean;
  unhealthyDevices: number;
}
export interface DevicePod {
  namespace: string;
  name: string;
  uid: string;
  container: number;
  memoryMiB: number;
  cores: number;
  migProfile?: string;
}
export interface Device {
  uuid: string;
  index: number;
  vendor: string;
  type: string;
  mode: string;
  health: boolean;
  numa: number;
  memoryMiB: number;
  memoryAllocatedMiB: number;
  cores: number;
  coresAllocated: number;
  split: number;
  tasks: number;
  usage: { memoryUsedMiB: number; smUtil: number } | null;
  pods: DevicePod[];
}
export interface NodeDetail {
  name: string;
  devices: Device[];
}
export interface PodRow {
  namespace: string;
  name: string;
  uid: string;
  node: string | null;
  state: "allocated" | "pending";
  vendor: string;
  decidedAt: number | null;
  devices: { container: number; uuid: string; memoryMiB: number; cores: number }[];
  reason?: string;
}
export interface Reason {
  code: string;
  count: number;
  text: string;
  hint: string;
}
export interface Diagnosis {
  namespace: string;
  name: string;
  uid: string;
  state: string;
  lastFilter: {
    at: number;
    nodesEvaluated: number;
    feasibleNodes: string[];
    error?: string;
    nodes: { node: string; reasons: Reason[] }[];
  } | null;
  request: { container: number; vendor: string; count: number; memoryMiB: number; memoryPercent: number; cores: number }[];
  summary: string;
}
export interface Quota {
  namespace: string;
  resource: string;
  limit: number;
  used: number;
}
export interface Usage {
  available: boolean;
  reason?: string;
  series: { name: string; points: [number, number][] }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// GET a JSON document; throws ApiError (status 0 when the server could not be reached, with the
// API's {"error": ...} text otherwise).
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, signal, cache: "no-store" });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, "the scheduler did not answer (network error)");
  }
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const msg =
      body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string"
        ? (body as { error: string }).error
        : `HTTP ${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, msg);
  }
  if (body === undefined) throw new ApiError(res.status, "the scheduler sent no JSON");
  return body as T;
}

export const kPollMs = 5000;

export interface Poll<T> {
  data?: T;
  error?: ApiError;
  loading: boolean; // true until the first answer (data or error) for this URL
  updatedAt?: number; // Date.now() of the last successful answer
}

// Fetches `url` now and every kPollMs while the tab is visible; keeps the last good data when a
// later poll fails (the page shows it with an error banner). A new URL starts over.
export function usePoll<T>(url: string | null, intervalMs: number = kPollMs): Poll<T> {
  const [state, setState] = useState<Poll<T>>({ loading: url !== null });
  useEffect(() => {
    if (url === null) return;
    let cancelled = false;
    let timer: number | undefined;
    let ctrl: AbortController | undefined;
    setState({ loading: true });
    const tick = async () => {
      timer = undefined;
      if (!document.hidden) {
        ctrl = new AbortController();
        try {
          const data = await getJson<T>(url, ctrl.signal);
          if (!cancelled) setState({ data, loading: false, updatedAt: Date.now() });
        } catch (e) {
          if (cancelled) return;
          const err = e instanceof ApiError ? e : new ApiError(0, String(e));
          setState((s) => ({ ...s, loading: false, error: err }));
        }
      }
      if (!cancelled) timer = window.setTimeout(tick, intervalMs);
    };
    const onVisible = () => {
      if (!document.hidden && timer !== undefined) {
        window.clearTimeout(timer);
        void tick();
      }
    };
    document.addEventListener("visibilitychange", onVisible);
    void tick();
    return () => {
      cancelled = true;
      if (timer !== undefined) window.clearTimeout(timer);
      ctrl?.abort();
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [url, intervalMs]);
  return state;
}
