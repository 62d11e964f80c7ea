// Hash routing ("#/nodes/node-1?x=y"): the server only ever serves "/", so the page works under
// any sub-path without server-side rewrites.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  parts: string[]; // decoded path segments: ["nodes", "node-1"]
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, "");
  const [path, q = ""] = h.split("?", 2);
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(q) };
}

// "#/a/b?k=v" from segments (each encoded) and optional query values (empty ones dropped).
export function href(parts: string[], query?: Record<string, string>): string {
  let h = "#/" + parts.map(encodeURIComponent).join("/");
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
    const s = q.toString();
    if (s) h += "?" + s;
  }
  return h;
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parseHash(hash);
}
