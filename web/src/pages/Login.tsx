import { useState } from "preact/hooks";

import { ApiFailure } from "../lib/api";
import { login, session, sessionNote } from "../state";

export function Login() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!username || !password) {
      setError("Enter your user name and password.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      await login(username, password);
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) setError("Wrong user name or password.");
      else if (err instanceof ApiFailure && err.status === 429) setError(`${err.detail}. Wait before trying again.`);
      else if (err instanceof ApiFailure && err.status === 0) setError("The Calamari server cannot be reached. Check that it runs.");
      else setError(err instanceof ApiFailure ? err.detail : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login-page">
      <form class="login-box" onSubmit={submit} aria-label="Log in">
        <div class="brand brand-large">
          <span class="brand-mark" aria-hidden="true" />
          Calamari
        </div>
        <p class="login-sub">Ceph cluster management</p>
        {session.value === "expired" && sessionNote.value && (
          <div class="notice notice-warn" role="status">
            {sessionNote.value}
          </div>
        )}
        <div class="field">
          <label for="login-user">User name</label>
          <input id="login-user" name="username" autocomplete="username" value={username}
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)} autoFocus />
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input id="login-password" name="password" type="password" autocomplete="current-password" value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </div>
        {error && (
          <div class="field-msg" role="alert">
            {error}
          </div>
        )}
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <p class="login-help">
          No user yet? On the server host: <code>calamari-ctl user add NAME --role admin</code>
        </p>
      </form>
    </main>
  );
}
