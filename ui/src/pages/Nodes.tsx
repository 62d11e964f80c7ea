// Nodes: a sortable, filterable table of every node in the scheduler's ledger.
import { useState } from "preact/hooks";
import type { NodeRow } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Loading, PageStatus, PageTitle, SortTh, StackedBar, compare } from "../components";
import type { Sort } from "../components";
import { fmtCores, fmtMiB } from "../format";
import { href } from "../router";

type Key = "name" | "vendors" | "devices" | "memory" | "cores" | "tasks" | "pods" | "unhealthyDevices";

function sortValue(n: NodeRow, k: Key): number | string {
  switch (k) {
    case "name":
      return n.name;
    case "vendors":
      return n.vendors.join(",");
    case "memory":
      return n.memoryMiB > 0 ? n.memoryAllocatedMiB / n.memoryMiB : 0;
    case "cores":
      return n.cores > 0 ? n.coresAllocated / n.cores : 0;
    default:
      return n[k];
  }
}

export function Nodes() {
  const poll = usePoll<{ nodes: NodeRow[] }>("api/v1/nodes");
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<Sort<Key>>({ key: "name", dir: "asc" });
  const all = poll.data?.nodes;
  let body;
  if (!all) {
    body = poll.error ? <Failed what="nodes" error={poll.error} /> : <Loading what="nodes" />;
  } else if (all.length === 0) {
    body = (
      <Empty testid="nodes-empty">
        No nodes with accelerators are registered. A node is listed once hami-device-plugin on it has
        written its device registration annotation (hami.io/node-nvidia-register or the vendor's
        equivalent); check that the device plugin DaemonSet runs there.
      </Empty>
    );
  } else {
    const f = filter.trim().toLowerCase();
    const rows = all
      .filter((n) => !f || n.name.toLowerCase().includes(f) || n.vendors.some((v) => v.toLowerCase().includes(f)))
      .sort((a, b) => {
        const c = compare(sortValue(a, sort.key), sortValue(b, sort.key));
        return (sort.dir === "asc" ? c : -c) || a.name.localeCompare(b.name);
      });
    body =
      rows.length === 0 ? (
        <Empty testid="nodes-no-match">No node name or vendor contains “{filter}”.</Empty>
      ) : (
        <div class="table-wrap" tabIndex={0} aria-label="Nodes table, scrolls horizontally">
          <table data-testid="nodes-table">
            <caption class="sr-only">Nodes, sortable by column</caption>
            <thead>
              <tr>
                <SortTh k="name" sort={sort} onSort={setSort}>Node</SortTh>
                <SortTh k="vendors" sort={sort} onSort={setSort}>Vendors</SortTh>
                <SortTh k="devices" sort={sort} onSort={setSort} num>Devices</SortTh>
                <SortTh k="memory" sort={sort} onSort={setSort}>Memory allocated</SortTh>
                <SortTh k="cores" sort={sort} onSort={setSort}>Cores allocated</SortTh>
                <SortTh k="tasks" sort={sort} onSort={setSort} num>Tasks</SortTh>
                <SortTh k="pods" sort={sort} onSort={setSort} num>Pods</SortTh>
                <SortTh k="unhealthyDevices" sort={sort} onSort={setSort} num>Unhealthy</SortTh>
                <th scope="col">Lock</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((n) => (
                <tr key={n.name} data-testid={`node-row-${n.name}`}>
                  <th scope="row">
                    <a href={href(["nodes", n.name])}>{n.name}</a>
                  </th>
                  <td>{n.vendors.join(", ") || "–"}</td>
                  <td class="num" data-testid="node-devices" data-value={n.devices}>{n.devices}</td>
                  <td class="cell-bar">
                    <span data-testid="node-memory" data-value={`${n.memoryAllocatedMiB}/${n.memoryMiB}`}>
                      {fmtMiB(n.memoryAllocatedMiB)} / {fmtMiB(n.memoryMiB)}
                    </span>
                    <StackedBar
                      label={`${n.name} memory: ${n.memoryAllocatedMiB} of ${n.memoryMiB} MiB allocated`}
                      total={n.memoryMiB}
                      segments={[{ key: "m", label: "allocated", value: n.memoryAllocatedMiB, color: "#4e79a7" }]}
                    />
                  </td>
                  <td class="cell-bar">
                    <span data-testid="node-cores" data-value={`${n.coresAllocated}/${n.cores}`}>
                      {fmtCores(n.coresAllocated)} / {fmtCores(n.cores)}
                    </span>
                    <StackedBar
                      label={`${n.name} cores: ${n.coresAllocated} of ${n.cores} percent allocated`}
                      total={n.cores}
                      segments={[{ key: "c", label: "allocated", value: n.coresAllocated, color: "#59a14f" }]}
                    />
                  </td>
                  <td class="num" data-testid="node-tasks" data-value={n.tasks}>{n.tasks}</td>
                  <td class="num" data-testid="node-pods" data-value={n.pods}>{n.pods}</td>
                  <td class="num" data-testid="node-unhealthy" data-value={n.unhealthyDevices}>
                    {n.unhealthyDevices > 0 ? <span class="badge badge-bad">{n.unhealthyDevices}</span> : "0"}
                  </td>
                  <td data-testid="node-locked" data-value={String(n.locked)}>
                    {n.locked ? <span class="badge badge-warn" title="hami.io/mutex.lock is held: a bind is in progress">locked</span> : "–"}
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
      <PageTitle>Nodes</PageTitle>
      <PageStatus poll={poll} />
      <div class="toolbar">
        <label for="node-filter">Filter by name or vendor</label>
        <input
          id="node-filter"
          type="search"
          data-testid="nodes-filter"
          value={filter}
          onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)}
          placeholder="e.g. node-1 or NVIDIA"
        />
        {all ? (
          <span class="count" data-testid="nodes-count" data-value={all.length}>
            {all.length} node{all.length === 1 ? "" : "s"}
          </span>
        ) : null}
      </div>
      {body}
    </>
  );
}
