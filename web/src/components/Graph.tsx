// Time-series graphs drawn by uPlot (canvas; fast with many points) from the Graphite render API:
// a panel of graphs with a range picker (1 h, 6 h, 24 h, 7 d, custom), drag to zoom, values on
// hover, a cursor shared by every graph shown, and the time-travel moment as a line. Loaded
// lazily (components/LazyGraphs.tsx), so the first load of the console stays small.
import { signal } from "@preact/signals";
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import {
  RANGES, customRange, explorerHref, nearestValue, formatValue, pointCount, presetRange, rangeParams, render, renderUrl, toColumns,
  type Columns, type GraphSpec, type TimeRange,
} from "../lib/graphite";

const SYNC_KEY = "calamari-graphs";
const COLOURS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"];
const HEIGHT = 160;
const NEAREST_SLOTS = 30; // how far the hover looks for a point with a value, either side

function countValues(column: (number | null)[] | undefined): number {
  let n = 0;
  for (const v of column ?? []) if (v !== null && v !== undefined) n++;
  return n;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The range every live graph panel shows (one picker moves them all). */
export const graphRange = signal<TimeRange>(presetRange("1h", nowSeconds()));

function RangePicker(props: { range: TimeRange; onRange: (r: TimeRange) => void }) {
  const [custom, setCustom] = useState(false);
  const [from, setFrom] = useState("");
  const [until, setUntil] = useState("");
  const local = (s: number) => {
    const d = new Date(s * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  };
  return (
    <div class="graph-range" role="group" aria-label="Time range">
      {RANGES.map((r) => (
        <button type="button" key={r.key} class={`btn btn-small ${props.range.key === r.key ? "btn-primary" : "btn-ghost"}`}
          aria-pressed={props.range.key === r.key} data-range={r.key} onClick={() => { setCustom(false); props.onRange(presetRange(r.key, nowSeconds())); }}>
          {r.label}
        </button>
      ))}
      <button type="button" class={`btn btn-small ${props.range.key === "custom" ? "btn-primary" : "btn-ghost"}`} data-range="custom"
        aria-pressed={props.range.key === "custom"}
        onClick={() => {
          const until0 = props.range.until ?? nowSeconds();
          setFrom(local(props.range.key === "custom" ? props.range.from : until0 - 3600));
          setUntil(local(until0));
          setCustom(!custom);
        }}>
        Custom…
      </button>
      {custom && (
        <form class="graph-custom" onSubmit={(e) => {
          e.preventDefault();
          const r = customRange(new Date(from).getTime() / 1000, new Date(until).getTime() / 1000);
          if (r) {
            props.onRange(r);
            setCustom(false);
          }
        }}>
          <label>From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} /></label>
          <label>To <input type="datetime-local" value={until} onInput={(e) => setUntil((e.target as HTMLInputElement).value)} /></label>
          <button type="submit" class="btn btn-small">Show</button>
          {customRange(new Date(from).getTime() / 1000, new Date(until).getTime() / 1000) === null && (
            <span class="field-msg" role="alert">"To" must be after "From".</span>
          )}
        </form>
      )}
      {props.range.key === "custom" && (
        <span class="muted small">{new Date(props.range.from * 1000).toLocaleString()} – {new Date((props.range.until ?? nowSeconds()) * 1000).toLocaleString()}</span>
      )}
    </div>
  );
}

interface ChartProps {
  spec: GraphSpec;
  columns: Columns;
  width: number;
  /** a time-travel moment to mark (epoch ms) */
  cursorMs: number | null;
  onZoom: (from: number, until: number) => void;
}

/** One uPlot chart; re-created when its series change, given new data otherwise. */
function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const cursor = useRef<number | null>(props.cursorMs);
  const zoom = useRef(props.onZoom);
  const drawn = useRef<Columns | null>(null);
  cursor.current = props.cursorMs;
  zoom.current = props.onZoom;
  const shape = props.columns.names.join("\u0000");

  useEffect(() => {
    if (!host.current) return;
    const unit = props.spec.unit;
    const opts: uPlot.Options = {
      width: props.width,
      height: HEIGHT,
      cursor: {
        sync: { key: SYNC_KEY, setSeries: true },
        drag: { x: true, y: false, setScale: false },
        // the hover legend shows the nearest point that has a value (the store has a slot per step)
        dataIdx: (u, seriesIdx, hovered) => nearestValue(u.data[seriesIdx] as (number | null)[], hovered, NEAREST_SLOTS),
      },
      scales: { x: { time: true } },
      legend: { live: true },
      series: [
        { value: (_u, v) => (v === null ? "–" : new Date(v * 1000).toLocaleString()) },
        ...props.columns.names.map((name, i) => ({
          label: name,
          stroke: COLOURS[i % COLOURS.length] as string,
          width: 1.5,
          spanGaps: false,
          // a sparse series (a new cluster, a collector that was away) is dots, not an empty graph
          points: { show: (u: uPlot, sid: number) => countValues(u.data[sid] as (number | null)[]) < props.width / 8, size: 4 },
          value: (_u: uPlot, v: number | null) => formatValue(v, unit),
        })),
      ],
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" } },
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" }, size: 86,
          values: (_u, values) => values.map((v) => formatValue(v, unit)) },
      ],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x");
          const until = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          zoom.current(from, until);
        }],
        draw: [(u) => {
          host.current?.setAttribute("data-drawn", String(Math.round(performance.now())));
          const ms = cursor.current;
          if (ms === null) return;
          const x = u.valToPos(ms / 1000, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#e11d48";
          ctx.lineWidth = 2 * uPlot.pxRatio;
          ctx.setLineDash([6 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }],
      },
    };
    const data = [props.columns.times, ...props.columns.values] as uPlot.AlignedData;
    plot.current = new uPlot(opts, data, host.current);
    drawn.current = props.columns;
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, props.spec.unit]);

  // new data or width for the chart there is (not again for what it was just created with)
  useEffect(() => {
    if (!plot.current || drawn.current === props.columns) return;
    drawn.current = props.columns;
    plot.current.setData([props.columns.times, ...props.columns.values] as uPlot.AlignedData);
  }, [props.columns]);
  useEffect(() => {
    if (plot.current && plot.current.width !== props.width) plot.current.setSize({ width: props.width, height: HEIGHT });
  }, [props.width]);
  useEffect(() => {
    plot.current?.redraw(false);
  }, [props.cursorMs]);

  return <div ref={host} class="graph-canvas" data-points={pointCount(props.columns)} data-cursor={props.cursorMs ?? undefined} />;
}

