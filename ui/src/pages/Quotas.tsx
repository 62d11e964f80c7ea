// Quotas: per namespace and HAMi resource, the limit and what is in use.
import type { Quota } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Loading, PageStatus, PageTitle, StackedBar } from "../components";
import { pct } from "../format";

export function Quotas() {
  const poll = usePoll<{ quotas: Quota[] }>("api/v1/quotas");
  const q = poll.data?.quotas;
  let body;
  if (!q) {
    body = poll.error ? <Failed what="quotas" error={poll.error} /> : <Loading what="quotas" />;
  } else if (q.length === 0) {
    body = (
      <Empty testid="quotas-empty">
        No quotas: no ResourceQuota in the cluster limits a HAMi resource (for example
        limits.nvidia.com/gpumem), so every namespace may use what fits.
      </Empty>
    );
  } else {
    body = (
      <div class="table-wrap" tabIndex={0} aria-label="Quotas table">
        <table data-testid="quotas-table">
          <thead>
            <tr>
              <th scope="col">Namespace</th>
              <th scope="col">Resource</th>
              <th scope="col" class="num">Used</th>
              <th scope="col" class="num">Limit</th>
              <th scope="col">Share used</th>
            </tr>
          </thead>
          <tbody>
            {q.map((r) => (
              <tr key={`${r.namespace}/${r.resource}`} data-testid={`quota-row-${r.namespace}-${r.resource}`}>
                <th scope="row">{r.namespace}</th>
                <td>
                  <code>{r.resource}</code>
                </td>
                <td class="num" data-testid="quota-used" data-value={r.used}>{r.used}</td>
                <td class="num" data-testid="quota-limit" data-value={r.limit}>{r.limit}</td>
                <td class="cell-bar">
                  {Math.round(pct(r.used, r.limit))}%
                  <StackedBar
                    label={`${r.namespace} ${r.resource}: ${r.used} of ${r.limit} used`}
                    total={r.limit}
                    segments={[{ key: "u", label: "used", value: r.used, color: r.used >= r.limit ? "#e15759" : "#4e79a7" }]}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <>
      <PageTitle>Quotas</PageTitle>
      <PageStatus poll={poll} />
      {body}
    </>
  );
}
