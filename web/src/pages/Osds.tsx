// The OSD workbench: every OSD as a cell by host and CRUSH place; filters; a detail panel; and
// OSD commands on a selection, each a tracked request.
import { signal } from "@preact/signals";
import { useEffect, useMemo, useState } from "preact/hooks";

import { Graphs } from "../components/LazyGraphs";
import { CellSwatch, OsdGrid } from "../components/OsdGrid";
import { Badge, Card, Dialog, Empty, ErrorNote, Field, Loading } from "../components/ui";
import { ApiFailure, call, get } from "../lib/api";
import { bytes, count } from "../lib/format";
import { osdGraphs } from "../lib/graphite";
import {
  describeStatus, filterOsds, fullnessFromHealth, groupByHost, hostOf, layoutGroups, statusOf, uncleanCount,
  type OsdFilter, type OsdRow, type OsdStatus, type PgStates, type StateFilter,
} from "../lib/osd";
import type { PoolRow } from "../lib/pools";
import { location, setQuery } from "../lib/router";
import { onChanged, refresh, useResource } from "../lib/store";
import { canChange, track } from "../state";

interface PgSummary {
  by_osd?: Record<string, PgStates>;
}

interface OsdStats {
  latest: Record<string, number | null>;
}

/** The OSD list of the cluster shown, patched row by row as the live channel names OSDs. */
const osdList = signal<{ fsid: string; rows: OsdRow[]; version: number } | null>(null);
const osdError = signal<unknown>(null);

async function loadOsds(fsid: string): Promise<void> {
  try {
    const rows = await get<OsdRow[]>(`/cluster/${fsid}/osd`);
    rows.sort((a, b) => a.id - b.id);
    osdList.value = { fsid, rows, version: (osdList.value?.version ?? 0) + 1 };
    osdError.value = null;
  } catch (err) {
    osdError.value = err;
  }
}

/** Fetches the named OSDs only and puts them in place (new ones appended, removed ones dropped). */
async function patchOsds(fsid: string, ids: number[]): Promise<void> {
  const query = ids.map((id) => `id__in[]=${id}`).join("&");
  const rows = await get<OsdRow[]>(`/cluster/${fsid}/osd?${query}`);
  const current = osdList.value;
  if (!current || current.fsid !== fsid) return;
  const fresh = new Map(rows.map((r) => [r.id, r]));
  const list = current.rows.filter((r) => !ids.includes(r.id) || fresh.has(r.id)).map((r) => fresh.get(r.id) ?? r);
  for (const row of rows) if (!current.rows.some((r) => r.id === row.id)) list.push(row);
  list.sort((a, b) => a.id - b.id);
  osdList.value = { fsid, rows: list, version: current.version + 1 };
}

