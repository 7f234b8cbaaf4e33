import { describe, expect, it } from "vitest";

import {
  clusterGraphs, customRange, explorerHref, explorerSpec, formatValue, nearestValue, hostGraphs, node, osdGraphs, pointCount, poolGraphs, presetRange, rangeParams,
  renderUrl, toColumns,
} from "./graphite";

describe("ranges", () => {
  it("presets end now and span their length", () => {
    for (const [key, seconds] of [["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800]] as const) {
      const p = rangeParams(presetRange(key, 1_000_000), 1_000_000);
      expect(Number(p.until) - Number(p.from)).toBe(seconds);
      expect(p.until).toBe("1000000");
    }
  });
  it("custom ranges are fixed and must not be empty or reversed", () => {
    const r = customRange(100.4, 200.2);
    expect(r).toEqual({ key: "custom", from: 100, until: 201 });
    expect(rangeParams(r as never, 99999)).toEqual({ from: "100", until: "201" });
    expect(customRange(200, 100)).toBeNull();
    expect(customRange(NaN, 100)).toBeNull();
  });
});

describe("targets", () => {
  it("names the metrics the server stores", () => {
    const all = [...clusterGraphs("f-1"), ...poolGraphs("f-1", 2), ...osdGraphs("f-1", 7), ...hostGraphs("node1")].flatMap((g) => g.targets);
    for (const metric of ["ceph.cluster.f-1.io.read_op_per_sec", "ceph.cluster.f-1.df.total_used_bytes", "ceph.cluster.f-1.pool.2.num_read",
      "ceph.cluster.f-1.pool.2.num_write_kb", "ceph.cluster.f-1.osd.7.kb_used", "ceph.cluster.f-1.osd.7.commit_latency_ms",
      "servers.node1.cpu.total.user", "servers.node1.memory.used", "servers.node1.network.*.rx_bytes"]) {
      expect(all.some((t) => t.includes(metric))).toBe(true);
    }
  });
  it("keeps dots out of a path node", () => {
    expect(node("a.b.c")).toBe("a_b_c");
    expect(hostGraphs("node1.example.com")[0]?.targets[0]).toContain("servers.node1_example_com.cpu");
  });
  it("builds the render URL with every target and the range", () => {
    const url = renderUrl(clusterGraphs("f")[0] as never, customRange(100, 200) as never, 0, 500);
    const query = new URLSearchParams(url.split("?")[1]);
    expect(url.startsWith("/api/v2/graphite/render?")).toBe(true);
    expect(query.getAll("target")).toHaveLength(2);
    expect([query.get("from"), query.get("until"), query.get("format"), query.get("maxDataPoints")]).toEqual(["100", "200", "json", "500"]);
  });
});

describe("the explorer", () => {
  it("keeps the targets of the address, at most the render API's 50", () => {
    expect(explorerSpec([])).toBeNull();
    expect(explorerSpec([" a.b ", ""])?.targets).toEqual(["a.b"]);
    expect(explorerSpec(Array.from({ length: 60 }, (_, i) => `m.${i}`))?.targets).toHaveLength(50);
  });
  it("links a panel's graph with its targets and range", () => {
    const spec = osdGraphs("f", 3)[1] as never;
    const query = new URLSearchParams(explorerHref(spec, "7d").split("?")[1]);
    expect(query.getAll("target")).toEqual(osdGraphs("f", 3)[1]?.targets);
    expect(query.get("range")).toBe("7d");
    expect(new URLSearchParams(explorerHref(spec, "custom").split("?")[1]).get("range")).toBeNull();
  });
});

describe("columns", () => {
  it("aligns series on the union of their times, null where one has no point", () => {
    const c = toColumns([
      { target: "read", datapoints: [[1, 60], [2, 120]] },
      { target: "write", datapoints: [[5, 120], [null, 180], [7, 240]] },
    ]);
    expect(c.times).toEqual([60, 120, 180, 240]);
    expect(c.values).toEqual([[1, 2, null, null], [null, 5, null, 7]]);
    expect(c.names).toEqual(["read", "write"]);
    expect(pointCount(c)).toBe(4);
    expect(pointCount(toColumns([]))).toBe(0);
  });
  it("finds the nearest point with a value for the hover", () => {
    const column = [null, 5, null, null, null, 9, null];
    expect(nearestValue(column, 3, 10)).toBe(1); // ties go to the earlier point
    expect(nearestValue(column, 4, 10)).toBe(5);
    expect(nearestValue(column, 6, 10)).toBe(5);
    expect(nearestValue(column, 3, 1)).toBe(3); // nothing within reach: the hovered slot
  });
  it("formats values with their unit", () => {
    expect(formatValue(1536, "bytes")).toBe("1.5 KiB");
    expect(formatValue(2048, "bytes/s")).toBe("2.0 KiB/s");
    expect(formatValue(12.345, "percent")).toBe("12.3%");
    expect(formatValue(null, "ms")).toBe("–");
    expect(formatValue(2500, "ops/s")).toBe("2.5 k op/s");
  });
});
