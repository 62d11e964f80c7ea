// Development mock of hami-scheduler's UI API (docs/web-ui.md, "JSON API v1"): `npm run dev` and
// `vite preview` answer api/v1/... from the JSON files in mock/data/, so the pages can be worked on
// without a cluster. It applies the query parameters and the 404s the contract specifies; it is
// never part of the build output.
import { readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin, Connect } from "vite";

const dataDir = join(dirname(fileURLToPath(import.meta.url)), "data");

function readJson(rel: string): unknown | undefined {
  const file = join(dataDir, rel);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8"));
}

function send(res: import("node:http").ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify(body));
}

interface MockPod {
  namespace: string;
  state: string;
  vendor: string;
}

const handler: Connect.NextHandleFunction = (req, res, next) => {
  const url = new URL(req.url ?? "/", "http://mock");
  const m = url.pathname.match(/\/api\/v1\/(.*)$/);
  if (!m) return next();
  if (req.method !== "GET") return send(res, 405, { error: "read-only: GET only" });
  const parts = m[1].split("/").map(decodeURIComponent);
  if (url.searchParams.get("mockDown") === "1") return send(res, 503, { error: "mock: down" });
  if (parts[0] === "summary" && parts.length === 1) {
    const s = readJson("summary.json") as Record<string, unknown>;
    return send(res, 200, { ...s, generatedAt: Math.floor(Date.now() / 1000) });
  }
  if (parts[0] === "nodes" && parts.length === 1) return send(res, 200, readJson("nodes.json"));
  if (parts[0] === "nodes" && parts.length === 2) {
    const n = readJson(`nodes/${parts[1].replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
    return n ? send(res, 200, n) : send(res, 404, { error: `node ${parts[1]} not found` });
  }
  if (parts[0] === "pods" && parts.length === 1) {
    const all = (readJson("pods.json") as { pods: MockPod[] }).pods;
    const ns = url.searchParams.get("namespace") || "";
    const state = url.searchParams.get("state") || "";
    const vendor = url.searchParams.get("vendor") || "";
    const limit = Number(url.searchParams.get("limit") || "0");
    if (state && state !== "allocated" && state !== "pending")
      return send(res, 400, { error: `state must be allocated or pending, not ${state}` });
    let pods = all.filter(
      (p) => (!ns || p.namespace === ns) && (!state || p.state === state) && (!vendor || p.vendor === vendor),
    );
    const truncated = limit > 0 && pods.length > limit;
    if (truncated) pods = pods.slice(0, limit);
    return send(res, 200, { pods, truncated });
  }
  if (parts[0] === "pods" && parts.length === 4 && parts[3] === "diagnosis") {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
    const d = readJson(`diagnosis/${safe(parts[1])}__${safe(parts[2])}.json`);
    return d ? send(res, 200, d) : send(res, 404, { error: `pod ${parts[1]}/${parts[2]} was never seen` });
  }
  if (parts[0] === "quotas" && parts.length === 1) return send(res, 200, readJson("quotas.json"));
  if (parts[0] === "usage" && parts.length === 1) {
    const now = Math.floor(Date.now() / 1000);
    const pts = (base: number, amp: number) =>
      Array.from({ length: 61 }, (_, i) => [now - (60 - i) * 60, Math.round(base + amp * Math.sin(i / 7))]);
    return send(res, 200, {
      available: true,
      series: [
        { name: "memoryMiB", points: pts(112640, 0) },
        { name: "memoryAllocatedMiB", points: pts(60000, 15000) },
        { name: "memoryUsedMiB", points: pts(30000, 10000) },
      ],
    });
  }
  return send(res, 404, { error: `no such API path: /api/v1/${m[1]}` });
};

export function mockApi(): Plugin {
  return {
    name: "hami-mock-api",
    configureServer(server) {
      server.middlewares.use(handler);
    },
    configurePreviewServer(server) {
      server.middlewares.use(handler);
    },
  };
}
