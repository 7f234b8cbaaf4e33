import { describe, expect, it } from "vitest";

import {
  barHeights, bothZones, diffEntries, fromLocalInput, justBefore, momentHref, pastStatePath, PAST_OSD_FIELDS,
  readMoments, requestObject, timeScale, toLocalInput, zoomSpan, type DiffAnswer,
} from "./timetravel";

const q = (s: string) => new URLSearchParams(s);

describe("moments in the address", () => {
  it("reads a moment and keeps the view and object", () => {
    const m = readMoments(q("at=2026-11-24T03:12:00Z&view=osds&osd=12"));
    expect(m).toMatchObject({ at: "2026-11-24T03:12:00.000Z", from: null, to: null, view: "osds", osd: "12" });
  });
  it("reads two moments in either order as a span, shown as changes", () => {
    const m = readMoments(q("from=2026-11-24T05:00:00Z&to=2026-11-24T04:00:00%2B01:00"));
    expect([m.from, m.to, m.view, m.at]).toEqual(["2026-11-24T03:00:00.000Z", "2026-11-24T05:00:00.000Z", "changes", null]);
  });
  it("drops what it cannot read", () => {
    const m = readMoments(q("at=yesterday&view=nonsense"));
    expect([m.at, m.view]).toEqual([null, "overview"]);
    expect(readMoments(q("from=2026-01-01T00:00:00Z")).from).toBeNull(); // one end alone is no span
  });
  it("writes what it reads (a shared link shows the same)", () => {
    for (const search of ["at=2026-11-24T03:12:00.000Z&view=pools&pool=rbd", "from=2026-11-24T03:00:00.000Z&to=2026-11-24T05:00:00.000Z&view=changes"]) {
      const href = momentHref(readMoments(q(search)));
      expect(href.startsWith("/history?")).toBe(true);
      expect(readMoments(q(href.split("?")[1] as string))).toEqual(readMoments(q(search)));
    }
  });
});

describe("times", () => {
  it("shows a moment in a given zone and in UTC", () => {
    const z = bothZones("2026-07-01T10:20:30Z", "Europe/Paris");
    expect(z.local).toMatch(/^2026-07-01 12:20:30 /);
    expect(z.utc).toBe("2026-07-01 10:20:30 UTC");
    expect(bothZones("2026-01-01T23:00:00Z", "Asia/Tokyo").local).toMatch(/^2026-01-02 08:00:00/);
  });
  it("keeps the zones apart when they alternate (a formatter is kept per zone)", () => {
    for (let i = 0; i < 3; i++) {
      expect(bothZones("2026-01-01T23:00:00Z", "Asia/Tokyo").local).toMatch(/^2026-01-02 08:00:00/);
      expect(bothZones("2026-01-01T23:00:00Z", "UTC").local).toMatch(/^2026-01-01 23:00:00/);
      expect(bothZones("2026-01-01T23:00:00Z", "America/New_York").local).toMatch(/^2026-01-01 18:00:00/);
    }
  });
  it("goes through a local input and back to the same instant", () => {
    const iso = "2026-03-05T07:08:09.000Z";
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(fromLocalInput("")).toBeNull();
  });
  it("justBefore is earlier", () => {
    expect(justBefore("2026-01-01T00:00:00.000Z")).toBe("2025-12-31T23:59:59.999Z");
  });
});

describe("the timeline's scale", () => {
  it("maps times to x and back, clamped", () => {
    const s = timeScale(1000, 2000, 100);
    expect(s.x(1500)).toBe(50);
    expect(s.x(0)).toBe(0);
    expect(s.x(5000)).toBe(100);
    expect(s.time(25)).toBe(1250);
  });
  it("draws bars on a square-root scale, any event at least 1 px", () => {
    const h = barHeights([{ count: 0 }, { count: 1 }, { count: 10000 }, { count: 2500 }], 50);
    expect(h).toEqual([0, 1, 50, 25]);
    expect(barHeights([{ count: 0 }], 50)).toEqual([0]);
  });
  it("zooms around a moment within the history", () => {
    expect(zoomSpan(0, 1000_000, 500_000, 0.5, 0, 1000_000)).toEqual([250_000, 750_000]);
    expect(zoomSpan(0, 1000_000, 0, 0.5, 0, 1000_000)).toEqual([0, 500_000]);
    expect(zoomSpan(200_000, 400_000, 300_000, 100, 0, 1000_000)).toEqual([0, 1000_000]);
  });
});