function GraphCard(props: { spec: GraphSpec; range: TimeRange; width: number; cursorMs: number | null; tick: number; onZoom: (f: number, u: number) => void }) {
  const [columns, setColumns] = useState<Columns | null>(null);
  const [error, setError] = useState<string>("");
  const url = renderUrl(props.spec, props.range, nowSeconds(), props.width);
  const key = `${props.spec.targets.join("|")}|${props.range.key}|${props.range.from}|${props.range.until}|${props.width}|${props.tick}`;
  useEffect(() => {
    const abort = new AbortController();
    render(url, abort.signal)
      .then((series) => {
        setColumns(toColumns(series));
        setError("");
      })
      .catch((err: unknown) => {
        if (err instanceof DOMException && err.name === "AbortError") return;
        setError(err instanceof Error ? err.message : String(err));
      });
    return () => abort.abort();
  }, [key]);
  const { from, until } = rangeParams(props.range, nowSeconds());
  return (
    <figure class="graph" data-graph={props.spec.id} data-from={from} data-until={until}>
      <figcaption>{props.spec.title}{props.spec.id !== "explorer" && <> <a class="small graph-explore" href={explorerHref(props.spec, props.range.key)}>explore →</a></>}</figcaption>
      {error && <p class="error-note" role="alert">The time series could not be read: {error}.</p>}
      {!columns && !error && <p class="muted small">Loading…</p>}
      {columns && columns.names.length === 0 && (
        <p class="muted small" data-empty="true">No series matches {props.spec.targets.length === 1 ? "this target" : "these targets"}.</p>
      )}
      {columns && columns.names.length > 0 && pointCount(columns) === 0 && (
        <p class="muted small" data-empty="true">No points in this range yet: the collector sends them every few seconds.</p>
      )}
      {/* uPlot cannot scale a chart of no series (it throws on every draw) */}
      {columns && columns.names.length > 0 && (
        <Chart spec={props.spec} columns={columns} width={props.width} cursorMs={props.cursorMs} onZoom={props.onZoom} />
      )}
    </figure>
  );
}

export interface GraphPanelProps {
  specs: GraphSpec[];
  /** a fixed range (time travel: around the moment); otherwise the shared live range */
  range?: TimeRange;
  /** the time-travel moment to mark on every graph (epoch ms) */
  cursorMs?: number | null;
}

/** A row of graphs with the range picker; live ranges follow now every 30 s. */
export default function GraphPanel(props: GraphPanelProps) {
  const box = useRef<HTMLDivElement>(null);
  // null until measured: a graph is fetched for the width it is drawn at, once
  const [width, setWidth] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const [ownRange, setOwnRange] = useState<TimeRange | null>(props.range ?? null);
  const range = ownRange ?? graphRange.value;
  const setRange = (r: TimeRange) => (props.range ? setOwnRange(r) : (graphRange.value = r));
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => {
      const columns = el.clientWidth > 900 ? 2 : 1;
      setWidth(Math.max(240, Math.floor((el.clientWidth - (columns - 1) * 16) / columns) - 2));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (range.until !== null) return; // a fixed span does not move
    const t = setInterval(() => setTick((n) => n + 1), 30_000);
    return () => clearInterval(t);
  }, [range.until]);
  return (
    <div class="graph-panel" ref={box}>
      <RangePicker range={range} onRange={setRange} />
      <p class="muted small">Drag across a graph to zoom; hover for values.</p>
      <div class="graph-grid">
        {width !== null && props.specs.map((spec) => (
          <GraphCard key={spec.id} spec={spec} range={range} width={width} cursorMs={props.cursorMs ?? null} tick={tick}
            onZoom={(from, until) => {
              const r = customRange(from, until);
              if (r) setRange(r);
            }} />
        ))}
      </div>
    </div>
  );
}
