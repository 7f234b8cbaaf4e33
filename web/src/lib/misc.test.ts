import { describe, expect, it } from "vitest";

import { ApiFailure, explain, failureFrom, readCookie } from "./api";
import { eventObject, matchesEvent } from "./events";
import { ago, bytes, percent } from "./format";
import { healthChecks, pgTone } from "./health";
import { checkForm, deleteConfirmed, emptyForm, formOf, poolBody, type PoolRow } from "./pools";
import { match } from "./router";

describe("api helpers", () => {
  it("reads the CSRF cookie among others", () => {
    expect(readCookie("a=1; csrftoken=abc%3D; b=2", "csrftoken")).toBe("abc=");
    expect(readCookie("a=1", "csrftoken")).toBeNull();
  });
  it("keeps the server's reasons per field", () => {
    const f = failureFrom(400, { detail: "invalid pool", errors: { name: "bad characters", pg_num: 3 } }, "/x");
    expect(f.detail).toBe("invalid pool");
    expect(f.errors).toEqual({ name: "bad characters", pg_num: "3" });
    expect(failureFrom(502, "<html>bad gateway</html>", "/x").detail).toBe("<html>bad gateway</html>");
    expect(failureFrom(500, null, "/x").detail).toBe("the server answered HTTP 500");
  });
  it("explains every failure with what to do", () => {
    for (const status of [0, 400, 401, 403, 404, 409, 429, 500, 503, 504]) {
      const { what, todo } = explain(new ApiFailure(status, "why"));
      expect(what.length).toBeGreaterThan(5);
      expect(todo.length).toBeGreaterThan(5);
    }
    expect(explain(new ApiFailure(401, "x")).todo).toMatch(/log in/i);
    expect(explain(new ApiFailure(403, "the read-only role may not do this")).what).toContain("read-only");
    expect(explain(new Error("boom")).what).toContain("boom");
  });
});

describe("event objects", () => {
  const e = (message: string, fqdn: string | null = null) => ({ message, fqdn, fsid: "f" });
  it("links each kind of event to its object", () => {
    expect(eventObject(e("OSD osd.12 went down", "node1"))).toEqual({ kind: "osd", label: "osd.12", href: "/osds?osd=12" });
    expect(eventObject(e("Pool 'rbd' renamed to 'vms'")).label).toBe("pool 'vms'");
    expect(eventObject(e("Pool 'rbd' deleted")).href).toBe("/pools?q=rbd");
    expect(eventObject(e("Started: Marking osd.3 out (by admin)")).kind).toBe("request");
    expect(eventObject(e("Failed: Deleting pool 'x': Cancelled by admin")).kind).toBe("request");
    expect(eventObject(e("Health check OSD_DOWN failed: 1 osds down")).kind).toBe("health");
    expect(eventObject(e("Lost contact with server n1.example", "n1.example"))).toEqual({ kind: "server", label: "n1.example", href: "/hosts/n1.example" });
    expect(eventObject(e("Monitor(s) a left the quorum of cluster 'ceph'")).kind).toBe("cluster");
    expect(eventObject(e("Role of user 'bob' changed from operator to admin (by admin)")).kind).toBe("user");
  });
  it("filters by severity (and worse), type and object", () => {
    const ev = { id: 1, when: "", severity: "WARNING" as const, message: "OSD osd.4 marked out", fsid: "f", fqdn: "n1" };
    expect(matchesEvent(ev, { severity: "INFO", kind: "", object: "" })).toBe(true);
    expect(matchesEvent(ev, { severity: "ERROR", kind: "", object: "" })).toBe(false);
    expect(matchesEvent(ev, { severity: "", kind: "osd", object: "osd.4" })).toBe(true);
    expect(matchesEvent(ev, { severity: "", kind: "pool", object: "" })).toBe(false);
    expect(matchesEvent(ev, { severity: "", kind: "", object: "osd.5" })).toBe(false);
  });
});

