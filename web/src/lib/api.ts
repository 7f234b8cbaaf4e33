// The console's only way to the server: the public REST API under /api/v2/, with the session
// cookie (sent by the browser) and the CSRF header on every change, as docs/security.md describes.

export const API = "/api/v2";
const CSRF_COOKIE = "csrftoken";
const CSRF_HEADER = "X-CSRFToken";

/** A refused or failed call, with what the server said (HTTP 400 names the bad fields). */
export class ApiFailure extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: Record<string, string>;
  readonly path: string;

  constructor(status: number, detail: string, errors: Record<string, string> = {}, path = "") {
    super(detail);
    this.name = "ApiFailure";
    this.status = status;
    this.detail = detail;
    this.errors = errors;
    this.path = path;
  }
}

/** Reads one cookie from a `document.cookie` string. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** Turns any answer body into a failure that says what happened (bodies may be JSON or not). */
export function failureFrom(status: number, body: unknown, path: string): ApiFailure {
  let detail = "";
  let errors: Record<string, string> = {};
  if (body && typeof body === "object") {
    const record = body as { detail?: unknown; errors?: unknown };
    if (typeof record.detail === "string") detail = record.detail;
    if (record.errors && typeof record.errors === "object") {
      errors = Object.fromEntries(
        Object.entries(record.errors as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
    }
  } else if (typeof body === "string" && body.trim() && body.length < 300) {
    detail = body.trim();
  }
  return new ApiFailure(status, detail || `the server answered HTTP ${status}`, errors, path);
}

/** Hooks the session layer installs: told of a 401 (session gone) on any call. */
export const apiHooks: { onUnauthorized: (failure: ApiFailure) => void } = {
  onUnauthorized: () => undefined,
};

export interface CallOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** a 401 of this call is the caller's business (the login form's wrong password) */
  quietUnauthorized?: boolean;
}

export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  if (method !== "GET" && method !== "HEAD") {
    const csrf = readCookie(document.cookie, CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  let response: Response;
  try {
    response = await fetch(API + path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiFailure(0, "the server cannot be reached", {}, path);
  }
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok && response.status !== 304) {
    const failure = failureFrom(response.status, body, path);
    if (response.status === 401 && !options.quietUnauthorized) apiHooks.onUnauthorized(failure);
    throw failure;
  }
  return body as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> =>
  call<T>("GET", path, signal ? { signal } : {});

/** What a person should read for a failure: what happened, and what to do about it. */
export function explain(failure: unknown): { what: string; todo: string } {
  if (!(failure instanceof ApiFailure)) {
    const message = failure instanceof Error ? failure.message : String(failure);
    return { what: `Something went wrong in the console: ${message}`, todo: "Reload the page; if it happens again, report it with this message." };
  }
  switch (failure.status) {
    case 0:
      return { what: "The Calamari server cannot be reached.", todo: "Check that calamari-server runs and the network; the console keeps retrying." };
    case 400:
      return { what: `The server refused the input: ${failure.detail}.`, todo: "Correct the fields marked and try again." };
    case 401:
      return { what: "Your session has ended (it expired, or you logged out elsewhere).", todo: "Log in again; you will come back to this page." };
    case 403:
      return { what: `Not allowed: ${failure.detail}.`, todo: "Ask an administrator for a role that may do this, or log in as another user." };
    case 404:
      return { what: `Not found: ${failure.detail}.`, todo: "It may have been removed; go back to the list." };
    case 409:
      return { what: `Conflict: ${failure.detail}.`, todo: "Wait for the running request to finish, then try again." };
    case 413:
      return { what: `Too much at once: ${failure.detail}.`, todo: "Send less at once." };
    case 429:
      return { what: `Too many attempts: ${failure.detail}.`, todo: "Wait a moment before trying again." };
    case 503:
      return { what: `Not available yet: ${failure.detail}.`, todo: "The cluster has not sent this yet or the store is busy; it retries shortly." };
    case 504:
      return { what: `No answer in time: ${failure.detail}.`, todo: "The collector may be busy or gone; try again." };
    default:
      return { what: `The server failed (HTTP ${failure.status}): ${failure.detail}.`, todo: "Try again; the server log has the details." };
  }
}

/** A 400's or 409's reasons by the form's `fields` (a reason for `to.0` belongs to `to`), each worded by
 * `reword`; `rest`, what names no field of the form (the note above the buttons; null when every
 * reason is at a field). Any other failure is all `rest`. */
export function reasonsByField(
  err: unknown, fields: readonly string[], reword: (reason: string) => string = (reason) => reason,
): { byField: Record<string, string>; rest: unknown } {
  if (!(err instanceof ApiFailure) || (err.status !== 400 && err.status !== 409)) return { byField: {}, rest: err };
  const byField: Record<string, string> = {};
  const other: string[] = [];
  for (const [field, reason] of Object.entries(err.errors)) {
    const head = field.split(".")[0] ?? field;
    if (fields.includes(head)) byField[head] = reword(reason);
    else other.push(`${field}: ${reword(reason)}`);
  }
  const rest = other.length || Object.keys(byField).length === 0 ? new ApiFailure(err.status, [err.detail, ...other].join("; ")) : null;
  return { byField, rest };
}
