// The CRUSH page's logic: the tree from `crush_node` and the OSD list, the bodies of the
// `crush_node` items requests that move OSDs or buckets and change CRUSH weights, which pools use
// which rule, and the crush_map text's per-line 400 reasons.

/** A bucket as GET cluster/<fsid>/crush_node gives it. */
export interface CrushNode {
  id: number;
  name: string;
  bucket_type: string;
  weight: number;
  alg?: string;
  hash?: string;
  items: { id: number; weight: number; pos?: number }[];
}

export interface CrushType {
  id: number;
  name: string;
}

export interface CrushRule {
  id: number;
  name: string;
  ruleset?: number;
  type: string;
  min_size?: number;
  max_size?: number;
  osd_count?: number;
  steps: { op: string; type: string | null; num: number | null; item: number | null; item_name: string | null }[];
}

/** What the tree needs of an OSD row. */
export interface CrushOsd {
  id: number;
  up?: boolean;
  in?: boolean;
  device_class?: string | null;
}

/** One entry of the tree: a bucket (negative id) or an OSD (id >= 0). */
export interface TreeNode {
  id: number;
  name: string;
  type: string;
  /** the CRUSH weight of this entry in its parent bucket (a bucket's: the sum of its items) */
  weight: number;
  /** for an OSD: its device class; for a bucket: the classes of the OSDs below it */
  classes: string[];
  osd: CrushOsd | null;
  /** the bucket holding it in this tree (null for a root) */
  parent: number | null;
  children: TreeNode[];
  depth: number;
}

export interface CrushTree {
  roots: TreeNode[];
  /** every bucket, shadow buckets left out */
  buckets: Map<number, CrushNode>;
}

/** Ceph's per-device-class copies of the buckets (`default~hdd`): it keeps them in step with the
 * real ones and refuses changes to them, so the tree shows classes instead. */
export function isShadow(node: { name: string }): boolean {
  return node.name.includes("~");
}

export function osdName(id: number): string {
  return `osd.${id}`;
}

/** The tree of the real buckets: roots are the buckets no other bucket holds; an OSD linked in
 * two buckets shows under both. */
export function buildTree(nodes: CrushNode[], osds: CrushOsd[]): CrushTree {
  const buckets = new Map<number, CrushNode>();
  for (const n of nodes) if (!isShadow(n)) buckets.set(n.id, n);
  const osdById = new Map(osds.map((o) => [o.id, o]));
  const held = new Set<number>();
  for (const b of buckets.values()) for (const item of b.items) held.add(item.id);

  const make = (id: number, weight: number, parent: number | null, depth: number, path: Set<number>): TreeNode | null => {
    if (id >= 0) {
      const osd = osdById.get(id) ?? null;
      const cls = osd?.device_class ? [osd.device_class] : [];
      return { id, name: osdName(id), type: "osd", weight, classes: cls, osd, parent, children: [], depth };
    }
    const bucket = buckets.get(id);
    if (!bucket || path.has(id)) return null; // a shadow or unknown id, or a loop in a malformed map
    const inner = new Set(path).add(id);
    const children = bucket.items
      .map((item) => make(item.id, item.weight, id, depth + 1, inner))
      .filter((c): c is TreeNode => c !== null);
    const classes = [...new Set(children.flatMap((c) => c.classes))].sort();
    return { id, name: bucket.name, type: bucket.bucket_type, weight, classes, osd: null, parent, children, depth };
  };

  const roots = [...buckets.values()]
    .filter((b) => !held.has(b.id))
    .sort((a, b) => b.id - a.id)
    .map((b) => make(b.id, b.weight, null, 0, new Set()))
    .filter((r): r is TreeNode => r !== null);
  return { roots, buckets };
}

/** How many OSDs the map places (each once, however many buckets link it). */
export function osdCount(tree: CrushTree): number {
  const ids = new Set<number>();
  for (const b of tree.buckets.values()) for (const i of b.items) if (i.id >= 0) ids.add(i.id);
  return ids.size;
}

/** The tree as rows in display order, leaving out what is below a collapsed bucket. */
export function flatten(roots: TreeNode[], collapsed: Set<number> = new Set()): TreeNode[] {
  const rows: TreeNode[] = [];
  const walk = (node: TreeNode) => {
    rows.push(node);
    if (!collapsed.has(node.id)) for (const c of node.children) walk(c);
  };
  for (const r of roots) walk(r);
  return rows;
}

/** The rank of a type (osd 0, host 1, … root 11): a bucket may hold only items of a lower one. */
function rankOf(types: CrushType[], name: string): number {
  return types.find((t) => t.name === name)?.id ?? (name === "osd" ? 0 : -1);
}

/** Buckets an item (an OSD, or a bucket of type `type`) may be moved into: real buckets of a
 * higher type, not the one holding it now, not the bucket itself nor one below it. */
