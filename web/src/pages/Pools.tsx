// Pools: usage and quotas; create (replicated or erasure-coded), edit, delete with the name typed.
import { useState } from "preact/hooks";

import { Card, Dialog, Empty, ErrorNote, Field, Loading, TableHead } from "../components/ui";
import { call } from "../lib/api";
import { bytes, count } from "../lib/format";
import {
  checkForm, deleteConfirmed, emptyForm, formOf, humanReason, poolBody, type PoolForm, type PoolRow,
} from "../lib/pools";
import { location, setQuery } from "../lib/router";
import { reasonsAtFields, useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { PoolGraphs } from "../components/PoolGraphs";
import { canChange, track, tracked } from "../state";

interface DfPool {
  id: number;
  name: string;
  stats: { stored: number; objects: number; bytes_used: number; max_avail: number; percent_used: number };
}

interface CrushRule {
  id: number;
  name: string;
  type: string;
}

const FIELDS = ["name", "pg_num", "size", "min_size", "erasure_code_profile", "crush_ruleset", "quota_max_bytes", "quota_max_objects", "pg_autoscale_mode"];

function PoolDialog(props: { fsid: string; pool: PoolRow | null; onClose: () => void }) {
  const creating = props.pool === null;
  const [form, setForm] = useState<PoolForm>(props.pool ? formOf(props.pool) : emptyForm());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, failure, setFailure, send } = useSending();
  const rules = useResource<CrushRule[]>(`/cluster/${props.fsid}/crush_rule`);
  const set = (field: keyof PoolForm) => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value });

  const submit = async (e: Event) => {
    e.preventDefault();
    const found = checkForm(form, creating);
    setErrors(found);
    setFailure(null);
    if (Object.keys(found).length) return;
    const body = poolBody(form, props.pool);
    if (!creating && Object.keys(body).length === 0) {
      props.onClose();
      return;
    }
    await send(async () => {
      const answer = await call<{ request_id?: string } | null>(creating ? "POST" : "PATCH",
        creating ? `/cluster/${props.fsid}/pool` : `/cluster/${props.fsid}/pool/${props.pool?.id}`, { body });
      if (answer?.request_id) {
        track(answer.request_id, creating ? `Creating pool '${form.name.trim()}'` : `Updating pool '${props.pool?.name}'`);
      }
      props.onClose();
    }, reasonsAtFields(FIELDS, setErrors, undefined, humanReason));
  };

  const input = (field: keyof PoolForm, props2: Record<string, unknown> = {}) => (
    <input id={`f-${field}`} name={field} value={form[field]} onInput={set(field)} aria-invalid={!!errors[field]}
      aria-describedby={errors[field] ? `f-${field}-error` : undefined} {...props2} />
  );

  return (
    <Dialog title={creating ? "Create a pool" : `Edit pool '${props.pool?.name}'`} onClose={props.onClose} wide>
      <form class="form" onSubmit={submit} noValidate aria-label={creating ? "Create a pool" : "Edit the pool"}>
        {creating && (
          <fieldset class="radio-row">
            <legend class="sr-only">Kind of pool</legend>
            <label><input type="radio" name="kind" checked={form.kind === "replicated"} onChange={() => setForm({ ...form, kind: "replicated" })} /> Replicated</label>
            <label><input type="radio" name="kind" checked={form.kind === "erasure"} onChange={() => setForm({ ...form, kind: "erasure" })} /> Erasure-coded</label>
          </fieldset>
        )}
        <div class="form-grid">
          <Field label="Name" name="name" error={errors.name} hint="Letters, digits, '_', '.' and '-'.">{input("name", { autocomplete: "off" })}</Field>
          <Field label="Placement groups (pg_num)" name="pg_num" error={errors.pg_num} hint="A power of two, e.g. 32.">{input("pg_num", { inputMode: "numeric" })}</Field>
          {form.kind === "replicated" ? (
            <>
              <Field label="Replicas (size)" name="size" error={errors.size} hint="Copies of each object.">{input("size", { inputMode: "numeric" })}</Field>
              <Field label="Minimum replicas (min_size)" name="min_size" error={errors.min_size} hint="Writes stop below this.">{input("min_size", { inputMode: "numeric" })}</Field>
            </>
          ) : (
            <Field label="Erasure code profile" name="erasure_code_profile" error={errors.erasure_code_profile}
              hint={creating ? "The profile's name, e.g. default." : "Set at creation only."}>
              {input("erasure_code_profile", { disabled: !creating })}
            </Field>
          )}
          <Field label="CRUSH rule" name="crush_ruleset" error={errors.crush_ruleset}>
            <select id="f-crush_ruleset" value={form.crush_ruleset} onChange={set("crush_ruleset")} aria-invalid={!!errors.crush_ruleset}>
              <option value="">{creating ? "Ceph's default" : "unchanged"}</option>
              {(rules.data.value ?? []).map((r) => <option value={String(r.id)}>{r.name} ({r.type})</option>)}
            </select>
          </Field>
          <Field label="PG autoscale" name="pg_autoscale_mode" error={errors.pg_autoscale_mode}>
            <select id="f-pg_autoscale_mode" value={form.pg_autoscale_mode} onChange={set("pg_autoscale_mode")}>
              <option value="">{creating ? "Ceph's default" : "unchanged"}</option>
              <option value="on">on</option>
              <option value="warn">warn</option>
              <option value="off">off</option>
            </select>
          </Field>
          <Field label="Quota: bytes" name="quota_max_bytes" error={errors.quota_max_bytes} hint="0: no quota.">{input("quota_max_bytes", { inputMode: "numeric" })}</Field>
          <Field label="Quota: objects" name="quota_max_objects" error={errors.quota_max_objects} hint="0: no quota.">{input("quota_max_objects", { inputMode: "numeric" })}</Field>
        </div>
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? "Sending…" : creating ? "Create pool" : "Save changes"}</button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog(props: { fsid: string; pool: PoolRow; onClose: () => void }) {
  const [typed, setTyped] = useState("");
  const { busy, failure, send } = useSending();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!deleteConfirmed(props.pool, typed)) return;
    await send(async () => {
      const answer = await call<{ request_id?: string }>("DELETE", `/cluster/${props.fsid}/pool/${props.pool.id}`);
      if (answer?.request_id) track(answer.request_id, `Deleting pool '${props.pool.name}'`);
      props.onClose();
    });
  };
  return (
    <Dialog title={`Delete pool '${props.pool.name}'`} onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        <p>
          This deletes the pool <strong>{props.pool.name}</strong> and <strong>every object in it</strong>. It cannot be undone.
        </p>
        <Field label={`Type the pool's name (${props.pool.name}) to confirm`} name="confirm">
          <input id="f-confirm" value={typed} autocomplete="off" onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
        </Field>
        {failure !== null && <ErrorNote error={failure} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="btn btn-danger" disabled={busy || !deleteConfirmed(props.pool, typed)}>Delete pool</button>
        </div>
      </form>
    </Dialog>
  );
}

