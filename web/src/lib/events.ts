// What an event of the feed is about, read from its message and links, so that the event list
// can filter by type and object and link each entry to the page of its object.
import type { FeedEvent } from "./live";

export type EventKind = "osd" | "pool" | "server" | "request" | "health" | "cluster" | "user" | "other";

export interface EventObject {
  kind: EventKind;
  /** what a person calls it: osd.3, pool 'rbd', node1.example, … */
  label: string;
  /** the console page of the object */
  href: string;
}

export const EVENT_KINDS: EventKind[] = ["osd", "pool", "server", "request", "health", "cluster", "user", "other"];

export function eventObject(event: Pick<FeedEvent, "message" | "fqdn" | "fsid">): EventObject {
  const m = event.message;
  let found: RegExpExecArray | null;
  if ((found = /^(?:Started|Completed|Failed): (.*?)(?: \(by [^)]*\))?(?:: .*)?$/.exec(m))) {
    return { kind: "request", label: found[1] ?? "request", href: "/requests" };
  }
  if ((found = /\bosd\.(\d+)\b/.exec(m))) {
    return { kind: "osd", label: `osd.${found[1]}`, href: `/osds?osd=${found[1]}` };
  }
  if ((found = /^Pool '([^']*)'/.exec(m))) {
    const renamed = /renamed to '([^']*)'/.exec(m);
    const name = renamed ? (renamed[1] as string) : (found[1] as string);
    return { kind: "pool", label: `pool '${name}'`, href: `/pools?q=${encodeURIComponent(name)}` };
  }
  if (/^Health|^Health check/.test(m)) {
    return { kind: "health", label: "health", href: "/" };
  }
  if (/user '|^Logins from/.test(m)) {
    const user = /user '([^']*)'/.exec(m);
    return { kind: "user", label: user ? `user '${user[1]}'` : "logins", href: "/account" };
  }
  if (event.fqdn && /[Ss]erver /.test(m)) {
    return { kind: "server", label: event.fqdn, href: `/hosts/${encodeURIComponent(event.fqdn)}` };
  }
  if (/cluster|Monitor|OSD flags/.test(m)) {
    return { kind: "cluster", label: "cluster", href: "/" };
  }
  if (event.fqdn) return { kind: "server", label: event.fqdn, href: `/hosts/${encodeURIComponent(event.fqdn)}` };
  return { kind: "other", label: "", href: "/events" };
}

const RANK = { INFO: 0, RECOVERY: 1, WARNING: 2, ERROR: 3, CRITICAL: 4 } as const;

export interface EventFilter {
  severity: keyof typeof RANK | "";
  kind: EventKind | "";
  object: string;
}

/** The API's rule for severity (X and more severe), plus type and object. */
export function matchesEvent(event: FeedEvent, filter: EventFilter): boolean {
  if (filter.severity && RANK[event.severity] < RANK[filter.severity]) return false;
  if (!filter.kind && !filter.object) return true;
  const object = eventObject(event);
  if (filter.kind && object.kind !== filter.kind) return false;
  if (filter.object) {
    const want = filter.object.trim().toLowerCase();
    if (!object.label.toLowerCase().includes(want) && !event.message.toLowerCase().includes(want)) return false;
  }
  return true;
}
