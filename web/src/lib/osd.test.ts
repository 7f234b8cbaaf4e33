import { describe, expect, it } from "vitest";

import {
  cellAt, describeStatus, drawingOrder, filterOsds, fullnessFromHealth, groupByHost, isCleanState, layoutGroups,
  moveCursor, NO_FILTER, statusOf, uncleanCount, type OsdRow,
} from "./osd";

function osd(id: number, host: string, extra: Partial<OsdRow> = {}, place = ["default"]): OsdRow {
  return { id, up: true, in: true, reweight: 1, crush_host: host, server: `${host}.example`, crush_node_ancestry: [...place, host],
    device_class: "hdd", pools: [1], public_addr: `10.0.0.${id}:6800/1`, ...extra };
}

describe("PG cleanliness", () => {
  it("counts active+clean and scrubbing as clean, anything degraded as not", () => {
    expect(isCleanState("active+clean")).toBe(true);
    expect(isCleanState("active+clean+scrubbing+deep")).toBe(true);
    expect(isCleanState("active+recovering+degraded")).toBe(false);
    expect(isCleanState("active+clean+remapped")).toBe(false);
    expect(isCleanState("peering")).toBe(false);
    expect(uncleanCount({ "active+clean": 90, "active+undersized+degraded": 4, peering: 3 })).toBe(7);
    expect(uncleanCount(undefined)).toBe(0);
  });
});

describe("fullness from health details", () => {
  it("reads the OSD ids of the near/backfill/full checks", () => {
    const health = { checks: {
      OSD_NEARFULL: { detail: [{ message: "osd.3 is near full" }, { message: "osd.12 is near full" }] },
      OSD_FULL: { detail: [{ message: "osd.7 is full" }] },
      OSD_BACKFILLFULL: { detail: [{ message: "osd.9 is backfill full" }] },
      OSD_DOWN: { detail: [{ message: "osd.5 (root=default,host=a) is down" }] },
    } };
    const full = fullnessFromHealth(health);
    expect([...full.entries()].sort((a, b) => a[0] - b[0])).toEqual([[3, "nearfull"], [7, "full"], [9, "backfillfull"], [12, "nearfull"]]);
    expect(fullnessFromHealth(null).size).toBe(0);
    expect(fullnessFromHealth({ checks: {} }).size).toBe(0);
  });
});

describe("status and its words", () => {
  it("says every state in words, not only colour", () => {
    const s = statusOf(osd(4, "a", { up: false, in: false }), new Map([[4, "full"]]), { "4": { "active+undersized": 2 } });
    expect(s).toEqual({ up: false, in: false, fullness: "full", unclean: true });
    expect(describeStatus(s)).toBe("down, out, full, PGs not clean");
    expect(describeStatus(statusOf(osd(1, "a"), new Map(), {}))).toBe("up, in");
  });
});

describe("filters", () => {
  const osds = [
    osd(0, "alpha"), osd(1, "alpha", { up: false }), osd(2, "beta", { in: false, pools: [2] }),
    osd(10, "beta", { device_class: "ssd" }), osd(11, "gamma"),
  ];
  const pgs = { "11": { "active+recovering+degraded": 3 } };
  const statuses = osds.map((o) => statusOf(o, new Map([[10, "nearfull"]]), pgs));
  const ids = (f: Partial<typeof NO_FILTER>) => filterOsds(osds, { ...NO_FILTER, ...f }, statuses).map((i) => osds[i]?.id);

  it("keeps everything without a filter", () => expect(ids({})).toEqual([0, 1, 2, 10, 11]));
  it("by host", () => expect(ids({ host: "beta" })).toEqual([2, 10]));
  it("by pool", () => expect(ids({ pool: "2" })).toEqual([2]));
  it("by state", () => {
    expect(ids({ state: "down" })).toEqual([1]);
    expect(ids({ state: "out" })).toEqual([2]);
    expect(ids({ state: "up-in" })).toEqual([0, 10, 11]);
    expect(ids({ state: "nearfull" })).toEqual([10]);
    expect(ids({ state: "unclean" })).toEqual([11]);
  });
  it("by text: an id exactly, else a part of a name", () => {
    expect(ids({ text: "osd.1" })).toEqual([1]);
    expect(ids({ text: "10" })).toEqual([10]);
    expect(ids({ text: "ssd" })).toEqual([10]);
    expect(ids({ text: "GAM" })).toEqual([11]);
    expect(ids({ text: "nothing-like-it" })).toEqual([]);
  });
  it("combines filters", () => expect(ids({ host: "alpha", state: "up-in" })).toEqual([0]));
});

