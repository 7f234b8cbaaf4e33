// A pool's graphs on the pools page: the pool chosen in the address (`?graph=<id>`), usage and I/O.
import { Graphs } from "./LazyGraphs";
import { Card } from "./ui";
import { poolGraphs } from "../lib/graphite";
import type { PoolRow } from "../lib/pools";
import { location, setQuery } from "../lib/router";

export function PoolGraphs(props: { fsid: string; pools: PoolRow[] }) {
  if (props.pools.length === 0) return null;
  const wanted = Number(location.value.query.get("graph"));
  const pool = props.pools.find((p) => p.id === wanted) ?? (props.pools[0] as PoolRow);
  return (
    <Card title="Pool usage and I/O" id="pool-graphs">
      <div class="field">
        <label for="pool-graph">Pool</label>
        <select id="pool-graph" value={String(pool.id)} onChange={(e) => setQuery("graph", (e.target as HTMLSelectElement).value)}>
          {props.pools.map((p) => <option key={p.id} value={String(p.id)}>{p.name}</option>)}
        </select>
      </div>
      <Graphs specs={poolGraphs(props.fsid, pool.id)} />
    </Card>
  );
}
