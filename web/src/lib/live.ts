// The live channel: GET /api/v2/stream (Server-Sent Events) read with fetch, so that the status of
// the answer is known (401: the session ended; 404: a server without the stream, so poll instead)
// and `Last-Event-ID` resumes after a drop without missing an event.
import { createParser, type EventSourceMessage } from "eventsource-parser";

import { API } from "./api";
import { backoffDelay } from "./backoff";

/** An event of the feed (GET /api/v2/event), as the stream also carries it. */
export interface FeedEvent {
  id: number;
  when: string;
  severity: "INFO" | "RECOVERY" | "WARNING" | "ERROR" | "CRITICAL";
  message: string;
  fsid: string | null;
  fqdn: string | null;
}

/** One committed event: its store position, its type, the feed's entry (if it tells one) and the
 * API paths (below /api/v2/) of the resources it changed. */
export interface StreamChange {
  position: number;
  type: string;
  when: string;
  event: FeedEvent | null;
  changed: string[];
}

export type LiveState = "connecting" | "live" | "polling" | "reconnecting" | "unauthorized";

/** A stream message's data, checked: null for anything malformed (it is then ignored). */
export function parseChange(data: string): StreamChange | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  if (typeof v.position !== "number" || !Array.isArray(v.changed)) return null;
  const changed = v.changed.filter((c): c is string => typeof c === "string");
  const event = v.event && typeof v.event === "object" ? (v.event as FeedEvent) : null;
  return {
    position: v.position,
    type: typeof v.type === "string" ? v.type : "",
    when: typeof v.when === "string" ? v.when : "",
    event,
    changed,
  };
}

/** Does a change of `changed` (an API path) make the cached resource `resource` stale? The
 * resource itself, the collection holding it (with any query), and what lies below it; below a
 * cluster only its own documents (sync objects, stats, flags, monitors), not the lists of its
 * OSDs or pools, which have changes of their own. */
export function affects(changed: string, resource: string): boolean {
  const bare = (resource.split("?")[0] as string).replace(/^\/+/, "");
  if (bare === changed) return true;
  if (bare.startsWith(`${changed}/`)) {
    if (!/^cluster\/[^/]+$/.test(changed)) return true;
    const below = bare.slice(changed.length + 1).split("/")[0];
    return CLUSTER_DOCUMENTS.has(below as string);
  }
  const parent = changed.slice(0, changed.lastIndexOf("/"));
  return parent !== "" && bare === parent;
}

/** A stream the server ends after at least this long was renewed, not lost: the console follows
 * on at once without a "connection lost" banner. A shorter one is treated as a drop (back-off). */
export const RENEW_AFTER_MS = 10_000;

// a CRUSH change is a change of the cluster (its crush_map sync object): the CRUSH page's lists follow it
const CLUSTER_DOCUMENTS = new Set(["sync_object", "stats", "osd_config", "mon", "config", "log", "crush_map",
  "crush_node", "crush_rule", "crush_rule_set", "crush_type"]);

export interface LiveOptions {
  onChange: (change: StreamChange) => void;
  onState: (state: LiveState, detail?: string) => void;
  /** the stream answered 404 (or is refused): the console polls instead, until it comes back */
  onPoll: () => void;
  /** the server could not replay all that was missed: everything shown must be fetched anew */
  onReset?: () => void;
  pollEveryMs?: number;
  fetchImpl?: typeof fetch;
}

/** Keeps one stream open, reconnecting with back-off; polls while the server has no stream. */
export class LiveChannel {
  lastEventId: string | null = null;
  private attempt = 0;
  private stopped = false;
  private controller: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0; // a connection superseded by a newer one ends silently
  private polled = false; // polled without a stream position: catch up once the stream is back
  private renewing = false; // following on from a stream the server ended: the state stays "live"
  private readonly options: LiveOptions;

  constructor(options: LiveOptions) {
    this.options = options;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Reconnect now (after a login, or when the tab comes back). */
  kick(): void {
    this.stopped = false;
    this.controller?.abort();
    if (this.timer) clearTimeout(this.timer);
    this.attempt = 0;
    void this.connect();
  }

  private schedule(ms: number, then: () => void): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(then, ms);
  }

  private async connect(): Promise<void> {
    const fetchImpl = this.options.fetchImpl ?? fetch;
    this.controller?.abort();
    const generation = ++this.generation;
    this.controller = new AbortController();
    if (!this.renewing) this.options.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    this.renewing = false;
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    let response: Response;
    try {
      response = await fetchImpl(`${API}/stream`, {
        headers,
        credentials: "same-origin",
        cache: "no-store",
        signal: this.controller.signal,
      });
    } catch {
      return this.dropped(generation, "the server cannot be reached");
    }
    if (generation !== this.generation) return;
    if (response.status === 401) {
      this.options.onState("unauthorized");
      return; // the session layer asks for a login, then kicks the channel
    }
    if (response.status === 404 || response.status === 405 || response.status === 503) {
      // a server without the stream, or with every stream place taken: poll, and look for the
      // stream again now and then
      this.options.onState("polling", response.status === 503 ? "the server's streams are all taken" : "this server has no stream");
      const every = this.options.pollEveryMs ?? 5000;
      let polls = 0;
      const poll = () => {
        this.polled = true;
        this.options.onPoll();
        polls += 1;
        if (generation !== this.generation) return;
        // every place taken (503) frees up as other consoles leave: look again sooner
        if (polls >= (response.status === 503 ? 2 : 12)) void this.connect();
        else this.schedule(every, poll);
      };
      this.schedule(every, poll);
      return;
    }
    if (!response.ok || !response.body) {
      return this.dropped(generation, `the stream answered HTTP ${response.status}`);
    }
    this.attempt = 0;
    this.options.onState("live");
    if (this.polled && this.lastEventId === null) this.options.onReset?.();
    this.polled = false;
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (message.id !== undefined) this.lastEventId = message.id;
        if (message.event === "reset") {
          this.options.onReset?.();
          return;
        }
        if (message.event && message.event !== "change") return; // future kinds
        const change = parseChange(message.data);
        if (change) this.options.onChange(change);
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const opened = Date.now();
    let ended = false; // the server finished the answer (a stream's lifetime), rather than it broke
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          break;
        }
        parser.feed(value);
      }
    } catch {
      // aborted, or the connection broke: both end here
    }
    if (ended && !this.stopped && generation === this.generation && Date.now() - opened >= RENEW_AFTER_MS) {
      // The server ends each stream after its lifetime: follow on at once, still live (no banner).
      this.renewing = true;
      void this.connect();
      return;
    }
    this.dropped(generation, "the connection to the server was lost");
  }

  private dropped(generation: number, detail: string): void {
    if (this.stopped || generation !== this.generation) return;
    this.options.onState("reconnecting", detail);
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.schedule(delay, () => void this.connect());
  }
}
