// The configuration and administration pages' logic: searching the configuration, user forms,
// and each collector's state from its keys and the hosts it reports.

export interface ConfigEntry {
  key: string;
  value: string;
}

/** Entries whose key or value holds every word of `query` (any case; `_`, `-` and space alike,
 * as Ceph accepts `osd_pool_default_size` and `osd pool default size`). */
export function searchConfig(entries: ConfigEntry[], query: string): ConfigEntry[] {
  const norm = (s: string) => s.toLowerCase().replace(/[-_ ]+/g, "_");
  const words = query.trim().split(/\s+/).filter(Boolean).map(norm);
  // by code point: the same order in every browser locale
  const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (words.length === 0) return sorted;
  const whole = norm(query.trim());
  return sorted.filter((e) => {
    const hay = `${norm(e.key)} ${norm(String(e.value))}`;
    return hay.includes(whole) || words.every((w) => hay.includes(w));
  });
}

/** `section/name` keys (e.g. `osd.3/debug_osd`, `mgr/mgr/dashboard/ssl`) to their section;
 * global keys have none. */
export function configSection(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "global" : key.slice(0, slash);
}

export type Role = "read-only" | "operator" | "admin";
export const ROLES: Role[] = ["read-only", "operator", "admin"];

export interface UserRow {
  id: string;
  username: string;
  email?: string;
  role: Role;
}

export interface NewUser {
  username: string;
  password: string;
  again: string;
  role: Role;
  email: string;
}

/** What the form can tell before asking the server (which judges password strength itself). */
export function newUserProblems(form: NewUser): Record<string, string> {
  const found: Record<string, string> = {};
  if (!form.username.trim()) found.username = "Enter a user name.";
  if (!form.password) found.password = "Enter a password.";
  else if (form.password !== form.again) found.again = "The two passwords differ.";
  if (!ROLES.includes(form.role)) found.role = "Choose a role.";
  return found;
}

export function newUserBody(form: NewUser): Record<string, string> {
  const body: Record<string, string> = { username: form.username.trim(), password: form.password, role: form.role };
  if (form.email.trim()) body.email = form.email.trim();
  return body;
}

/** A collector's CURVE key as GET /api/v2/key lists it. */
export interface KeyRow {
  id: string;
  status: "pre" | "accepted" | "rejected";
  fingerprint: string;
  public_key?: string;
  decided_by: string | null;
  registered_at: string;
  updated_at: string;
  registered_from: string | null;
  expires_at: string | null;
}

/** What the tables need of a server row. */
export interface ServerRow {
  fqdn: string;
  hostname: string;
  contact_lost: boolean;
  last_contact: string | null;
  services?: { fsid: string; type: string; id: string }[];
}

export type CollectorStateKind = "pending" | "rejected" | "reporting" | "silent" | "not-seen";

export interface CollectorState {
  kind: CollectorStateKind;
  words: string;
  server: ServerRow | null;
  /** the clusters its host reports services of */
  clusters: string[];
}

/** A key's host is the collector's short host name; servers are listed by fqdn and short name. */
export function serverOfKey(key: { id: string }, servers: ServerRow[]): ServerRow | null {
  return servers.find((s) => s.hostname === key.id || s.fqdn === key.id || s.fqdn.startsWith(`${key.id}.`)) ?? null;
}

/** The state of the collector behind a key: pending and rejected keys feed nothing; an accepted
 * key's collector reports (its host was heard from within the contact timeout), is silent, or
 * has not reported a host yet. */
export function collectorState(key: KeyRow, servers: ServerRow[]): CollectorState {
  const server = serverOfKey(key, servers);
  const clusters = [...new Set((server?.services ?? []).map((s) => s.fsid))].sort();
  if (key.status === "pre") return { kind: "pending", words: "Pending: nothing it sends is used until accepted", server, clusters };
  if (key.status === "rejected") return { kind: "rejected", words: "Rejected: its messages are dropped", server, clusters };
  if (!server) return { kind: "not-seen", words: "Accepted; no report from its host yet", server, clusters };
  if (server.contact_lost) return { kind: "silent", words: "Accepted; silent (contact lost)", server, clusters };
  return { kind: "reporting", words: "Accepted; reporting", server, clusters };
}

/** Pending keys first (they wait for a decision), then by host. */
export function sortKeys(keys: KeyRow[]): KeyRow[] {
  const order = { pre: 0, accepted: 1, rejected: 2 } as const;
  return [...keys].sort((a, b) => order[a.status] - order[b.status] || a.id.localeCompare(b.id) || a.registered_at.localeCompare(b.registered_at));
}

/** A fingerprint in groups of four, as people compare them aloud ("SHA256:ab12 cd34 …"). */
export function groupedFingerprint(fp: string): string {
  const colon = fp.indexOf(":");
  const prefix = colon >= 0 ? fp.slice(0, colon + 1) : "";
  const body = colon >= 0 ? fp.slice(colon + 1) : fp;
  return prefix + (body.match(/.{1,4}/g) ?? []).join(" ");
}