export function moveTargets(tree: CrushTree, types: CrushType[], item: { id: number; type: string; parent: number | null }): CrushNode[] {
  const rank = rankOf(types, item.type);
  const below = new Set<number>();
  if (item.id < 0) {
    const stack = [item.id];
    while (stack.length) {
      const id = stack.pop() as number;
      if (below.has(id)) continue;
      below.add(id);
      for (const child of tree.buckets.get(id)?.items ?? []) if (child.id < 0) stack.push(child.id);
    }
  }
  return [...tree.buckets.values()]
    .filter((b) => b.id !== item.parent && !below.has(b.id) && rankOf(types, b.bucket_type) > rank)
    .filter((b) => !b.items.some((i) => i.id === item.id))
    .sort((a, b) => rankOf(types, a.bucket_type) - rankOf(types, b.bucket_type) || a.name.localeCompare(b.name));
}

export interface ItemsBody {
  items: { id: number; weight?: number }[];
}

/** PATCH crush_node/<destination>: its items plus the one moved in (Ceph takes it out of the
 * bucket it was in). Weights are left out: each keeps its own. */
export function moveIntoBody(destination: CrushNode, itemId: number): ItemsBody {
  return { items: [...destination.items.filter((i) => i.id !== itemId).map((i) => ({ id: i.id })), { id: itemId }] };
}

/** PATCH crush_node/<bucket>: its items, with the OSD's new CRUSH weight. */
export function reweightBody(bucket: CrushNode, osdId: number, weight: number): ItemsBody {
  return { items: bucket.items.map((i) => (i.id === osdId ? { id: i.id, weight } : { id: i.id })) };
}

/** Ceph's bounds for a CRUSH weight as the API states them (TiB, 0 to 1000). */
export const MAX_CRUSH_WEIGHT = 1000;

/** A typed CRUSH weight: the number, or why it is not one. */
export function parseWeight(text: string): { weight: number } | { error: string } {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return { error: "a number of TiB, e.g. 3.64 (0 drains the OSD)" };
  const weight = Number(t);
  if (weight > MAX_CRUSH_WEIGHT) return { error: `at most ${MAX_CRUSH_WEIGHT} (TiB)` };
  return { weight };
}

/** The API's 400 for a bad item names it `items.<index>.<field>`: the OSD or bucket it is. */
export function itemErrors(body: ItemsBody, errors: Record<string, string>, nameOf: (id: number) => string): string[] {
  return Object.entries(errors).map(([field, reason]) => {
    const m = /^items\.(\d+)/.exec(field);
    const item = m ? body.items[Number(m[1])] : undefined;
    return item ? `${nameOf(item.id)}: ${reason}` : `${field}: ${reason}`;
  });
}

/** Each rule with the pools using it (a pool names its rule by `crush_ruleset`). */
export function poolsByRule(rules: CrushRule[], pools: { id: number; name: string; crush_ruleset?: number }[]): Map<number, string[]> {
  const found = new Map<number, string[]>(rules.map((r) => [r.id, []]));
  for (const p of pools) {
    if (p.crush_ruleset === undefined) continue;
    found.get(p.crush_ruleset)?.push(p.name);
  }
  for (const names of found.values()) names.sort();
  return found;
}

/** A rule's steps as crushtool writes them: "take default", "chooseleaf firstn 0 type host". */
export function stepText(step: CrushRule["steps"][number]): string {
  const op = step.op.replace(/_(firstn|indep)$/, " $1");
  const parts = [op];
  if (step.item_name !== null) parts.push(step.item_name);
  else if (step.item !== null) parts.push(String(step.item));
  if (step.num !== null) parts.push(String(step.num));
  if (step.type !== null) parts.push("type", step.type);
  return parts.join(" ");
}

/** The crush_map 400's reasons by line number (`{"line 36": "…"}`); reasons that name no line
 * are kept apart. Several reasons for one line are all kept. */
export function lineErrors(errors: Record<string, string>): { byLine: Map<number, string[]>; other: string[] } {
  const byLine = new Map<number, string[]>();
  const other: string[] = [];
  for (const [key, reason] of Object.entries(errors)) {
    const m = /^line (\d+)$/.exec(key.trim());
    if (m) {
      const line = Number(m[1]);
      byLine.set(line, [...(byLine.get(line) ?? []), reason]);
    } else {
      other.push(key === "crush_map" ? reason : `${key}: ${reason}`);
    }
  }
  return { byLine: new Map([...byLine.entries()].sort((a, b) => a[0] - b[0])), other };
}

/** Where line `line` (1-based) starts and ends in `text`, to select it in the editor. */
export function lineRange(text: string, line: number): { start: number; end: number } {
  let start = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf("\n", start);
    if (next < 0) return { start: text.length, end: text.length };
    start = next + 1;
  }
  const end = text.indexOf("\n", start);
  return { start, end: end < 0 ? text.length : end };
}

/** The 1-based line a character offset is on. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}
