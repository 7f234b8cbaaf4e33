import { useState } from "preact/hooks";

import { ErrorNote, Card, Field, Loading, Empty, TableHead } from "../components/ui";
import { passwordBody, passwordProblems, type PasswordForm } from "../lib/account";
import { ApiFailure, call } from "../lib/api";
import { ago, when } from "../lib/format";
import { useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { logout, session, sessionNote, user } from "../state";

interface Session {
  id: string;
  kind: string;
  issued: number;
  last_used: number;
  expires: number;
  current: boolean;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

function Sessions() {
  const sessions = useResource<Session[]>("/auth/token");
  const [error, setError] = useState<unknown>(null);
  const end = async (id: string) => {
    setError(null);
    try {
      await call("DELETE", `/auth/token/${encodeURIComponent(id)}`);
      void refresh("/auth/token");
    } catch (err) {
      setError(err);
    }
  };
  const list = sessions.data.value;
  return (
    <Card title="Your sessions">
      {error !== null && <ErrorNote error={error} />}
      {sessions.error.value && <ErrorNote error={sessions.error.value} retry={() => void refresh("/auth/token")} />}
      {!list ? (
        <Loading what="sessions" />
      ) : list.length === 0 ? (
        <Empty>No sessions.</Empty>
      ) : (
        <table class="table">
          <TableHead columns={["Session", "Kind", "Started", "Last used", "Ends"]} actions />
          <tbody>
            {list.map((s) => (
              <tr key={s.id}>
                <td>
                  <code>{s.id}</code> {s.current && <span class="tag">this browser</span>}
                </td>
                <td>{s.kind === "bearer" ? "login" : s.kind}</td>
                <td>{when(iso(s.issued))}</td>
                <td>{ago(iso(s.last_used), Date.now())}</td>
                <td>{when(iso(s.expires))}</td>
                <td class="actions">
                  {s.current ? (
                    <button type="button" class="btn btn-small" onClick={() => void logout()}>
                      Log out
                    </button>
                  ) : (
                    <button type="button" class="btn btn-small" onClick={() => void end(s.id)}>
                      End session
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function PasswordChange() {
  const [form, setForm] = useState<PasswordForm>({ current: "", password: "", again: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, failure, setFailure, send } = useSending();
  const set = (field: keyof PasswordForm) => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    const found = passwordProblems(form);
    setErrors(found);
    setFailure(null);
    if (Object.keys(found).length) {
      focusFirstError(found);
      return;
    }
    await send(async () => {
      await call("PATCH", "/user/me", { body: passwordBody(form) });
      // a new password ends every session, this one too: log in with it
      session.value = "out";
      sessionNote.value = "";
      user.value = null;
    }, (err) => {
      if (err instanceof ApiFailure && err.status === 400) {
        setErrors(err.errors);
        focusFirstError(err.errors);
      }
      return err;
    });
  };

  const shownAtFields = failure instanceof ApiFailure && failure.status === 400 && Object.keys(failure.errors).some((k) => k in FIELD_IDS);
  return (
    <Card title="Change your password">
      <form onSubmit={submit} class="form narrow" noValidate aria-label="Change your password">
        <p class="muted">All your sessions end when the password changes; you then log in with the new one.</p>
        <Field label="Current password" name="current_password" error={errors.current_password}>
          <input id="f-current_password" type="password" autocomplete="current-password" value={form.current}
            aria-invalid={!!errors.current_password} onInput={set("current")} />
        </Field>
        <Field label="New password" name="password" error={errors.password} hint="At least 10 characters, not your user name, not a common password.">
          <input id="f-password" type="password" autocomplete="new-password" value={form.password}
            aria-invalid={!!errors.password} onInput={set("password")} />
        </Field>
        <Field label="New password again" name="again" error={errors.again}>
          <input id="f-again" type="password" autocomplete="new-password" value={form.again}
            aria-invalid={!!errors.again} onInput={set("again")} />
        </Field>
        {failure !== null && !shownAtFields && <ErrorNote error={failure} />}
        <button class="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Changing…" : "Change password"}
        </button>
      </form>
    </Card>
  );
}

const FIELD_IDS: Record<string, string> = { current_password: "f-current_password", password: "f-password", again: "f-again" };

/** Moves the focus to the first field with a problem, so that a keyboard user lands on it. */
function focusFirstError(found: Record<string, string>): void {
  const first = Object.keys(FIELD_IDS).find((k) => k in found);
  if (first) document.getElementById(FIELD_IDS[first] as string)?.focus();
}

export function Account() {
  const me = user.value;
  return (
    <div class="page">
      <header class="page-head">
        <h1>Account</h1>
      </header>
      <div class="grid-2">
        <Card title="You">
          <dl class="facts">
            <dt>User</dt>
            <dd>{me?.username}</dd>
            <dt>Role</dt>
            <dd>
              {me?.role}
              <div class="muted small">
                {me?.role === "read-only"
                  ? "You can see everything; changes to the cluster need the operator role."
                  : me?.role === "operator"
                    ? "You can see everything and change the cluster."
                    : "You can change the cluster and manage users and collector keys."}
              </div>
            </dd>
            {me?.email && (
              <>
                <dt>Email</dt>
                <dd>{me.email}</dd>
              </>
            )}
          </dl>
          <button type="button" class="btn" onClick={() => void logout()}>
            Log out
          </button>
        </Card>
        <PasswordChange />
      </div>
      <Sessions />
    </div>
  );
}
