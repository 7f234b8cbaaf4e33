// Time travel's logic, apart from drawing: the moment(s) a shareable address holds, times shown in
// the user's zone and UTC, the timeline's scale, and the history diff as a list of entries, each
// linking to its object at that time. Pure: no fetching, no DOM.

export type TravelView = "overview" | "osds" | "pools" | "hosts" | "changes";
export const TRAVEL_VIEWS: TravelView[] = ["overview", "osds", "pools", "hosts", "changes"];

/** What the address of the time-travel page holds: a moment (`at`) or two (`from`, `to`). */
export interface Moments {
  at: string | null;
  from: string | null;
  to: string | null;
  view: TravelView;
  /** the object shown at that moment: an OSD id, a pool name, a host */
  osd: string | null;
  pool: string | null;
  host: string | null;
}

function isoOrNull(value: string | null): string | null {
  if (value === null || value.trim() === "") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Reads the page's query; unreadable times are dropped (the page then asks for a moment). */
export function readMoments(query: URLSearchParams): Moments {
  const from = isoOrNull(query.get("from"));
  const to = isoOrNull(query.get("to"));
  const view = query.get("view") as TravelView | null;
  const pair = from !== null && to !== null;
  return {
    at: pair ? null : isoOrNull(query.get("at")),
    from: pair ? (from <= to ? from : to) : null,
    to: pair ? (from <= to ? to : from) : null,
    view: view && TRAVEL_VIEWS.includes(view) ? view : pair ? "changes" : "overview",
    osd: query.get("osd"),
    pool: query.get("pool"),
    host: query.get("host"),
  };
}

/** The address of a moment (or two), a view and an object: what a shared link holds. */
export function momentHref(moments: Partial<Moments>): string {
  const query = new URLSearchParams();
  if (moments.from && moments.to) {
    query.set("from", moments.from);
    query.set("to", moments.to);
  } else if (moments.at) {
    query.set("at", moments.at);
  }
  if (moments.view) query.set("view", moments.view);
  for (const key of ["osd", "pool", "host"] as const) {
    const value = moments[key];
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const search = query.toString();
  return `/history${search ? `?${search}` : ""}`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A moment in the user's time zone (with its name) and in UTC, to the second. */
// A formatter per zone, made once: making one costs more than formatting (the timeline formats a
// moment per health mark on every render).
const zoneFormats = new Map<string, Intl.DateTimeFormat>();
function zoneFormat(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? "";
  let found = zoneFormats.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat("en-CA", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: "h23", timeZoneName: "short",
    });
    zoneFormats.set(key, found);
  }
  return found;
}

export function bothZones(iso: string, timeZone?: string): { local: string; utc: string } {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return { local: iso, utc: iso };
  const parts = zoneFormat(timeZone).formatToParts(date);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const local = `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}:${part("second")} ${part("timeZoneName")}`;
  const utc = `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} `
    + `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`;
  return { local, utc };
}

/** `<input type="datetime-local">` value of a moment in the browser's zone, and back. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const ms = new Date(value).getTime(); // a value without a zone is local time
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

// ------------------------------------------------------------------ the timeline

// What each view of a past moment draws, so that the server renders and sends only that
// (`history?at=&parts=&osd_fields=`): the cluster, its health and counters always come. The OSD
// workbench at 10,000 OSDs needs neither the servers nor most of an OSD's fields: its answer is a
// tenth of the whole state's.
export const PAST_PARTS: Record<Exclude<TravelView, "changes">, string[]> = {
  overview: ["pool"],
  osds: ["osd", "pool"],
  pools: ["pool"],
  hosts: ["server"],
};
// the OSD fields the past workbench uses: state, grouping by CRUSH place and host, the detail panel
export const PAST_OSD_FIELDS = ["id", "up", "in", "reweight", "crush_weight", "server", "crush_host", "crush_node_ancestry", "pools"];

/** The API path of the cluster at moment `at` as the view `view` shows it. */
export function pastStatePath(fsid: string, at: string, view: TravelView): string {
  const parts = PAST_PARTS[view === "changes" ? "overview" : view];
  const query = [`at=${encodeURIComponent(at)}`, `parts=${parts.join(",")}`];
  if (parts.includes("osd")) query.push(`osd_fields=${PAST_OSD_FIELDS.join(",")}`);
  return `/cluster/${fsid}/history?${query.join("&")}`;
}

export interface Bucket {
  start: string;
  end: string;
  count: number;
  first_position: number;
  last_position: number;
}

export interface HealthMark {
  position: number;
  time: string;
  from: string | null;
  to: string | null;
}

export interface TimelineAnswer {
  fsid: string;
  first: { position: number; time: string | null };
  last: { position: number; time: string | null };
  from: string | null;
  to: string | null;
  buckets: Bucket[];
  health: HealthMark[];
  health_truncated: boolean;
}

/** Maps times to x over a span and back; x is clamped to [0, width]. */
export interface TimeScale {
  x: (ms: number) => number;
  time: (x: number) => number;
}

export function timeScale(startMs: number, endMs: number, width: number): TimeScale {
  const span = Math.max(1, endMs - startMs);
  return {
    x: (ms) => Math.min(width, Math.max(0, ((ms - startMs) / span) * width)),
    time: (x) => startMs + (Math.min(width, Math.max(0, x)) / width) * span,
  };
}

/** Bar heights for the buckets: a square-root scale, so that a quiet hour still shows beside a
 * storm of events, and at least 1 px for any bucket with an event. */
export function barHeights(buckets: Pick<Bucket, "count">[], height: number): number[] {
  const most = buckets.reduce((m, b) => Math.max(m, b.count), 0);
  if (most === 0) return buckets.map(() => 0);
  return buckets.map((b) => (b.count === 0 ? 0 : Math.max(1, Math.round((Math.sqrt(b.count) / Math.sqrt(most)) * height))));
}

/** The health status in force at each transition's time and before the first. */
export function healthTone(status: string | null): "ok" | "warn" | "err" | "info" {
  return status === "HEALTH_OK" ? "ok" : status === "HEALTH_WARN" ? "warn" : status === "HEALTH_ERR" ? "err" : "info";
}

/** A span zoomed around a moment by a factor (< 1 zooms in), kept inside [min, max]. */
export function zoomSpan(startMs: number, endMs: number, centreMs: number, factor: number, minMs: number, maxMs: number): [number, number] {
  const span = Math.max(1000, (endMs - startMs) * factor);
  const full = maxMs - minMs;
  if (span >= full) return [minMs, maxMs];
  const share = endMs > startMs ? (centreMs - startMs) / (endMs - startMs) : 0.5;
  let start = centreMs - share * span;
  start = Math.min(Math.max(start, minMs), maxMs - span);
  return [start, start + span];
}

// ------------------------------------------------------------------ the diff

export interface DiffAnswer {
  fsid: string;
  from: { position: number; time: string | null };
  to: { position: number; time: string | null };
  event_count: number;
  truncated: boolean;
  summary: {
    osds: { id: number; before: string | null; after: string | null; changes: Record<string, [unknown, unknown]>; events: Record<string, number> }[];
    pools: {
      created: { id: number; name: string; position: number; time: string }[];
      deleted: { id: number; name: string; position: number; time: string }[];
      changed: { id: number; name: string; changes: Record<string, [unknown, unknown]> }[];
    };
    flags: { before: string[]; after: string[]; set: string[]; unset: string[]; changes: { position: number; time: string; set: string[]; unset: string[] }[] };
    health: {
      before: string | null;
      after: string | null;
      transitions: { position: number; time: string; from: string | null; to: string | null }[];
      checks_raised: string[];
      checks_cleared: string[];
    };
    requests: {
      id: string; username: string; kind: string; headline: string; state: string; outcome: string;
      error_message: string | null; requested_at: string; completed_at: string | null;
      events: { position: number; time: string; type: string }[];
    }[];
    users: { position: number; time: string; type: string; username: string | null; by: string | null }[];
  };
}

export type EntryKind = "osd" | "pool" | "flag" | "health" | "check" | "request" | "user";

/** One line of "what changed": its words, who did it when known, and a link to its object at the
 * moment that shows the change (before a deletion: the last moment the pool existed). */
export interface DiffEntry {
  kind: EntryKind;
  title: string;
  detail: string;
  who: string | null;
  outcome: string | null;
  time: string | null;
  href: string;
}

/** A moment just before another (ms earlier), to show an object as it was before it went. */
export function justBefore(iso: string, ms = 1): string {
  return new Date(new Date(iso).getTime() - ms).toISOString();
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function describeChanges(changes: Record<string, [unknown, unknown]>): string {
  return Object.entries(changes)
    .map(([field, [before, after]]) => `${field}: ${show(before)} → ${show(after)}`)
    .join("; ");
}

const STATE_WORDS: Record<string, string> = {
  up_in: "up, in", up_out: "up, out", down_in: "down, in", down_out: "down, out",
};

function osdState(key: string | null): string {
  return key === null ? "absent" : STATE_WORDS[key] ?? key;
}

/** The diff's summary as entries, oldest first where times are known; the end moment (`to`)
 * shows objects as they are after the change. */
export function diffEntries(diff: DiffAnswer): DiffEntry[] {
  const s = diff.summary;
  const to = diff.to.time ?? new Date().toISOString();
  const entries: DiffEntry[] = [];
  for (const osd of s.osds) {
    const flaps = Object.entries(osd.events).map(([type, n]) => `${n}× ${type}`).join(", ");
    const same = osd.before === osd.after;
    entries.push({
      kind: "osd",
      title: `osd.${osd.id}: ${osdState(osd.before)} → ${osdState(osd.after)}${same ? " (flapped back)" : ""}`,
      detail: [flaps, describeChanges(osd.changes)].filter(Boolean).join(" · "),
      who: null, outcome: null, time: null,
      href: momentHref({ at: to, view: "osds", osd: String(osd.id) }),
    });
  }
  for (const pool of s.pools.created) {
    entries.push({ kind: "pool", title: `pool '${pool.name}' created`, detail: `id ${pool.id}`, who: null, outcome: null, time: pool.time,
      href: momentHref({ at: pool.time, view: "pools", pool: pool.name }) });
  }
  for (const pool of s.pools.deleted) {
    entries.push({ kind: "pool", title: `pool '${pool.name}' deleted`, detail: `id ${pool.id}`, who: null, outcome: null, time: pool.time,
      href: momentHref({ at: justBefore(pool.time), view: "pools", pool: pool.name }) });
  }
  for (const pool of s.pools.changed) {
    entries.push({ kind: "pool", title: `pool '${pool.name}' changed`, detail: describeChanges(pool.changes), who: null, outcome: null, time: null,
      href: momentHref({ at: to, view: "pools", pool: pool.name }) });
  }
  for (const change of s.flags.changes) {
    const words = [...change.set.map((f) => `+${f}`), ...change.unset.map((f) => `−${f}`)].join(" ");
    entries.push({ kind: "flag", title: `flags ${words}`, detail: "", who: null, outcome: null, time: change.time,
      href: momentHref({ at: change.time, view: "overview" }) });
  }
  for (const t of s.health.transitions) {
    entries.push({ kind: "health", title: `health ${t.from ?? "unknown"} → ${t.to ?? "unknown"}`, detail: "", who: null, outcome: null, time: t.time,
      href: momentHref({ at: t.time, view: "overview" }) });
  }
  for (const code of s.health.checks_raised) {
    entries.push({ kind: "check", title: `check ${code} raised`, detail: "", who: null, outcome: null, time: null, href: momentHref({ at: to, view: "overview" }) });
  }
  for (const code of s.health.checks_cleared) {
    const from = diff.from.time ?? to;
    entries.push({ kind: "check", title: `check ${code} cleared`, detail: "", who: null, outcome: null, time: null, href: momentHref({ at: from, view: "overview" }) });
  }
  for (const r of s.requests) {
    // the object as it was when asked for (a pool being deleted still shows then)
    entries.push({
      kind: "request", title: r.headline || r.kind, detail: r.error_message ?? "", who: r.username, outcome: r.outcome,
      time: r.requested_at, href: momentHref({ at: r.requested_at, ...requestObject(r.headline) }),
    });
  }
  for (const u of s.users) {
    entries.push({ kind: "user", title: `${u.type}${u.username ? ` (${u.username})` : ""}`, detail: "", who: u.by, outcome: null, time: u.time,
      href: momentHref({ at: u.time, view: "overview" }) });
  }
  // timed entries in time order; the net changes without a time stay in their place, after them
  const timed = entries.filter((e) => e.time !== null).sort((a, b) => (a.time as string).localeCompare(b.time as string));
  return [...timed, ...entries.filter((e) => e.time === null)];
}

/** The object a request's headline names ("Deleting pool 'rbd'", "Marking osd.3 out"). */
export function requestObject(headline: string): Partial<Moments> {
  const pool = /\bpool '([^']+)'/i.exec(headline);
  if (pool) return { view: "pools", pool: pool[1] as string };
  const osd = /\bosd\.(\d+)/i.exec(headline);
  if (osd) return { view: "osds", osd: osd[1] as string };
  return { view: "overview" };
}
