// Every OSD as a cell on one canvas, drawn only where the viewport shows it: 10,000 OSDs are a few
// thousand rectangles per frame and no DOM nodes. Colour says the state, and so does a shape
// (a cross: down; hollow: out; a corner triangle: near full or full; a dot: PGs not clean).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import {
  cellAt, describeStatus, drawingOrder, firstRowAt, type Layout, type LayoutRow, moveCursor, type OsdRow, type OsdStatus,
} from "../lib/osd";

export const COLOURS = {
  upIn: "#16a34a",
  out: "#f59e0b",
  outFill: "#fef3c7",
  down: "#dc2626",
  downOut: "#64748b",
  full: "#7f1d1d",
  nearfull: "#ea580c",
  unclean: "#0f172a",
  selected: "#1d4ed8",
  cursor: "#f59e0b",
  label: "#17202b",
  labelMuted: "#6b7686",
  line: "#eef1f5",
};

/** Draws one cell; also used by the legend, so that the legend shows exactly what the grid does. */
export function drawCell(ctx: CanvasRenderingContext2D, x: number, y: number, size: number, s: OsdStatus): void {
  const fill = !s.up ? (s.in ? COLOURS.down : COLOURS.downOut) : s.in ? COLOURS.upIn : COLOURS.outFill;
  ctx.fillStyle = fill;
  ctx.fillRect(x, y, size, size);
  if (s.up && !s.in) {
    // out: hollow, with a strong border
    ctx.strokeStyle = COLOURS.out;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, y + 1, size - 2, size - 2);
  }
  if (!s.up) {
    // down: a white cross
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x + 4, y + 4);
    ctx.lineTo(x + size - 4, y + size - 4);
    ctx.moveTo(x + size - 4, y + 4);
    ctx.lineTo(x + 4, y + size - 4);
    ctx.stroke();
  }
  if (s.fullness) {
    // near full or full: a triangle in the top-right corner, darker when full
    ctx.fillStyle = s.fullness === "full" ? COLOURS.full : COLOURS.nearfull;
    const t = Math.round(size * 0.55);
    ctx.beginPath();
    ctx.moveTo(x + size - t, y);
    ctx.lineTo(x + size, y);
    ctx.lineTo(x + size, y + t);
    ctx.closePath();
    ctx.fill();
  }
  if (s.unclean) {
    // PGs not clean: a dark dot in the middle, ringed so it shows on every fill
    ctx.beginPath();
    ctx.arc(x + size / 2, y + size / 2, Math.max(2, size * 0.17), 0, Math.PI * 2);
    ctx.fillStyle = COLOURS.unclean;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.fill();
  }
}

/** A legend swatch: a small canvas with one cell. */
export function CellSwatch(props: { status: OsdStatus; size?: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const size = props.size ?? 16;
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = size * dpr;
    canvas.height = size * dpr;
    ctx.scale(dpr, dpr);
    drawCell(ctx, 0, 0, size, props.status);
  }, [props.status, size]);
  return <canvas ref={ref} width={size} height={size} style={{ width: `${size}px`, height: `${size}px` }} aria-hidden="true" />;
}

interface GridProps {
  osds: OsdRow[];
  statuses: OsdStatus[];
  layout: Layout;
  /** OSD indexes selected */
  selected: Set<number>;
  /** the OSD index whose detail is open */
  open: number | null;
  onSelect: (next: Set<number>) => void;
  onOpen: (index: number | null) => void;
  onWidth: (width: number) => void;
  version: number;
}

