// The OSD workbench's logic, apart from drawing: what state an OSD is in, which OSDs a filter
// keeps, how they group by CRUSH place and where each cell goes. Everything here is linear in
// the number of OSDs, so that 10,000 of them re-filter and re-layout within a frame or two.

export interface OsdRow {
  id: number;
  up: boolean;
  in: boolean;
  reweight: number;
  crush_weight?: number;
  device_class?: string | null;
  server?: string | null;
  crush_host?: string | null;
  crush_node_ancestry?: string[];
  public_addr?: string | null;
  cluster_addr?: string | null;
  pools?: number[];
  valid_commands?: string[];
  [field: string]: unknown;
}

export type Fullness = "nearfull" | "backfillfull" | "full";
export type StateFilter = "" | "up-in" | "down" | "out" | "nearfull" | "unclean";

export interface OsdStatus {
  up: boolean;
  in: boolean;
  fullness: Fullness | null;
  unclean: boolean;
}

/** PG states of one OSD as pg_summary's `by_osd` gives them: {"active+clean": 104, …}. */
export type PgStates = Record<string, number>;

/** A PG state is clean when it is active and clean (scrubbing or deep-scrubbing may go along). */
export function isCleanState(state: string): boolean {
  const parts = state.split("+");
  if (!parts.includes("active") || !parts.includes("clean")) return false;
  return parts.every((p) => p === "active" || p === "clean" || p === "scrubbing" || p === "deep");
}

export function uncleanCount(states: PgStates | undefined): number {
  if (!states) return 0;
  let n = 0;
  for (const [state, count] of Object.entries(states)) if (!isCleanState(state)) n += count;
  return n;
}

/** Which OSDs Ceph's health checks call (near/backfill) full: `osd.3 is near full` etc. in the
 * details of OSD_NEARFULL, OSD_BACKFILLFULL and OSD_FULL. */
export function fullnessFromHealth(health: unknown): Map<number, Fullness> {
  const result = new Map<number, Fullness>();
  const checks = (health as { checks?: Record<string, { detail?: { message?: string }[] }> } | null)?.checks;
  if (!checks) return result;
  const kinds: [string, Fullness][] = [["OSD_NEARFULL", "nearfull"], ["OSD_BACKFILLFULL", "backfillfull"], ["OSD_FULL", "full"]];
  for (const [code, fullness] of kinds) {
    for (const line of checks[code]?.detail ?? []) {
      const found = /osd\.(\d+)/.exec(line.message ?? "");
      if (found) result.set(Number(found[1]), fullness);
    }
  }
  return result;
}

export function statusOf(osd: OsdRow, fullness: Map<number, Fullness>, pgs: Record<string, PgStates> | undefined): OsdStatus {
  return {
    up: osd.up,
    in: osd.in,
    fullness: fullness.get(osd.id) ?? null,
    unclean: uncleanCount(pgs?.[String(osd.id)]) > 0,
  };
}

/** Words for a status, so that nothing is told by colour alone. */
export function describeStatus(s: OsdStatus): string {
  const words = [s.up ? "up" : "down", s.in ? "in" : "out"];
  if (s.fullness) words.push(s.fullness === "backfillfull" ? "backfill full" : s.fullness === "nearfull" ? "near full" : "full");
  if (s.unclean) words.push("PGs not clean");
  return words.join(", ");
}

export interface OsdFilter {
  host: string;
  pool: string; // pool id, or ""
  state: StateFilter;
  text: string;
}

export const NO_FILTER: OsdFilter = { host: "", pool: "", state: "", text: "" };

export function hostOf(osd: OsdRow): string {
  return osd.crush_host || osd.server || "(no host)";
}

export function matchesState(s: OsdStatus, state: StateFilter): boolean {
  switch (state) {
    case "":
      return true;
    case "up-in":
      return s.up && s.in;
    case "down":
      return !s.up;
    case "out":
      return !s.in;
    case "nearfull":
      return s.fullness !== null;
    case "unclean":
      return s.unclean;
  }
}

