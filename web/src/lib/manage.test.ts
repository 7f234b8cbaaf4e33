import { describe, expect, it } from "vitest";

import { follow, lineLevel, sortLogFiles, splitLines } from "./logs";
import {
  collectorState, configSection, groupedFingerprint, newUserBody, newUserProblems, searchConfig, sortKeys,
  type KeyRow, type NewUser, type ServerRow,
} from "./manage";

describe("configuration search", () => {
  const entries = [
    { key: "osd_pool_default_size", value: "3" },
    { key: "mgr/mgr/dashboard/ssl", value: "false" },
    { key: "osd.3/debug_osd", value: "20/20" },
    { key: "mon_max_pg_per_osd", value: "300" },
  ];
  it("finds by key or value, any case, with spaces, dashes or underscores", () => {
    expect(searchConfig(entries, "").map((e) => e.key)).toEqual(["mgr/mgr/dashboard/ssl", "mon_max_pg_per_osd", "osd.3/debug_osd", "osd_pool_default_size"]);
    expect(searchConfig(entries, "Pool Default").map((e) => e.key)).toEqual(["osd_pool_default_size"]);
    expect(searchConfig(entries, "pool-default-size").map((e) => e.key)).toEqual(["osd_pool_default_size"]);
    expect(searchConfig(entries, "300").map((e) => e.key)).toEqual(["mon_max_pg_per_osd"]);
    expect(searchConfig(entries, "dashboard false").map((e) => e.key)).toEqual(["mgr/mgr/dashboard/ssl"]);
    expect(searchConfig(entries, "nothing-like-it")).toEqual([]);
  });
  it("names a key's section", () => {
    expect(configSection("osd_pool_default_size")).toBe("global");
    expect(configSection("osd.3/debug_osd")).toBe("osd.3");
  });
});

describe("users", () => {
  const form = (over: Partial<NewUser>): NewUser => ({ username: "ops1", password: "a-long-password", again: "a-long-password", role: "operator", email: "", ...over });
  it("tells missing fields and differing passwords before asking the server", () => {
    expect(newUserProblems(form({}))).toEqual({});
    expect(Object.keys(newUserProblems(form({ username: " ", password: "" })))).toEqual(["username", "password"]);
    expect(newUserProblems(form({ again: "other" }))).toHaveProperty("again");
  });
  it("sends the name trimmed and the email only when given", () => {
    expect(newUserBody(form({ username: " ops1 " }))).toEqual({ username: "ops1", password: "a-long-password", role: "operator" });
    expect(newUserBody(form({ email: "a@b" }))).toHaveProperty("email", "a@b");
  });
});

describe("collector keys", () => {
  const key = (id: string, status: KeyRow["status"], at = "2026-01-01T00:00:00Z"): KeyRow => ({
    id, status, fingerprint: "SHA256:abcdefgh12", decided_by: null, registered_at: at, updated_at: at, registered_from: null, expires_at: null,
  });
  const servers: ServerRow[] = [
    { fqdn: "node1.ceph.example", hostname: "node1", contact_lost: false, last_contact: "2026-01-01T00:00:00Z", services: [{ fsid: "f2", type: "osd", id: "1" }, { fsid: "f1", type: "mon", id: "node1" }] },
    { fqdn: "node2.ceph.example", hostname: "node2", contact_lost: true, last_contact: null },
  ];
  it("tells each collector's state from its key and its host's contact", () => {
    expect(collectorState(key("node1", "pre"), servers).kind).toBe("pending");
    expect(collectorState(key("node1", "rejected"), servers).kind).toBe("rejected");
    const reporting = collectorState(key("node1", "accepted"), servers);
    expect(reporting.kind).toBe("reporting");
    expect(reporting.clusters).toEqual(["f1", "f2"]);
    expect(collectorState(key("node2", "accepted"), servers).kind).toBe("silent");
    expect(collectorState(key("node2.ceph.example", "accepted"), servers).kind).toBe("silent");
    expect(collectorState(key("node3", "accepted"), servers).kind).toBe("not-seen");
    expect(collectorState(key("node", "accepted"), servers).kind).toBe("not-seen");
  });
  it("puts pending keys first", () => {
    const sorted = sortKeys([key("b", "accepted"), key("z", "pre"), key("a", "rejected"), key("c", "pre")]);
    expect(sorted.map((k) => `${k.status}:${k.id}`)).toEqual(["pre:c", "pre:z", "accepted:b", "rejected:a"]);
  });
  it("groups a fingerprint for reading aloud", () => {
    expect(groupedFingerprint("SHA256:abcdefgh12")).toBe("SHA256:abcd efgh 12");
    expect(groupedFingerprint("abcdef")).toBe("abcd ef");
  });
});

describe("following a log", () => {
  it("appends only what is new after the overlap", () => {
    expect(follow(["a", "b", "c"], ["b", "c", "d", "e"], 100)).toEqual({ lines: ["a", "b", "c", "d", "e"], gap: false, added: 2 });
    expect(follow(["a", "b", "c"], ["a", "b", "c"], 100)).toEqual({ lines: ["a", "b", "c"], gap: false, added: 0 });
    expect(follow([], ["x", "y"], 100)).toEqual({ lines: ["x", "y"], gap: false, added: 2 });
  });
  it("prefers the longest overlap when lines repeat", () => {
    expect(follow(["x", "ok", "ok"], ["ok", "ok", "new"], 100).lines).toEqual(["x", "ok", "ok", "new"]);
  });
  it("marks a gap when more was written than one tail holds, and keeps the newest", () => {
    expect(follow(["a", "b"], ["p", "q"], 100)).toEqual({ lines: ["a", "b", "p", "q"], gap: true, added: 2 });
    expect(follow(["a", "b", "c"], ["c", "d", "e"], 3).lines).toEqual(["c", "d", "e"]);
    expect(follow(["a"], [], 3)).toEqual({ lines: ["a"], gap: false, added: 0 });
  });
  it("splits a tail answer into lines", () => {
    expect(splitLines("a\nb\n")).toEqual(["a", "b"]);
    expect(splitLines("a\nb")).toEqual(["a", "b"]);
    expect(splitLines("")).toEqual([]);
  });
  it("reads a line's level", () => {
    expect(lineLevel("2026 mon.a (mon.0) 1 : cluster [WRN] Health check failed")).toBe("warn");
    expect(lineLevel("2026 osd.3 [ERR] 2.1f scrub 1 errors")).toBe("err");
    expect(lineLevel("2026 x [DBG] pgmap")).toBe("debug");
    expect(lineLevel("2026-11-25T03:09:24.642+0000 7ffa9e7ba700 -1 osd.6 failed")).toBe("err");
    expect(lineLevel("2026-11-25T03:09:24.642+0000 7ffa9e7ba700  1 osd.6 state")).toBe("info");
  });
  it("offers the cluster log first, then daemons by kind and number", () => {
    expect(sortLogFiles(["ceph/ceph-osd.10.log", "ceph/ceph-osd.9.log", "ceph/ceph-mon.a.log", "ceph/ceph.log", "ceph/other.log"]))
      .toEqual(["ceph/ceph.log", "ceph/ceph-mon.a.log", "ceph/ceph-osd.9.log", "ceph/ceph-osd.10.log", "ceph/other.log"]);
  });
});