describe("grouping and layout", () => {
  it("groups by host under their CRUSH places, hosts in natural order", () => {
    const osds = [osd(5, "h10", {}, ["default", "rack2"]), osd(1, "h2", {}, ["default", "rack1"]), osd(0, "h2", {}, ["default", "rack1"]),
      osd(3, "h9", {}, ["default", "rack1"])];
    const groups = groupByHost(osds, [0, 1, 2, 3]);
    expect(groups.map((g) => [g.place.join("/"), g.host, g.osds.map((i) => osds[i]?.id)])).toEqual([
      ["default/rack1", "h2", [0, 1]], ["default/rack1", "h9", [3]], ["default/rack2", "h10", [5]],
    ]);
    const layout = layoutGroups(groups, osds.length, { width: 400, cell: 10, gap: 2, labelWidth: 100, headerHeight: 20 });
    // root, rack1, two hosts, rack2, one host
    expect(layout.rows.map((r) => `${r.kind}:${r.label}`)).toEqual([
      "place:default", "place:rack1", "host:h2", "host:h9", "place:rack2", "host:h10",
    ]);
  });

  it("shows no place headers for a single root of hosts", () => {
    const osds = [osd(0, "a"), osd(1, "b")];
    const layout = layoutGroups(groupByHost(osds, [0, 1]), 2, { width: 400 });
    expect(layout.rows.every((r) => r.kind === "host")).toBe(true);
  });

  it("wraps a host's cells and finds each cell again by position", () => {
    const osds = Array.from({ length: 25 }, (_, i) => osd(i, "big"));
    const layout = layoutGroups(groupByHost(osds, osds.map((_, i) => i)), osds.length,
      { width: 100 + 10 * 12, cell: 10, gap: 2, labelWidth: 100 });
    const row = layout.rows[0];
    expect(row?.perLine).toBe(10);
    expect(row?.height).toBe(3 * 12 + 2);
    for (let i = 0; i < osds.length; i++) {
      expect(cellAt(layout, (layout.x[i] as number) + 5, (layout.y[i] as number) + 5)).toBe(i);
    }
    expect(cellAt(layout, 50, 5)).toBeNull(); // the label column
    expect(cellAt(layout, (layout.x[0] as number) + 11, (layout.y[0] as number) + 5)).toBeNull(); // the gap
  });

  it("lays out 10,000 OSDs and leaves the filtered ones out", () => {
    const osds = Array.from({ length: 10000 }, (_, i) => osd(i, `host${Math.floor(i / 10)}`, {}, ["default", `rack${Math.floor(i / 400)}`]));
    const kept = osds.map((_, i) => i).filter((i) => i % 2 === 0);
    const layout = layoutGroups(groupByHost(osds, kept), osds.length, { width: 1200 });
    expect(drawingOrder(layout)).toHaveLength(5000);
    expect(Number.isNaN(layout.x[1] as number)).toBe(true);
    expect(Number.isNaN(layout.x[2] as number)).toBe(false);
  });

  it("moves a keyboard cursor along and across lines", () => {
    const osds = Array.from({ length: 25 }, (_, i) => osd(i, "big"));
    const layout = layoutGroups(groupByHost(osds, osds.map((_, i) => i)), osds.length,
      { width: 100 + 10 * 12, cell: 10, gap: 2, labelWidth: 100 });
    const order = drawingOrder(layout);
    expect(moveCursor(layout, order, null, "ArrowRight")).toBe(0);
    expect(moveCursor(layout, order, 0, "ArrowRight")).toBe(1);
    expect(moveCursor(layout, order, 3, "ArrowDown")).toBe(13);
    expect(moveCursor(layout, order, 13, "ArrowUp")).toBe(3);
    expect(moveCursor(layout, order, 17, "ArrowDown")).toBe(24); // the last line is short: its nearest cell
    expect(moveCursor(layout, order, 24, "End")).toBe(24);
    expect(moveCursor(layout, order, 24, "Home")).toBe(0);
  });
});
