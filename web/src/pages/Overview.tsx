import { Graphs } from "../components/LazyGraphs";
import { OsdCounts, type OsdCounters } from "../components/OsdCounts";
import { Badge, Bar, Card, Empty, ErrorNote, Loading, Stat, TableHead } from "../components/ui";
import { clusterGraphs } from "../lib/graphite";
import { healthChecks, pgTone } from "../lib/health";
import { bytes, count, percent, rate, when } from "../lib/format";
import { eventObject } from "../lib/events";
import type { FeedEvent } from "../lib/live";
import { refresh, useResource } from "../lib/store";
import type { RequestRow } from "../state";
import type { PoolRow } from "../lib/pools";

interface Cluster {
  id: string;
  name: string;
  health: { status: string };
  mons: { name: string; rank: number; addr: string }[];
  quorum: string[];
  pg_by_state: Record<string, number>;
  counters: { osd: OsdCounters };
  flags?: string[];
}

interface Df {
  stats: { total_bytes: number; total_used_raw_bytes?: number; total_used_bytes: number; total_avail_bytes: number };
  pools: { id: number; name: string; stats: { stored: number; bytes_used: number; max_avail: number; percent_used: number; objects: number; quota_bytes?: number } }[];
}

interface Stats {
  latest: Record<string, number | null>;
}

interface Page<T> {
  count: number;
  results: T[];
}

