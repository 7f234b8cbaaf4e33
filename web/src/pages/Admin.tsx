// Administration (admins only): users (add, change role, reset password, delete, end sessions),
// notification channels (NotificationChannels.tsx) and collector keys (pending keys with fingerprints; accept, reject, delete; each collector's
// state). The API's reasons show where they belong: a weak password at the password field.
import { useState } from "preact/hooks";

import { Badge, Card, ConfirmDialog, Dialog, Empty, ErrorNote, Field, Loading, TableHead } from "../components/ui";
import { ApiFailure, call, explain } from "../lib/api";
import { ago, when } from "../lib/format";
import {
  ROLES, collectorState, groupedFingerprint, newUserBody, newUserProblems, sortKeys,
  type KeyRow, type NewUser, type Role, type ServerRow, type UserRow,
} from "../lib/manage";
import { reasonsAtFields, useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { clusters, isAdmin, user } from "../state";
import { NotificationChannels } from "./NotificationChannels";
import "./manage.css";

const USER_FIELDS = ["username", "password", "again", "role", "email"];

function AddUser() {
  const empty: NewUser = { username: "", password: "", again: "", role: "read-only", email: "" };
  const [form, setForm] = useState<NewUser>(empty);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, failure, setFailure, send } = useSending();
  const [done, setDone] = useState("");
  const set = (field: keyof NewUser) => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setDone("");
    setFailure(null);
    const found = newUserProblems(form);
    setErrors(found);
    if (Object.keys(found).length) {
      document.getElementById(`f-new-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    await send(async () => {
      const made = await call<UserRow>("POST", "/user", { body: newUserBody(form) });
      setDone(`Added ${made.username} (${made.role}).`);
      setForm(empty);
      void refresh("/user");
    }, reasonsAtFields(USER_FIELDS, setErrors, "f-new-"));
  };

  const input = (field: keyof NewUser, extra: Record<string, unknown> = {}) => (
    <input id={`f-new-${field}`} value={form[field]} onInput={set(field)} aria-invalid={!!errors[field]}
      aria-describedby={errors[field] ? `f-new-${field}-error` : undefined} {...extra} />
  );

  return (
    <Card title="Add a user">
      <form class="form manage-form" onSubmit={submit} noValidate aria-label="Add a user">
        <div class="form-grid">
          <Field label="User name" name="new-username" error={errors.username}>{input("username", { autocomplete: "off" })}</Field>
          <Field label="Role" name="new-role" error={errors.role}>
            <select id="f-new-role" value={form.role} onChange={set("role")}>
              {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </Field>
          <Field label="Password" name="new-password" error={errors.password} hint="At least 10 characters, not the user name, not a common password.">
            {input("password", { type: "password", autocomplete: "new-password" })}
          </Field>
          <Field label="Password again" name="new-again" error={errors.again}>{input("again", { type: "password", autocomplete: "new-password" })}</Field>
          <Field label="Email (optional)" name="new-email" error={errors.email}>{input("email", { type: "email", autocomplete: "off" })}</Field>
        </div>
        {failure !== null && <ErrorNote error={failure} />}
        {done && <p role="status" class="state-reporting">{done}</p>}
        <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? "Adding…" : "Add user"}</button>
      </form>
    </Card>
  );
}

function ResetPassword(props: { user: UserRow; onClose: (done: string) => void }) {
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, failure, setFailure, send } = useSending();
  const submit = async (e: Event) => {
    e.preventDefault();
    setFailure(null);
    const found: Record<string, string> = {};
    if (!password) found.password = "Enter a password.";
    else if (password !== again) found.again = "The two passwords differ.";
    setErrors(found);
    if (Object.keys(found).length) return;
    await send(async () => {
      await call("PATCH", `/user/${encodeURIComponent(props.user.username)}`, { body: { password } });
      props.onClose(`New password set for ${props.user.username}; their sessions ended.`);
    }, reasonsAtFields(["password"], setErrors, "f-reset-"));
  };
  return (
    <Dialog title={`Reset the password of ${props.user.username}`} onClose={() => props.onClose("")}>
      <form class="form" onSubmit={submit} noValidate aria-label={`Reset the password of ${props.user.username}`}>
        <p class="muted">Every session of {props.user.username} ends; they log in with the new password.</p>
        <Field label="New password" name="reset-password" error={errors.password} hint="At least 10 characters, not the user name, not a common password.">
          <input id="f-reset-password" type="password" autocomplete="new-password" value={password} aria-invalid={!!errors.password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="New password again" name="reset-again" error={errors.again}>
          <input id="f-reset-again" type="password" autocomplete="new-password" value={again} aria-invalid={!!errors.again}
            onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
        </Field>
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => props.onClose("")}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? "Setting…" : "Set password"}</button>
        </div>
      </form>
    </Dialog>
  );
}

function Users() {
  const users = useResource<UserRow[]>("/user");
  const me = user.value?.username;
  const [rowNote, setRowNote] = useState<Record<string, { ok: boolean; text: string }>>({});
  const [resetting, setResetting] = useState<UserRow | null>(null);
  const [deleting, setDeleting] = useState<UserRow | null>(null);
  const note = (name: string, ok: boolean, text: string) => setRowNote((n) => ({ ...n, [name]: { ok, text } }));
  const failed = (name: string, err: unknown) => {
    const reasons = err instanceof ApiFailure ? Object.values(err.errors) : [];
    note(name, false, reasons.length ? reasons.join("; ") : explain(err).what);
  };

  const changeRole = async (u: UserRow, role: Role) => {
    try {
      await call("PATCH", `/user/${encodeURIComponent(u.username)}`, { body: { role } });
      note(u.username, true, `Now ${role}; their sessions ended.`);
    } catch (err) {
      failed(u.username, err);
    }
    void refresh("/user");
  };
  const endSessions = async (u: UserRow) => {
    try {
      const answer = await call<{ revoked?: number }>("DELETE", `/user/${encodeURIComponent(u.username)}/token`);
      note(u.username, true, `Ended ${answer?.revoked ?? 0} session${answer?.revoked === 1 ? "" : "s"}.`);
    } catch (err) {
      failed(u.username, err);
    }
  };

  const list = users.data.value;
  return (
    <Card title="Users">
      {users.error.value && <ErrorNote error={users.error.value} retry={() => void refresh("/user")} />}
      {!list ? <Loading what="users" /> : (
        <div class="table-wrap">
          <table class="table" aria-label="Users" data-testid="users">
            <TableHead columns={["User", "Email", "Role"]} actions />
            <tbody>
              {list.map((u) => {
                const n = rowNote[u.username];
                return (
                  <tr key={u.username} data-user={u.username}>
                    <td>
                      <strong>{u.username}</strong> {u.username === me && <span class="tag">you</span>}
                      {n && <div class={n.ok ? "small state-reporting" : "row-error"} role={n.ok ? "status" : "alert"}>{n.text}</div>}
                    </td>
                    <td>{u.email || <span class="muted">–</span>}</td>
                    <td>
                      <select aria-label={`Role of ${u.username}`} value={u.role}
                        onChange={(e) => void changeRole(u, (e.target as HTMLSelectElement).value as Role)}>
                        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </td>
                    <td class="actions">
                      <button type="button" class="btn btn-small" aria-label={`Reset the password of ${u.username}`} onClick={() => setResetting(u)}>Reset password…</button>{" "}
                      <button type="button" class="btn btn-small" aria-label={`End the sessions of ${u.username}`} onClick={() => void endSessions(u)}>End sessions</button>{" "}
                      <button type="button" class="btn btn-small" aria-label={`Delete ${u.username}`} onClick={() => setDeleting(u)}>Delete…</button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {resetting && (
        <ResetPassword user={resetting} onClose={(done) => {
          if (done) note(resetting.username, true, done);
          setResetting(null);
        }} />
      )}
      {deleting && (
        <ConfirmDialog title={`Delete ${deleting.username}`} action="Delete user"
          what={`${deleting.username} (${deleting.role}) can no longer log in; their sessions end. What they did stays in the history.`}
          run={async () => {
            await call("DELETE", `/user/${encodeURIComponent(deleting.username)}`);
            void refresh("/user");
          }}
          onClose={() => setDeleting(null)} />
      )}
    </Card>
  );
}

const STATUS_WORD: Record<KeyRow["status"], string> = { pre: "pending", accepted: "accepted", rejected: "rejected" };

function CollectorKeys() {
  const keys = useResource<KeyRow[]>("/key");
  const servers = useResource<ServerRow[]>("/server");
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [deleting, setDeleting] = useState<KeyRow | null>(null);
  const rowId = (k: KeyRow) => `${k.id}|${k.fingerprint}`;
  const clusterName = (id: string) => clusters.value?.find((c) => c.id === id)?.name ?? id.slice(0, 8);
  const keyPath = (k: KeyRow) => `/key/${encodeURIComponent(k.id)}`;

  const decide = async (k: KeyRow, status: "accepted" | "rejected") => {
    setRowError((e) => ({ ...e, [rowId(k)]: "" }));
    try {
      await call("PATCH", keyPath(k), { body: { status, fingerprint: k.fingerprint } });
    } catch (err) {
      const reasons = err instanceof ApiFailure ? Object.values(err.errors) : [];
      setRowError((e) => ({ ...e, [rowId(k)]: reasons.length ? reasons.join("; ") : explain(err).what }));
    }
    void refresh("/key");
  };

  const list = keys.data.value ? sortKeys(keys.data.value) : null;
  const now = Date.now();
  return (
    <Card title="Collector keys">
      <p class="muted small">
        A collector's first hello registers its CURVE key as pending: nothing it sends is used until an admin accepts it. Compare the
        fingerprint with the one <code>calamari-collector</code> printed on its host before accepting.
      </p>
      {keys.error.value && <ErrorNote error={keys.error.value} retry={() => void refresh("/key")} />}
      {!list ? <Loading what="collector keys" /> : list.length === 0 ? (
        <Empty>No collector keys. Collectors on the plain development bus, or simulated in the server, have none.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table" aria-label="Collector keys" data-testid="collector-keys">
            <TableHead columns={["Host", "Key", "Fingerprint", "Registered", "Collector"]} actions />
            <tbody>
              {list.map((k) => {
                const state = collectorState(k, servers.data.value ?? []);
                const error = rowError[rowId(k)];
                return (
                  <tr key={rowId(k)} data-key-host={k.id} data-key-status={k.status}>
                    <td><strong>{k.id}</strong></td>
                    <td>
                      <Badge level={k.status === "accepted" ? "complete" : k.status === "pre" ? "WARNING" : "ERROR"} text={STATUS_WORD[k.status]} />
                      {k.decided_by && <div class="muted small">by {k.decided_by}</div>}
                    </td>
                    <td class="fingerprint">{groupedFingerprint(k.fingerprint)}</td>
                    <td>
                      {when(k.registered_at)}
                      {k.registered_from && <div class="muted small">from {k.registered_from}</div>}
                      {k.status === "pre" && k.expires_at && <div class="muted small">expires {when(k.expires_at)}</div>}
                    </td>
                    <td>
                      <span class={`state-${state.kind}`} data-collector-state={state.kind}>{state.words}</span>
                      {state.server && <div class="muted small">last contact {ago(state.server.last_contact, now)}</div>}
                      {state.clusters.length > 0 && <div class="small">cluster {state.clusters.map(clusterName).join(", ")}</div>}
                      {error && <div class="row-error" role="alert">{error}</div>}
                    </td>
                    <td class="actions">
                      {k.status !== "accepted" && (
                        <button type="button" class="btn btn-small btn-primary" aria-label={`Accept the key of ${k.id}`} onClick={() => void decide(k, "accepted")}>Accept</button>
                      )}{" "}
                      {k.status !== "rejected" && (
                        <button type="button" class="btn btn-small" aria-label={`Reject the key of ${k.id}`} onClick={() => void decide(k, "rejected")}>Reject</button>
                      )}{" "}
                      <button type="button" class="btn btn-small" aria-label={`Delete the key of ${k.id}`} onClick={() => setDeleting(k)}>Delete…</button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {deleting && (
        <ConfirmDialog title={`Delete the key of ${deleting.id}`} action="Delete key"
          what={`The key ${groupedFingerprint(deleting.fingerprint)} is forgotten; the collector's next hello makes it pending again.`}
          run={async () => {
            await call("DELETE", `${keyPath(deleting)}?fingerprint=${encodeURIComponent(deleting.fingerprint)}`);
            void refresh("/key");
          }}
          onClose={() => setDeleting(null)} />
      )}
    </Card>
  );
}

export function Admin() {
  if (!isAdmin.value) {
    return (
      <div class="page">
        <h1>Not available</h1>
        <p>Administration is for users with the admin role. <a href="/">Go to the overview</a>.</p>
      </div>
    );
  }
  return (
    <div class="page manage-page">
      <header class="page-head">
        <h1>Administration</h1>
      </header>
      <CollectorKeys />
      <div class="grid-2">
        <Users />
        <AddUser />
      </div>
      <NotificationChannels />
    </div>
  );
}