/** Text matches `osd.12` or `12` by id, else a part of the host, server, class or addresses. */
export function matchesText(osd: OsdRow, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (!t) return true;
  const byId = /^(?:osd\.)?(\d+)$/.exec(t);
  if (byId) return osd.id === Number(byId[1]);
  const fields = [osd.crush_host, osd.server, osd.device_class, osd.public_addr, osd.cluster_addr, `osd.${osd.id}`];
  return fields.some((f) => typeof f === "string" && f.toLowerCase().includes(t));
}

export function filterOsds(
  osds: OsdRow[],
  filter: OsdFilter,
  statuses: OsdStatus[],
): number[] {
  const pool = filter.pool === "" ? null : Number(filter.pool);
  const kept: number[] = [];
  for (let i = 0; i < osds.length; i++) {
    const osd = osds[i] as OsdRow;
    if (filter.host && hostOf(osd) !== filter.host) continue;
    if (pool !== null && !(osd.pools ?? []).includes(pool)) continue;
    if (!matchesState(statuses[i] as OsdStatus, filter.state)) continue;
    if (!matchesText(osd, filter.text)) continue;
    kept.push(i);
  }
  return kept;
}

export interface HostGroup {
  /** the CRUSH buckets above the host, root first (e.g. ["default", "rack1"]) */
  place: string[];
  host: string;
  osds: number[]; // indexes into the OSD list, by id
}

/** OSDs by host, hosts by their CRUSH place (root, rack, …), in a stable order. */
export function groupByHost(osds: OsdRow[], indexes: number[]): HostGroup[] {
  const groups = new Map<string, HostGroup>();
  for (const i of indexes) {
    const osd = osds[i] as OsdRow;
    const host = hostOf(osd);
    const ancestry = osd.crush_node_ancestry ?? [];
    const place = ancestry.length > 0 && ancestry[ancestry.length - 1] === osd.crush_host ? ancestry.slice(0, -1) : ancestry;
    const key = `${place.join("/")}/${host}`;
    let g = groups.get(key);
    if (!g) {
      g = { place, host, osds: [] };
      groups.set(key, g);
    }
    g.osds.push(i);
  }
  const list = [...groups.values()];
  const collate = new Intl.Collator("en", { numeric: true });
  list.sort((a, b) => collate.compare(a.place.join("/"), b.place.join("/")) || collate.compare(a.host, b.host));
  for (const g of list) g.osds.sort((a, b) => (osds[a] as OsdRow).id - (osds[b] as OsdRow).id);
  return list;
}

export interface LayoutRow {
  kind: "place" | "host";
  label: string;
  depth: number;
  y: number;
  height: number;
  osds: number[]; // host rows: the OSD indexes, in drawing order
  perLine: number;
}

export interface Layout {
  rows: LayoutRow[];
  height: number;
  cell: number;
  gap: number;
  labelWidth: number;
  /** where each OSD index is drawn: x, y of its cell (NaN when filtered out) */
  x: Float32Array;
  y: Float32Array;
}

export interface LayoutOptions {
  width: number;
  cell?: number;
  gap?: number;
  labelWidth?: number;
  headerHeight?: number;
}

/** Rows of cells: a header per CRUSH place above the hosts (shown when there is more than a
 * root), then one block per host with its cells wrapping at the given width. */
