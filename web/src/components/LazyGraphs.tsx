// Graphs load on first use: uPlot and the graph panel are a separate chunk, fetched when a page
// shows graphs, so the console's first load does not carry them.
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";

import type { GraphPanelProps } from "./Graph";

let loaded: FunctionComponent<GraphPanelProps> | null = null;
let loading: Promise<FunctionComponent<GraphPanelProps>> | null = null;

function load(): Promise<FunctionComponent<GraphPanelProps>> {
  loading ??= import("./Graph").then((m) => {
    loaded = m.default;
    return m.default;
  });
  return loading;
}

export function Graphs(props: GraphPanelProps & { title?: string }) {
  const [Panel, setPanel] = useState<FunctionComponent<GraphPanelProps> | null>(() => loaded);
  const [error, setError] = useState("");
  useEffect(() => {
    if (Panel) return;
    load().then((c) => setPanel(() => c)).catch((err: unknown) => {
      loading = null; // a later visit tries again
      setError(err instanceof Error ? err.message : String(err));
    });
  }, []);
  return (
    <section class="graphs" aria-label={props.title ?? "Graphs"}>
      {props.title && <h2 class="graphs-title">{props.title}</h2>}
      {error ? <p class="error-note" role="alert">The graphs could not be loaded ({error}); reload the page.</p>
        : Panel ? <Panel {...props} /> : <p class="muted small">Loading graphs…</p>}
    </section>
  );
}
