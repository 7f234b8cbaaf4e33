// Notification channels (admins, on the Administration page): where alerts are sent — a webhook
// (signed with its secret), e-mail over SMTP, or a Prometheus Alertmanager. Listed, added,
// changed, deleted and tested; the API's 400 shows at the field it names. A channel's secret is
// write-only: the API says whether one is set, never what it is.
import { useState } from "preact/hooks";

import { Badge, Card, ConfirmDialog, Dialog, Empty, ErrorNote, Field, Loading, TableHead } from "../components/ui";
import { call } from "../lib/api";
import { reasonsAtFields, useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";

type Kind = "webhook" | "email" | "alertmanager";
const SEVERITIES = ["critical", "warning", "info"] as const;
const PATH = "/notification_channel";

export interface ChannelRow {
  id: string;
  kind: Kind;
  url?: string | null;
  host?: string | null;
  port?: number;
  security?: string;
  username?: string | null;
  from_address?: string | null;
  to?: string[];
  ca_file?: string | null;
  severities: string[];
  clusters: string[];
  send_resolved: boolean;
  enabled: boolean;
  repeat_interval_s: number;
  has_secret: boolean;
}

/** The form's values, all text or flags as the inputs hold them. */
interface ChannelForm {
  id: string;
  kind: Kind;
  url: string;
  host: string;
  port: string;
  security: string;
  username: string;
  from_address: string;
  to: string;
  ca_file: string;
  severities: string[];
  send_resolved: boolean;
  enabled: boolean;
  repeat_interval_s: string;
  secret: string;
}

const FORM_FIELDS = ["id", "kind", "url", "host", "port", "security", "username", "from_address", "to", "ca_file",
  "severities", "send_resolved", "enabled", "repeat_interval_s", "secret", "clusters"];

function formOf(row: ChannelRow | null): ChannelForm {
  return {
    id: row?.id ?? "", kind: row?.kind ?? "webhook", url: row?.url ?? "", host: row?.host ?? "",
    port: String(row?.port ?? 587), security: row?.security ?? "starttls", username: row?.username ?? "",
    from_address: row?.from_address ?? "", to: (row?.to ?? []).join(", "), ca_file: row?.ca_file ?? "",
    severities: row?.severities ?? [...SEVERITIES], send_resolved: row?.send_resolved ?? true,
    enabled: row?.enabled ?? true, repeat_interval_s: row ? String(row.repeat_interval_s) : "", secret: "",
  };
}

/** The request body: the settings of the channel's kind; numbers as numbers (a bad one is sent
 * as typed, so the API names it); an empty secret on a change keeps the one set. */
function bodyOf(form: ChannelForm, adding: boolean): Record<string, unknown> {
  const number = (text: string): unknown => (text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text);
  const body: Record<string, unknown> = {
    severities: form.severities, send_resolved: form.send_resolved, enabled: form.enabled,
  };
  if (adding) Object.assign(body, { id: form.id, kind: form.kind });
  if (form.repeat_interval_s.trim() !== "") body.repeat_interval_s = number(form.repeat_interval_s);
  if (form.kind === "email") {
    Object.assign(body, {
      host: form.host, port: number(form.port), security: form.security, from_address: form.from_address,
      to: form.to.split(",").map((t) => t.trim()).filter((t) => t),
    });
    if (form.username.trim()) body.username = form.username.trim();
  } else {
    body.url = form.url;
  }
  body.ca_file = form.ca_file.trim() || null;
  if (form.secret) body.secret = form.secret;
  return body;
}

function ChannelDialog(props: { row: ChannelRow | null; onClose: () => void; onDone: (text: string) => void }) {
  const adding = props.row === null;
  const [form, setForm] = useState<ChannelForm>(formOf(props.row));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, failure, send } = useSending();
  const set = (field: keyof ChannelForm) => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value });
  const flag = (field: "send_resolved" | "enabled") => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).checked });
  const severity = (name: string) => (e: Event) => {
    const on = (e.target as HTMLInputElement).checked;
    setForm({ ...form, severities: SEVERITIES.filter((s) => (s === name ? on : form.severities.includes(s))) });
  };
  const input = (field: keyof ChannelForm, extra: Record<string, unknown> = {}) => (
    <input id={`f-ch-${field}`} value={form[field] as string} onInput={set(field)} aria-invalid={!!errors[field]}
      aria-describedby={errors[field] ? `f-ch-${field}-error` : undefined} {...extra} />
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    await send(async () => {
      const path = adding ? PATH : `${PATH}/${encodeURIComponent(form.id)}`;
      await call(adding ? "POST" : "PATCH", path, { body: bodyOf(form, adding) });
      void refresh(PATH);
      props.onDone(adding ? `Added channel ${form.id}.` : `Changed channel ${form.id}.`);
    }, reasonsAtFields(FORM_FIELDS, setErrors, "f-ch-"));
  };
  return (
    <Dialog title={adding ? "Add a notification channel" : `Change channel ${form.id}`} onClose={props.onClose} wide>
      <form class="form manage-form" onSubmit={submit} noValidate aria-label={adding ? "Add a channel" : "Change a channel"}>
        <div class="form-grid">
          {adding && <Field label="Id" name="ch-id" error={errors.id} hint="Letters, digits, . _ -">{input("id", { autocomplete: "off" })}</Field>}
          {adding && (
            <Field label="Kind" name="ch-kind" error={errors.kind}>
              <select id="f-ch-kind" value={form.kind} onChange={set("kind")}>
                <option value="webhook">Webhook</option>
                <option value="email">E-mail (SMTP)</option>
                <option value="alertmanager">Prometheus Alertmanager</option>
              </select>
            </Field>
          )}
          {form.kind !== "email" && (
            <Field label="URL" name="ch-url" error={errors.url} hint={form.kind === "alertmanager" ? "Its base URL: alerts go to <url>/api/v2/alerts." : "Where to POST each notification."}>
              {input("url", { type: "url" })}
            </Field>
          )}
          {form.kind === "email" && <>
            <Field label="SMTP host" name="ch-host" error={errors.host}>{input("host")}</Field>
            <Field label="Port" name="ch-port" error={errors.port}>{input("port", { inputMode: "numeric" })}</Field>
            <Field label="Security" name="ch-security" error={errors.security}>
              <select id="f-ch-security" value={form.security} onChange={set("security")}>
                <option value="starttls">STARTTLS</option>
                <option value="tls">TLS from the start</option>
                <option value="none">None</option>
              </select>
            </Field>
            <Field label="SMTP user (optional)" name="ch-username" error={errors.username}>{input("username", { autocomplete: "off" })}</Field>
            <Field label="From" name="ch-from_address" error={errors.from_address}>{input("from_address")}</Field>
            <Field label="To (comma-separated)" name="ch-to" error={errors.to}>{input("to")}</Field>
          </>}
          <Field label={form.kind === "email" ? "SMTP password" : form.kind === "webhook" ? "Signing secret" : "Bearer token"}
            name="ch-secret" error={errors.secret}
            hint={adding ? "Optional; never shown again." : props.row?.has_secret ? "Set; leave empty to keep it." : "Not set; optional."}>
            {input("secret", { type: "password", autocomplete: "new-password" })}
          </Field>
          <Field label="CA file (optional)" name="ch-ca_file" error={errors.ca_file} hint="An absolute path on the server; empty: the system's.">{input("ca_file")}</Field>
          <Field label="Repeat every (seconds)" name="ch-repeat_interval_s" error={errors.repeat_interval_s} hint="0: never; empty: the kind's default.">
            {input("repeat_interval_s", { inputMode: "numeric" })}
          </Field>
        </div>
        <fieldset>
          <legend class="small">Severities it takes</legend>
          {SEVERITIES.map((s) => (
            <label key={s} class="small">
              <input type="checkbox" checked={form.severities.includes(s)} onChange={severity(s)} /> {s}{" "}
            </label>
          ))}
          {errors.severities && <div class="field-msg" id="f-ch-severities-error" role="alert" data-field="ch-severities">{errors.severities}</div>}
        </fieldset>
        <label class="small"><input type="checkbox" checked={form.send_resolved} onChange={flag("send_resolved")} /> Tell when an alert resolves</label>
        {!adding && <label class="small"><input type="checkbox" checked={form.enabled} onChange={flag("enabled")} /> Enabled</label>}
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{adding ? "Add channel" : "Save"}</button>
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

function where(row: ChannelRow): string {
  if (row.kind === "email") return `${row.host}:${row.port} → ${(row.to ?? []).join(", ")}`;
  return row.url ?? "";
}

export function NotificationChannels() {
  const channels = useResource<ChannelRow[]>(PATH);
  const [editing, setEditing] = useState<ChannelRow | null | "new">(null);
  const [deleting, setDeleting] = useState<ChannelRow | null>(null);
  const [note, setNote] = useState("");
  const { failure, send } = useSending();
  const list = channels.data.value;
  const test = (id: string) => {
    setNote("");
    return send(async () => {
      await call("POST", `${PATH}/${encodeURIComponent(id)}/test`);
      setNote(`A test notification to ${id} is queued: its delivery shows in the outbox (Alerts, or GET /notification).`);
    });
  };
  // run by the confirmation dialog, which shows a failure and keeps its button disabled meanwhile
  const remove = async (id: string) => {
    await call("DELETE", `${PATH}/${encodeURIComponent(id)}`);
    setNote(`Deleted channel ${id}; what it still had to send is cancelled.`);
    void refresh(PATH);
  };
  return (
    <Card title="Notification channels">
      <button type="button" class="btn btn-small" onClick={() => setEditing("new")}>Add a channel</button>
      {channels.error.value && <ErrorNote error={channels.error.value} retry={() => void refresh(PATH)} />}
      {failure !== null && <ErrorNote error={failure} />}
      {note && <p role="status" class="state-reporting">{note}</p>}
      {!list ? <Loading what="channels" /> : list.length === 0 ? <Empty>No channel: alerts are not sent anywhere.</Empty> : (
        <div class="table-wrap">
          <table class="table" aria-label="Notification channels">
            <TableHead columns={["Id", "Kind", "Where", "Severities", "State"]} actions />
            <tbody>
              {list.map((c) => (
                <tr key={c.id} data-channel={c.id}>
                  <td><code>{c.id}</code></td>
                  <td>{c.kind}</td>
                  <td class="small">{where(c)}{c.has_secret && <div class="muted">secret set</div>}</td>
                  <td class="small">{c.severities.join(", ")}</td>
                  <td>{c.enabled ? <Badge level="complete" text="enabled" /> : <Badge level="INFO" text="disabled" />}</td>
                  <td class="actions">
                    <button type="button" class="btn btn-small" onClick={() => setEditing(c)}>Change</button>
                    <button type="button" class="btn btn-small" onClick={() => void test(c.id)}>Test</button>
                    <button type="button" class="btn btn-small btn-danger" onClick={() => setDeleting(c)}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing !== null && (
        <ChannelDialog row={editing === "new" ? null : editing} onClose={() => setEditing(null)}
          onDone={(text) => { setEditing(null); setNote(text); }} />
      )}
      {deleting && (
        <ConfirmDialog title={`Delete channel ${deleting.id}`} action="Delete channel"
          what={`Alerts will no longer be sent to ${where(deleting)}; notifications it has not sent yet are cancelled.`}
          run={() => remove(deleting.id)} onClose={() => setDeleting(null)} />
      )}
    </Card>
  );
}

