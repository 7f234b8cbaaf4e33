// Time travel: the cluster's history on a timeline; a past moment shows the overview, the OSD
// workbench, pools and hosts as they were (from `history?at=`), clearly marked as the past; two
// moments show what changed between them (`history?from=&to=`) with who did it. The address holds
// the moment(s), the view and the object shown, so a link shows the same to a colleague.
import { effect } from "@preact/signals";
import { useEffect, useMemo, useState } from "preact/hooks";

import { OsdGrid } from "../components/OsdGrid";
import { Graphs } from "../components/LazyGraphs";
import { OsdCounts, type OsdCounters } from "../components/OsdCounts";
import { Timeline } from "../components/Timeline";
import { Badge, Bar, Card, Empty, ErrorNote, Loading, Stat } from "../components/ui";
import { get } from "../lib/api";
import { bytes, count, percent } from "../lib/format";
import { clusterGraphs, customRange } from "../lib/graphite";
import { healthChecks, pgTone } from "../lib/health";
import {
  describeStatus, filterOsds, fullnessFromHealth, groupByHost, layoutGroups, statusOf, type OsdRow, type StateFilter,
} from "../lib/osd";
import type { PoolRow } from "../lib/pools";
import { location, navigate } from "../lib/router";
import { session } from "../state";
import {
  bothZones, diffEntries, fromLocalInput, momentHref, pastStatePath, readMoments, toLocalInput, zoomSpan,
  type DiffAnswer, type DiffEntry, type Moments, type TimelineAnswer, type TravelView,
} from "../lib/timetravel";

interface PastCluster {
  id: string;
  name: string;
  flags?: string[];
  mons?: { name: string; rank: number; addr: string }[];
  quorum?: string[];
  pg_by_state?: Record<string, number>;
  counters?: { osd: OsdCounters };
}

interface PastServer {
  fqdn: string;
  hostname: string;
  managed?: boolean;
  contact_lost?: boolean;
  last_contact?: string | null;
  ceph_version?: string | null;
  services?: { type: string; id: string; running?: boolean }[];
}

interface PastState {
  fsid: string;
  position: number;
  time: string | null;
  cluster: PastCluster;
  health: { status: string; checks: unknown };
  // only the lists the view asked for (`pastStatePath`)
  osd?: OsdRow[];
  pool?: PoolRow[];
  server?: PastServer[];
}

const ENTRIES_SHOWN = 200; // diff entries drawn at first (and per "show more")

const LIVE_PAGE: Record<TravelView, string> = {
  overview: "/", osds: "/osds", pools: "/pools", hosts: "/hosts", changes: "/events",
};
const VIEW_WORDS: [TravelView, string][] = [
  ["overview", "Overview"], ["osds", "OSDs"], ["pools", "Pools"], ["hosts", "Hosts"], ["changes", "What changed"],
];

// Past states and diffs never change once made: keep the last few, by address.
const cache = new Map<string, Promise<unknown>>();
function cached<T>(path: string): Promise<T> {
  let found = cache.get(path);
  if (!found) {
    found = get<unknown>(path);
    found.catch(() => cache.delete(path)); // a failure is tried again next time
    cache.set(path, found);
    if (cache.size > 20) cache.delete(cache.keys().next().value as string);
  }
  return found as Promise<T>;
}

// nothing of one user's session stays for the next
effect(() => {
  if (session.value !== "in") cache.clear();
});

function useFetched<T>(path: string | null, fresh = false): { data: T | null; error: unknown; loading: boolean } {
  const [state, setState] = useState<{ path: string | null; data: T | null; error: unknown }>({ path: null, data: null, error: null });
  useEffect(() => {
    if (path === null) return;
    let gone = false;
    (fresh ? get<T>(path) : cached<T>(path))
      .then((data) => !gone && setState({ path, data, error: null }))
      .catch((error: unknown) => !gone && setState({ path, data: null, error }));
    return () => {
      gone = true;
    };
  }, [path]);
  const current = state.path === path;
  return { data: current ? state.data : null, error: current ? state.error : null, loading: path !== null && !current };
}

