// Graphs' logic, apart from drawing: the Graphite targets of each panel (the metric names
// docs/metrics.md lists), the time ranges offered, and the render API's answer as the column
// arrays a chart draws. Pure except `render`, the one fetch.

// the render API under /api/v2/, where the session cookie is sent (the same as /graphite/render)
export const RENDER = "/api/v2/graphite/render";

export type RangeKey = "1h" | "6h" | "24h" | "7d" | "custom";
export const RANGES: { key: Exclude<RangeKey, "custom">; label: string; seconds: number }[] = [
  { key: "1h", label: "1 h", seconds: 3600 },
  { key: "6h", label: "6 h", seconds: 6 * 3600 },
  { key: "24h", label: "24 h", seconds: 86400 },
  { key: "7d", label: "7 d", seconds: 7 * 86400 },
];

/** A span of time in epoch seconds; `until` null: up to now (the graph follows). */
export interface TimeRange {
  key: RangeKey;
  from: number;
  until: number | null;
}

export function presetRange(key: Exclude<RangeKey, "custom">, nowSeconds: number): TimeRange {
  const preset = RANGES.find((r) => r.key === key) ?? (RANGES[0] as (typeof RANGES)[number]);
  return { key, from: Math.floor(nowSeconds - preset.seconds), until: null };
}

/** A custom span (a drag on a graph, or two times typed); null when it is empty or reversed. */
export function customRange(from: number, until: number): TimeRange | null {
  if (!Number.isFinite(from) || !Number.isFinite(until) || until - from < 1) return null;
  return { key: "custom", from: Math.floor(from), until: Math.ceil(until) };
}

/** The render API's from/until for a range (epoch seconds; Graphite takes them as they are). */
export function rangeParams(range: TimeRange, nowSeconds: number): { from: string; until: string } {
  const until = range.until ?? nowSeconds;
  const from = range.key === "custom" ? range.from : until - (RANGES.find((r) => r.key === range.key)?.seconds ?? 3600);
  return { from: String(Math.floor(from)), until: String(Math.ceil(until)) };
}

// ------------------------------------------------------------------ what each panel graphs

export type Unit = "bytes" | "bytes/s" | "ops/s" | "percent" | "ms" | "count";

export interface GraphSpec {
  id: string;
  title: string;
  unit: Unit;
  /** Graphite targets; each should alias its series to a short name */
  targets: string[];
}

/** A metric path node: Graphite splits on dots and reads globs, so host names keep their dots
 * as underscores the way the collector writes them, and other characters are left alone. */
export function node(value: string | number): string {
  return String(value).replace(/\./g, "_");
}

export function clusterGraphs(fsid: string): GraphSpec[] {
  const c = `ceph.cluster.${node(fsid)}`;
  return [
    { id: "cluster-iops", title: "Client IOPS", unit: "ops/s",
      targets: [`alias(${c}.io.read_op_per_sec,'read')`, `alias(${c}.io.write_op_per_sec,'write')`] },
    { id: "cluster-throughput", title: "Client throughput", unit: "bytes/s",
      targets: [`alias(${c}.io.read_bytes_sec,'read')`, `alias(${c}.io.write_bytes_sec,'write')`] },
    { id: "cluster-usage", title: "Raw capacity", unit: "bytes",
      targets: [`alias(${c}.df.total_used_bytes,'used')`, `alias(${c}.df.total_bytes,'total')`] },
  ];
}

export function poolGraphs(fsid: string, poolId: number): GraphSpec[] {
  const p = `ceph.cluster.${node(fsid)}.pool.${poolId}`;
  return [
    { id: `pool-${poolId}-usage`, title: "Stored", unit: "bytes", targets: [`alias(${p}.num_bytes,'stored')`] },
    { id: `pool-${poolId}-objects`, title: "Objects", unit: "count", targets: [`alias(${p}.num_objects,'objects')`] },
    { id: `pool-${poolId}-iops`, title: "I/O operations", unit: "ops/s",
      targets: [`alias(perSecond(${p}.num_read),'read')`, `alias(perSecond(${p}.num_write),'write')`] },
    { id: `pool-${poolId}-throughput`, title: "I/O throughput", unit: "bytes/s",
      targets: [`alias(scale(perSecond(${p}.num_read_kb),1024),'read')`, `alias(scale(perSecond(${p}.num_write_kb),1024),'write')`] },
  ];
}

export function osdGraphs(fsid: string, osdId: number): GraphSpec[] {
  const o = `ceph.cluster.${node(fsid)}.osd.${osdId}`;
  return [
    { id: `osd-${osdId}-util`, title: "Utilisation", unit: "percent",
      targets: [`alias(scale(divideSeries(${o}.kb_used,sumSeries(${o}.kb_used,${o}.kb_avail)),100),'used')`] },
    { id: `osd-${osdId}-latency`, title: "Latency", unit: "ms",
      targets: [`alias(${o}.apply_latency_ms,'apply')`, `alias(${o}.commit_latency_ms,'commit')`] },
  ];
}

