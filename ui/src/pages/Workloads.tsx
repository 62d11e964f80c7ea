// Workloads: pods HAMi allocated devices to, and pods whose last /filter found no node, filtered
// through the API's query parameters (namespace, state, vendor). Filters live in the URL hash.
import { useEffect, useState } from "preact/hooks";
import type { PodRow } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Loading, PageStatus, PageTitle } from "../components";
import { fmtAgo, fmtCores, fmtMiB, fmtTime } from "../format";
import { href } from "../router";

const kLimit = 500;

export function Workloads(props: { query: URLSearchParams }) {
  const namespace = props.query.get("namespace") ?? "";
  const state = props.query.get("state") ?? "";
  const vendor = props.query.get("vendor") ?? "";
  const [ns, setNs] = useState(namespace);
  const [vd, setVd] = useState(vendor);
  useEffect(() => setNs(namespace), [namespace]);
  useEffect(() => setVd(vendor), [vendor]);
  const q = new URLSearchParams();
  if (namespace) q.set("namespace", namespace);
  if (state) q.set("state", state);
  if (vendor) q.set("vendor", vendor);
  q.set("limit", String(kLimit));
  const poll = usePoll<{ pods: PodRow[]; truncated: boolean }>(`api/v1/pods?${q.toString()}`);
  const go = (next: { namespace?: string; state?: string; vendor?: string }) => {
    location.hash = href(["workloads"], { namespace, state, vendor, ...next });
  };
  const pods = poll.data?.pods;
  const filtered = Boolean(namespace || state || vendor);
  let body;
  if (!pods) {
    body = poll.error ? <Failed what="pods" error={poll.error} /> : <Loading what="pods" />;
  } else if (pods.length === 0) {
    body = filtered ? (
      <Empty testid="pods-no-match">
        No pod matches these filters.{" "}
        <a href={href(["workloads"])}>Clear the filters</a>.
      </Empty>
    ) : (
      <Empty testid="pods-empty">
        No pods yet: none has been given devices by HAMi and no /filter call has left a pod pending.
        Pods appear here once they request HAMi resources (for example nvidia.com/gpu) and use the
        HAMi scheduler.
      </Empty>
    );
  } else {
    const now = Date.now();
    body = (
      <>
        {poll.data!.truncated ? (
          <p class="banner banner-info" data-testid="pods-truncated">
            Showing the first {pods.length} pods; narrow the filters to see the others.
          </p>
        ) : null}
        <div class="table-wrap" tabIndex={0} aria-label="Pods table, scrolls horizontally">
          <table data-testid="pods-table">
            <caption class="sr-only">Pods</caption>
            <thead>
              <tr>
                <th scope="col">Pod</th>
                <th scope="col">State</th>
                <th scope="col">Node</th>
                <th scope="col">Vendor</th>
                <th scope="col">Devices</th>
                <th scope="col">Decided</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {pods.map((p) => (
                <tr key={p.uid || `${p.namespace}/${p.name}`} data-testid={`pod-row-${p.namespace}/${p.name}`}>
                  <th scope="row">
                    <a href={href(["pods", p.namespace, p.name])}>
                      <span class="muted">{p.namespace}/</span>
                      {p.name}
                    </a>
                  </th>
                  <td data-testid="pod-state" data-value={p.state}>
                    <span class={`badge ${p.state === "pending" ? "badge-warn" : "badge-ok"}`}>{p.state}</span>
                  </td>
                  <td>{p.node ? <a href={href(["nodes", p.node])}>{p.node}</a> : "–"}</td>
                  <td>{p.vendor || "–"}</td>
                  <td data-testid="pod-devices" data-value={p.devices.length}>
                    {p.devices.length === 0 ? (
                      "–"
                    ) : (
                      <ul class="plain">
                        {p.devices.map((d, i) => (
                          <li key={i}>
                            c{d.container}: {fmtMiB(d.memoryMiB)}, {fmtCores(d.cores)}{" "}
                            <span class="muted uuid-short" title={d.uuid}>{d.uuid}</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>{p.decidedAt !== null ? <time title={fmtTime(p.decidedAt)}>{fmtAgo(p.decidedAt, now)}</time> : "–"}</td>
                  <td>
                    {p.state === "pending" ? (
                      <a href={href(["pods", p.namespace, p.name])} data-testid="pod-diagnose">
                        {p.reason || "Why is it pending?"}
                      </a>
                    ) : (
                      p.reason ?? ""
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </>
    );
  }
  return (
    <>
      <PageTitle>Workloads</PageTitle>
      <PageStatus poll={poll} />
      <form
        class="toolbar filters"
        aria-label="Filter pods"
        onSubmit={(e) => {
          e.preventDefault();
          go({ namespace: ns.trim(), vendor: vd.trim() });
        }}
      >
        <label>
          Namespace
          <input data-testid="filter-namespace" value={ns} onInput={(e) => setNs((e.currentTarget as HTMLInputElement).value)} placeholder="all" />
        </label>
        <label>
          State
          <select data-testid="filter-state" value={state} onChange={(e) => go({ state: (e.currentTarget as HTMLSelectElement).value, namespace: ns.trim(), vendor: vd.trim() })}>
            <option value="">all</option>
            <option value="allocated">allocated</option>
            <option value="pending">pending</option>
          </select>
        </label>
        <label>
          Vendor
          <input data-testid="filter-vendor" value={vd} onInput={(e) => setVd((e.currentTarget as HTMLInputElement).value)} placeholder="all, e.g. NVIDIA" />
        </label>
        <button type="submit" data-testid="filter-apply">Apply</button>
        {filtered ? (
          <a href={href(["workloads"])} class="button-link">
            Clear
          </a>
        ) : null}
      </form>
      {body}
    </>
  );
}
