// The pool form: what the operator typed, checked as far as the console knows the rules (the
// server checks everything again and its 400 reasons are shown next to the same fields), and the
// body of the create or update call.

export interface PoolRow {
  id: number;
  name: string;
  type: string;
  size: number;
  min_size: number;
  pg_num: number;
  pgp_num?: number;
  crush_ruleset?: number;
  erasure_code_profile?: string | null;
  pg_autoscale_mode?: string;
  quota_max_objects?: number;
  quota_max_bytes?: number;
  application?: string[];
  full?: boolean;
  [field: string]: unknown;
}

export interface PoolForm {
  name: string;
  kind: "replicated" | "erasure";
  pg_num: string;
  size: string;
  min_size: string;
  erasure_code_profile: string;
  crush_ruleset: string;
  quota_max_bytes: string;
  quota_max_objects: string;
  pg_autoscale_mode: string;
}

export function emptyForm(): PoolForm {
  return {
    name: "", kind: "replicated", pg_num: "32", size: "3", min_size: "", erasure_code_profile: "",
    crush_ruleset: "", quota_max_bytes: "", quota_max_objects: "", pg_autoscale_mode: "",
  };
}

export function formOf(pool: PoolRow): PoolForm {
  return {
    name: pool.name,
    kind: pool.type === "erasure" ? "erasure" : "replicated",
    pg_num: String(pool.pg_num),
    size: String(pool.size),
    min_size: String(pool.min_size),
    erasure_code_profile: pool.erasure_code_profile ?? "",
    crush_ruleset: pool.crush_ruleset === undefined ? "" : String(pool.crush_ruleset),
    quota_max_bytes: String(pool.quota_max_bytes ?? 0),
    quota_max_objects: String(pool.quota_max_objects ?? 0),
    pg_autoscale_mode: pool.pg_autoscale_mode ?? "",
  };
}

const WHOLE = /^\d+$/;

/** A whole number of at least `min`, or a reason. Empty is allowed where `optional`. */
function whole(value: string, min: number, optional: boolean): string | null {
  const v = value.trim();
  if (v === "") return optional ? null : "required";
  if (!WHOLE.test(v)) return "a whole number";
  if (Number(v) < min) return `at least ${min}`;
  return null;
}

/** Reasons by field for what the console can tell is wrong before sending. */
export function checkForm(form: PoolForm, creating: boolean): Record<string, string> {
  const errors: Record<string, string> = {};
  const name = form.name.trim();
  if (!name) errors.name = "required";
  const pg = whole(form.pg_num, 1, !creating);
  if (pg) errors.pg_num = pg;
  if (form.kind === "replicated") {
    const size = whole(form.size, 1, true);
    if (size) errors.size = size;
    const min = whole(form.min_size, 1, true);
    if (min) errors.min_size = min;
    if (!size && !min && form.size.trim() && form.min_size.trim() && Number(form.min_size) > Number(form.size)) {
      errors.min_size = "at most the size";
    }
  } else if (creating && !form.erasure_code_profile.trim()) {
    errors.erasure_code_profile = "required for an erasure-coded pool";
  }
  for (const field of ["quota_max_bytes", "quota_max_objects", "crush_ruleset"] as const) {
    const reason = whole(form[field], 0, true);
    if (reason) errors[field] = reason;
  }
  return errors;
}

/** The body to POST (create) or PATCH (update: only what differs from `before`). */
export function poolBody(form: PoolForm, before: PoolRow | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const put = (field: string, value: unknown, old: unknown) => {
    if (before === null || value !== old) body[field] = value;
  };
  const num = (v: string) => Number(v.trim());
  put("name", form.name.trim(), before?.name);
  if (form.pg_num.trim()) put("pg_num", num(form.pg_num), before?.pg_num);
  if (form.kind === "erasure") {
    if (before === null) body.erasure_code_profile = form.erasure_code_profile.trim();
  } else {
    if (form.size.trim()) put("size", num(form.size), before?.size);
    if (form.min_size.trim()) put("min_size", num(form.min_size), before?.min_size);
  }
  if (form.crush_ruleset.trim()) put("crush_ruleset", num(form.crush_ruleset), before?.crush_ruleset);
  if (form.quota_max_bytes.trim()) {
    const v = num(form.quota_max_bytes);
    if (before !== null || v > 0) put("quota_max_bytes", v, before?.quota_max_bytes ?? 0);
  }
  if (form.quota_max_objects.trim()) {
    const v = num(form.quota_max_objects);
    if (before !== null || v > 0) put("quota_max_objects", v, before?.quota_max_objects ?? 0);
  }
  if (form.pg_autoscale_mode) put("pg_autoscale_mode", form.pg_autoscale_mode, before?.pg_autoscale_mode);
  return body;
}

/** The typed confirmation of a delete matches only the exact name. */
export function deleteConfirmed(pool: Pick<PoolRow, "name">, typed: string): boolean {
  return typed === pool.name;
}

/** The server's reasons in plain words where pydantic's are technical; others as they are. */
export function humanReason(reason: string): string {
  const pattern = /String should match pattern '\^\[A-Za-z0-9_\.-\]\+\$'/;
  if (pattern.test(reason)) return "only letters, digits, '_', '.' and '-' (no spaces)";
  const more = /Input should be greater than or equal to (\d+)/.exec(reason);
  if (more) return `at least ${more[1]}`;
  const less = /Input should be less than or equal to (\d+)/.exec(reason);
  if (less) return `at most ${less[1]}`;
  return reason;
}