export function hostGraphs(fqdn: string): GraphSpec[] {
  const h = `servers.${node(fqdn)}`;
  return [
    { id: `host-${fqdn}-cpu`, title: "CPU", unit: "percent",
      targets: [`alias(${h}.cpu.total.user,'user')`, `alias(${h}.cpu.total.system,'system')`, `alias(${h}.cpu.total.iowait,'iowait')`] },
    { id: `host-${fqdn}-memory`, title: "Memory", unit: "bytes",
      targets: [`alias(${h}.memory.used,'used')`, `alias(${h}.memory.total,'total')`] },
    { id: `host-${fqdn}-network`, title: "Network", unit: "bytes/s",
      targets: [`aliasByNode(perSecond(${h}.network.*.rx_bytes),3,4)`, `aliasByNode(perSecond(${h}.network.*.tx_bytes),3,4)`] },
  ];
}

/** The explorer's one graph of whatever targets the address holds (null: none). */
export function explorerSpec(targets: string[]): GraphSpec | null {
  const kept = targets.map((t) => t.trim()).filter(Boolean).slice(0, 50); // the render API's limit
  return kept.length ? { id: "explorer", title: kept.length === 1 ? (kept[0] as string) : `${kept.length} targets`, unit: "count", targets: kept } : null;
}

/** The explorer's address for a graph's targets. */
export function explorerHref(spec: GraphSpec, range: RangeKey): string {
  const query = new URLSearchParams();
  for (const t of spec.targets) query.append("target", t);
  if (range !== "custom") query.set("range", range);
  return `/graphs?${query.toString()}`;
}

// ------------------------------------------------------------------ the render API's answer

export interface RenderSeries {
  target: string;
  datapoints: [number | null, number][];
}

/** uPlot's columns: the times (epoch seconds, ascending, each once) and a value column per
 * series, null where a series has no point at that time. */
export interface Columns {
  names: string[];
  times: number[];
  values: (number | null)[][];
}

export function toColumns(series: RenderSeries[]): Columns {
  const timeSet = new Set<number>();
  for (const s of series) for (const [, t] of s.datapoints) timeSet.add(t);
  const times = [...timeSet].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const values = series.map((s) => {
    const column: (number | null)[] = new Array(times.length).fill(null);
    for (const [v, t] of s.datapoints) column[index.get(t) as number] = v === null || Number.isFinite(v) ? v : null;
    return column;
  });
  return { names: series.map((s) => s.target), times, values };
}

/** The index nearest to `index` whose value is not null, at most `reach` away (else `index`). */
export function nearestValue(column: readonly (number | null | undefined)[], index: number, reach: number): number {
  for (let d = 0; d <= reach; d++) {
    const before = column[index - d];
    if (before !== null && before !== undefined) return index - d;
    const after = column[index + d];
    if (after !== null && after !== undefined) return index + d;
  }
  return index;
}

/** How many points carry a value: a graph with none says so instead of drawing empty axes. */
export function pointCount(columns: Columns): number {
  let n = 0;
  for (const column of columns.values) for (const v of column) if (v !== null) n++;
  return n;
}

/** A value with its unit, short, for axes and the hover legend. */
export function formatValue(value: number | null | undefined, unit: Unit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const scaled = (v: number, steps: string[], base: number) => {
    let i = 0;
    let x = Math.abs(v);
    while (x >= base && i < steps.length - 1) {
      x /= base;
      i++;
    }
    const shown = x >= 100 || i === 0 ? Math.round(x).toString() : x.toFixed(1);
    return `${v < 0 ? "-" : ""}${shown} ${steps[i]}`.trim();
  };
  switch (unit) {
    case "bytes": return scaled(value, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 1024);
    case "bytes/s": return `${scaled(value, ["B", "KiB", "MiB", "GiB", "TiB"], 1024)}/s`;
    case "ops/s": return `${scaled(value, ["", "k", "M", "G"], 1000)} op/s`.replace("  ", " ");
    case "percent": return `${value.toFixed(1)}%`;
    case "ms": return `${value.toFixed(value < 10 ? 1 : 0)} ms`;
    default: return scaled(value, ["", "k", "M", "G"], 1000);
  }
}

/** The render URL of a graph over a range, at most `maxPoints` points a series (the width). */
export function renderUrl(spec: GraphSpec, range: TimeRange, nowSeconds: number, maxPoints: number): string {
  const query = new URLSearchParams();
  for (const t of spec.targets) query.append("target", t);
  const { from, until } = rangeParams(range, nowSeconds);
  query.set("from", from);
  query.set("until", until);
  query.set("format", "json");
  query.set("maxDataPoints", String(Math.max(10, Math.floor(maxPoints))));
  return `${RENDER}?${query.toString()}`;
}

export async function render(url: string, signal?: AbortSignal): Promise<RenderSeries[]> {
  const init: RequestInit = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (signal) init.signal = signal;
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const detail = body && typeof body === "object" && typeof (body as { detail?: unknown }).detail === "string"
      ? (body as { detail: string }).detail : `the server answered HTTP ${response.status}`;
    throw new Error(detail);
  }
  return Array.isArray(body) ? (body as RenderSeries[]) : [];
}