export function layoutGroups(groups: HostGroup[], total: number, options: LayoutOptions): Layout {
  const cell = options.cell ?? 18;
  const gap = options.gap ?? 4;
  const labelWidth = options.labelWidth ?? 180;
  const header = options.headerHeight ?? 26;
  const perLine = Math.max(1, Math.floor((options.width - labelWidth + gap) / (cell + gap)));
  const x = new Float32Array(total).fill(Number.NaN);
  const y = new Float32Array(total).fill(Number.NaN);
  const showPlaces = groups.some((g) => g.place.length > 1) || new Set(groups.map((g) => g.place[0])).size > 1;
  const rows: LayoutRow[] = [];
  let top = 0;
  let lastPlace: string[] = [];
  for (const g of groups) {
    if (showPlaces) {
      let same = 0;
      while (same < g.place.length && same < lastPlace.length && g.place[same] === lastPlace[same]) same++;
      for (let d = same; d < g.place.length; d++) {
        rows.push({ kind: "place", label: g.place[d] as string, depth: d, y: top, height: header, osds: [], perLine });
        top += header;
      }
      lastPlace = g.place;
    }
    const lines = Math.max(1, Math.ceil(g.osds.length / perLine));
    const height = lines * (cell + gap) + gap;
    g.osds.forEach((index, k) => {
      x[index] = labelWidth + (k % perLine) * (cell + gap);
      y[index] = top + gap + Math.floor(k / perLine) * (cell + gap);
    });
    rows.push({ kind: "host", label: g.host, depth: showPlaces ? g.place.length : 0, y: top, height, osds: g.osds, perLine });
    top += height;
  }
  return { rows, height: top, cell, gap, labelWidth, x, y };
}

/** The first row at or below `y` (binary search: rows are in order). */
export function firstRowAt(layout: Layout, y: number): number {
  let lo = 0;
  let hi = layout.rows.length - 1;
  let found = layout.rows.length;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const row = layout.rows[mid] as LayoutRow;
    if (row.y + row.height > y) {
      found = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found;
}

/** The OSD index drawn at (x, y) in layout coordinates, or null. */
export function cellAt(layout: Layout, x: number, y: number): number | null {
  const r = firstRowAt(layout, y);
  const row = layout.rows[r];
  if (!row || row.kind !== "host" || y < row.y) return null;
  const step = layout.cell + layout.gap;
  const col = Math.floor((x - layout.labelWidth) / step);
  const line = Math.floor((y - row.y - layout.gap) / step);
  if (col < 0 || col >= row.perLine || line < 0) return null;
  if (x - layout.labelWidth - col * step > layout.cell || y - row.y - layout.gap - line * step > layout.cell) return null;
  const k = line * row.perLine + col;
  return k < row.osds.length ? (row.osds[k] as number) : null;
}

/** Keyboard moves between cells in drawing order: left/right one cell, up/down one line. */
export function moveCursor(layout: Layout, order: number[], current: number | null, key: string): number | null {
  if (order.length === 0) return null;
  const pos = current === null ? -1 : order.indexOf(current);
  if (pos < 0) return order[0] as number;
  const step = layout.cell + layout.gap;
  const cx = layout.x[current as number] as number;
  const cy = layout.y[current as number] as number;
  switch (key) {
    case "ArrowRight":
      return order[Math.min(order.length - 1, pos + 1)] as number;
    case "ArrowLeft":
      return order[Math.max(0, pos - 1)] as number;
    case "Home":
      return order[0] as number;
    case "End":
      return order[order.length - 1] as number;
    case "ArrowDown":
    case "ArrowUp": {
      // the nearest cell of the next (previous) line below (above)
      const down = key === "ArrowDown";
      let best: number | null = null;
      let bestScore = Infinity;
      for (let k = pos + (down ? 1 : -1); k >= 0 && k < order.length; k += down ? 1 : -1) {
        const i = order[k] as number;
        const dy = ((layout.y[i] as number) - cy) * (down ? 1 : -1);
        if (dy <= 0) continue;
        if (best !== null && dy > bestScore / 10000 + step) break;
        const score = dy * 10000 + Math.abs((layout.x[i] as number) - cx);
        if (score < bestScore) {
          bestScore = score;
          best = i;
        }
      }
      return best ?? current;
    }
    default:
      return current;
  }
}

/** The drawing order of the laid-out OSDs (row by row). */
export function drawingOrder(layout: Layout): number[] {
  const order: number[] = [];
  for (const row of layout.rows) for (const i of row.osds) order.push(i);
  return order;
}
