import { describe, expect, it } from "vitest";

import {
  buildTree, flatten, itemErrors, lineAt, osdCount, lineErrors, lineRange, moveIntoBody, moveTargets, parseWeight, poolsByRule,
  reweightBody, stepText, type CrushNode, type CrushRule, type CrushType,
} from "./crush";
import { affects } from "./live";

const TYPES: CrushType[] = [
  { id: 0, name: "osd" }, { id: 1, name: "host" }, { id: 3, name: "rack" }, { id: 11, name: "root" },
];

/** A root holding two racks; rack1 holds hosts a and b, rack2 host c; shadow buckets alongside. */
function nodes(): CrushNode[] {
  return [
    { id: -1, name: "default", bucket_type: "root", weight: 12, items: [{ id: -10, weight: 8 }, { id: -11, weight: 4 }] },
    { id: -2, name: "default~ssd", bucket_type: "root", weight: 12, items: [{ id: -4, weight: 4 }] },
    { id: -10, name: "rack1", bucket_type: "rack", weight: 8, items: [{ id: -3, weight: 4 }, { id: -5, weight: 4 }] },
    { id: -11, name: "rack2", bucket_type: "rack", weight: 4, items: [{ id: -7, weight: 4 }] },
    { id: -3, name: "a", bucket_type: "host", weight: 4, items: [{ id: 0, weight: 2 }, { id: 1, weight: 2 }] },
    { id: -4, name: "a~ssd", bucket_type: "host", weight: 4, items: [{ id: 0, weight: 2 }, { id: 1, weight: 2 }] },
    { id: -5, name: "b", bucket_type: "host", weight: 4, items: [{ id: 2, weight: 4 }] },
    { id: -7, name: "c", bucket_type: "host", weight: 4, items: [{ id: 3, weight: 1.5 }, { id: 4, weight: 2.5 }] },
  ];
}
const OSDS = [
  { id: 0, device_class: "ssd" }, { id: 1, device_class: "ssd" }, { id: 2, device_class: "hdd" },
  { id: 3, device_class: "hdd" }, { id: 4, device_class: "nvme" },
];

describe("the CRUSH tree", () => {
  it("has the real roots, buckets and OSDs with weights and classes; no shadow bucket", () => {
    const tree = buildTree(nodes(), OSDS);
    expect(tree.roots.map((r) => r.name)).toEqual(["default"]);
    const rows = flatten(tree.roots);
    expect(rows.map((r) => r.name)).toEqual(["default", "rack1", "a", "osd.0", "osd.1", "b", "osd.2", "rack2", "c", "osd.3", "osd.4"]);
    expect(rows.some((r) => r.name.includes("~"))).toBe(false);
    const c = rows.find((r) => r.name === "c");
    expect(c?.classes).toEqual(["hdd", "nvme"]);
    expect(rows.find((r) => r.name === "default")?.classes).toEqual(["hdd", "nvme", "ssd"]);
    const osd4 = rows.find((r) => r.id === 4);
    expect(osd4).toMatchObject({ weight: 2.5, type: "osd", parent: -7, depth: 3, classes: ["nvme"] });
  });

  it("counts the OSDs the map places without the OSD list, each once", () => {
    expect(osdCount(buildTree(nodes(), []))).toBe(5);
    const twice = [...nodes(), { id: -20, name: "extra", bucket_type: "host", weight: 2, items: [{ id: 0, weight: 2 }, { id: 7, weight: 1 }] }];
    expect(osdCount(buildTree(twice, []))).toBe(6);
  });

  it("collapses a bucket", () => {
    const tree = buildTree(nodes(), OSDS);
    expect(flatten(tree.roots, new Set([-10])).map((r) => r.name)).toEqual(["default", "rack1", "rack2", "c", "osd.3", "osd.4"]);
  });

  it("shows buckets no one holds as roots of their own, and survives a loop", () => {
    const looped: CrushNode[] = [
      { id: -1, name: "r", bucket_type: "root", weight: 0, items: [{ id: -2, weight: 0 }] },
      { id: -2, name: "h", bucket_type: "host", weight: 0, items: [{ id: -1, weight: 0 }] },
      { id: -9, name: "spare", bucket_type: "host", weight: 0, items: [] },
    ];
    const tree = buildTree(looped, []);
    expect(tree.roots.map((r) => r.name)).toEqual(["spare"]);
    const cyc = buildTree([{ id: -1, name: "top", bucket_type: "root", weight: 0, items: [{ id: -2, weight: 0 }] }, ...looped.slice(1)], []);
    expect(flatten(cyc.roots).map((r) => r.name)).toEqual(["spare"]);
  });
});