function go(moments: Partial<Moments>, replace = false) {
  navigate(momentHref(moments), replace);
}

function Moment(props: { iso: string; label?: string }) {
  const z = bothZones(props.iso);
  return (
    <span class="moment" data-moment={props.iso}>
      {props.label && <span class="muted">{props.label} </span>}
      <strong>{z.local}</strong> <span class="muted">({z.utc})</span>
    </span>
  );
}

// ------------------------------------------------------------------ the past, marked

function PastBanner(props: { moments: Moments; position: number | null }) {
  const m = props.moments;
  return (
    <div class="banner banner-past" role="status" data-testid="past-banner">
      <span class="past-mark" aria-hidden="true">PAST</span>
      {m.at ? (
        <span>
          <strong>You are looking at the past:</strong> the cluster as it was at <Moment iso={m.at} />
          {props.position !== null && <span class="muted"> · event {count(props.position)}</span>}. Nothing here changes live.
        </span>
      ) : (
        <span>
          <strong>What changed</strong> between <Moment iso={m.from as string} /> and <Moment iso={m.to as string} />.
        </span>
      )}
      <button type="button" class="btn btn-small btn-primary" onClick={() => navigate(LIVE_PAGE[m.view])} data-testid="back-to-live">
        Back to live
      </button>
    </div>
  );
}

// ------------------------------------------------------------------ views of a past state

function PastOverview(props: { state: PastState; at: string }) {
  const { state } = props;
  const c = state.cluster;
  const checks = healthChecks(state.health);
  const o = c.counters?.osd;
  const pgs = Object.entries(c.pg_by_state ?? {}).sort((a, b) => b[1] - a[1]);
  const pgTotal = pgs.reduce((s, [, n]) => s + n, 0);
  const quorum = new Set(c.quorum ?? []);
  const atMs = Date.parse(props.at);
  // three hours either side of the moment, the moment marked
  const range = customRange(atMs / 1000 - 3 * 3600, Math.min(Date.now() / 1000, atMs / 1000 + 3 * 3600));
  return (
    <div class="grid">
      <Card title="Health" class="span-2" id="past-health">
        <div class="health-head">
          <Badge level={state.health.status} />
          <span class="muted">{checks.length === 0 ? "No health checks were failing." : `${checks.length} check${checks.length === 1 ? "" : "s"}`}</span>
        </div>
        <ul class="checks">
          {checks.map((ch) => (
            <li key={ch.code} class="check" data-check={ch.code}>
              <Badge level={ch.severity} /> <code class="check-code">{ch.code}</code> <span class="check-summary">{ch.summary}</span>
            </li>
          ))}
        </ul>
        {c.flags && c.flags.length > 0 && <p class="small">Flags: {c.flags.join(", ")}</p>}
      </Card>
      {o && (
        <Card title="OSDs" actions={<a href={momentHref({ at: props.at, view: "osds" })}>Workbench then →</a>}>
          <OsdCounts osd={o} />
        </Card>
      )}
      <Card title="Placement groups">
        {pgs.length === 0 ? <Empty>No PG states recorded then.</Empty> : (
          <>
            <Bar label="PG states" parts={pgs.map(([s, n]) => ({ value: n, tone: pgTone(s), title: `${s}: ${n}` }))} />
            <table class="table compact"><tbody>
              {pgs.map(([s, n]) => <tr key={s}><td>{s}</td><td class="num">{count(n)}</td><td class="num muted">{percent(n, pgTotal)}</td></tr>)}
            </tbody></table>
          </>
        )}
      </Card>
      <Card title="Pools" actions={<a href={momentHref({ at: props.at, view: "pools" })}>Pools then →</a>}>
        <p>{count((state.pool ?? []).length)} pools: {(state.pool ?? []).map((p) => p.name).join(", ") || "none"}</p>
      </Card>
      <Card title="Monitors">
        <p><Badge level={(c.mons ?? []).some((m) => !quorum.has(m.name)) ? "HEALTH_WARN" : "HEALTH_OK"} text={`${quorum.size} of ${(c.mons ?? []).length} in quorum`} /></p>
      </Card>
      <div class="span-2">
        {range && <Graphs title="Around this moment" specs={clusterGraphs(state.fsid)} range={range} cursorMs={atMs} />}
      </div>
    </div>
  );
}