export function OsdGrid(props: GridProps) {
  const viewport = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const frame = useRef(0);
  const [cursor, setCursor] = useState<number | null>(null);
  const [tip, setTip] = useState<{ x: number; y: number; text: string } | null>(null);
  const order = useMemo(() => drawingOrder(props.layout), [props.layout]);
  const latest = useRef(props);
  latest.current = props;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;

  const draw = () => {
    frame.current = 0;
    const view = viewport.current;
    const c = canvas.current;
    const ctx = c?.getContext("2d");
    if (!view || !c || !ctx) return;
    const { layout, statuses, osds, selected, open } = latest.current;
    const dpr = window.devicePixelRatio || 1;
    const width = view.clientWidth;
    const height = view.clientHeight;
    if (c.width !== Math.round(width * dpr) || c.height !== Math.round(height * dpr)) {
      c.width = Math.round(width * dpr);
      c.height = Math.round(height * dpr);
      c.style.width = `${width}px`;
      c.style.height = `${height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const top = view.scrollTop;
    const bottom = top + height;
    const size = layout.cell;
    ctx.textBaseline = "middle";
    for (let r = firstRowAt(layout, top); r < layout.rows.length; r++) {
      const row = layout.rows[r] as LayoutRow;
      if (row.y > bottom) break;
      const y0 = row.y - top;
      if (row.kind === "place") {
        ctx.fillStyle = COLOURS.labelMuted;
        ctx.font = "600 11px system-ui, sans-serif";
        ctx.fillText(row.label.toUpperCase(), 10 + row.depth * 12, y0 + row.height / 2 + 2);
        ctx.fillStyle = COLOURS.line;
        ctx.fillRect(10 + row.depth * 12, y0 + row.height - 2, width - 20, 1);
        continue;
      }
      ctx.fillStyle = COLOURS.label;
      ctx.font = "500 12.5px system-ui, sans-serif";
      const indent = 10 + row.depth * 12;
      const text = fit(ctx, row.label, layout.labelWidth - indent - 44);
      ctx.fillText(text, indent, y0 + layout.gap + size / 2);
      ctx.fillStyle = COLOURS.labelMuted;
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(String(row.osds.length), layout.labelWidth - 34, y0 + layout.gap + size / 2);
      for (const i of row.osds) {
        const x = layout.x[i] as number;
        const y = (layout.y[i] as number) - top;
        if (y + size < 0 || y > height) continue;
        drawCell(ctx, x, y, size, statuses[i] as OsdStatus);
        if (selected.has(i) || open === i) {
          ctx.strokeStyle = COLOURS.selected;
          ctx.lineWidth = open === i ? 3 : 2;
          ctx.strokeRect(x - 2, y - 2, size + 4, size + 4);
        }
      }
    }
    const cur = cursorRef.current;
    if (cur !== null && !Number.isNaN(layout.x[cur] as number) && document.activeElement === view) {
      ctx.strokeStyle = COLOURS.cursor;
      ctx.lineWidth = 3;
      ctx.strokeRect((layout.x[cur] as number) - 3, (layout.y[cur] as number) - top - 3, size + 6, size + 6);
    }
    void osds;
  };

  const schedule = () => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  };

  useEffect(schedule, [props.layout, props.statuses, props.selected, props.open, props.version, cursor]);

  useEffect(() => {
    const view = viewport.current;
    if (!view) return;
    const observer = new ResizeObserver(() => {
      props.onWidth(view.clientWidth);
      schedule();
    });
    observer.observe(view);
    return () => {
      observer.disconnect();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, []);

  // keep the cursor on an OSD that is still shown
  useEffect(() => {
    if (cursor !== null && Number.isNaN(props.layout.x[cursor] as number)) setCursor(null);
  }, [props.layout]);

  const at = (e: MouseEvent): number | null => {
    const view = viewport.current;
    if (!view) return null;
    const box = view.getBoundingClientRect();
    return cellAt(props.layout, e.clientX - box.left + view.scrollLeft, e.clientY - box.top + view.scrollTop);
  };

  const onClick = (e: MouseEvent) => {
    const i = at(e);
    if (i === null) return;
    setCursor(i);
    if (e.ctrlKey || e.metaKey || e.shiftKey) {
      const next = new Set(props.selected);
      if (next.has(i)) next.delete(i);
      else next.add(i);
      props.onSelect(next);
    } else {
      props.onOpen(i);
    }
  };

  const onMove = (e: MouseEvent) => {
    const i = at(e);
    if (i === null) {
      if (tip) setTip(null);
      return;
    }
    const osd = props.osds[i] as OsdRow;
    setTip({ x: e.clientX + 14, y: e.clientY + 12, text: `osd.${osd.id} · ${osd.crush_host ?? osd.server ?? ""} · ${describeStatus(props.statuses[i] as OsdStatus)}` });
  };

  const scrollIntoView = (i: number) => {
    const view = viewport.current;
    if (!view) return;
    const y = props.layout.y[i] as number;
    if (y < view.scrollTop + 4) view.scrollTop = y - 8;
    else if (y + props.layout.cell > view.scrollTop + view.clientHeight - 4) view.scrollTop = y + props.layout.cell - view.clientHeight + 8;
  };

  const onKey = (e: KeyboardEvent) => {
    if (["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "Home", "End"].includes(e.key)) {
      const next = moveCursor(props.layout, order, cursor, e.key);
      if (next !== null) {
        setCursor(next);
        scrollIntoView(next);
      }
      e.preventDefault();
    } else if (e.key === " " && cursor !== null) {
      const next = new Set(props.selected);
      if (next.has(cursor)) next.delete(cursor);
      else next.add(cursor);
      props.onSelect(next);
      e.preventDefault();
    } else if (e.key === "Enter" && cursor !== null) {
      props.onOpen(cursor);
      e.preventDefault();
    } else if (e.key === "Escape") {
      props.onSelect(new Set());
      props.onOpen(null);
    } else if ((e.ctrlKey || e.metaKey) && e.key === "a") {
      props.onSelect(new Set(order));
      e.preventDefault();
    }
  };

  const current = cursor !== null ? (props.osds[cursor] as OsdRow | undefined) : undefined;
  return (
    <div>
      <div
        class="grid-viewport"
        ref={viewport}
        tabIndex={0}
        role="application"
        aria-label={`OSD grid, ${order.length} OSDs shown. Arrow keys move, Space selects, Enter opens the detail, Escape clears.`}
        aria-describedby="osd-grid-cursor"
        onScroll={schedule}
        onClick={onClick}
        onMouseMove={onMove}
        onMouseLeave={() => setTip(null)}
        onKeyDown={onKey}
        onFocus={schedule}
        onBlur={schedule}
        data-testid="osd-grid"
        data-shown={order.length}
      >
        <canvas ref={canvas} />
        <div class="grid-spacer" style={{ height: `${props.layout.height}px` }} />
      </div>
      <div id="osd-grid-cursor" class="sr-only" aria-live="polite">
        {current && cursor !== null
          ? `osd.${current.id} on ${current.crush_host ?? current.server}: ${describeStatus(props.statuses[cursor] as OsdStatus)}${props.selected.has(cursor) ? ", selected" : ""}`
          : ""}
      </div>
      {tip && (
        <div class="osd-tooltip" style={{ left: `${tip.x}px`, top: `${tip.y}px` }}>
          {tip.text}
        </div>
      )}
    </div>
  );
}

function fit(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > width) t = t.slice(0, -1);
  return `${t}…`;
}