describe("moving and reweighting through crush_node items", () => {
  const tree = buildTree(nodes(), OSDS);
  it("offers an OSD every other bucket, a host only racks and roots, never below itself", () => {
    const forOsd = moveTargets(tree, TYPES, { id: 2, type: "osd", parent: -5 }).map((b) => b.name);
    expect(forOsd).toEqual(["a", "c", "rack1", "rack2", "default"]);
    const forHost = moveTargets(tree, TYPES, { id: -5, type: "host", parent: -10 }).map((b) => b.name);
    expect(forHost).toEqual(["rack2", "default"]);
    const forRack = moveTargets(tree, TYPES, { id: -10, type: "rack", parent: -1 }).map((b) => b.name);
    expect(forRack).toEqual([]);
  });

  it("moves an item into the destination by its items plus the item", () => {
    const c = tree.buckets.get(-7) as CrushNode;
    expect(moveIntoBody(c, 2)).toEqual({ items: [{ id: 3 }, { id: 4 }, { id: 2 }] });
    const rack2 = tree.buckets.get(-11) as CrushNode;
    expect(moveIntoBody(rack2, -5)).toEqual({ items: [{ id: -7 }, { id: -5 }] });
  });

  it("reweights one OSD of its bucket, leaving the others' weights alone", () => {
    const c = tree.buckets.get(-7) as CrushNode;
    expect(reweightBody(c, 4, 3.64)).toEqual({ items: [{ id: 3 }, { id: 4, weight: 3.64 }] });
  });

  it("checks a typed weight", () => {
    expect(parseWeight(" 3.64 ")).toEqual({ weight: 3.64 });
    expect(parseWeight("0")).toEqual({ weight: 0 });
    expect(parseWeight(".5")).toEqual({ weight: 0.5 });
    for (const bad of ["", "-1", "abc", "1e3", "2,5"]) expect(parseWeight(bad)).toHaveProperty("error");
    expect(parseWeight("1000.5")).toHaveProperty("error");
  });

  it("names the item a 400 reason is about", () => {
    const body = { items: [{ id: 3 }, { id: 77 }] };
    const out = itemErrors(body, { "items.1.id": "no OSD 77 in the CRUSH map", request: "r1" }, (id) => (id >= 0 ? `osd.${id}` : `bucket ${id}`));
    expect(out).toEqual(["osd.77: no OSD 77 in the CRUSH map", "request: r1"]);
  });
});

describe("rules", () => {
  const rule = (id: number, name: string): CrushRule => ({ id, name, type: "replicated", steps: [] });
  it("lists the pools using each rule", () => {
    const pools = [{ id: 1, name: "rbd", crush_ruleset: 0 }, { id: 2, name: "ec", crush_ruleset: 1 }, { id: 3, name: "a", crush_ruleset: 0 }, { id: 4, name: "x" }];
    const found = poolsByRule([rule(0, "r"), rule(1, "e"), rule(2, "unused")], pools);
    expect(found.get(0)).toEqual(["a", "rbd"]);
    expect(found.get(1)).toEqual(["ec"]);
    expect(found.get(2)).toEqual([]);
  });
  it("writes steps as crushtool does", () => {
    expect(stepText({ op: "take", type: null, num: null, item: -1, item_name: "default" })).toBe("take default");
    expect(stepText({ op: "chooseleaf_firstn", type: "host", num: 0, item: null, item_name: null })).toBe("chooseleaf firstn 0 type host");
    expect(stepText({ op: "emit", type: null, num: null, item: null, item_name: null })).toBe("emit");
  });
});

describe("the CRUSH map text's errors", () => {
  it("groups reasons by line, in order, and keeps the others", () => {
    const { byLine, other } = lineErrors({ "line 57": "step take nowhere", "line 36": "item osd.9 unknown", crush_map: "empty", x: "y" });
    expect([...byLine.keys()]).toEqual([36, 57]);
    expect(byLine.get(57)).toEqual(["step take nowhere"]);
    expect(other).toEqual(["empty", "x: y"]);
  });
  it("finds a line's characters and the line of a character", () => {
    const text = "a\nbb\n\nccc";
    expect(lineRange(text, 1)).toEqual({ start: 0, end: 1 });
    expect(text.slice(lineRange(text, 2).start, lineRange(text, 2).end)).toBe("bb");
    expect(text.slice(lineRange(text, 4).start, lineRange(text, 4).end)).toBe("ccc");
    expect(lineRange(text, 9)).toEqual({ start: text.length, end: text.length });
    expect(lineAt(text, 0)).toBe(1);
    expect(lineAt(text, 3)).toBe(2);
    expect(lineAt(text, text.indexOf("ccc"))).toBe(4);
  });
});

describe("the CRUSH page follows the stream", () => {
  it("refetches the CRUSH lists on a change of their cluster, not another's", () => {
    for (const list of ["crush_node", "crush_rule", "crush_type", "crush_rule_set", "crush_map"]) {
      expect(affects("cluster/f", `cluster/f/${list}`)).toBe(true);
      expect(affects("cluster/g", `cluster/f/${list}`)).toBe(false);
    }
  });
});