function useOsdList(fsid: string) {
  useEffect(() => {
    if (osdList.value?.fsid !== fsid) osdList.value = null;
    void loadOsds(fsid);
    let pending = new Set<number>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const prefix = `cluster/${fsid}/osd`;
    const stop = onChanged((changed) => {
      const rest: string[] = [];
      for (const path of changed) {
        const m = /^cluster\/[^/]+\/osd\/(\d+)$/.exec(path);
        if (m && path.startsWith(prefix)) pending.add(Number(m[1]));
        else if (path === prefix) void loadOsds(fsid);
        else rest.push(path);
        if (m) rest.push(`${path}/stats`); // the detail's figures
      }
      if (pending.size && !timer) {
        // changes come in bursts (a host going down): one fetch for the burst
        timer = setTimeout(() => {
          const ids = [...pending];
          pending = new Set();
          timer = null;
          const load = ids.length > 200 ? loadOsds(fsid) : patchOsds(fsid, ids).catch(() => loadOsds(fsid));
          void load;
        }, 100);
      }
      return rest;
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [fsid]);
  return osdList.value?.fsid === fsid ? osdList.value : null;
}

const STATE_CHOICES: [StateFilter, string][] = [
  ["", "Any state"], ["up-in", "Up and in"], ["down", "Down"], ["out", "Out"], ["nearfull", "Near full or full"], ["unclean", "PGs not clean"],
];

const LEGEND: [string, OsdStatus][] = [
  ["up, in", { up: true, in: true, fullness: null, unclean: false }],
  ["down", { up: false, in: true, fullness: null, unclean: false }],
  ["out", { up: true, in: false, fullness: null, unclean: false }],
  ["down and out", { up: false, in: false, fullness: null, unclean: false }],
  ["near full", { up: true, in: true, fullness: "nearfull", unclean: false }],
  ["full", { up: true, in: true, fullness: "full", unclean: false }],
  ["PGs not clean", { up: true, in: true, fullness: null, unclean: true }],
];

type Command = "out" | "in" | "reweight" | "scrub" | "deep_scrub" | "repair";
const COMMAND_WORDS: Record<Command, string> = {
  out: "Mark out", in: "Mark in", reweight: "Reweight", scrub: "Scrub", deep_scrub: "Deep scrub", repair: "Repair",
};

function osdNames(osds: OsdRow[]): string {
  const names = osds.slice(0, 8).map((o) => `osd.${o.id}`).join(", ");
  return osds.length > 8 ? `${names} and ${osds.length - 8} more` : names;
}

/** Runs a command on OSDs: out/in/reweight are one request per OSD (PATCH), the others one
 * request for all (POST …/osd/command/<command>). Returns what failed to start, by OSD. */
async function runCommand(fsid: string, command: Command, osds: OsdRow[], weight: number): Promise<string[]> {
  const problems: string[] = [];
  if (command === "scrub" || command === "deep_scrub" || command === "repair") {
    const ids = osds.map((o) => o.id);
    try {
      const answer = await call<{ request_id?: string } | null>("POST", `/cluster/${fsid}/osd/command/${command}`, { body: { ids } });
      if (answer?.request_id) track(answer.request_id, `${COMMAND_WORDS[command]} ${osdNames(osds)}`);
    } catch (err) {
      problems.push(err instanceof ApiFailure ? err.detail : String(err));
    }
    return problems;
  }
  const body = command === "reweight" ? { reweight: weight } : { in: command === "in" };
  for (const osd of osds) {
    try {
      const answer = await call<{ request_id?: string } | null>("PATCH", `/cluster/${fsid}/osd/${osd.id}`, { body });
      if (answer?.request_id) track(answer.request_id, `${COMMAND_WORDS[command]} osd.${osd.id}`);
      else problems.push(`osd.${osd.id}: nothing to change`);
    } catch (err) {
      problems.push(`osd.${osd.id}: ${err instanceof ApiFailure ? err.detail : String(err)}`);
    }
  }
  return problems;
}

function CommandDialog(props: { fsid: string; command: Command; osds: OsdRow[]; onClose: () => void }) {
  const [weight, setWeight] = useState("1.0");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [problems, setProblems] = useState<string[]>([]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const w = Number(weight);
    if (props.command === "reweight" && !(weight.trim() !== "" && w >= 0 && w <= 1)) {
      setError("a number from 0 to 1");
      return;
    }
    setBusy(true);
    const found = await runCommand(props.fsid, props.command, props.osds, w);
    setBusy(false);
    if (found.length === 0) props.onClose();
    else setProblems(found);
  };
  const risky = props.command === "out" || props.command === "repair" || props.command === "reweight";
  return (
    <Dialog title={`${COMMAND_WORDS[props.command]} ${props.osds.length === 1 ? `osd.${props.osds[0]?.id}` : `${props.osds.length} OSDs`}`} onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        <p>
          {COMMAND_WORDS[props.command]} <strong>{osdNames(props.osds)}</strong>.
          {props.command === "out" && " Ceph moves their data to other OSDs; this loads the cluster until it is done."}
          {props.command === "in" && " Ceph moves data back onto them."}
          {props.command === "repair" && " Ceph repairs inconsistent placement groups on them."}
        </p>
        {props.command === "reweight" && (
          <Field label="Reweight (0 to 1)" name="reweight" error={error}>
            <input id="f-reweight" inputMode="decimal" value={weight} onInput={(e) => setWeight((e.target as HTMLInputElement).value)} />
          </Field>
        )}
        {problems.length > 0 && (
          <div class="error-note" role="alert">
            <strong>Not all could start:</strong>
            <ul>{problems.map((p) => <li>{p}</li>)}</ul>
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
          <button type="submit" class={`btn ${risky ? "btn-danger" : "btn-primary"}`} disabled={busy}>
            {busy ? "Starting…" : COMMAND_WORDS[props.command]}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function CommandButtons(props: { osds: OsdRow[]; onCommand: (c: Command) => void }) {
  const anyIn = props.osds.some((o) => o.in);
  const anyOut = props.osds.some((o) => !o.in);
  return (
    <>
      <button type="button" class="btn btn-small" disabled={!anyIn} onClick={() => props.onCommand("out")}>Mark out</button>
      <button type="button" class="btn btn-small" disabled={!anyOut} onClick={() => props.onCommand("in")}>Mark in</button>
      <button type="button" class="btn btn-small" onClick={() => props.onCommand("reweight")}>Reweight…</button>
      <button type="button" class="btn btn-small" onClick={() => props.onCommand("scrub")}>Scrub</button>
      <button type="button" class="btn btn-small" onClick={() => props.onCommand("deep_scrub")}>Deep scrub</button>
      <button type="button" class="btn btn-small" onClick={() => props.onCommand("repair")}>Repair</button>
    </>
  );
}

function OsdDetail(props: { fsid: string; osd: OsdRow; status: OsdStatus; pgs: PgStates | undefined; pools: PoolRow[];
  onCommand: (c: Command) => void; onClose: () => void }) {
  const { osd } = props;
  const statsPath = `/cluster/${props.fsid}/osd/${osd.id}/stats?from=-10min`;
  const stats = useResource<OsdStats>(statsPath);
  useEffect(() => {
    const t = setInterval(() => void refresh(statsPath), 15000); // time series are not events
    return () => clearInterval(t);
  }, [statsPath]);
  const l = stats.data.value?.latest ?? {};
  const used = l.kb_used;
  const avail = l.kb_avail;
  const poolNames = new Map(props.pools.map((p) => [p.id, p.name]));
  const pgEntries = Object.entries(props.pgs ?? {}).sort((a, b) => b[1] - a[1]);
  const skip = new Set(["id", "up", "in", "pools", "valid_commands", "crush_node_ancestry", "uuid", "server", "crush_host", "reweight", "crush_weight", "device_class", "public_addr", "cluster_addr"]);
  const metadata = Object.entries(osd).filter(([k, v]) => !skip.has(k) && v !== null && v !== "" && typeof v !== "object");
  return (
    <Card title={`osd.${osd.id}`} class="detail" actions={<button type="button" class="btn btn-small btn-ghost" onClick={props.onClose} aria-label="Close the detail">✕</button>}>
      <p>
        <Badge level={!osd.up ? "ERROR" : !osd.in || props.status.fullness || props.status.unclean ? "WARNING" : "RECOVERY"} text={describeStatus(props.status)} />
      </p>
      {canChange.value && (
        <div class="links-row" style={{ flexWrap: "wrap", gap: "6px", marginBottom: "10px" }}>
          <CommandButtons osds={[osd]} onCommand={props.onCommand} />
        </div>
      )}
      <dl class="facts">
        <dt>Host</dt>
        <dd>{osd.server ? <a href={`/hosts/${encodeURIComponent(osd.server)}`}>{osd.server}</a> : "–"}</dd>
        <dt>CRUSH place</dt>
        <dd>{(osd.crush_node_ancestry ?? []).join(" › ") || "–"}</dd>
        <dt>Class</dt>
        <dd>{osd.device_class ?? "–"}</dd>
        <dt>Weights</dt>
        <dd>reweight {osd.reweight}, CRUSH {osd.crush_weight ?? "–"}</dd>
        <dt>Usage</dt>
        <dd>{typeof used === "number" && typeof avail === "number" ? `${bytes(used * 1024)} of ${bytes((used + avail) * 1024)} (${((used / (used + avail)) * 100).toFixed(1)}%)` : "–"}</dd>
        <dt>Latency now</dt>
        <dd>{typeof l.apply_latency_ms === "number" ? `apply ${l.apply_latency_ms} ms, commit ${l.commit_latency_ms ?? "–"} ms` : stats.error.value ? "not available" : "…"}</dd>
        <dt>Pools</dt>
        <dd>{(osd.pools ?? []).map((id) => poolNames.get(id) ?? `#${id}`).join(", ") || "none"}</dd>
        <dt>Addresses</dt>
        <dd>{osd.public_addr ?? "–"}<br />{osd.cluster_addr ?? ""}</dd>
        <dt>PG states</dt>
        <dd>
          {pgEntries.length === 0 ? "none" : (
            <ul class="plain">{pgEntries.map(([state, n]) => <li>{n} {state}</li>)}</ul>
          )}
        </dd>
      </dl>
      <details>
        <summary>Metadata</summary>
        <dl class="facts small">
          {metadata.map(([k, v]) => (<><dt>{k}</dt><dd>{String(v)}</dd></>))}
        </dl>
      </details>
      <Graphs title="Utilisation and latency" specs={osdGraphs(props.fsid, osd.id)} />
    </Card>
  );
}

export function Osds(props: { fsid?: string }) {
  const fsid = props.fsid as string;
  const list = useOsdList(fsid);
  const pgSummary = useResource<PgSummary>(`/cluster/${fsid}/sync_object/pg_summary`);
  const health = useResource<unknown>(`/cluster/${fsid}/sync_object/health`);
  const pools = useResource<PoolRow[]>(`/cluster/${fsid}/pool`);
  const q = location.value.query;
  const filter: OsdFilter = { host: q.get("host") ?? "", pool: q.get("pool") ?? "", state: (q.get("state") ?? "") as StateFilter, text: q.get("q") ?? "" };
  const [text, setText] = useState(filter.text);
  const [width, setWidth] = useState(900);
  const [selectedIds, setSelectedIds] = useState<Set<number>>(new Set());
  const [dialog, setDialog] = useState<{ command: Command; ids: number[] } | null>(null);
  const rows = list?.rows ?? [];

  // text filtering follows typing, debounced into the address
  useEffect(() => {
    const t = setTimeout(() => setQuery("q", text), 120);
    return () => clearTimeout(t);
  }, [text]);

  const fullness = useMemo(() => fullnessFromHealth(health.data.value), [health.data.value]);
  const statuses = useMemo(() => rows.map((o) => statusOf(o, fullness, pgSummary.data.value?.by_osd)), [list?.version, fullness, pgSummary.data.value]);
  const kept = useMemo(() => filterOsds(rows, filter, statuses), [list?.version, statuses, filter.host, filter.pool, filter.state, filter.text]);
  const layout = useMemo(() => layoutGroups(groupByHost(rows, kept), rows.length, { width: width - 2 }), [kept, width]);
  const hosts = useMemo(() => [...new Set(rows.map(hostOf))].sort(new Intl.Collator("en", { numeric: true }).compare), [list?.version]);
  const indexById = useMemo(() => new Map(rows.map((o, i) => [o.id, i])), [list?.version]);

  const openId = q.get("osd") === null ? null : Number(q.get("osd"));
  const openIndex = openId !== null ? indexById.get(openId) ?? null : null;
  const selected = useMemo(() => new Set([...selectedIds].map((id) => indexById.get(id)).filter((i): i is number => i !== undefined)), [selectedIds, indexById]);
  const selectedRows = [...selectedIds].map((id) => rows[indexById.get(id) ?? -1]).filter((o): o is OsdRow => !!o);

  if (!list) {
    return (
      <div class="page">
        <header class="page-head"><h1>OSDs</h1></header>
        {osdError.value ? <ErrorNote error={osdError.value} retry={() => void loadOsds(fsid)} /> : <Loading what="OSDs" />}
      </div>
    );
  }
  const unclean = rows.reduce((n, o) => n + (uncleanCount(pgSummary.data.value?.by_osd?.[String(o.id)]) > 0 ? 1 : 0), 0);
  const openRow = openIndex !== null ? rows[openIndex] : undefined;
  return (
    <div class="page">
      <header class="page-head">
        <h1>OSDs</h1>
        <span class="muted">
          {count(kept.length)} of {count(rows.length)} shown · {count(rows.filter((o) => !o.up).length)} down · {count(rows.filter((o) => !o.in).length)} out · {count(fullness.size)} near full · {count(unclean)} with PGs not clean
        </span>
      </header>
      {osdError.value !== null && <ErrorNote error={osdError.value} retry={() => void loadOsds(fsid)} />}
      <div class="filters" role="search" aria-label="Filter OSDs">
        <div class="field">
          <label for="osd-text">Search</label>
          <input id="osd-text" type="search" placeholder="osd.12, host, class, address" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="osd-host">Host</label>
          <select id="osd-host" value={filter.host} onChange={(e) => setQuery("host", (e.target as HTMLSelectElement).value)}>
            <option value="">All hosts</option>
            {hosts.map((h) => <option value={h}>{h}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="osd-pool">Pool</label>
          <select id="osd-pool" value={filter.pool} onChange={(e) => setQuery("pool", (e.target as HTMLSelectElement).value)}>
            <option value="">All pools</option>
            {(pools.data.value ?? []).map((p) => <option value={String(p.id)}>{p.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="osd-state">State</label>
          <select id="osd-state" value={filter.state} onChange={(e) => setQuery("state", (e.target as HTMLSelectElement).value)}>
            {STATE_CHOICES.map(([v, label]) => <option value={v}>{label}</option>)}
          </select>
        </div>
        {(filter.host || filter.pool || filter.state || filter.text) && (
          <button type="button" class="btn btn-ghost" onClick={() => { setText(""); for (const k of ["host", "pool", "state", "q"]) setQuery(k, null); }}>
            Clear filters
          </button>
        )}
      </div>
      <div class="legend" aria-label="Legend">
        {LEGEND.map(([label, status]) => (
          <span><CellSwatch status={status} />{label}</span>
        ))}
      </div>
      {canChange.value && selectedRows.length > 0 && (
        <div class="selection-bar" role="toolbar" aria-label="Commands for the selected OSDs">
          <span class="count">{selectedRows.length} selected</span>
          <CommandButtons osds={selectedRows} onCommand={(command) => setDialog({ command, ids: selectedRows.map((o) => o.id) })} />
          <button type="button" class="btn btn-small btn-ghost" onClick={() => setSelectedIds(new Set())}>Clear selection</button>
        </div>
      )}
      {!canChange.value && selectedRows.length > 0 && (
        <div class="selection-bar"><span class="count">{selectedRows.length} selected</span><span class="muted">Your role is read-only: commands need an operator.</span></div>
      )}
      <div class={`workbench ${openRow ? "" : "no-detail"}`}>
        <div>
          {kept.length === 0 && <Empty>No OSD matches the filters.</Empty>}
          <OsdGrid
            osds={rows}
            statuses={statuses}
            layout={layout}
            selected={selected}
            open={openIndex}
            version={list.version}
            onWidth={setWidth}
            onSelect={(next) => setSelectedIds(new Set([...next].map((i) => (rows[i] as OsdRow).id)))}
            onOpen={(i) => setQuery("osd", i === null ? null : String((rows[i] as OsdRow).id))}
          />
          <p class="kbd-help">
            Click an OSD for its detail; <kbd>Ctrl</kbd>/<kbd>Shift</kbd>+click to select several. Keyboard: arrows move, <kbd>Space</kbd> selects,{" "}
            <kbd>Enter</kbd> opens, <kbd>Ctrl</kbd>+<kbd>A</kbd> selects all shown, <kbd>Esc</kbd> clears.
          </p>
        </div>
        {openRow && openIndex !== null && (
          <OsdDetail fsid={fsid} osd={openRow} status={statuses[openIndex] as OsdStatus} pgs={pgSummary.data.value?.by_osd?.[String(openRow.id)]}
            pools={pools.data.value ?? []} onCommand={(command) => setDialog({ command, ids: [openRow.id] })} onClose={() => setQuery("osd", null)} />
        )}
      </div>
      {dialog && (
        <CommandDialog fsid={fsid} command={dialog.command} osds={dialog.ids.map((id) => rows[indexById.get(id) ?? -1]).filter((o): o is OsdRow => !!o)}
          onClose={() => setDialog(null)} />
      )}
    </div>
  );
}
