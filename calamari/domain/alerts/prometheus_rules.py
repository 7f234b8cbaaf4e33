"""The built-in alert rules as a Prometheus rules file over this service's /metrics names, for
those who route alerts through Prometheus and Alertmanager. A rule whose condition /metrics does
not carry (a collector's contact, a failed user request) or whose series has no /metrics name is
left out; the rules evaluated here remain the reference (docs/alerts.md)."""

from __future__ import annotations

from typing import Any

from calamari.domain.alerts.rules import BUILTIN_RULES, RuleDefinition

GROUP = "calamari"
# The series rules' whisper names (below ceph.cluster.<fsid>.) and their /metrics gauges.
SERIES_METRICS = {"osd.*.apply_latency_ms": "ceph_osd_apply_latency_ms",
                  "osd.*.commit_latency_ms": "ceph_osd_commit_latency_ms"}

_QUORUM = "sum by (fsid) (ceph_mon_quorum_status)"
_MONS = "count by (fsid) (ceph_mon_metadata)"
_MAJORITY = f"(floor({_MONS} / 2) + 1)"


def expression(rule: RuleDefinition) -> str | None:
    """The PromQL condition of a rule, or None where /metrics has nothing to express it with."""
    if rule.kind == "health_error":
        return "ceph_health_status == 2"
    if rule.kind == "health_warning":
        return "ceph_health_status == 1"
    if rule.kind == "osd_down":
        return "ceph_osd_up == 0"
    if rule.kind == "host_osds_down":
        # ceph_osd_metadata names the host the daemon reports; every OSD of it down
        return ("max by (fsid, hostname) (ceph_osd_up * on (fsid, ceph_daemon) group_left (hostname) "
                "ceph_osd_metadata) == 0")
    if rule.kind == "health_check":
        return f'ceph_health_detail{{name=~"{"|".join(rule.params["codes"])}"}} == 1'
    if rule.kind == "pgs":
        state = rule.params["want"]
        return f"sum by (fsid) (ceph_pg_total) - sum by (fsid) (ceph_pg_{state}) > 0"
    if rule.kind == "mon_quorum_lost":
        return f"{_QUORUM} < {_MAJORITY}"
    if rule.kind == "mon_quorum_reduced":
        return f"{_QUORUM} < {_MONS} and {_QUORUM} >= {_MAJORITY}"
    if rule.kind == "cluster_stale":
        return "calamari_cluster_stale == 1"
    if rule.kind == "series" and rule.params.get("metric") in SERIES_METRICS:
        return f"{SERIES_METRICS[rule.params['metric']]} {rule.params['op']} {rule.params['value']:g}"
    return None


def duration(seconds: float) -> str:
    """A Prometheus duration: 5m, 30s, 1h30m."""
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def rules_file(rules: dict[str, RuleDefinition] | None = None) -> dict[str, Any]:
    """The rules file as a document (YAML's data model) of the built-in rules, or of `rules`."""
    entries = []
    for rule in (rules or BUILTIN_RULES).values():
        expr = expression(rule)
        if expr is None or not rule.enabled:
            continue
        entries.append({
            "alert": "Calamari" + "".join(word.capitalize() for word in rule.name.split("_")),
            "expr": expr,
            "for": duration(rule.for_seconds),
            "labels": {"severity": rule.severity, "type": "calamari", "rule": rule.name},
            "annotations": {"summary": rule.summary, "description": rule.description},
        })
    return {"groups": [{"name": GROUP, "rules": entries}]}
