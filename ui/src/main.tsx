// HAMi web UI: layout (skip link, header navigation, main landmark) and the hash router.
import { render } from "preact";
import { useEffect, useRef } from "preact/hooks";
import "./app.css";
import { Empty, PageTitle } from "./components";
import { Diagnosis } from "./pages/Diagnosis";
import { NodeDetail } from "./pages/NodeDetail";
import { Nodes } from "./pages/Nodes";
import { Overview } from "./pages/Overview";
import { Quotas } from "./pages/Quotas";
import { Workloads } from "./pages/Workloads";
import { href, useRoute } from "./router";
import type { Route } from "./router";

const kNav: { id: string; label: string; parts: string[] }[] = [
  { id: "overview", label: "Overview", parts: [] },
  { id: "nodes", label: "Nodes", parts: ["nodes"] },
  { id: "workloads", label: "Workloads", parts: ["workloads"] },
  { id: "quotas", label: "Quotas", parts: ["quotas"] },
];

function section(r: Route): string {
  const p = r.parts[0];
  if (!p) return "overview";
  if (p === "pods") return "workloads";
  return p;
}

function Page(props: { r: Route }) {
  const { parts, query } = props.r;
  if (parts.length === 0) return <Overview />;
  if (parts[0] === "nodes" && parts.length === 1) return <Nodes />;
  if (parts[0] === "nodes" && parts.length === 2) return <NodeDetail key={parts[1]} name={parts[1]} />;
  if (parts[0] === "workloads" && parts.length === 1) return <Workloads query={query} />;
  if (parts[0] === "pods" && parts.length === 3)
    return <Diagnosis key={`${parts[1]}/${parts[2]}`} namespace={parts[1]} name={parts[2]} />;
  if (parts[0] === "quotas" && parts.length === 1) return <Quotas />;
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <Empty testid="route-not-found">
        There is no page at “#/{parts.join("/")}”. <a href={href([])}>Go to the overview</a>.
      </Empty>
    </>
  );
}

function App() {
  const r = useRoute();
  const path = r.parts.join("/");
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // On navigation (not on first load), move focus to the new page's heading.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("page-title")?.focus();
  }, [path]);
  const current = section(r);
  const titles: Record<string, string> = { overview: "Overview", nodes: "Nodes", workloads: "Workloads", quotas: "Quotas" };
  useEffect(() => {
    document.title = `${titles[current] ?? "HAMi"} · HAMi`;
  }, [current]);
  return (
    <>
      <a
        class="skip"
        href="#main"
        data-testid="skip-link"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href([])}>
          HAMi
        </a>
        <nav aria-label="Main">
          <ul>
            {kNav.map((n) => (
              <li key={n.id}>
                <a href={href(n.parts)} data-testid={`nav-${n.id}`} aria-current={current === n.id ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page r={r} />
      </main>
    </>
  );
}

// Under `npm run dev`, preact/debug reports mistakes (missing keys, bad hook use) in the console;
// the production build drops it.
const debug = import.meta.env.DEV ? import("preact/debug") : Promise.resolve();
void debug.then(() => {
  const root = document.getElementById("app");
  if (root) {
    root.textContent = "";
    render(<App />, root);
  }
});
