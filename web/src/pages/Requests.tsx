// Every request: who asked for what, its state and its error; operators may cancel unfinished ones.
import { Badge, Card, Empty, ErrorNote, HeadChoice, Loading, TableHead } from "../components/ui";
import { call } from "../lib/api";
import { when } from "../lib/format";
import { location, setQuery } from "../lib/router";
import { useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { canChange, type RequestRow } from "../state";

interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: RequestRow[];
}

const PAGE_SIZE = 50;

export function Requests() {
  const q = location.value.query;
  const state = q.get("state") ?? "";
  const page = Math.max(1, Number(q.get("page") ?? "1") || 1);
  const path = `/request?page_size=${PAGE_SIZE}&page=${page}${state ? `&state=${state}` : ""}`;
  const requests = useResource<Page>(path);
  const { failure, send } = useSending();
  const data = requests.data.value;
  const cancel = (id: string) => send(async () => {
    await call("POST", `/request/${encodeURIComponent(id)}/cancel`);
    void refresh(path);
  });
  const pages = data ? Math.max(1, Math.ceil(data.count / PAGE_SIZE)) : 1;
  return (
    <div class="page">
      <header class="page-head">
        <h1>Requests</h1>
        {data && <span class="muted">{data.count} requests</span>}
        <span class="spacer" />
        <HeadChoice label="State" value={state} onChange={(v) => { setQuery("page", null); setQuery("state", v); }}
          options={[["", "All"], ["submitted", "Submitted"], ["executing", "Executing"], ["complete", "Complete"]]} />
      </header>
      {requests.error.value && <ErrorNote error={requests.error.value} retry={() => void refresh(path)} />}
      {failure !== null && <ErrorNote error={failure} />}
      <Card>
        {!data ? <Loading what="requests" /> : data.results.length === 0 ? <Empty>No requests{state ? ` in state ${state}` : ""}.</Empty> : (
          <div class="table-wrap">
            <table class="table" aria-label="Requests">
              <TableHead columns={["Requested", "Who", "What", "State", "Outcome"]} actions={canChange.value} />
              <tbody>
                {data.results.map((r) => (
                  <tr key={r.id} data-request={r.id}>
                    <td class="small">{when(r.requested_at)}</td>
                    <td>{r.username}</td>
                    <td>{r.headline}<div class="muted small"><code>{r.target}</code></div></td>
                    <td>
                      {r.state === "complete"
                        ? <Badge level={r.error ? "failed" : "complete"} text={r.error ? "failed" : "complete"} />
                        : <span><span class="spinner" aria-hidden="true" /> {r.state}</span>}
                    </td>
                    <td class="small">{r.error ? <span class="field-msg">{r.error_message}</span> : r.state === "complete" ? `done ${when(r.completed_at)}` : r.status}</td>
                    {canChange.value && (
                      <td class="actions">
                        {r.state !== "complete" && <button type="button" class="btn btn-small" onClick={() => void cancel(r.id)}>Cancel</button>}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {data && pages > 1 && (
          <nav class="links-row" aria-label="Pages" style={{ marginTop: "10px" }}>
            <button type="button" class="btn btn-small" disabled={page <= 1} onClick={() => setQuery("page", String(page - 1))}>← Newer</button>
            <span class="muted">page {page} of {pages}</span>
            <button type="button" class="btn btn-small" disabled={page >= pages} onClick={() => setQuery("page", String(page + 1))}>Older →</button>
          </nav>
        )}
      </Card>
    </div>
  );
}
