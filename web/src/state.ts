// The console's shared state: who is logged in, which cluster is shown, the live channel, and
// the requests this console started (tracked until complete).
import { computed, effect, signal } from "@preact/signals";

import { ApiFailure, apiHooks, call, get } from "./lib/api";
import { LiveChannel, type FeedEvent, type LiveState } from "./lib/live";
import { navigate, location } from "./lib/router";
import { applyChanges, clearAll, pollAll, refresh } from "./lib/store";

export interface User {
  username: string;
  role: "read-only" | "operator" | "admin";
  email?: string;
}

export const user = signal<User | null>(null);
export type SessionState = "checking" | "in" | "out" | "expired";
export const session = signal<SessionState>("checking");
/** Why the last call was refused, to tell on the login page (an expired session, a 403). */
export const sessionNote = signal<string>("");

export const canChange = computed(() => user.value?.role === "operator" || user.value?.role === "admin");
export const isAdmin = computed(() => user.value?.role === "admin");

// ------------------------------------------------------------------ clusters

export interface ClusterSummary {
  id: string;
  name: string;
  update_time: string;
}

export const clusters = signal<ClusterSummary[] | null>(null);
const CLUSTER_KEY = "calamari.cluster";
export const chosenCluster = signal<string | null>(safeStorage()?.getItem(CLUSTER_KEY) ?? null);

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** The cluster shown: the one chosen if it still reports, else the first. */
export const fsid = computed<string | null>(() => {
  const list = clusters.value;
  if (!list || list.length === 0) return null;
  const chosen = chosenCluster.value;
  return list.some((c) => c.id === chosen) ? chosen : (list[0] as ClusterSummary).id;
});

export function chooseCluster(id: string): void {
  chosenCluster.value = id;
  safeStorage()?.setItem(CLUSTER_KEY, id);
}

export async function loadClusters(): Promise<void> {
  try {
    clusters.value = await get<ClusterSummary[]>("/cluster");
  } catch (err) {
    if (!(err instanceof ApiFailure) || err.status !== 401) clusters.value = clusters.value ?? [];
  }
}

// ------------------------------------------------------------------ session

export async function checkSession(): Promise<void> {
  try {
    user.value = await call<User>("GET", "/user/me", { quietUnauthorized: true });
    session.value = "in";
    void loadClusters();
    live.kick();
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      session.value = "out";
    } else {
      // the server is down: keep trying, the page says so meanwhile
      session.value = "checking";
      sessionNote.value = err instanceof ApiFailure ? err.detail : String(err);
      setTimeout(() => void checkSession(), 3000);
    }
  }
}

export async function login(username: string, password: string): Promise<void> {
  await call("POST", "/auth/login", { body: { username, password }, quietUnauthorized: true });
  sessionNote.value = "";
  await checkSession();
}

export async function logout(): Promise<void> {
  try {
    await call("POST", "/auth/logout");
  } catch {
    // already ended: the outcome is the same
  }
  endSession("out", "");
}

function endSession(state: SessionState, note: string): void {
  live.stop();
  user.value = null;
  clusters.value = null;
  tracked.value = [];
  clearAll();
  sessionNote.value = note;
  session.value = state;
}

apiHooks.onUnauthorized = () => {
  if (session.value === "in") {
    endSession("expired", "Your session has ended (it expired, or it was ended elsewhere). Log in again to go on where you were.");
  }
};

// ------------------------------------------------------------------ live

export const liveState = signal<LiveState>("connecting");
export const liveDetail = signal<string>("");
/** The newest feed events the stream brought (newest first), for the event list and overview. */
export const liveEvents = signal<FeedEvent[]>([]);
const LIVE_EVENTS_KEPT = 500;

export const live = new LiveChannel({
  onChange: (change) => {
    const changed = [...change.changed];
    if (change.event) {
      liveEvents.value = [change.event, ...liveEvents.value].slice(0, LIVE_EVENTS_KEPT);
      // the event lists that show it
      changed.push("event");
      if (change.event.fsid) changed.push(`cluster/${change.event.fsid}/event`);
      if (change.event.fqdn) changed.push(`server/${change.event.fqdn}/event`);
    }
    applyChanges(changed);
    for (const path of change.changed) {
      if (path === "cluster" || /^cluster\/[^/]+$/.test(path)) {
        if (!clusters.value?.some((c) => `cluster/${c.id}` === path)) void loadClusters();
      }
      const req = /^request\/(.+)$/.exec(path);
      if (req && tracked.value.some((t) => t.id === req[1])) void refreshTracked(req[1] as string);
    }
  },
  onState: (state, detail) => {
    liveState.value = state;
    liveDetail.value = detail ?? "";
    if (state === "unauthorized") apiHooks.onUnauthorized(new ApiFailure(401, "session ended"));
  },
  onPoll: () => {
    pollAll();
    void loadClusters();
    applyChanges((clusters.value ?? []).map((c) => `cluster/${c.id}/osd`)); // the workbench's list
  },
  onReset: () => {
    pollAll();
    void loadClusters();
    applyChanges((clusters.value ?? []).map((c) => `cluster/${c.id}/osd`));
  },
});

// ------------------------------------------------------------------ requests

export interface RequestRow {
  id: string;
  fsid?: string;
  username?: string;
  kind?: string;
  target?: string;
  headline: string;
  state: "submitted" | "executing" | "complete";
  status: string;
  error: boolean;
  error_message: string;
  requested_at?: string;
  completed_at?: string | null;
}

export interface Tracked {
  id: string;
  headline: string;
  row: RequestRow | null;
  failure: string;
}

export const tracked = signal<Tracked[]>([]);

export function track(requestId: string, headline: string): void {
  tracked.value = [{ id: requestId, headline, row: null, failure: "" }, ...tracked.value].slice(0, 20);
  void refreshTracked(requestId);
}

export function dismissTracked(id: string): void {
  tracked.value = tracked.value.filter((t) => t.id !== id);
}

async function refreshTracked(id: string): Promise<void> {
  try {
    const row = await get<RequestRow>(`/request/${encodeURIComponent(id)}`);
    tracked.value = tracked.value.map((t) => (t.id === id ? { ...t, row, headline: row.headline || t.headline } : t));
    if (row.state === "complete") {
      // what it changed shows at once, even without a stream
      void refresh(`/request/${encodeURIComponent(id)}`);
    }
  } catch (err) {
    const failure = err instanceof ApiFailure ? err.detail : String(err);
    tracked.value = tracked.value.map((t) => (t.id === id ? { ...t, failure } : t));
  }
}

// Unfinished requests are also polled each second: a request's progress must show even when the
// stream is down; the poll stops once it is complete.
if (typeof window !== "undefined") {
  setInterval(() => {
    if (session.value !== "in") return;
    for (const t of tracked.value) if (!t.row || t.row.state !== "complete") void refreshTracked(t.id);
  }, 1000);
}

/** After a login the page the user was on comes back (the address never changed). */
effect(() => {
  if (session.value === "in" && location.value.path === "/login") navigate("/", true);
});
