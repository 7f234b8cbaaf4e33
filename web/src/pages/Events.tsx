// The event feed, live: filter by severity (and worse), type and object; each entry links to its object.
import { Badge, Card, Empty, ErrorNote, Loading, TableHead } from "../components/ui";
import { EVENT_KINDS, eventObject, matchesEvent, type EventFilter, type EventKind } from "../lib/events";
import { when } from "../lib/format";
import type { FeedEvent } from "../lib/live";
import { location, setQuery } from "../lib/router";
import { refresh, useResource } from "../lib/store";
import { fsid } from "../state";

const SEVERITIES = ["INFO", "RECOVERY", "WARNING", "ERROR", "CRITICAL"] as const;

export function Events() {
  const q = location.value.query;
  const filter: EventFilter = {
    severity: (q.get("severity") ?? "") as EventFilter["severity"],
    kind: (q.get("type") ?? "") as EventKind | "",
    object: q.get("object") ?? "",
  };
  const scope = q.get("all") === "1" || !fsid.value ? "" : `/cluster/${fsid.value}`;
  // the server filters by severity; type and object are read from the messages here
  const path = `${scope}/event?page_size=500${filter.severity ? `&severity=${filter.severity}` : ""}`;
  const events = useResource<{ count: number; results: FeedEvent[] }>(path);
  const list = (events.data.value?.results ?? []).filter((e) => matchesEvent(e, filter));
  return (
    <div class="page">
      <header class="page-head">
        <h1>Events</h1>
        <span class="muted">{events.data.value ? `${list.length} shown of the newest ${events.data.value.results.length}` : ""}</span>
      </header>
      <div class="filters" role="search" aria-label="Filter events">
        <div class="field">
          <label for="ev-severity">Severity</label>
          <select id="ev-severity" value={filter.severity} onChange={(e) => setQuery("severity", (e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {SEVERITIES.map((s) => <option value={s}>{s.toLowerCase()} and worse</option>)}
          </select>
        </div>
        <div class="field">
          <label for="ev-type">Type</label>
          <select id="ev-type" value={filter.kind} onChange={(e) => setQuery("type", (e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {EVENT_KINDS.map((k) => <option value={k}>{k}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="ev-object">Object</label>
          <input id="ev-object" type="search" placeholder="osd.3, rbd, node1…" value={filter.object}
            onInput={(e) => setQuery("object", (e.target as HTMLInputElement).value)} />
        </div>
        <label class="check-row">
          <input type="checkbox" checked={q.get("all") === "1"} onChange={(e) => setQuery("all", (e.target as HTMLInputElement).checked ? "1" : null)} />
          All clusters, servers and users
        </label>
      </div>
      {events.error.value && <ErrorNote error={events.error.value} retry={() => void refresh(path)} />}
      <Card>
        {!events.data.value ? <Loading what="events" /> : list.length === 0 ? <Empty>No event matches.</Empty> : (
          <table class="table" aria-label="Events">
            <TableHead columns={["When", "Severity", "Type", "Event"]} />
            <tbody>
              {list.map((e) => {
                const obj = eventObject(e);
                return (
                  <tr key={e.id}>
                    <td class="small" style={{ whiteSpace: "nowrap" }}>{when(e.when)}</td>
                    <td><Badge level={e.severity} text={e.severity.toLowerCase()} /></td>
                    <td class="small">{obj.kind}</td>
                    <td>{e.message} {obj.label && <a href={obj.href} class="small">→ {obj.label}</a>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}
