// Alerts: what is firing (or was), filtered by state, severity, cluster and object, each with
// the changes that came before it (user requests with who made them) and, for operators, the
// notifications sent for it and how their delivery went; operators acknowledge alerts, create
// silences (matchers, expiry, comment) and expire them.
import { useState } from "preact/hooks";

import { Badge, Card, Dialog, Empty, ErrorNote, Field, HeadChoice, Loading, TableHead } from "../components/ui";
import { ApiFailure, call } from "../lib/api";
import { when } from "../lib/format";
import { location, setQuery } from "../lib/router";
import { useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { canChange, clusters } from "../state";

interface Change {
  time: string;
  type: string;
  object: { kind: string; id: string };
  user: string | null;
  message: string | null;
}

interface AlertDoc {
  id: string;
  rule: string;
  severity: "critical" | "warning" | "info";
  state: "firing" | "resolved";
  silenced: boolean;
  acknowledged_by: string | null;
  cluster: string | null;
  object: { kind: string; id: string } | null;
  summary: string;
  description: string;
  raised_at: string;
  resolved_at: string | null;
  changes_before: Change[];
}

interface SilenceDoc {
  id: string;
  matchers: { name: string; value: string; is_regex: boolean; is_equal: boolean }[];
  ends_at: string;
  created_by: string;
  comment: string;
  state: "pending" | "active" | "expired";
}

const SEVERITY_LEVEL: Record<string, string> = { critical: "CRITICAL", warning: "WARNING", info: "INFO" };

function objectName(o: AlertDoc["object"]): string {
  if (!o) return "";
  return o.kind === "osd" ? `osd.${o.id}` : o.kind === "cluster" ? "cluster" : `${o.kind} ${o.id}`;
}

function ChangesBefore(props: { alert: AlertDoc }) {
  const changes = props.alert.changes_before;
  if (changes.length === 0) return <p class="muted small">Nothing changed on its objects or its cluster in the window before it.</p>;
  return (
    <ol class="changes-before" aria-label={`What changed before ${props.alert.summary}`}>
      {changes.map((c, i) => (
        <li key={i} class="small">
          <span class="muted">{when(c.time)}</span> {c.message ?? `${c.type} on ${c.object.kind} ${c.object.id}`}
          {c.user && <span class="muted"> — by {c.user}</span>}
        </li>
      ))}
    </ol>
  );
}

interface Matcher {
  name: string;
  value: string;
  is_regex: boolean;
}

interface NotificationRow {
  id: string;
  channel: string;
  reason: string;
  state: "pending" | "delivered" | "failed" | "cancelled";
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

const STATE_LEVEL: Record<string, string> = { delivered: "complete", failed: "failed", cancelled: "INFO", pending: "WARNING" };

/** The outbox entries of one alert: where it was sent, why, and how delivery went. */
function AlertNotifications(props: { alertId: string }) {
  const path = `/notification?alert=${encodeURIComponent(props.alertId)}&limit=100`;
  const notes = useResource<{ count: number; results: NotificationRow[] }>(path);
  const rows = notes.data.value?.results;
  if (notes.error.value) return <ErrorNote error={notes.error.value} retry={() => void refresh(path)} />;
  if (!rows) return <Loading what="notifications" />;
  if (rows.length === 0) return <p class="muted small">No notification was sent for it (no channel takes it).</p>;
  return (
    <table class="table small" aria-label="Notifications sent">
      <TableHead columns={["Channel", "Why", "Delivery", "Attempts", "Detail"]} />
      <tbody>
        {rows.map((n) => (
          <tr key={n.id} data-notification={n.id} data-state={n.state}>
            <td><code>{n.channel}</code></td>
            <td>{n.reason}</td>
            <td><Badge level={STATE_LEVEL[n.state] ?? "INFO"} text={n.state === "pending" && n.attempts > 0 ? "retrying" : n.state} /></td>
            <td>{n.attempts}</td>
            <td>
              {n.state === "delivered" && n.delivered_at ? `delivered ${when(n.delivered_at)}` : null}
              {n.last_error && n.state !== "delivered" ? <span class="field-msg">{n.last_error}</span> : null}
              {n.state === "pending" && n.next_attempt_at ? <div class="muted">next attempt {when(n.next_attempt_at)}</div> : null}
              {n.state === "failed" ? <div class="muted">given up</div> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A silence: its matchers (alert labels: alertname, severity, cluster, object_kind, object_id),
 * how long it lasts and why. The API's 400 shows at the field it names. */
function SilenceDialog(props: { initial: Matcher[]; about?: string; onClose: () => void; onDone: () => void }) {
  const [matchers, setMatchers] = useState<Matcher[]>(props.initial.length ? props.initial : [{ name: "alertname", value: "", is_regex: false }]);
  const [hours, setHours] = useState("2");
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { failure, setFailure, send } = useSending();
  const change = (i: number, part: Partial<Matcher>) => setMatchers(matchers.map((m, j) => (j === i ? { ...m, ...part } : m)));
  const submit = async (e: Event) => {
    e.preventDefault();
    setFailure(null);
    const found: Record<string, string> = {};
    const h = Number(hours);
    if (!(h > 0 && h <= 24 * 366)) found.hours = "A number of hours above 0.";
    if (!comment.trim()) found.comment = "Say why, for whoever sees it next.";
    setErrors(found);
    if (Object.keys(found).length) return;
    await send(async () => {
      await call("POST", "/silence", { body: { matchers, comment, duration_seconds: Math.round(h * 3600) } });
      props.onDone();
    }, (err) => {
      if (!(err instanceof ApiFailure && err.status === 400)) return err;
      const byField: Record<string, string> = {};
      for (const [field, reason] of Object.entries(err.errors)) {
        // matchers.0.value -> the first matcher's value field; ends_at and starts_at -> the hours
        const key = field === "duration_seconds" || field === "ends_at" || field === "starts_at" ? "hours" : field;
        byField[key] = reason;
      }
      setErrors(byField);
      return Object.keys(byField).length === 0 ? err : null;
    });
  };
  return (
    <Dialog title="Silence alerts" onClose={props.onClose}>
      <form class="form" onSubmit={submit} noValidate aria-label="Silence">
        {props.about && <p class="small">{props.about}</p>}
        <fieldset class="matchers">
          <legend class="small">Alerts whose labels match all of these</legend>
          {matchers.map((m, i) => (
            <div class="form-grid" key={i} data-matcher={i}>
              <Field label={`Label ${i + 1}`} name={`m-${i}-name`} error={errors[`matchers.${i}.name`] ?? errors[`matchers.${i}`]}>
                <input id={`f-m-${i}-name`} value={m.name} aria-invalid={!!errors[`matchers.${i}.name`]}
                  onInput={(e) => change(i, { name: (e.target as HTMLInputElement).value })} />
              </Field>
              <Field label={`Value ${i + 1}`} name={`m-${i}-value`} error={errors[`matchers.${i}.value`]}>
                <input id={`f-m-${i}-value`} value={m.value} aria-invalid={!!errors[`matchers.${i}.value`]}
                  onInput={(e) => change(i, { value: (e.target as HTMLInputElement).value })} />
              </Field>
              <label class="small">
                <input type="checkbox" checked={m.is_regex} onChange={(e) => change(i, { is_regex: (e.target as HTMLInputElement).checked })} />
                {" "}Regular expression {i + 1}
              </label>
              {matchers.length > 1 && (
                <button type="button" class="btn btn-small" onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>Remove matcher {i + 1}</button>
              )}
            </div>
          ))}
          {errors.matchers && <div class="field-msg" role="alert" data-field="matchers">{errors.matchers}</div>}
          <button type="button" class="btn btn-small" onClick={() => setMatchers([...matchers, { name: "", value: "", is_regex: false }])}>Add a matcher</button>
        </fieldset>
        <Field label="For how many hours" name="hours" error={errors.hours}>
          <input id="f-hours" name="hours" inputMode="decimal" value={hours} aria-invalid={!!errors.hours}
            aria-describedby={errors.hours ? "f-hours-error" : undefined} onInput={(e) => setHours((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Why" name="comment" error={errors.comment}>
          <input id="f-comment" name="comment" value={comment} aria-invalid={!!errors.comment}
            aria-describedby={errors.comment ? "f-comment-error" : undefined} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </Field>
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">Silence</button>
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

function Silences(props: { onCreate: () => void }) {
  const path = "/silence?state=active,pending";
  const silences = useResource<SilenceDoc[]>(path);
  const { failure, send } = useSending();
  const list = silences.data.value;
  const expire = (id: string) => send(async () => {
    await call("DELETE", `/silence/${encodeURIComponent(id)}`);
    void refresh(path);
    void refresh("/alert");
  });
  return (
    <Card title="Silences">
      {canChange.value && <button type="button" class="btn btn-small" onClick={props.onCreate}>New silence</button>}
      {failure !== null && <ErrorNote error={failure} />}
      {!list ? <Loading what="silences" /> : list.length === 0 ? <Empty>No silence is active.</Empty> : (
        <ul class="silences" aria-label="Silences">
          {list.map((s) => (
            <li key={s.id} data-silence={s.id} class="small">
              {s.matchers.map((m) => `${m.name}${m.is_equal ? "" : "!"}${m.is_regex ? "=~" : "="}${m.value}`).join(", ")}
              {" "}until {when(s.ends_at)} — {s.comment} <span class="muted">(by {s.created_by}{s.state === "pending" ? ", not yet started" : ""})</span>
              {canChange.value && <button type="button" class="btn btn-small" onClick={() => void expire(s.id)}>Expire</button>}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

/** The matchers of a silence for alerts like this one: its rule, and its object if it has one. */
function silenceLike(a: AlertDoc): { initial: Matcher[]; about: string } {
  const initial: Matcher[] = [{ name: "alertname", value: a.rule, is_regex: false }];
  if (a.object) initial.push({ name: "object_id", value: a.object.id, is_regex: false });
  return { initial, about: `Alerts of rule ${a.rule}${a.object ? ` on ${objectName(a.object)}` : ""} will not be notified while it lasts.` };
}

export function Alerts() {
  const q = location.value.query;
  const state = q.get("state") ?? "firing";
  const severity = q.get("severity") ?? "";
  const cluster = q.get("cluster") ?? "";
  const object = q.get("object") ?? "";
  const [objectText, setObjectText] = useState(object);
  const filters = new URLSearchParams();
  if (state !== "all") filters.set("state", state);
  if (severity) filters.set("severity", severity);
  if (cluster) filters.set("cluster", cluster);
  if (object) filters.set("object", object);
  const path = `/alert${filters.toString() ? `?${filters.toString()}` : ""}`;
  const alerts = useResource<AlertDoc[]>(path);
  const [open, setOpen] = useState<string | null>(null);
  const [silencing, setSilencing] = useState<{ initial: Matcher[]; about?: string } | null>(null);
  const { failure, send } = useSending();
  const list = alerts.data.value;
  const acknowledge = (id: string) => send(async () => {
    await call("POST", `/alert/${encodeURIComponent(id)}/acknowledge`, { body: {} });
    void refresh(path);
  });
  return (
    <div class="page">
      <header class="page-head">
        <h1>Alerts</h1>
        {list && <span class="muted">{list.length} {state === "all" ? "" : state} alerts</span>}
        <span class="spacer" />
        <HeadChoice label="State" value={state} onChange={(v) => setQuery("state", v)}
          options={[["firing", "Firing"], ["resolved", "Resolved"], ["all", "All"]]} />
        <HeadChoice label="Severity" value={severity} onChange={(v) => setQuery("severity", v || null)}
          options={[["", "Any"], ["critical", "Critical"], ["warning", "Warning"], ["info", "Info"]]} />
        <HeadChoice label="Cluster" value={cluster} onChange={(v) => setQuery("cluster", v || null)}
          options={[["", "Any"], ...(clusters.value ?? []).map((c): [string, string] => [c.id, c.name])]} />
        <form class="cluster-switch" role="search" aria-label="Object filter"
          onSubmit={(e) => { e.preventDefault(); setQuery("object", objectText.trim() || null); }}>
          <label for="f-object-filter">Object</label>
          <input id="f-object-filter" placeholder="osd:3, pool, host:node1" value={objectText} size={14}
            onInput={(e) => setObjectText((e.target as HTMLInputElement).value)} />
          <button type="submit" class="btn btn-small">Filter</button>
        </form>
      </header>
      {alerts.error.value && <ErrorNote error={alerts.error.value} retry={() => void refresh(path)} />}
      {failure !== null && <ErrorNote error={failure} />}
      <Card>
        {!list ? <Loading what="alerts" /> : list.length === 0 ? <Empty>No {state === "all" ? "" : `${state} `}alerts.</Empty> : (
          <div class="table-wrap">
            <table class="table" aria-label="Alerts">
              <TableHead columns={["Raised", "Severity", "Alert", "State"]} actions />
              <tbody>
                {list.map((a) => [
                  <tr key={a.id} data-alert={a.id}>
                    <td class="small">{when(a.raised_at)}</td>
                    <td><Badge level={SEVERITY_LEVEL[a.severity] ?? "INFO"} text={a.severity} /></td>
                    <td>{a.summary}<div class="muted small"><code>{a.rule}</code> {objectName(a.object)}</div></td>
                    <td class="small">
                      {a.state === "firing" ? "firing" : `resolved ${when(a.resolved_at)}`}
                      {a.silenced && <div class="muted">silenced</div>}
                      {a.acknowledged_by && <div class="muted">acknowledged by {a.acknowledged_by}</div>}
                    </td>
                    <td class="actions">
                      <button type="button" class="btn btn-small" aria-expanded={open === a.id} onClick={() => setOpen(open === a.id ? null : a.id)}>What changed before</button>
                      {canChange.value && !a.acknowledged_by && <button type="button" class="btn btn-small" onClick={() => void acknowledge(a.id)}>Acknowledge</button>}
                      {canChange.value && a.state === "firing" && !a.silenced && <button type="button" class="btn btn-small" onClick={() => setSilencing(silenceLike(a))}>Silence</button>}
                    </td>
                  </tr>,
                  open === a.id ? (
                    <tr key={`${a.id}-changes`} class="row-detail">
                      <td colSpan={5}>
                        <p class="small">{a.description}</p>
                        <h3 class="small">What changed before it</h3>
                        <ChangesBefore alert={a} />
                        {canChange.value && <><h3 class="small">Notifications</h3><AlertNotifications alertId={a.id} /></>}
                      </td>
                    </tr>
                  ) : null,
                ])}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Silences onCreate={() => setSilencing({ initial: [] })} />
      {silencing && (
        <SilenceDialog initial={silencing.initial} about={silencing.about} onClose={() => setSilencing(null)}
          onDone={() => { setSilencing(null); void refresh(path); void refresh("/silence?state=active,pending"); }} />
      )}
    </div>
  );
}