describe("pool form", () => {
  const pool: PoolRow = { id: 3, name: "images", type: "replicated", size: 3, min_size: 2, pg_num: 32, crush_ruleset: 0,
    quota_max_bytes: 0, quota_max_objects: 0, pg_autoscale_mode: "on" };
  it("checks what it can before sending", () => {
    expect(checkForm({ ...emptyForm(), name: "" }, true).name).toBe("required");
    expect(checkForm({ ...emptyForm(), name: "x", pg_num: "1.5" }, true).pg_num).toBe("a whole number");
    expect(checkForm({ ...emptyForm(), name: "x", size: "2", min_size: "3" }, true).min_size).toBe("at most the size");
    expect(checkForm({ ...emptyForm(), name: "x", kind: "erasure" }, true).erasure_code_profile).toBeTruthy();
    expect(checkForm({ ...emptyForm(), name: "x", quota_max_bytes: "-1" }, true).quota_max_bytes).toBe("a whole number");
    expect(checkForm({ ...emptyForm(), name: "good" }, true)).toEqual({});
  });
  it("sends a create body with what was given, and an update body with what changed", () => {
    expect(poolBody({ ...emptyForm(), name: " vms ", pg_num: "16", size: "2", quota_max_bytes: "1024" }, null))
      .toEqual({ name: "vms", pg_num: 16, size: 2, quota_max_bytes: 1024 });
    expect(poolBody({ ...emptyForm(), name: "arch", kind: "erasure", pg_num: "8", erasure_code_profile: "ec21" }, null))
      .toEqual({ name: "arch", pg_num: 8, erasure_code_profile: "ec21" });
    expect(poolBody({ ...formOf(pool), name: "photos", pg_num: "64" }, pool)).toEqual({ name: "photos", pg_num: 64 });
    expect(poolBody(formOf(pool), pool)).toEqual({});
  });
  it("deletes only on the exact name", () => {
    expect(deleteConfirmed(pool, "images")).toBe(true);
    expect(deleteConfirmed(pool, "image")).toBe(false);
    expect(deleteConfirmed(pool, "Images")).toBe(false);
  });
});

describe("health and formats", () => {
  it("lists every check, worst first, muted last, with details", () => {
    const list = healthChecks({ checks: {
      B: { severity: "HEALTH_WARN", summary: { message: "warn", count: 2 }, detail: [{ message: "d1" }], muted: false },
      A: { severity: "HEALTH_ERR", summary: { message: "err", count: 1 }, detail: [], muted: false },
      C: { severity: "HEALTH_ERR", summary: { message: "muted err", count: 1 }, muted: true },
    } });
    expect(list.map((c) => c.code)).toEqual(["A", "B", "C"]);
    expect(list[1]).toEqual({ code: "B", severity: "HEALTH_WARN", summary: "warn", count: 2, detail: ["d1"], muted: false });
    expect(healthChecks(null)).toEqual([]);
  });
  it("tones PG states", () => {
    expect(pgTone("active+clean")).toBe("ok");
    expect(pgTone("active+clean+scrubbing")).toBe("info");
    expect(pgTone("active+recovering+degraded")).toBe("warn");
    expect(pgTone("down+peering")).toBe("err");
  });
  it("formats", () => {
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1536)).toBe("1.50 KiB");
    expect(bytes(4 * 1024 ** 4)).toBe("4.00 TiB");
    expect(bytes(null)).toBe("–");
    expect(percent(1, 3)).toBe("33%");
    expect(percent(1, 0)).toBe("–");
    expect(ago("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:02:05Z"))).toBe("2 min ago");
    expect(ago(null, 0)).toBe("never");
  });
  it("matches client routes", () => {
    expect(match("/hosts/:fqdn", "/hosts/n1.example")).toEqual({ fqdn: "n1.example" });
    expect(match("/hosts/:fqdn", "/hosts")).toBeNull();
  });
});
