// A cluster's OSD counts by state, as the overview and a past moment both show them.
import { count } from "../lib/format";
import { Stat } from "./ui";

export type OsdCounters = { up_in: number; up_out: number; down_in: number; down_out: number; total: number };

export function OsdCounts(props: { osd: OsdCounters }) {
  const o = props.osd;
  const down = o.down_in + o.down_out;
  const out = o.up_out + o.down_out;
  return (
    <div class="stats-row">
      <Stat label="up & in" value={count(o.up_in)} tone="ok" />
      <Stat label="down" value={count(down)} tone={down ? "err" : undefined} />
      <Stat label="out" value={count(out)} tone={out ? "warn" : undefined} />
      <Stat label="total" value={count(o.total)} />
    </div>
  );
}
