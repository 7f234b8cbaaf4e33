// CRUSH: the tree (roots, racks, hosts, OSDs, weights, device classes), the rules and the pools
// using them, moves and CRUSH weights through crush_node items requests, and the map's text.
import { useMemo, useState } from "preact/hooks";

import { Badge, Card, Dialog, Empty, ErrorNote, Field, Loading, TableHead } from "../components/ui";
import { ApiFailure, call } from "../lib/api";
import {
  buildTree, flatten, itemErrors, moveIntoBody, moveTargets, osdCount, parseWeight, poolsByRule, reweightBody, stepText,
  type CrushNode, type CrushOsd, type CrushRule, type CrushTree, type CrushType, type ItemsBody, type TreeNode,
} from "../lib/crush";
import { location, setQuery } from "../lib/router";
import { useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { canChange, track } from "../state";
import { CrushMapEditor } from "./CrushMapEditor";
import "./manage.css";

interface PoolRef {
  id: number;
  name: string;
  crush_ruleset?: number;
}

/** Above this many OSDs the tree opens with its hosts folded. */
const FOLD_HOSTS_ABOVE = 200;

const TABS = [
  { key: "tree", label: "Tree" },
  { key: "rules", label: "Rules" },
  { key: "map", label: "Map text" },
] as const;

type Change = { kind: "move" | "reweight"; node: TreeNode };

/** Sends one items request; 202 goes to the request tray, 304 says there was nothing to change. */
async function sendItems(fsid: string, bucket: CrushNode, body: ItemsBody, headline: string): Promise<"sent" | "unchanged"> {
  const answer = await call<{ request_id?: string } | null>("PATCH", `/cluster/${fsid}/crush_node/${bucket.id}`, { body });
  if (answer?.request_id) {
    track(answer.request_id, headline);
    return "sent";
  }
  return "unchanged";
}

function failureWords(err: unknown, body: ItemsBody, tree: CrushTree): ApiFailure | unknown {
  if (!(err instanceof ApiFailure) || Object.keys(err.errors).length === 0) return err;
  const nameOf = (id: number) => (id >= 0 ? `osd.${id}` : tree.buckets.get(id)?.name ?? `bucket ${id}`);
  return new ApiFailure(err.status, [err.detail, ...itemErrors(body, err.errors, nameOf)].join("; "), {}, err.path);
}

function MoveDialog(props: { fsid: string; tree: CrushTree; types: CrushType[]; node: TreeNode; onClose: () => void }) {
  const targets = moveTargets(props.tree, props.types, props.node);
  const [dest, setDest] = useState<string>(targets[0] ? String(targets[0].id) : "");
  const { busy, failure, send } = useSending();
  const [note, setNote] = useState("");
  const from = props.node.parent === null ? null : props.tree.buckets.get(props.node.parent);

  const submit = async (e: Event) => {
    e.preventDefault();
    const bucket = props.tree.buckets.get(Number(dest));
    if (!bucket) return;
    const body = moveIntoBody(bucket, props.node.id);
    await send(async () => {
      const outcome = await sendItems(props.fsid, bucket, body, `Moving ${props.node.name} to ${bucket.bucket_type} '${bucket.name}'`);
      if (outcome === "unchanged") setNote(`${props.node.name} is already in ${bucket.name}.`);
      else props.onClose();
    }, (err) => failureWords(err, body, props.tree));
  };

  return (
    <Dialog title={`Move ${props.node.name}`} onClose={props.onClose}>
      <form class="form" onSubmit={submit} aria-label={`Move ${props.node.name}`}>
        <p class="muted">
          {props.node.name} is in {from ? `${from.bucket_type} '${from.name}'` : "no bucket"}. Moving it sets the destination's items
          (<code>ceph osd crush move</code>); Ceph takes it out of where it is, keeping its weight. Data moves to follow.
        </p>
        {targets.length === 0 ? (
          <Empty>No bucket can hold a {props.node.type}: a bucket holds only items of a lower type.</Empty>
        ) : (
          <Field label="Destination" name="destination">
            <select id="f-destination" value={dest} onChange={(e) => setDest((e.target as HTMLSelectElement).value)}>
              {targets.map((b) => (
                <option value={String(b.id)} key={b.id}>
                  {b.bucket_type} {b.name}
                </option>
              ))}
            </select>
          </Field>
        )}
        {note && <p role="status">{note}</p>}
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || targets.length === 0}>
            {busy ? "Moving…" : "Move"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ReweightDialog(props: { fsid: string; tree: CrushTree; node: TreeNode; onClose: () => void }) {
  const [text, setText] = useState(String(props.node.weight));
  const [error, setError] = useState<string | undefined>();
  const { busy, failure, setFailure, send } = useSending();
  const [note, setNote] = useState("");
  const bucket = props.node.parent === null ? undefined : props.tree.buckets.get(props.node.parent);

  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseWeight(text);
    setFailure(null);
    if ("error" in parsed) {
      setError(parsed.error);
      document.getElementById("f-weight")?.focus();
      return;
    }
    setError(undefined);
    if (!bucket) return;
    const body = reweightBody(bucket, props.node.id, parsed.weight);
    await send(async () => {
      const outcome = await sendItems(props.fsid, bucket, body, `Setting the CRUSH weight of ${props.node.name} to ${parsed.weight}`);
      if (outcome === "unchanged") setNote(`${props.node.name} already weighs ${parsed.weight}.`);
      else props.onClose();
    }, (err) => {
      // a reason about this OSD's entry belongs at the weight field
      const index = body.items.findIndex((i) => i.id === props.node.id);
      const mine = err instanceof ApiFailure ? Object.entries(err.errors).find(([k]) => k.startsWith(`items.${index}`)) : undefined;
      if (!mine) return failureWords(err, body, props.tree);
      setError(mine[1]);
      return null;
    });
  };

  return (
    <Dialog title={`CRUSH weight of ${props.node.name}`} onClose={props.onClose}>
      <form class="form" onSubmit={submit} noValidate aria-label={`Set the CRUSH weight of ${props.node.name}`}>
        <p class="muted">
          The share of data {props.node.name} gets, conventionally its size in TiB (<code>ceph osd crush reweight</code>); 0 drains it.
          In {bucket ? `${bucket.bucket_type} '${bucket.name}'` : "no bucket"}.
        </p>
        <Field label="CRUSH weight" name="weight" error={error} hint="0 to 1000, e.g. 3.64">
          <input id="f-weight" inputMode="decimal" value={text} aria-invalid={!!error}
            aria-describedby={error ? "f-weight-error" : undefined} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </Field>
        {note && <p role="status">{note}</p>}
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !bucket}>{busy ? "Sending…" : "Set weight"}</button>
        </div>
      </form>
    </Dialog>
  );
}

function osdState(osd: CrushOsd | null) {
  if (!osd) return <span class="muted">not in the OSD map</span>;
  const words = `${osd.up ? "up" : "down"}, ${osd.in ? "in" : "out"}`;
  return <Badge level={osd.up && osd.in ? "complete" : osd.up ? "WARNING" : "ERROR"} text={words} />;
}

function TreeView(props: { fsid: string; tree: CrushTree; types: CrushType[] }) {
  const [collapsed, setCollapsed] = useState<Set<number>>(() => {
    // counted in the map itself: the OSD list may arrive later
    if (osdCount(props.tree) <= FOLD_HOSTS_ABOVE) return new Set();
    return new Set([...props.tree.buckets.values()].filter((b) => b.bucket_type === "host").map((b) => b.id));
  });
  const [change, setChange] = useState<Change | null>(null);
  const rows = flatten(props.tree.roots, collapsed);
  // buckets that can go somewhere else, once per map (each check walks every bucket)
  const movable = useMemo(() => {
    const found = new Set<number>();
    const walk = (node: TreeNode) => {
      if (node.id < 0 && node.parent !== null && moveTargets(props.tree, props.types, node).length > 0) found.add(node.id);
      node.children.forEach(walk);
    };
    props.tree.roots.forEach(walk);
    return found;
  }, [props.tree, props.types]);
  const toggle = (id: number) => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  const may = canChange.value;
  if (rows.length === 0) return <Empty>The CRUSH map has no buckets.</Empty>;
  return (
    <>
      <div class="table-wrap">
        <table class="table compact crush-tree" aria-label="CRUSH tree" data-testid="crush-tree">
          <TableHead columns={["Name", "Type", "CRUSH weight", "Device classes", "State"]} numeric={["CRUSH weight"]} actions />
          <tbody>
            {rows.map((node) => {
              const bucket = node.id < 0;
              const folded = collapsed.has(node.id);
              return (
                <tr key={`${node.parent}:${node.id}`} data-crush-id={node.id} data-crush-name={node.name}>
                  <td style={{ paddingLeft: `${8 + node.depth * 18}px` }}>
                    {bucket && node.children.length > 0 ? (
                      <button type="button" class="fold" aria-expanded={!folded} aria-label={`${folded ? "Open" : "Fold"} ${node.name}`}
                        onClick={() => toggle(node.id)}>
                        {folded ? "▸" : "▾"}
                      </button>
                    ) : (
                      <span class="fold-space" aria-hidden="true" />
                    )}
                    {bucket ? <strong>{node.name}</strong> : <a href={`/osds?osd=${node.id}`}>{node.name}</a>}
                    {bucket && folded && <span class="muted small"> ({node.children.length} items)</span>}
                  </td>
                  <td>{node.type}</td>
                  <td class="num">{node.weight.toFixed(node.weight >= 100 ? 1 : 3)}</td>
                  <td>{node.classes.map((c) => <span class="tag" key={c}>{c}</span>)}</td>
                  <td>{bucket ? null : osdState(node.osd)}</td>
                  <td class="actions">
                    {may && node.parent !== null && (!bucket || movable.has(node.id)) && (
                      <button type="button" class="btn btn-small" aria-label={`Move ${node.name}`} onClick={() => setChange({ kind: "move", node })}>Move…</button>
                    )}{" "}
                    {may && !bucket && node.parent !== null && (
                      <button type="button" class="btn btn-small" aria-label={`CRUSH weight of ${node.name}`} onClick={() => setChange({ kind: "reweight", node })}>Weight…</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {change?.kind === "move" && (
        <MoveDialog fsid={props.fsid} tree={props.tree} types={props.types} node={change.node} onClose={() => setChange(null)} />
      )}
      {change?.kind === "reweight" && (
        <ReweightDialog fsid={props.fsid} tree={props.tree} node={change.node} onClose={() => setChange(null)} />
      )}
    </>
  );
}

function RulesView(props: { rules: CrushRule[]; pools: PoolRef[] }) {
  const users = poolsByRule(props.rules, props.pools);
  if (props.rules.length === 0) return <Empty>No CRUSH rules.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table" aria-label="CRUSH rules" data-testid="crush-rules">
        <TableHead columns={["Rule", "Id", "Type", "Size", "Steps", "Pools using it"]} numeric={["Id"]} />
        <tbody>
          {props.rules.map((r) => {
            const pools = users.get(r.id) ?? [];
            return (
              <tr key={r.id} data-rule={r.name}>
                <td><strong>{r.name}</strong></td>
                <td class="num">{r.id}</td>
                <td>{r.type}</td>
                <td>{r.min_size !== undefined ? `${r.min_size}–${r.max_size}` : "–"}</td>
                <td>
                  <ol class="steps">
                    {r.steps.map((s, i) => <li key={i}><code>{stepText(s)}</code></li>)}
                  </ol>
                </td>
                <td>
                  {pools.length === 0 ? <span class="muted">none</span> : pools.map((p) => <a class="tag" href={`/pools?q=${encodeURIComponent(p)}`} key={p}>{p}</a>)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Crush(props: { fsid: string }) {
  const base = `/cluster/${props.fsid}`;
  const nodes = useResource<CrushNode[]>(`${base}/crush_node`);
  const osds = useResource<CrushOsd[]>(`${base}/osd`);
  const types = useResource<CrushType[]>(`${base}/crush_type`);
  const rules = useResource<CrushRule[]>(`${base}/crush_rule`);
  const pools = useResource<PoolRef[]>(`${base}/pool`);
  const tab = location.value.query.get("tab") ?? "tree";
  const nodeList = nodes.data.value;
  const osdList = osds.data.value;
  const tree = useMemo(() => (nodeList ? buildTree(nodeList, osdList ?? []) : null), [nodeList, osdList]);
  const error = nodes.error.value ?? osds.error.value ?? types.error.value ?? rules.error.value ?? pools.error.value;

  return (
    <div class="page manage-page">
      <header class="page-head">
        <h1>CRUSH</h1>
        <span class="muted">Where data goes: the hierarchy of buckets and devices, and the rules pools place their data by.</span>
      </header>
      <div class="tabs" role="tablist" aria-label="CRUSH views">
        {TABS.map((t) => (
          <button type="button" role="tab" key={t.key} aria-selected={tab === t.key} class={tab === t.key ? "tab active" : "tab"}
            onClick={() => setQuery("tab", t.key === "tree" ? null : t.key)}>
            {t.label}
          </button>
        ))}
      </div>
      {error && <ErrorNote error={error} retry={() => { void refresh(`${base}/crush_node`); void refresh(`${base}/crush_rule`); }} />}
      {tab === "tree" && (
        <Card title="Tree">
          {!tree || !types.data.value ? (
            <Loading what="the CRUSH tree" />
          ) : (
            <TreeView fsid={props.fsid} tree={tree} types={types.data.value} />
          )}
        </Card>
      )}
      {tab === "rules" && (
        <Card title="Rules">
          {!rules.data.value ? <Loading what="the CRUSH rules" /> : <RulesView rules={rules.data.value} pools={pools.data.value ?? []} />}
        </Card>
      )}
      {tab === "map" && <CrushMapEditor fsid={props.fsid} />}
    </div>
  );
}
