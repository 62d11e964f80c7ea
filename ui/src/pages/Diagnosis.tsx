// Why is a pod pending: the last /filter decision kept for it, per node the reasons in plain
// words with the annotation or request to change, and a one-sentence summary on top.
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { Diagnosis as DiagnosisT } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Loading, PageStatus, PageTitle } from "../components";
import { fmtAgo, fmtMiB, fmtTime } from "../format";
import { href } from "../router";

const kNodesShown = 50;

export function Diagnosis(props: { namespace: string; name: string }) {
  const { namespace, name } = props;
  const poll = usePoll<DiagnosisT>(
    `api/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/diagnosis`,
  );
  const [showAll, setShowAll] = useState(false);
  const d = poll.data;
  let body;
  if (poll.error?.status === 404) {
    body = (
      <Empty testid="diagnosis-not-found">
        The scheduler has never seen pod {namespace}/{name}: it holds no allocation for it and none of
        its last /filter decisions was for this pod. Check that the pod uses the HAMi scheduler
        (schedulerName) and requests HAMi resources, or that it was created recently enough.
      </Empty>
    );
  } else if (!d) {
    body = poll.error ? <Failed what="the diagnosis" error={poll.error} /> : <Loading what="the diagnosis" />;
  } else {
    const lf = d.lastFilter;
    // How many nodes gave each reason, most common first.
    const totals = new Map<string, { nodes: number; text: string }>();
    for (const n of lf?.nodes ?? [])
      for (const r of n.reasons) {
        const t = totals.get(r.code) ?? { nodes: 0, text: r.text };
        t.nodes++;
        totals.set(r.code, t);
      }
    const nodes = lf ? (showAll ? lf.nodes : lf.nodes.slice(0, kNodesShown)) : [];
    body = (
      <>
        <p class="summary" data-testid="diagnosis-summary">
          {d.summary}
        </p>
        <p>
          State:{" "}
          <span data-testid="diagnosis-state" data-value={d.state} class={`badge ${d.state === "pending" ? "badge-warn" : "badge-ok"}`}>
            {d.state}
          </span>
        </p>
        <section aria-labelledby="req-h">
          <h2 id="req-h">What the pod asks for</h2>
          {d.request.length === 0 ? (
            <Empty testid="request-empty">The pod requests no HAMi-managed device.</Empty>
          ) : (
            <div class="table-wrap" tabIndex={0} aria-label="Requests table">
              <table data-testid="request-table">
                <thead>
                  <tr>
                    <th scope="col">Container</th>
                    <th scope="col">Vendor</th>
                    <th scope="col" class="num">Devices</th>
                    <th scope="col" class="num">Memory each</th>
                    <th scope="col" class="num">Cores each</th>
                  </tr>
                </thead>
                <tbody>
                  {d.request.map((r, i) => (
                    <tr key={i} data-testid={`request-row-${r.container}-${r.vendor}`}>
                      <th scope="row">{r.container}</th>
                      <td>{r.vendor}</td>
                      <td class="num">{r.count}</td>
                      <td class="num">
                        {r.memoryMiB > 0 ? fmtMiB(r.memoryMiB) : r.memoryPercent > 0 ? `${r.memoryPercent}% of a device` : "any"}
                      </td>
                      <td class="num">{r.cores > 0 ? `${r.cores}%` : "any"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section aria-labelledby="filter-h">
          <h2 id="filter-h">Last scheduling attempt</h2>
          {!lf ? (
            <Empty testid="diagnosis-no-filter">
              No /filter decision is kept for this pod: kube-scheduler has not asked HAMi about it yet,
              or the decision fell out of the last decisions kept in memory (--ui-decisions).
            </Empty>
          ) : (
            <>
              <p data-testid="diagnosis-last-filter">
                <time title={fmtTime(lf.at)}>{fmtAgo(lf.at)}</time>, {lf.nodesEvaluated} node
                {lf.nodesEvaluated === 1 ? "" : "s"} evaluated,{" "}
                {lf.feasibleNodes.length === 0 ? (
                  <strong data-testid="diagnosis-feasible" data-value="">none fits</strong>
                ) : (
                  <span data-testid="diagnosis-feasible" data-value={lf.feasibleNodes.join(",")}>
                    fits on{" "}
                    {lf.feasibleNodes.map((n, i) => (
                      <Fragment key={n}>
                        {i ? ", " : ""}
                        <a href={href(["nodes", n])}>{n}</a>
                      </Fragment>
                    ))}
                  </span>
                )}
                .
              </p>
              {lf.error ? (
                <p class="banner banner-warn" data-testid="diagnosis-error">
                  {lf.error}
                </p>
              ) : null}
              {totals.size > 0 ? (
                <>
                  <h3>Reasons across nodes</h3>
                  <ul class="plain totals" data-testid="diagnosis-totals">
                    {[...totals.entries()]
                      .sort((a, b) => b[1].nodes - a[1].nodes)
                      .map(([code, t]) => (
                        <li key={code} data-testid={`diagnosis-total-${code}`} data-value={t.nodes}>
                          <code>{code}</code> on {t.nodes} node{t.nodes === 1 ? "" : "s"}
                        </li>
                      ))}
                  </ul>
                </>
              ) : null}
              {lf.nodes.length === 0 ? (
                <Empty testid="diagnosis-no-reasons">No node reported a reason.</Empty>
              ) : (
                <>
                  <h3>Per node</h3>
                  <ul class="plain node-reasons">
                    {nodes.map((n) => (
                      <li key={n.node} data-testid={`diagnosis-node-${n.node}`}>
                        <h4>
                          <a href={href(["nodes", n.node])}>{n.node}</a>
                        </h4>
                        <ul>
                          {n.reasons.map((r) => (
                            <li key={r.code} data-testid={`diagnosis-reason-${n.node}-${r.code}`}>
                              <p>
                                {r.text}
                                {r.count > 1 ? <span class="muted"> ({r.count} devices)</span> : null}{" "}
                                <code class="muted">{r.code}</code>
                              </p>
                              {r.hint ? (
                                <p class="hint" data-testid="diagnosis-hint">
                                  <strong>What to change:</strong> {r.hint}
                                </p>
                              ) : null}
                            </li>
                          ))}
                        </ul>
                      </li>
                    ))}
                  </ul>
                  {!showAll && lf.nodes.length > kNodesShown ? (
                    <button type="button" onClick={() => setShowAll(true)} data-testid="diagnosis-show-all">
                      Show all {lf.nodes.length} nodes
                    </button>
                  ) : null}
                </>
              )}
            </>
          )}
        </section>
      </>
    );
  }
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(["workloads"])}>Workloads</a> / <span aria-current="page">{namespace}/{name}</span>
      </nav>
      <PageTitle>
        Pod {namespace}/{name}
      </PageTitle>
      <PageStatus poll={poll} />
      {body}
    </>
  );
}
