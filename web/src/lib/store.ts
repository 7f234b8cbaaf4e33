// Cached API resources as signals. A page asks for the paths it shows; each is fetched once and
// kept fresh by the live channel (a change naming it refetches it) or, without a stream, by
// polling. Pages see data, an error (the last data stays on screen) and whether it is loading.
import { signal, type Signal } from "@preact/signals";
import { useEffect } from "preact/hooks";

import { ApiFailure, get } from "./api";
import { affects } from "./live";

export interface Resource<T> {
  data: Signal<T | undefined>;
  error: Signal<ApiFailure | Error | null>;
  loading: Signal<boolean>;
  /** when the data last arrived (ms), for "updated 5 s ago" */
  fetchedAt: Signal<number>;
}

interface Entry<T> extends Resource<T> {
  path: string;
  users: number;
  inflight: Promise<void> | null;
  again: boolean; // a change arrived while fetching: fetch once more afterwards
}

const entries = new Map<string, Entry<unknown>>();

function entry<T>(path: string): Entry<T> {
  let e = entries.get(path) as Entry<T> | undefined;
  if (!e) {
    e = {
      path,
      users: 0,
      inflight: null,
      again: false,
      data: signal<T | undefined>(undefined),
      error: signal<ApiFailure | Error | null>(null),
      loading: signal(false),
      fetchedAt: signal(0),
    };
    entries.set(path, e as Entry<unknown>);
  }
  return e;
}

export function refresh(path: string): Promise<void> {
  const e = entry<unknown>(path);
  if (e.inflight) {
    e.again = true;
    return e.inflight;
  }
  e.loading.value = true;
  e.inflight = get<unknown>(path)
    .then((data) => {
      e.data.value = data;
      e.error.value = null;
      e.fetchedAt.value = Date.now();
    })
    .catch((err: unknown) => {
      e.error.value = err instanceof Error ? err : new Error(String(err));
    })
    .finally(() => {
      e.inflight = null;
      e.loading.value = false;
      if (e.again) {
        e.again = false;
        void refresh(path);
      }
    });
  return e.inflight;
}

/** The resource at `path` (below /api/v2/), fetched while a component uses it; null: nothing. */
export function useResource<T>(path: string | null): Resource<T> {
  const e = entry<T>(path ?? "\u0000none");
  useEffect(() => {
    if (path === null) return;
    e.users += 1;
    if (e.data.value === undefined || e.fetchedAt.value < Date.now() - 2000) void refresh(path);
    return () => {
      e.users -= 1;
    };
  }, [path]);
  return e;
}

/** Paths some component shows right now. */
export function pathsInUse(): string[] {
  return [...entries.values()].filter((e) => e.users > 0).map((e) => e.path);
}

/** Listeners that handle some changes better than a refetch (the OSD list patches one row). */
type ChangeHandler = (changed: string[]) => string[];
const handlers = new Set<ChangeHandler>();

/** A handler gets the changed paths first and returns those it did not deal with. */
export function onChanged(handler: ChangeHandler): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

/** The live channel's changes: refetch every resource in use that they make stale; others are
 * dropped from the cache so that they are fetched anew when shown. */
export function applyChanges(changed: string[]): void {
  let rest = changed;
  for (const handler of handlers) rest = handler(rest);
  if (rest.length === 0) return;
  for (const e of entries.values()) {
    if (!rest.some((c) => affects(c, e.path))) continue;
    if (e.users > 0) void refresh(e.path);
    else e.fetchedAt.value = 0;
  }
}

/** Without a stream: every resource in use is fetched again. */
export function pollAll(): void {
  for (const path of pathsInUse()) void refresh(path);
}

/** After a logout: nothing of the last user stays in memory. */
export function clearAll(): void {
  for (const e of entries.values()) {
    e.data.value = undefined;
    e.error.value = null;
    e.fetchedAt.value = 0;
  }
}
