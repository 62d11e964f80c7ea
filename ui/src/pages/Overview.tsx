// Cluster overview: allocated vs capacity vs used per vendor and GPU type, fragmentation and
// "could still place" per common request size, and usage over time when Prometheus is there.
import type { Group, Summary, Usage } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Legend, Loading, PageStatus, PageTitle, StackedBar } from "../components";
import { fmtCores, fmtMiB } from "../format";
import { href } from "../router";
import { UsageChart } from "./UsageChart";

const kAlloc = "#4e79a7";
const kCoresAlloc = "#59a14f";

function GroupCard(props: { g: Group }) {
  const g = props.g;
  const used = g.memoryUsedMiB;
  const memLabel =
    `${g.type} memory: ${g.memoryAllocatedMiB} of ${g.memoryMiB} MiB allocated` +
    (used !== null ? `, ${used} MiB used` : ", usage unknown");
  const coreLabel = `${g.type} cores: ${g.coresAllocated} of ${g.cores} percent allocated`;
  return (
    <article class="card" data-testid={`overview-type-${g.vendor}-${g.type}`}>
      <h3>{g.type}</h3>
      <dl class="facts">
        <div>
          <dt>Devices</dt>
          <dd data-testid="group-devices" data-value={g.devices}>{g.devices}</dd>
        </div>
        <div>
          <dt>Tasks</dt>
          <dd data-testid="group-tasks" data-value={g.tasks}>{g.tasks}</dd>
        </div>
      </dl>
      <p class="bar-title">
        Memory{" "}
        <span data-testid="group-memory" data-value={`${g.memoryAllocatedMiB}/${g.memoryMiB}`}>
          {fmtMiB(g.memoryAllocatedMiB)} of {fmtMiB(g.memoryMiB)} allocated
        </span>
        {used !== null ? (
          <>
            {" · "}
            <span data-testid="group-memory-used" data-value={used}>{fmtMiB(used)} used</span>
          </>
        ) : null}
      </p>
      <StackedBar
        label={memLabel}
        total={g.memoryMiB}
        segments={[{ key: "a", label: "allocated", value: g.memoryAllocatedMiB, color: kAlloc }]}
        marker={used !== null ? { value: used, label: "used" } : null}
      />
      <p class="bar-title">
        Cores{" "}
        <span data-testid="group-cores" data-value={`${g.coresAllocated}/${g.cores}`}>
          {fmtCores(g.coresAllocated)} of {fmtCores(g.cores)} allocated
        </span>
      </p>
      <StackedBar
        label={coreLabel}
        total={g.cores}
        segments={[{ key: "c", label: "allocated", value: g.coresAllocated, color: kCoresAlloc }]}
      />
    </article>
  );
}

function Groups(props: { s: Summary }) {
  const byVendor = new Map<string, Group[]>();
  for (const g of props.s.groups) {
    const l = byVendor.get(g.vendor) ?? [];
    l.push(g);
    byVendor.set(g.vendor, l);
  }
  if (byVendor.size === 0)
    return (
      <Empty testid="overview-empty">
        No accelerators registered yet. A node appears here once hami-device-plugin has written its
        device registration annotation; check that the device plugin runs on your GPU nodes and
        that they carry the label it is scheduled by.
      </Empty>
    );
  return (
    <>
      <Legend
        items={[
          { key: "a", color: kAlloc, label: "memory allocated" },
          { key: "c", color: kCoresAlloc, label: "cores allocated" },
          { key: "u", color: "var(--marker)", label: "memory used (line, from Prometheus)" },
        ]}
      />
      {[...byVendor.entries()].map(([vendor, groups]) => (
        <section key={vendor} data-testid={`overview-group-${vendor}`} aria-labelledby={`v-${vendor}`}>
          <h3 class="vendor" id={`v-${vendor}`}>{vendor}</h3>
          <div class="cards">
            {groups.map((g) => (
              <GroupCard key={g.type} g={g} />
            ))}
          </div>
        </section>
      ))}
    </>
  );
}

function Fragmentation(props: { s: Summary }) {
  const f = props.s.fragmentation;
  const total = f.devicesIdle + f.devicesPartial + f.devicesFull;
  return (
    <section aria-labelledby="frag-h">
      <h2 id="frag-h">Fragmentation</h2>
      {total === 0 ? (
        <Empty testid="frag-empty">No devices, so nothing is fragmented yet.</Empty>
      ) : (
        <>
          <dl class="facts big">
            <div>
              <dt>Idle devices</dt>
              <dd data-testid="frag-idle" data-value={f.devicesIdle}>{f.devicesIdle}</dd>
            </div>
            <div>
              <dt>Partly used</dt>
              <dd data-testid="frag-partial" data-value={f.devicesPartial}>{f.devicesPartial}</dd>
            </div>
            <div>
              <dt>Full</dt>
              <dd data-testid="frag-full" data-value={f.devicesFull}>{f.devicesFull}</dd>
            </div>
          </dl>
          <h3>Could still place now</h3>
          {f.fits.length === 0 ? (
            <Empty testid="fits-empty">No request sizes to try yet.</Empty>
          ) : (
            <div class="table-wrap">
              <table data-testid="fits-table">
                <caption class="sr-only">How many more pods of each size fit right now</caption>
                <thead>
                  <tr>
                    <th scope="col">Pod asking for</th>
                    <th scope="col" class="num">More pods that fit</th>
                  </tr>
                </thead>
                <tbody>
                  {f.fits.map((fit, i) => (
                    <tr key={i} data-testid={`fit-row-${i}`}>
                      <th scope="row">{fit.label}</th>
                      <td class="num" data-testid="fit-pods" data-value={fit.pods}>{fit.pods}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

export function Overview() {
  const poll = usePoll<Summary>("api/v1/summary");
  const usage = usePoll<Usage>("api/v1/usage?range=1h", 30000);
  const s = poll.data;
  return (
    <>
      <PageTitle>Cluster overview</PageTitle>
      <PageStatus poll={poll} />
      {!s ? (
        poll.error ? <Failed what="the cluster summary" error={poll.error} /> : <Loading what="the cluster summary" />
      ) : (
        <>
          {!s.synced ? (
            <div class="banner banner-warn" role="status" data-testid="not-synced">
              The scheduler is still reading nodes and pods from the API server: numbers may be incomplete.
            </div>
          ) : null}
          {!s.leader ? (
            <div class="banner banner-info" role="status" data-testid="not-leader">
              This scheduler replica is a hot standby: its ledger is rebuilt from annotations, but pending-pod
              decisions are only kept by the leader.
            </div>
          ) : null}
          <dl class="facts big" aria-label="Pods">
            <div>
              <dt>Pods allocated</dt>
              <dd data-testid="pods-allocated" data-value={s.pods.allocated}>
                <a href={href(["workloads"], { state: "allocated" })}>{s.pods.allocated}</a>
              </dd>
            </div>
            <div>
              <dt>Pods pending</dt>
              <dd data-testid="pods-pending" data-value={s.pods.pending}>
                <a href={href(["workloads"], { state: "pending" })}>{s.pods.pending}</a>
              </dd>
            </div>
          </dl>
          <section aria-labelledby="alloc-h">
            <h2 id="alloc-h">Allocated, capacity and used</h2>
            <Groups s={s} />
          </section>
          <Fragmentation s={s} />
          <section aria-labelledby="usage-h">
            <h2 id="usage-h">Memory over the last hour</h2>
            <UsageChart poll={usage} prometheus={s.prometheus} />
          </section>
          <p class="footnote">HAMi {s.version}</p>
        </>
      )}
    </>
  );
}