const STATES: [StateFilter, string][] = [["", "Any state"], ["up-in", "Up and in"], ["down", "Down"], ["out", "Out"], ["nearfull", "Near full or full"]];

let pastGridWidth = 900;

function PastOsds(props: { state: PastState; moments: Moments }) {
  const rows = useMemo(() => [...(props.state.osd ?? [])].sort((a, b) => a.id - b.id), [props.state]);
  // the grid's width as last measured: each moment mounts a new grid, laid out once at that width
  // rather than at a guess and again when measured
  const [width, setWidth] = useState(pastGridWidth);
  const onWidth = (measured: number) => {
    pastGridWidth = measured;
    setWidth(measured);
  };
  const [stateFilter, setStateFilter] = useState<StateFilter>("");
  const fullness = useMemo(() => fullnessFromHealth(props.state.health), [props.state]);
  const statuses = useMemo(() => rows.map((o) => statusOf(o, fullness, undefined)), [rows, fullness]);
  const kept = useMemo(() => filterOsds(rows, { host: "", pool: "", state: stateFilter, text: "" }, statuses), [rows, statuses, stateFilter]);
  const layout = useMemo(() => layoutGroups(groupByHost(rows, kept), rows.length, { width: width - 2 }), [kept, width]);
  const openIndex = props.moments.osd === null ? null : rows.findIndex((o) => String(o.id) === props.moments.osd);
  const open = openIndex !== null && openIndex >= 0 ? rows[openIndex] : undefined;
  return (
    <div>
      <p class="muted" data-testid="past-osd-counts">
        {count(rows.length)} OSDs then · {count(rows.filter((o) => !o.up).length)} down · {count(rows.filter((o) => !o.in).length)} out
      </p>
      <div class="filters">
        <div class="field">
          <label for="past-osd-state">State</label>
          <select id="past-osd-state" value={stateFilter} onChange={(e) => setStateFilter((e.target as HTMLSelectElement).value as StateFilter)}>
            {STATES.map(([v, label]) => <option value={v}>{label}</option>)}
          </select>
        </div>
      </div>
      <div class={`workbench ${open ? "" : "no-detail"}`}>
        <div>
          {rows.length === 0 && <Empty>The cluster had no OSDs then.</Empty>}
          <OsdGrid osds={rows} statuses={statuses} layout={layout} selected={new Set()} open={open ? openIndex : null} version={props.state.position}
            onWidth={onWidth} onSelect={() => undefined}
            onOpen={(i) => go({ ...props.moments, view: "osds", osd: i === null ? null : String((rows[i] as OsdRow).id) }, true)} />
        </div>
        {open && openIndex !== null && (
          <Card title={`osd.${open.id} then`} class="detail">
            <p><Badge level={!open.up ? "ERROR" : !open.in ? "WARNING" : "RECOVERY"} text={describeStatus(statuses[openIndex] as never)} /></p>
            <dl class="facts">
              <dt>Host</dt><dd>{open.server ?? "–"}</dd>
              <dt>CRUSH place</dt><dd>{(open.crush_node_ancestry ?? []).join(" › ") || "–"}</dd>
              <dt>Weights</dt><dd>reweight {open.reweight}, CRUSH {open.crush_weight ?? "–"}</dd>
              <dt>Pools</dt><dd>{(open.pools ?? []).map((id) => (props.state.pool ?? []).find((p) => p.id === id)?.name ?? `#${id}`).join(", ") || "none"}</dd>
            </dl>
            <a href={`/osds?osd=${open.id}`}>This OSD now →</a>
          </Card>
        )}
      </div>
    </div>
  );
}

