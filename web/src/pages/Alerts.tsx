// Alerts: what is firing (or was), each with the changes that came before it; operators
// acknowledge alerts, silence them and expire silences.
import { useState } from "preact/hooks";

import { Badge, Card, Dialog, Empty, ErrorNote, Field, Loading } from "../components/ui";
import { ApiFailure, call } from "../lib/api";
import { when } from "../lib/format";
import { location, setQuery } from "../lib/router";
import { refresh, useResource } from "../lib/store";
import { canChange } from "../state";

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

function SilenceDialog(props: { alert: AlertDoc; onClose: () => void; onDone: () => void }) {
  const [hours, setHours] = useState("2");
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const found: Record<string, string> = {};
    const h = Number(hours);
    if (!(h > 0 && h <= 24 * 366)) found.hours = "A number of hours above 0.";
    if (!comment.trim()) found.comment = "Say why, for whoever sees it next.";
    setErrors(found);
    if (Object.keys(found).length) return;
    const matchers = [{ name: "alertname", value: props.alert.rule }];
    if (props.alert.object) matchers.push({ name: "object_id", value: props.alert.object.id });
    try {
      await call("POST", "/silence", { body: { matchers, comment, duration_seconds: Math.round(h * 3600) } });
      props.onDone();
    } catch (err) {
      if (err instanceof ApiFailure && err.errors) setErrors({ ...err.errors });
      setFailure(err);
    }
  };
  return (
    <Dialog title="Silence alerts like this one" onClose={props.onClose}>
      <form class="form" onSubmit={submit} noValidate aria-label="Silence">
        <p class="small">Alerts of rule <code>{props.alert.rule}</code>{props.alert.object ? <> on <code>{objectName(props.alert.object)}</code></> : null} will not be notified while it lasts.</p>
        <Field label="For how many hours" name="hours" error={errors.hours ?? errors.duration_seconds}>
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

function Silences() {
  const path = "/silence?state=active,pending";
  const silences = useResource<SilenceDoc[]>(path);
  const [failure, setFailure] = useState<unknown>(null);
  const list = silences.data.value;
  const expire = async (id: string) => {
    setFailure(null);
    try {
      await call("DELETE", `/silence/${encodeURIComponent(id)}`);
      void refresh(path);
      void refresh("/alert");
    } catch (err) {
      setFailure(err);
    }
  };
  return (
    <Card title="Silences">
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

export function Alerts() {
  const q = location.value.query;
  const state = q.get("state") ?? "firing";
  const path = `/alert${state === "all" ? "" : `?state=${state}`}`;
  const alerts = useResource<AlertDoc[]>(path);
  const [open, setOpen] = useState<string | null>(null);
  const [silencing, setSilencing] = useState<AlertDoc | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const list = alerts.data.value;
  const acknowledge = async (id: string) => {
    setFailure(null);
    try {
      await call("POST", `/alert/${encodeURIComponent(id)}/acknowledge`, { body: {} });
      void refresh(path);
    } catch (err) {
      setFailure(err);
    }
  };
  return (
    <div class="page">
      <header class="page-head">
        <h1>Alerts</h1>
        {list && <span class="muted">{list.length} {state === "all" ? "" : state} alerts</span>}
        <span class="spacer" />
        <label class="cluster-switch">
          <span>State</span>
          <select aria-label="State" value={state} onChange={(e) => setQuery("state", (e.target as HTMLSelectElement).value)}>
            <option value="firing">Firing</option>
            <option value="resolved">Resolved</option>
            <option value="all">All</option>
          </select>
        </label>
      </header>
      {alerts.error.value && <ErrorNote error={alerts.error.value} retry={() => void refresh(path)} />}
      {failure !== null && <ErrorNote error={failure} />}
      <Card>
        {!list ? <Loading what="alerts" /> : list.length === 0 ? <Empty>No {state === "all" ? "" : `${state} `}alerts.</Empty> : (
          <div class="table-wrap">
            <table class="table" aria-label="Alerts">
              <thead>
                <tr>
                  <th scope="col">Raised</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Alert</th>
                  <th scope="col">State</th>
                  <th scope="col"><span class="sr-only">Actions</span></th>
                </tr>
              </thead>
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
                      {canChange.value && a.state === "firing" && !a.silenced && <button type="button" class="btn btn-small" onClick={() => setSilencing(a)}>Silence</button>}
                    </td>
                  </tr>,
                  open === a.id ? (
                    <tr key={`${a.id}-changes`} class="row-detail">
                      <td colSpan={5}><p class="small">{a.description}</p><ChangesBefore alert={a} /></td>
                    </tr>
                  ) : null,
                ])}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Silences />
      {silencing && (
        <SilenceDialog alert={silencing} onClose={() => setSilencing(null)}
          onDone={() => { setSilencing(null); void refresh(path); void refresh("/silence?state=active,pending"); }} />
      )}
    </div>
  );
}
