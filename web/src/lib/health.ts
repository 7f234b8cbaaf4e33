// Ceph's health document (sync_object/health) as the overview lists it: every check, worst first.

export interface HealthCheck {
  code: string;
  severity: string; // HEALTH_WARN, HEALTH_ERR
  summary: string;
  count: number | null;
  detail: string[];
  muted: boolean;
}

const ORDER: Record<string, number> = { HEALTH_ERR: 0, HEALTH_WARN: 1 };

export function healthChecks(health: unknown): HealthCheck[] {
  const checks = (health as { checks?: Record<string, unknown> } | null)?.checks;
  if (!checks || typeof checks !== "object") return [];
  const list: HealthCheck[] = [];
  for (const [code, raw] of Object.entries(checks)) {
    const c = (raw ?? {}) as Record<string, unknown>;
    const summary = (c.summary ?? {}) as { message?: unknown; count?: unknown };
    const message = typeof summary.message === "string" ? summary.message : typeof c.message === "string" ? c.message : code;
    const countValue = typeof summary.count === "number" ? summary.count : typeof c.count === "number" ? c.count : null;
    const detail = Array.isArray(c.detail)
      ? c.detail.map((d) => (d && typeof d === "object" ? String((d as { message?: unknown }).message ?? "") : String(d))).filter(Boolean)
      : [];
    list.push({
      code,
      severity: typeof c.severity === "string" ? c.severity : "HEALTH_WARN",
      summary: message,
      count: countValue,
      detail,
      muted: c.muted === true,
    });
  }
  // muted last; worst first; then by code
  list.sort((a, b) => Number(a.muted) - Number(b.muted) || (ORDER[a.severity] ?? 2) - (ORDER[b.severity] ?? 2) || a.code.localeCompare(b.code));
  return list;
}

/** PG states grouped for a bar: clean, working (scrubbing, peering, backfill…), degraded or worse. */
export function pgTone(state: string): "ok" | "info" | "warn" | "err" {
  const parts = state.split("+");
  if (parts.some((p) => ["down", "incomplete", "inconsistent", "stale", "unknown", "undersized"].includes(p))) return "err";
  if (parts.some((p) => ["degraded", "recovering", "recovery_wait", "backfilling", "backfill_wait", "remapped", "peering", "misplaced", "backfill_toofull"].includes(p))) return "warn";
  if (parts.includes("active") && parts.includes("clean")) return parts.length === 2 ? "ok" : "info";
  return "warn";
}
