// Any Graphite targets as one graph, held in the address (`/graphs?target=…&range=7d`), so a graph
// can be shared; the panels' graphs link here with their targets.
import { useEffect, useState } from "preact/hooks";

import { Graphs } from "../components/LazyGraphs";
import { Card } from "../components/ui";
import { explorerSpec, presetRange, type RangeKey } from "../lib/graphite";
import { location, navigate } from "../lib/router";

export function GraphExplorer() {
  const query = location.value.query;
  const targets = query.getAll("target").filter((t) => t.trim());
  const rangeKey = query.get("range") as RangeKey | null;
  const [text, setText] = useState(targets.join("\n"));
  useEffect(() => setText(targets.join("\n")), [location.value]);
  const spec = explorerSpec(targets);
  const range = rangeKey && rangeKey !== "custom" ? presetRange(rangeKey, Date.now() / 1000) : undefined;
  return (
    <div class="page">
      <header class="page-head">
        <h1>Graphs</h1>
        <span class="muted">Graphite targets, one a line: metric paths with globs, or functions (docs/metrics.md).</span>
      </header>
      <Card>
        <form onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams();
          for (const t of text.split("\n").map((l) => l.trim()).filter(Boolean)) next.append("target", t);
          if (rangeKey) next.set("range", rangeKey);
          navigate(`/graphs?${next.toString()}`);
        }}>
          <div class="field">
            <label for="graph-targets">Targets</label>
            <textarea id="graph-targets" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          </div>
          <button type="submit" class="btn">Draw</button>
        </form>
      </Card>
      {spec && <Graphs key={`${targets.join("|")}|${rangeKey ?? ""}`} specs={[spec]} {...(range ? { range } : {})} />}
    </div>
  );
}