function PastPools(props: { state: PastState; moments: Moments }) {
  const pools = [...(props.state.pool ?? [])].sort((a, b) => a.id - b.id);
  if (pools.length === 0) return <Empty>The cluster had no pools then.</Empty>;
  return (
    <table class="table" data-testid="past-pools">
      <thead><tr><th scope="col">Pool</th><th scope="col">Type</th><th scope="col" class="num">Size</th><th scope="col" class="num">PGs</th><th scope="col" class="num">Quota</th><th scope="col">Applications</th></tr></thead>
      <tbody>
        {pools.map((p) => (
          <tr key={p.id} data-pool={p.name} class={props.moments.pool === p.name ? "row-chosen" : ""} aria-current={props.moments.pool === p.name ? "true" : undefined}>
            <td>{p.name} <span class="muted">#{p.id}</span></td>
            <td>{p.type}</td>
            <td class="num">{p.size}/{p.min_size}</td>
            <td class="num">{p.pg_num}</td>
            <td class="num">{p.quota_max_bytes ? bytes(p.quota_max_bytes) : "none"}</td>
            <td>{(p.application ?? []).join(", ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PastHosts(props: { state: PastState; moments: Moments }) {
  const servers = props.state.server ?? [];
  if (servers.length === 0) return <Empty>No host ran a service of the cluster then.</Empty>;
  return (
    <table class="table" data-testid="past-hosts">
      <thead><tr><th scope="col">Host</th><th scope="col">Services</th><th scope="col">Ceph</th><th scope="col">Contact</th></tr></thead>
      <tbody>
        {servers.map((s) => (
          <tr key={s.fqdn} data-host={s.fqdn} class={props.moments.host === s.fqdn ? "row-chosen" : ""}>
            <td><a href={momentHref({ ...props.moments, view: "hosts", host: s.fqdn })}>{s.fqdn}</a></td>
            <td>{(s.services ?? []).map((v) => `${v.type}.${v.id}`).join(", ")}</td>
            <td>{s.ceph_version ?? "–"}</td>
            <td>{s.contact_lost ? "lost" : "in contact"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ------------------------------------------------------------------ what changed

function Changes(props: { fsid: string; moments: Moments }) {
  const path = props.moments.from && props.moments.to
    ? `/cluster/${props.fsid}/history?from=${encodeURIComponent(props.moments.from)}&to=${encodeURIComponent(props.moments.to)}&limit=0`
    : null;
  const diff = useFetched<DiffAnswer>(path);
  const [kind, setKind] = useState<string>("");
  const [limit, setLimit] = useState(ENTRIES_SHOWN);
  const entries = useMemo(() => (diff.data ? diffEntries(diff.data) : []), [diff.data]);
  if (!path) return <Empty>Shift+click a second moment on the timeline (or "Compare with…") to see what changed between two moments.</Empty>;
  if (diff.error) return <ErrorNote error={diff.error} />;
  if (!diff.data) return <Loading what="the changes" />;
  const kept = kind ? entries.filter((e) => e.kind === kind) : entries;
  const shown = kept.slice(0, limit);
  const kinds = [...new Set(entries.map((e) => e.kind))];
  const perKind = (k: string) => entries.reduce((n, e) => n + (e.kind === k ? 1 : 0), 0);
  return (
    <div data-testid="changes">
      <p class="muted">
        {count(diff.data.event_count)} events between event {count(diff.data.from.position)} and {count(diff.data.to.position)}; {entries.length} changes.
      </p>
      {kinds.length > 1 && (
        <div class="links-row" role="group" aria-label="Show">
          <button type="button" class={`btn btn-small ${kind === "" ? "btn-primary" : "btn-ghost"}`} onClick={() => { setKind(""); setLimit(ENTRIES_SHOWN); }}>All</button>
          {kinds.map((k) => (
            <button type="button" key={k} class={`btn btn-small ${kind === k ? "btn-primary" : "btn-ghost"}`} onClick={() => { setKind(k); setLimit(ENTRIES_SHOWN); }}>
              {k} ({count(perKind(k))})
            </button>
          ))}
        </div>
      )}
      {shown.length === 0 ? <Empty>Nothing of this cluster changed between these moments.</Empty> : (
        <ul class="change-list">
          {shown.map((e: DiffEntry, i) => (
            <li key={i} class={`change change-${e.kind}`} data-kind={e.kind}>
              <span class="tag">{e.kind}</span>
              <a href={e.href}>{e.title}</a>
              {e.who && <span class="change-who"> by <strong>{e.who}</strong></span>}
              {e.outcome && <Badge level={e.outcome === "succeeded" ? "complete" : e.outcome === "failed" ? "failed" : "info"} text={e.outcome} />}
              {e.time && <span class="small muted"> · <Moment iso={e.time} /></span>}
              {e.detail && <div class="small muted change-detail">{e.detail}</div>}
            </li>
          ))}
        </ul>
      )}
      {kept.length > shown.length && (
        // thousands of OSDs can change in an hour: the list grows on demand, the counts above are whole
        <p>
          <span class="muted">{count(shown.length)} of {count(kept.length)} shown. </span>
          <button type="button" class="btn btn-small" onClick={() => setLimit(limit + ENTRIES_SHOWN)}>Show {ENTRIES_SHOWN} more</button>
        </p>
      )}
    </div>
  );
}

// ------------------------------------------------------------------ the page

function MomentForm(props: { moments: Moments }) {
  const m = props.moments;
  const [at, setAt] = useState(m.at ? toLocalInput(m.at) : m.from ? toLocalInput(m.from) : "");
  const [to, setTo] = useState(m.to ? toLocalInput(m.to) : "");
  useEffect(() => {
    setAt(m.at ? toLocalInput(m.at) : m.from ? toLocalInput(m.from) : "");
    setTo(m.to ? toLocalInput(m.to) : "");
  }, [m.at, m.from, m.to]);
  const first = fromLocalInput(at);
  const second = fromLocalInput(to);
  return (
    <form class="filters moment-form" onSubmit={(e) => {
      e.preventDefault();
      if (!first) return;
      if (second) go({ from: first, to: second, view: "changes" });
      else go({ at: first, view: m.view === "changes" ? "overview" : m.view });
    }}>
      <div class="field">
        <label for="travel-at">Moment (your time zone)</label>
        <input id="travel-at" type="datetime-local" step={1} value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="travel-to">Compare with… (optional)</label>
        <input id="travel-to" type="datetime-local" step={1} value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
      </div>
      <button type="submit" class="btn" disabled={!first}>{second ? "Show changes" : "Travel"}</button>
      {m.at && (
        <button type="button" class="btn btn-ghost" onClick={() => go({ from: m.at as string, to: new Date().toISOString(), view: "changes" })}>
          Changes since then
        </button>
      )}
    </form>
  );
}

export function TimeTravel(props: { fsid: string }) {
  const moments = readMoments(location.value.query);
  const [span, setSpan] = useState<[number, number] | null>(null); // the timeline's zoom (ms); null: all history
  const timelinePath = `/cluster/${props.fsid}/history/timeline?buckets=120${span ? `&from=${new Date(span[0]).toISOString()}&to=${new Date(span[1]).toISOString()}` : ""}`;
  const timeline = useFetched<TimelineAnswer>(timelinePath, true);
  const [answer, setAnswer] = useState<TimelineAnswer | null>(null);
  useEffect(() => {
    if (timeline.data) setAnswer(timeline.data);
  }, [timeline.data]);
  const statePath = moments.at ? pastStatePath(props.fsid, moments.at, moments.view) : null;
  const past = useFetched<PastState>(statePath);

  const cursorMs = moments.at ? Date.parse(moments.at) : moments.to ? Date.parse(moments.to) : null;
  const compared: [number, number] | null = moments.from && moments.to ? [Date.parse(moments.from), Date.parse(moments.to)] : null;
  const firstMs = answer?.first.time ? Date.parse(answer.first.time) : null;
  const lastMs = Math.max(Date.now(), answer?.last.time ? Date.parse(answer.last.time) : 0);

  const onPick = (ms: number, second: boolean) => {
    const iso = new Date(ms).toISOString();
    const anchor = moments.at ?? moments.from;
    if (second && anchor) {
      const [a, b] = anchor <= iso ? [anchor, iso] : [iso, anchor];
      go({ from: a, to: b, view: "changes" });
    } else {
      go({ at: iso, view: moments.view === "changes" ? "overview" : moments.view, osd: moments.osd, pool: moments.pool, host: moments.host });
    }
  };
  const zoom = (factor: number) => {
    if (firstMs === null) return;
    const start = span?.[0] ?? firstMs;
    const end = span?.[1] ?? lastMs;
    const next = zoomSpan(start, end, cursorMs ?? (start + end) / 2, factor, firstMs, lastMs);
    setSpan(next[0] <= firstMs && next[1] >= lastMs ? null : next);
  };

  return (
    <div class="page">
      <header class="page-head">
        <h1>Time travel</h1>
        <span class="muted">The cluster at any past moment, and what changed between two.</span>
      </header>
      {(moments.at || (moments.from && moments.to)) && <PastBanner moments={moments} position={past.data?.position ?? null} />}
      <Card title="History" actions={(
        <>
          <button type="button" class="btn btn-small btn-ghost" onClick={() => zoom(0.25)} disabled={!answer}>Zoom in</button>
          <button type="button" class="btn btn-small btn-ghost" onClick={() => zoom(4)} disabled={!span}>Zoom out</button>
          <button type="button" class="btn btn-small btn-ghost" onClick={() => setSpan(null)} disabled={!span}>All history</button>
        </>
      )}>
        {timeline.error && !answer ? <ErrorNote error={timeline.error} /> : !answer ? <Loading what="the timeline" /> : (
          answer.buckets.length === 0 ? <Empty>No events are stored yet.</Empty>
            : <Timeline answer={answer} cursorMs={cursorMs} span={compared} onPick={onPick} />
        )}
        <p class="small muted">Click the timeline to see the cluster at that moment; Shift+click a second moment to see what changed in between. Marks on top: health changes (green OK, amber warning, red error).</p>
        <MomentForm moments={moments} />
      </Card>
      {!moments.at && !(moments.from && moments.to) ? (
        <Empty>Choose a moment on the timeline, or type one, to see the cluster as it was.</Empty>
      ) : (
        <>
          <nav class="tabs" aria-label="Views of the moment">
            {VIEW_WORDS.filter(([v]) => (moments.at ? true : v === "changes")).map(([v, label]) => (
              <a key={v} href={momentHref({ ...moments, view: v })} class={`tab ${moments.view === v ? "active" : ""}`} aria-current={moments.view === v ? "page" : undefined}>
                {label}
              </a>
            ))}
            {moments.from && moments.to && (
              <>
                <a class="tab" href={momentHref({ at: moments.from, view: "overview" })}>The cluster at the start</a>
                <a class="tab" href={momentHref({ at: moments.to, view: "overview" })}>The cluster at the end</a>
              </>
            )}
          </nav>
          {moments.view === "changes" ? (
            <Changes fsid={props.fsid} moments={moments} />
          ) : past.error ? (
            <ErrorNote error={past.error} />
          ) : !past.data ? (
            <Loading what="the cluster as it was" />
          ) : (
            <div class="past" data-testid="past-view" data-position={past.data.position}>
              {moments.view === "overview" && <PastOverview state={past.data} at={moments.at as string} />}
              {moments.view === "osds" && <PastOsds state={past.data} moments={moments} />}
              {moments.view === "pools" && <PastPools state={past.data} moments={moments} />}
              {moments.view === "hosts" && <PastHosts state={past.data} moments={moments} />}
            </div>
          )}
        </>
      )}
    </div>
  );
}