const DIFF: DiffAnswer = {
  fsid: "f",
  from: { position: 10, time: "2026-11-24T03:00:00+00:00" },
  to: { position: 90, time: "2026-11-24T05:00:00+00:00" },
  event_count: 80,
  truncated: false,
  summary: {
    osds: [{ id: 3, before: "up_in", after: "down_in", changes: { up: [true, false] }, events: { OsdMarkedDown: 1 } },
      { id: 4, before: "up_in", after: "up_in", changes: {}, events: { OsdMarkedDown: 1, OsdMarkedUp: 1 } }],
    pools: {
      created: [{ id: 7, name: "new", position: 20, time: "2026-11-24T03:30:00+00:00" }],
      deleted: [{ id: 2, name: "old", position: 40, time: "2026-11-24T04:00:00+00:00" }],
      changed: [{ id: 1, name: "rbd", changes: { size: [3, 2] } }],
    },
    flags: { before: [], after: ["noout"], set: ["noout"], unset: [], changes: [{ position: 30, time: "2026-11-24T03:40:00+00:00", set: ["noout"], unset: [] }] },
    health: { before: "HEALTH_OK", after: "HEALTH_WARN", transitions: [{ position: 31, time: "2026-11-24T03:41:00+00:00", from: "HEALTH_OK", to: "HEALTH_WARN" }],
      checks_raised: ["OSDMAP_FLAGS"], checks_cleared: [] },
    requests: [{ id: "r1", username: "alice", kind: "delete", headline: "Deleting pool 'old'", state: "complete", outcome: "succeeded",
      error_message: null, requested_at: "2026-11-24T03:59:00+00:00", completed_at: "2026-11-24T04:00:01+00:00", events: [] }],
    users: [{ position: 50, time: "2026-11-24T04:10:00+00:00", type: "RoleChanged", username: "bob", by: "alice" }],
  },
};

describe("the diff as entries", () => {
  const entries = diffEntries(DIFF);
  it("lists every kind of change, timed ones in time order", () => {
    expect(entries.map((e) => e.kind).sort()).toEqual(["check", "flag", "health", "osd", "osd", "pool", "pool", "pool", "request", "user"]);
    const times = entries.filter((e) => e.time).map((e) => Date.parse(e.time as string));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
  it("names who asked and the outcome", () => {
    const r = entries.find((e) => e.kind === "request");
    expect(r).toMatchObject({ who: "alice", outcome: "succeeded", title: "Deleting pool 'old'" });
    expect(entries.find((e) => e.kind === "user")?.who).toBe("alice");
  });
  it("links a deleted pool to the moment before it went, a created one to when it came", () => {
    const deleted = entries.find((e) => e.title === "pool 'old' deleted") as { href: string };
    const m = readMoments(q(deleted.href.split("?")[1] as string));
    expect(m).toMatchObject({ view: "pools", pool: "old" });
    expect(Date.parse(m.at as string)).toBeLessThan(Date.parse("2026-11-24T04:00:00Z"));
    const created = entries.find((e) => e.title === "pool 'new' created") as { href: string };
    expect(readMoments(q(created.href.split("?")[1] as string)).at).toBe("2026-11-24T03:30:00.000Z");
  });
  it("shows OSD states before and after, and flaps", () => {
    const osd3 = entries.find((e) => e.title.startsWith("osd.3")) as { title: string; href: string; detail: string };
    expect(osd3.title).toContain("up, in → down, in");
    expect(osd3.detail).toContain("up: true → false");
    expect(readMoments(q(osd3.href.split("?")[1] as string))).toMatchObject({ view: "osds", osd: "3", at: "2026-11-24T05:00:00.000Z" });
    expect(entries.find((e) => e.title.startsWith("osd.4"))?.title).toContain("flapped back");
    expect(entries.find((e) => e.title === "pool 'rbd' changed")?.detail).toBe("size: 3 → 2");
  });
  it("finds the object a request names", () => {
    expect(requestObject("Deleting pool 'old'")).toEqual({ view: "pools", pool: "old" });
    expect(requestObject("Marking osd.12 out")).toEqual({ view: "osds", osd: "12" });
    expect(requestObject("Setting flags")).toEqual({ view: "overview" });
  });
});

describe("a past state asked for as its view draws it", () => {
  const query = (path: string) => new URLSearchParams(path.split("?")[1]);
  it("asks the workbench's OSDs with only the fields it draws, and the pools for its detail", () => {
    const q = query(pastStatePath("f-1", "2026-11-24T03:12:00.000Z", "osds"));
    expect(q.get("at")).toBe("2026-11-24T03:12:00.000Z");
    expect(q.get("parts")).toBe("osd,pool");
    expect(q.get("osd_fields")?.split(",")).toEqual(PAST_OSD_FIELDS);
    for (const field of ["id", "up", "in", "crush_host", "crush_node_ancestry", "server", "pools"]) {
      expect(PAST_OSD_FIELDS).toContain(field);
    }
  });
  it("asks the other views for their list alone, and no OSD fields", () => {
    const cases: [Parameters<typeof pastStatePath>[2], string][] = [["overview", "pool"], ["pools", "pool"], ["hosts", "server"]];
    for (const [view, parts] of cases) {
      const q = query(pastStatePath("f-1", "2026-11-24T03:12:00.000Z", view));
      expect([view, q.get("parts"), q.get("osd_fields")]).toEqual([view, parts, null]);
    }
  });
  it("keeps the moment intact in the address", () => {
    const path = pastStatePath("f-1", "2026-11-24T04:12:00+01:00", "hosts");
    expect(path.startsWith("/cluster/f-1/history?")).toBe(true);
    expect(query(path).get("at")).toBe("2026-11-24T04:12:00+01:00");
  });
});
