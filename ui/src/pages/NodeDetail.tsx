// One node: each accelerator as a card with its memory and cores bars split by pod.
import type { Device, NodeDetail as NodeDetailT } from "../api";
import { usePoll } from "../api";
import { Empty, Failed, Legend, Loading, PageStatus, PageTitle, StackedBar } from "../components";
import type { Segment } from "../components";
import { colorFor, fmtCores, fmtMiB } from "../format";
import { href } from "../router";

function podKey(p: { uid: string; container: number }) {
  return `${p.uid}#${p.container}`;
}

function GpuCard(props: { d: Device }) {
  const d = props.d;
  const mem: Segment[] = d.pods.map((p) => ({
    key: podKey(p),
    label: `${p.namespace}/${p.name}`,
    value: p.memoryMiB,
    color: colorFor(p.uid),
  }));
  const cores: Segment[] = d.pods.map((p) => ({
    key: podKey(p),
    label: `${p.namespace}/${p.name}`,
    value: p.cores,
    color: colorFor(p.uid),
  }));
  const split = (segs: Segment[], unit: string) =>
    segs.length ? ": " + segs.map((s) => `${s.label} ${s.value}${unit}`).join(", ") : "";
  const memLabel = `GPU ${d.index} memory: ${d.memoryAllocatedMiB} of ${d.memoryMiB} MiB allocated${split(mem, " MiB")}`;
  const coreLabel = `GPU ${d.index} cores: ${d.coresAllocated} of ${d.cores} percent allocated${split(cores, "%")}`;
  return (
    <article class={`card gpu${d.health ? "" : " unhealthy"}`} data-testid={`gpu-card-${d.uuid}`} aria-labelledby={`gpu-${d.uuid}`}>
      <h2 id={`gpu-${d.uuid}`} class="gpu-title">
        #{d.index} {d.type}
      </h2>
      <p class="uuid">{d.uuid}</p>
      <p class="badges">
        <span class="badge" data-testid="gpu-mode" data-value={d.mode}>{d.mode}</span>
        <span class={`badge ${d.health ? "badge-ok" : "badge-bad"}`} data-testid="gpu-health" data-value={String(d.health)}>
          {d.health ? "healthy" : "unhealthy"}
        </span>
        <span class="badge">NUMA {d.numa}</span>
        <span class="badge" title="how many tasks may share this device">split {d.split}</span>
        <span class="badge" data-testid="gpu-tasks" data-value={d.tasks}>{d.tasks} task{d.tasks === 1 ? "" : "s"}</span>
      </p>
      <p class="bar-title">
        Memory{" "}
        <span data-testid="gpu-memory" data-value={`${d.memoryAllocatedMiB}/${d.memoryMiB}`}>
          {fmtMiB(d.memoryAllocatedMiB)} of {fmtMiB(d.memoryMiB)} allocated
        </span>
        {d.usage ? (
          <span data-testid="gpu-memory-used" data-value={d.usage.memoryUsedMiB}> · {fmtMiB(d.usage.memoryUsedMiB)} used</span>
        ) : null}
      </p>
      <StackedBar
        label={memLabel}
        total={d.memoryMiB}
        segments={mem}
        marker={d.usage ? { value: d.usage.memoryUsedMiB, label: "used" } : null}
        testid="gpu-memory-bar"
      />
      <p class="bar-title">
        Cores{" "}
        <span data-testid="gpu-cores" data-value={`${d.coresAllocated}/${d.cores}`}>
          {fmtCores(d.coresAllocated)} of {fmtCores(d.cores)} allocated
        </span>
        {d.usage ? (
          <span data-testid="gpu-sm-util" data-value={d.usage.smUtil}> · SM utilisation {fmtCores(d.usage.smUtil)}</span>
        ) : null}
      </p>
      <StackedBar label={coreLabel} total={d.cores} segments={cores} testid="gpu-cores-bar" />
      {!d.usage ? <p class="muted small">No live usage for this device (needs --ui-prometheus-url and hami-monitor on the node).</p> : null}
      {d.pods.length === 0 ? (
        <p class="muted" data-testid="gpu-no-pods">No pod is using this device.</p>
      ) : (
        <Legend
          items={d.pods.map((p) => ({
            key: podKey(p),
            color: colorFor(p.uid),
            label: (
              <span data-testid={`gpu-pod-${p.namespace}/${p.name}`}>
                <a href={href(["pods", p.namespace, p.name])}>
                  {p.namespace}/{p.name}
                </a>{" "}
                <span class="muted">
                  (container {p.container}) {fmtMiB(p.memoryMiB)}, {fmtCores(p.cores)}
                  {p.migProfile ? <>, MIG <span data-testid="gpu-pod-mig">{p.migProfile}</span></> : null}
                </span>
              </span>
            ),
          }))}
        />
      )}
    </article>
  );
}

export function NodeDetail(props: { name: string }) {
  const poll = usePoll<NodeDetailT>(`api/v1/nodes/${encodeURIComponent(props.name)}`);
  const n = poll.data;
  let body;
  if (poll.error?.status === 404) {
    body = (
      <Empty testid="node-not-found">
        Node “{props.name}” is not in the scheduler's ledger: it has no device registration annotation
        yet, or it was deleted. <a href={href(["nodes"])}>Back to all nodes</a>.
      </Empty>
    );
  } else if (!n) {
    body = poll.error ? <Failed what={`node ${props.name}`} error={poll.error} /> : <Loading what={`node ${props.name}`} />;
  } else if (n.devices.length === 0) {
    body = (
      <Empty testid="node-no-devices">
        This node registered no devices (its device plugin found none, or all were filtered out by
        the device configuration).
      </Empty>
    );
  } else {
    body = (
      <div class="cards gpus">
        {[...n.devices]
          .sort((a, b) => a.vendor.localeCompare(b.vendor) || a.index - b.index)
          .map((d) => (
            <GpuCard key={d.uuid} d={d} />
          ))}
      </div>
    );
  }
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={href(["nodes"])}>Nodes</a> / <span aria-current="page">{props.name}</span>
      </nav>
      <PageTitle>Node {props.name}</PageTitle>
      <PageStatus poll={poll} />
      {body}
    </>
  );
}