function Health(props: { fsid: string; status: string }) {
  const health = useResource<unknown>(`/cluster/${props.fsid}/sync_object/health`);
  const checks = healthChecks(health.data.value);
  return (
    <Card title="Health" class="span-2" id="health">
      <div class="health-head">
        <Badge level={props.status} />
        <span class="muted">{checks.length === 0 ? "No health checks are failing." : `${checks.length} check${checks.length === 1 ? "" : "s"}`}</span>
      </div>
      {health.error.value && <ErrorNote error={health.error.value} />}
      <ul class="checks">
        {checks.map((c) => (
          <li key={c.code} class={`check ${c.muted ? "check-muted" : ""}`} data-check={c.code}>
            <details>
              <summary>
                <Badge level={c.severity} />
                <code class="check-code">{c.code}</code>
                <span class="check-summary">{c.summary}</span>
                {c.muted && <span class="tag">muted</span>}
              </summary>
              {c.detail.length > 0 ? (
                <ul class="check-detail">
                  {c.detail.slice(0, 50).map((d) => (
                    <li>{d}</li>
                  ))}
                  {c.detail.length > 50 && <li class="muted">… and {c.detail.length - 50} more</li>}
                </ul>
              ) : (
                <p class="muted small">Ceph gives no detail for this check.</p>
              )}
            </details>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function Capacity(props: { fsid: string }) {
  const df = useResource<Df>(`/cluster/${props.fsid}/sync_object/df`);
  const pools = useResource<PoolRow[]>(`/cluster/${props.fsid}/pool`);
  const d = df.data.value;
  if (df.error.value && !d) return <Card title="Capacity"><ErrorNote error={df.error.value} /></Card>;
  if (!d) return <Card title="Capacity"><Loading what="capacity" /></Card>;
  const used = d.stats.total_used_raw_bytes ?? d.stats.total_used_bytes;
  const quotas = new Map((pools.data.value ?? []).map((p) => [p.id, p.quota_max_bytes ?? 0]));
  return (
    <Card title="Capacity" id="capacity">
      <div class="stats-row">
        <Stat label="raw used" value={percent(used, d.stats.total_bytes)} sub={`${bytes(used)} of ${bytes(d.stats.total_bytes)}`} />
        <Stat label="available" value={bytes(d.stats.total_avail_bytes)} />
      </div>
      <Bar label={`raw capacity ${percent(used, d.stats.total_bytes)} used`} parts={[
        { value: used, tone: "accent", title: `used ${bytes(used)}` },
        { value: d.stats.total_avail_bytes, tone: "free", title: `available ${bytes(d.stats.total_avail_bytes)}` },
      ]} />
      {/* five columns are wider than the narrowest card: they scroll rather than run past its edge */}
      <div class="table-wrap">
        <table class="table compact">
          <TableHead columns={["Pool", "Stored", "Used", "Max avail", "Quota"]} numeric={["Stored", "Used", "Max avail", "Quota"]} />
          <tbody>
            {d.pools.map((p) => (
              <tr key={p.id}>
                <td><a href={`/pools?q=${encodeURIComponent(p.name)}`}>{p.name}</a></td>
                <td class="num">{bytes(p.stats.stored)}</td>
                <td class="num">{(p.stats.percent_used * 100).toFixed(1)}%</td>
                <td class="num">{bytes(p.stats.max_avail)}</td>
                <td class="num">{quotas.get(p.id) ? bytes(quotas.get(p.id) as number) : "none"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function ClientIo(props: { fsid: string }) {
  const stats = useResource<Stats>(`/cluster/${props.fsid}/stats?from=-10min`);
  const l = stats.data.value?.latest ?? {};
  return (
    <Card title="Client I/O now" id="client-io">
      {stats.error.value && <ErrorNote error={stats.error.value} />}
      <div class="stats-row">
        <Stat label="read" value={rate(l["io.read_bytes_sec"])} sub={`${count(l["io.read_op_per_sec"])} op/s`} />
        <Stat label="write" value={rate(l["io.write_bytes_sec"])} sub={`${count(l["io.write_op_per_sec"])} op/s`} />
      </div>
      <p class="muted small">Newest points of the cluster's time series.</p>
    </Card>
  );
}

function Osds(props: { c: Cluster }) {
  const o = props.c.counters.osd;
  return (
    <Card title="OSDs" actions={<a href="/osds">Workbench →</a>} id="osd-counts">
      <OsdCounts osd={o} />
      <div class="links-row">
        {o.down_in + o.down_out > 0 && <a href="/osds?state=down">Show down OSDs</a>}
        {o.up_out + o.down_out > 0 && <a href="/osds?state=out">Show out OSDs</a>}
      </div>
    </Card>
  );
}

function Pgs(props: { c: Cluster }) {
  const entries = Object.entries(props.c.pg_by_state).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  return (
    <Card title="Placement groups" id="pgs">
      <Bar label="PG states" parts={entries.map(([state, n]) => ({ value: n, tone: pgTone(state), title: `${state}: ${n}` }))} />
      <table class="table compact">
        <tbody>
          {entries.map(([state, n]) => (
            <tr key={state}>
              <td><span class={`swatch tone-${pgTone(state)}`} aria-hidden="true" /> {state}</td>
              <td class="num">{count(n)}</td>
              <td class="num muted">{percent(n, total)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Mons(props: { c: Cluster }) {
  const quorum = new Set(props.c.quorum);
  const out = props.c.mons.filter((m) => !quorum.has(m.name));
  return (
    <Card title="Monitors" id="mons">
      <p>
        <Badge level={out.length ? "HEALTH_WARN" : "HEALTH_OK"} text={`${quorum.size} of ${props.c.mons.length} in quorum`} />
      </p>
      <ul class="plain">
        {props.c.mons.map((m) => (
          <li key={m.name}>
            <span aria-hidden="true">{quorum.has(m.name) ? "●" : "○"}</span> {m.name} <span class="muted">{m.addr}</span>
            {!quorum.has(m.name) && <strong> — out of quorum</strong>}
          </li>
        ))}
      </ul>
    </Card>
  );
}

function NewestEvents(props: { fsid: string }) {
  const events = useResource<Page<FeedEvent>>(`/cluster/${props.fsid}/event?page_size=8`);
  const list = events.data.value?.results;
  return (
    <Card title="Newest events" actions={<a href="/events">All events →</a>} id="newest-events">
      {events.error.value && <ErrorNote error={events.error.value} />}
      {!list ? <Loading what="events" /> : list.length === 0 ? <Empty>No events yet.</Empty> : (
        <ul class="event-list">
          {list.map((e) => {
            const obj = eventObject(e);
            return (
              <li key={e.id}>
                <Badge level={e.severity} text={e.severity.toLowerCase()} />
                <span class="event-when">{when(e.when)}</span>
                <a href={obj.href}>{e.message}</a>
              </li>
            );
          })}
        </ul>
      )}
    </Card>
  );
}

function RunningRequests(props: { fsid: string }) {
  const requests = useResource<Page<RequestRow>>(`/cluster/${props.fsid}/request?state=executing&page_size=10`);
  const list = requests.data.value?.results;
  return (
    <Card title="Running requests" actions={<a href="/requests">All requests →</a>} id="running-requests">
      {requests.error.value && <ErrorNote error={requests.error.value} />}
      {!list ? <Loading what="requests" /> : list.length === 0 ? <Empty>Nothing running.</Empty> : (
        <ul class="plain">
          {list.map((r) => (
            <li key={r.id}>
              <span class="spinner" aria-hidden="true" /> {r.headline} <span class="muted">— {r.status} (by {r.username})</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function Overview(props: { fsid: string }) {
  const cluster = useResource<Cluster>(`/cluster/${props.fsid}`);
  const c = cluster.data.value;
  if (!c) {
    return (
      <div class="page">
        {cluster.error.value ? <ErrorNote error={cluster.error.value} retry={() => void refresh(`/cluster/${props.fsid}`)} /> : <Loading what="the cluster" />}
      </div>
    );
  }
  return (
    <div class="page">
      <header class="page-head">
        <h1>Overview <span class="muted">{c.name}</span></h1>
        {c.flags && c.flags.some((f) => f.startsWith("no") || f === "pause") && (
          <span class="tag tag-warn">flags: {c.flags.filter((f) => f.startsWith("no") || f === "pause").join(", ")}</span>
        )}
      </header>
      {cluster.error.value && <ErrorNote error={cluster.error.value} />}
      <div class="grid">
        <Health fsid={props.fsid} status={c.health.status} />
        <Osds c={c} />
        <Capacity fsid={props.fsid} />
        <Pgs c={c} />
        <ClientIo fsid={props.fsid} />
        <Mons c={c} />
        <RunningRequests fsid={props.fsid} />
        <NewestEvents fsid={props.fsid} />
      </div>
      <Graphs title="Trends" specs={clusterGraphs(props.fsid)} />
    </div>
  );
}
