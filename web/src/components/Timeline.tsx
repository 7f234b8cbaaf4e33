// The cluster's history as a strip: events per time bucket as bars, health transitions as marks
// coloured by the status they led to, the chosen moment as a cursor and a compared span shaded.
// Click places the cursor; Shift+click picks the second moment of a comparison; the arrow keys
// move the cursor a bucket at a time (Shift: ten).
import { useEffect, useRef, useState } from "preact/hooks";

import { barHeights, bothZones, healthTone, timeScale, type TimelineAnswer } from "../lib/timetravel";

const HEIGHT = 64;
const MARK_ROW = 10;

export interface TimelineProps {
  answer: TimelineAnswer;
  /** the moment shown (epoch ms), or null */
  cursorMs: number | null;
  /** a compared span (epoch ms), or null */
  span: [number, number] | null;
  onPick: (ms: number, second: boolean) => void;
}

export function Timeline(props: TimelineProps) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const [hover, setHover] = useState<number | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(200, el.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const { answer } = props;
  const startMs = answer.from ? Date.parse(answer.from) : Date.now();
  const endMs = answer.to ? Date.parse(answer.to) : Date.now();
  const scale = timeScale(startMs, endMs, width);
  const buckets = answer.buckets;
  const heights = barHeights(buckets, HEIGHT - MARK_ROW - 2);
  const barWidth = buckets.length ? width / buckets.length : width;
  const bucketMs = buckets.length ? (endMs - startMs) / buckets.length : endMs - startMs;
  const total = buckets.reduce((n, b) => n + b.count, 0);

  const pick = (event: MouseEvent) => {
    const rect = (event.currentTarget as SVGElement).getBoundingClientRect();
    props.onPick(Math.round(scale.time(event.clientX - rect.left)), event.shiftKey);
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight" && event.key !== "Home" && event.key !== "End") return;
    event.preventDefault();
    const step = bucketMs * (event.shiftKey ? 10 : 1);
    const from = props.cursorMs ?? endMs;
    const next = event.key === "Home" ? startMs : event.key === "End" ? endMs
      : Math.min(endMs, Math.max(startMs, from + (event.key === "ArrowLeft" ? -step : step)));
    props.onPick(Math.round(next), false);
  };
  const hoverBucket = hover === null ? null : buckets[Math.min(buckets.length - 1, Math.floor(hover / barWidth))];

  return (
    <div class="timeline" ref={box} data-testid="timeline">
      <svg width={width} height={HEIGHT} role="slider" tabIndex={0} aria-label="History timeline: click to travel to a moment, Shift+click to compare two"
        aria-valuemin={startMs} aria-valuemax={endMs} aria-valuenow={props.cursorMs ?? endMs}
        aria-valuetext={props.cursorMs === null ? "now" : bothZones(new Date(props.cursorMs).toISOString()).local}
        onClick={pick} onKeyDown={onKey}
        onMouseMove={(e) => setHover(e.clientX - (e.currentTarget as SVGElement).getBoundingClientRect().left)}
        onMouseLeave={() => setHover(null)}>
        {props.span && (
          <rect class="timeline-span" x={scale.x(props.span[0])} y={0} width={Math.max(2, scale.x(props.span[1]) - scale.x(props.span[0]))} height={HEIGHT} />
        )}
        {buckets.map((b, i) => (
          <rect key={i} class="timeline-bar" x={i * barWidth + 0.5} y={HEIGHT - (heights[i] ?? 0)} width={Math.max(1, barWidth - 1)} height={heights[i] ?? 0} />
        ))}
        {answer.health.map((h) => (
          <rect key={h.position} class={`timeline-mark tone-${healthTone(h.to)}`} x={scale.x(Date.parse(h.time)) - 2} y={0} width={4} height={MARK_ROW}>
            <title>{`health ${h.from ?? "?"} → ${h.to ?? "?"} at ${bothZones(h.time).local}`}</title>
          </rect>
        ))}
        {props.cursorMs !== null && (
          <line class="timeline-cursor" x1={scale.x(props.cursorMs)} x2={scale.x(props.cursorMs)} y1={0} y2={HEIGHT} />
        )}
        {hover !== null && <line class="timeline-hover" x1={hover} x2={hover} y1={0} y2={HEIGHT} />}
      </svg>
      <div class="timeline-axis small muted">
        <span>{answer.from ? bothZones(answer.from).local : "–"}</span>
        <span aria-live="polite">
          {hoverBucket ? `${hoverBucket.count} event${hoverBucket.count === 1 ? "" : "s"} around ${bothZones(new Date(scale.time(hover as number)).toISOString()).local}`
            : `${total.toLocaleString()} events${answer.health_truncated ? "; health marks: the first 1,000" : ""}`}
        </span>
        <span>{answer.to ? bothZones(answer.to).local : "–"}</span>
      </div>
    </div>
  );
}