export function Pools(props: { fsid?: string }) {
  const fsid = props.fsid as string;
  const pools = useResource<PoolRow[]>(`/cluster/${fsid}/pool`);
  const df = useResource<{ pools: DfPool[] }>(`/cluster/${fsid}/sync_object/df`);
  const [dialog, setDialog] = useState<{ kind: "create" | "edit" | "delete"; pool: PoolRow | null } | null>(null);
  const q = location.value.query.get("q") ?? "";
  const usage = new Map((df.data.value?.pools ?? []).map((p) => [p.id, p.stats]));
  const list = (pools.data.value ?? []).filter((p) => !q || p.name.toLowerCase().includes(q.toLowerCase()));
  const busyTargets = new Set(tracked.value.filter((t) => t.row?.state !== "complete").map((t) => t.row?.target ?? ""));
  return (
    <div class="page">
      <header class="page-head">
        <h1>Pools</h1>
        <span class="muted">{count(pools.data.value?.length)} pools</span>
        <span class="spacer" />
        <input type="search" aria-label="Filter pools by name" placeholder="Filter by name" value={q}
          onInput={(e) => setQuery("q", (e.target as HTMLInputElement).value)} />
        {canChange.value && (
          <button type="button" class="btn btn-primary" onClick={() => setDialog({ kind: "create", pool: null })}>Create pool</button>
        )}
      </header>
      {pools.error.value && <ErrorNote error={pools.error.value} retry={() => void refresh(`/cluster/${fsid}/pool`)} />}
      <Card>
        {!pools.data.value ? <Loading what="pools" /> : list.length === 0 ? <Empty>{q ? "No pool matches." : "No pools."}</Empty> : (
          <div class="table-wrap">
            <table class="table" aria-label="Pools">
              <TableHead columns={["Name", "Type", "Replicas / profile", "PGs", "Stored", "Objects", "Used", "Max avail", "Quota", "Apps"]}
                numeric={["Replicas / profile", "PGs", "Stored", "Objects", "Used", "Max avail", "Quota"]} actions={canChange.value} />
              <tbody>
                {list.map((p) => {
                  const u = usage.get(p.id);
                  const changing = [...busyTargets].some((t) => t.split(",").includes(`pool:${p.id}`));
                  return (
                    <tr key={p.id} data-pool={p.name}>
                      <td>
                        <strong>{p.name}</strong> {p.full && <span class="tag tag-warn">full</span>}{" "}
                        {changing && <span class="tag"><span class="spinner" aria-hidden="true" /> changing</span>}
                      </td>
                      <td>{p.type}</td>
                      <td class="num">{p.type === "erasure" ? p.erasure_code_profile : `${p.size} (min ${p.min_size})`}</td>
                      <td class="num">{p.pg_num}</td>
                      <td class="num">{bytes(u?.stored)}</td>
                      <td class="num">{count(u?.objects)}</td>
                      <td class="num">{u ? `${(u.percent_used * 100).toFixed(1)}%` : "–"}</td>
                      <td class="num">{bytes(u?.max_avail)}</td>
                      <td class="num">
                        {p.quota_max_bytes ? bytes(p.quota_max_bytes) : ""}
                        {p.quota_max_bytes && p.quota_max_objects ? ", " : ""}
                        {p.quota_max_objects ? `${count(p.quota_max_objects)} objects` : ""}
                        {!p.quota_max_bytes && !p.quota_max_objects ? <span class="muted">none</span> : ""}
                      </td>
                      <td>{(p.application ?? []).join(", ")}</td>
                      {canChange.value && (
                        <td class="actions">
                          <button type="button" class="btn btn-small" onClick={() => setDialog({ kind: "edit", pool: p })} aria-label={`Edit pool ${p.name}`}>Edit</button>{" "}
                          <button type="button" class="btn btn-small" onClick={() => setDialog({ kind: "delete", pool: p })} aria-label={`Delete pool ${p.name}`}>Delete</button>
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <PoolGraphs fsid={fsid} pools={pools.data.value ?? []} />
      {dialog?.kind === "create" && <PoolDialog fsid={fsid} pool={null} onClose={() => setDialog(null)} />}
      {dialog?.kind === "edit" && dialog.pool && <PoolDialog fsid={fsid} pool={dialog.pool} onClose={() => setDialog(null)} />}
      {dialog?.kind === "delete" && dialog.pool && <DeleteDialog fsid={fsid} pool={dialog.pool} onClose={() => setDialog(null)} />}
    </div>
  );
}
