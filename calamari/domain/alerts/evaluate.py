"""Rule evaluation on the in-memory model: what each rule finds true, for the objects a change
touched (`Scope`) or for everything (a timer's pass), and the engine that turns findings into
Alert events (raised after the rule's duration, updated, resolved, (un)silenced).

Pure: `now` comes from the caller, time series through a `fetch` function it passes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

from calamari.domain.alerts.alert import FIRING, Alert, alert_labels
from calamari.domain.alerts.rules import SERIES_LOOKBACK_S, RuleDefinition, compare
from calamari.domain.cluster import Cluster
from calamari.domain.ids import NAMESPACE
from calamari.domain.osd import Osd
from calamari.domain.server import Server
from calamari.domain.user_request import COMPLETE, UserRequest

# fetch(pattern, seconds) -> [(metric path, newest value within the last `seconds`)]
SeriesFetch = Callable[[str, int], list[tuple[str, float]]]
ChangesBefore = Callable[[str | None, list[dict[str, str]], datetime], list[dict[str, Any]]]


# The OSD events that change which OSDs a CRUSH host holds (the host index is rebuilt for them).
PLACEMENT_EVENTS = (Osd.OsdAdded, Osd.OsdReadded, Osd.OsdRemoved, Osd.OsdMovedInCrush)


@dataclass
class Scope:
    """What a batch of changes touched; `None` fields of a full pass mean everything."""

    clusters: set[str] = field(default_factory=set)
    osds: set[tuple[str, int]] = field(default_factory=set)
    hosts: set[tuple[str, str]] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)
    requests: set[str] = field(default_factory=set)
    placement: set[str] = field(default_factory=set)  # clusters whose OSDs were added, removed or moved

    def add(self, agg: Any, event: Any = None) -> None:
        if isinstance(agg, Osd):
            self.osds.add((agg.fsid, agg.osd_id))
            if event is None or isinstance(event, PLACEMENT_EVENTS):
                self.placement.add(agg.fsid)
            for host in (agg.host, getattr(event, "previous_host", None)):
                if host:
                    self.hosts.add((agg.fsid, host))
        elif isinstance(agg, Cluster):
            self.clusters.add(agg.fsid)
        elif isinstance(agg, Server):
            self.servers.add(agg.fqdn)
        elif isinstance(agg, UserRequest):
            self.requests.add(agg.request_id)

    def __bool__(self) -> bool:
        return bool(self.clusters or self.osds or self.hosts or self.servers or self.requests)


@dataclass(frozen=True)
class Finding:
    """A rule's condition holding on one object."""

    fsid: str | None
    object: dict[str, str]
    summary: str
    description: str
    related: list[dict[str, str]] = field(default_factory=list)  # objects whose changes came before it


def alert_key(rule: str, fsid: str | None, obj: dict[str, str]) -> str:
    return f"{rule}|{fsid or ''}|{obj['kind']}|{obj['id']}"


# --------------------------------------------------------------------------------- findings

Findings = dict[str, Finding | None]  # key -> the finding, or None: evaluated and not true


def _clusters(model: Any, scope: Scope | None) -> Iterable[Cluster]:
    fsids = model.clusters.keys() if scope is None else scope.clusters
    return [c for f in list(fsids) if (c := model.clusters.get(f)) is not None]


def _cluster_obj(cluster: Cluster) -> dict[str, str]:
    return {"kind": "cluster", "id": cluster.fsid}


def _per_cluster(rule: RuleDefinition, model: Any, scope: Scope | None,
                 test: Callable[[Cluster], tuple[str, str] | None]) -> Findings:
    out: Findings = {}
    for cluster in _clusters(model, scope):
        obj = _cluster_obj(cluster)
        told = None if cluster.stale and rule.kind != "cluster_stale" else test(cluster)
        out[alert_key(rule.name, cluster.fsid, obj)] = (
            Finding(cluster.fsid, obj, told[0], told[1], [obj]) if told is not None else None)
    return out


def _health(status: str) -> Callable[[RuleDefinition, Any, Scope | None, datetime, Any], Findings]:
    def evaluate(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
        def test(c: Cluster) -> tuple[str, str] | None:
            if c.health_status != status:
                return None
            checks = sorted(code for code, check in c.health_checks.items() if not check.get("muted"))
            return (f"{rule.summary} on cluster {c.name}",
                    f"{rule.description} Health checks: {', '.join(checks) or 'none'}.")
        return _per_cluster(rule, model, scope, test)
    return evaluate


def _health_check(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    codes = rule.params.get("codes", [])

    def test(c: Cluster) -> tuple[str, str] | None:
        raised = [(code, check) for code in codes if (check := c.health_checks.get(code)) and not check.get("muted")]
        if not raised:
            return None
        return (f"{rule.summary} on cluster {c.name}",
                f"{rule.description} " + "; ".join(f"{code}: {check.get('message', '')}" for code, check in raised))
    return _per_cluster(rule, model, scope, test)


def _pgs(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    want = rule.params.get("want", "active")

    def test(c: Cluster) -> tuple[str, str] | None:
        bad = sum(count for state, count in c.pg_by_state.items() if want not in state.split("+"))
        if not bad:
            return None
        return f"{rule.summary}: {bad} on cluster {c.name}", f"{rule.description} {bad} PGs are not {want}."
    return _per_cluster(rule, model, scope, test)


def quorum_shortfall(c: Cluster) -> tuple[int, int]:
    """(monitors in the map, monitors in quorum)."""
    names = [m.get("name") for m in c.mons]
    return len(names), len([n for n in names if n in c.quorum])


def _mon_quorum(lost: bool) -> Callable[[RuleDefinition, Any, Scope | None, datetime, Any], Findings]:
    def evaluate(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
        def test(c: Cluster) -> tuple[str, str] | None:
            total, in_quorum = quorum_shortfall(c)
            if not total:
                return None
            majority = total // 2 + 1
            true = in_quorum < majority if lost else majority <= in_quorum < total
            if not true:
                return None
            out = sorted(m.get("name", "?") for m in c.mons if m.get("name") not in c.quorum)
            return (f"{rule.summary} on cluster {c.name}: {in_quorum} of {total} monitors in quorum",
                    f"{rule.description} Out of quorum: {', '.join(out)}.")
        return _per_cluster(rule, model, scope, test)
    return evaluate


def _cluster_stale(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    return _per_cluster(rule, model, scope,
                        lambda c: (f"{rule.summary} {c.name}", rule.description) if c.stale else None)


def _osds(model: Any, scope: Scope | None) -> Iterable[Osd]:
    if scope is None:
        return [o for fsid in list(model.clusters) for o in list(model.osds.get(fsid, {}).values())]
    return [o for fsid, i in scope.osds if fsid in model.clusters and (o := model.osds.get(fsid, {}).get(i))]


def _osd_down(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    out: Findings = {}
    for osd in _osds(model, scope):
        obj = {"kind": "osd", "id": str(osd.osd_id)}
        key = alert_key(rule.name, osd.fsid, obj)
        stale = model.clusters[osd.fsid].stale  # what a stale cluster shows is not news
        if osd.removed or osd.up or stale:
            out[key] = None
            continue
        where = f" on host {osd.host}" if osd.host else ""
        out[key] = Finding(osd.fsid, obj, f"osd.{osd.osd_id} is down{where}", rule.description, [obj])
    return out


class HostIndex:
    """Each cluster's OSDs by CRUSH host, rebuilt for a cluster when an OSD of it was added,
    removed or moved (`Scope.placement`), so a change to one OSD reads only its host's OSDs."""

    def __init__(self) -> None:
        self.by_cluster: dict[str, dict[str, list[int]]] = {}

    def invalidate(self, fsids: Iterable[str] | None) -> None:
        if fsids is None:
            self.by_cluster.clear()
        for fsid in fsids or ():
            self.by_cluster.pop(fsid, None)

    def osds(self, model: Any, fsid: str, host: str) -> list[Osd]:
        hosts = self.by_cluster.get(fsid)
        if hosts is None:
            hosts = {}
            for osd in model.osds.get(fsid, {}).values():
                if osd.host:
                    hosts.setdefault(osd.host, []).append(osd.osd_id)
            self.by_cluster[fsid] = hosts
        members = model.osds.get(fsid, {})
        return [o for i in hosts.get(host, ()) if (o := members.get(i)) is not None and not o.removed
                and o.host == host]


def _host_osds_down(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any,
                    hosts_index: HostIndex | None = None) -> Findings:
    index = hosts_index or HostIndex()
    if scope is None:
        hosts = {(o.fsid, o.host) for o in _osds(model, None) if o.host}
    else:
        hosts = {h for h in scope.hosts if h[0] in model.clusters}
    out: Findings = {}
    for fsid, host in hosts:
        osds = index.osds(model, fsid, host)
        obj = {"kind": "host", "id": host}
        key = alert_key(rule.name, fsid, obj)
        if not osds or any(o.up for o in osds) or model.clusters[fsid].stale:
            out[key] = None
            continue
        related = [obj, *({"kind": "osd", "id": str(o.osd_id)} for o in osds)]
        out[key] = Finding(fsid, obj, f"All {len(osds)} OSDs of host {host} are down",
                           f"{rule.description} OSDs: {', '.join(f'osd.{o.osd_id}' for o in osds)}.", related)
    return out


def _server_contact(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    names = model.servers.keys() if scope is None else scope.servers
    out: Findings = {}
    for fqdn in list(names):
        server = model.servers.get(fqdn)
        if server is None:
            continue
        obj = {"kind": "collector", "id": fqdn}
        lost = server.managed and server.contact_lost and not server.forgotten and server.merged_into is None
        out[alert_key(rule.name, None, obj)] = (
            Finding(None, obj, f"The collector on {fqdn} is out of contact", rule.description,
                    [obj, {"kind": "server", "id": fqdn}]) if lost else None)
    return out


def _request_failed(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    keep = timedelta(seconds=float(rule.params.get("keep_seconds", 3600)))
    if scope is None:
        # the open ones only: a failed request older than `keep` never fires again
        open_keys = [a.object["id"] for a in model.open_alerts_of(rule.name)]
        ids = {*open_keys, *(r.request_id for r in model.requests.values()
                             if r.error and r.modified_on is not None and now - r.modified_on < keep)}
    else:
        ids = scope.requests
    out: Findings = {}
    for request_id in ids:
        req = model.requests.get(request_id)
        if req is None:
            continue
        obj = {"kind": "request", "id": request_id}
        fsid = req.fsid or None
        failed = req.state == COMPLETE and req.error and now - req.modified_on < keep
        out[alert_key(rule.name, fsid, obj)] = (
            Finding(fsid, obj, f"Request failed: {req.headline} (by {req.username})",
                    f"{rule.description} Ceph said: {req.error_message}", [obj]) if failed else None)
    return out


def cluster_values(model: Any, cluster: Cluster) -> dict[str, float]:
    """The cluster-wide values a threshold rule may compare."""
    osds = [o for o in model.osds.get(cluster.fsid, {}).values() if not o.removed]
    total, in_quorum = quorum_shortfall(cluster)
    return {
        "osds_down": sum(1 for o in osds if not o.up),
        "osds_out": sum(1 for o in osds if not o.in_),
        "pgs_inactive": sum(n for s, n in cluster.pg_by_state.items() if "active" not in s.split("+")),
        "pgs_unclean": sum(n for s, n in cluster.pg_by_state.items() if "clean" not in s.split("+")),
        "mons_out_of_quorum": total - in_quorum,
        "health_checks": sum(1 for c in cluster.health_checks.values() if not c.get("muted")),
    }


def _threshold(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime, fetch: Any) -> Findings:
    subject, name, op, limit = (rule.params[k] for k in ("subject", "field", "op", "value"))
    out: Findings = {}

    def put(fsid: str, obj: dict[str, str], label: str, value: Any) -> None:
        number = float(value) if isinstance(value, int | float) else None
        key = alert_key(rule.name, fsid, obj)
        if number is None or not compare(op, number, float(limit)):
            out[key] = None
            return
        out[key] = Finding(fsid, obj, f"{rule.summary}: {label} {name} is {value:g} ({op} {limit:g})",
                           rule.description, [obj])

    if subject == "osd":
        for osd in _osds(model, scope):
            if not osd.removed:
                value = {"up": osd.up, "in": osd.in_}.get(name, getattr(osd, name, None))
                put(osd.fsid, {"kind": "osd", "id": str(osd.osd_id)}, f"osd.{osd.osd_id}", value)
    elif subject == "pool":
        clusters = _clusters(model, None) if scope is None else _clusters(model, scope)
        for cluster in clusters:  # pool changes come with the OSD map, which touches the cluster
            for pool in list(model.pools.get(cluster.fsid, {}).values()):
                if not pool.deleted:
                    value = getattr(pool, name, None) if name.startswith("quota") else pool.settings.get(name)
                    put(cluster.fsid, {"kind": "pool", "id": str(pool.pool_id)}, f"pool {pool.name}", value)
    else:
        for cluster in _clusters(model, scope):
            put(cluster.fsid, _cluster_obj(cluster), f"cluster {cluster.name}", cluster_values(model, cluster)[name])
    return out


def _series(rule: RuleDefinition, model: Any, scope: Scope | None, now: datetime,
            fetch: SeriesFetch | None) -> Findings:
    if scope is not None or fetch is None:
        return {}  # series are read on the timer's passes only
    metric, op, limit = rule.params["metric"], rule.params["op"], float(rule.params["value"])
    out: Findings = {}
    for cluster in _clusters(model, None):
        prefix = f"ceph.cluster.{cluster.fsid}."
        for path, value in fetch(prefix + metric, SERIES_LOOKBACK_S):
            nodes = path[len(prefix):].split(".")
            if len(nodes) >= 2 and nodes[0] in ("osd", "pool"):
                obj = {"kind": nodes[0], "id": nodes[1]}
                label = f"osd.{nodes[1]}" if nodes[0] == "osd" else f"pool {nodes[1]}"
            else:
                obj, label = {"kind": "cluster", "id": cluster.fsid}, f"cluster {cluster.name}"
            key = alert_key(rule.name, cluster.fsid, obj) + ("|" + path if obj["kind"] == "cluster" else "")
            true = not cluster.stale and compare(op, value, limit)
            out[key] = Finding(cluster.fsid, obj, f"{rule.summary}: {label} {nodes[-1]} is {value:g} ({op} {limit:g})",
                               rule.description, [obj]) if true else None
    return out


EVALUATORS: dict[str, Callable[..., Findings]] = {
    "health_error": _health("HEALTH_ERR"),
    "health_warning": _health("HEALTH_WARN"),
    "health_check": _health_check,
    "pgs": _pgs,
    "mon_quorum_lost": _mon_quorum(lost=True),
    "mon_quorum_reduced": _mon_quorum(lost=False),
    "cluster_stale": _cluster_stale,
    "osd_down": _osd_down,
    "host_osds_down": _host_osds_down,
    "server_contact_lost": _server_contact,
    "request_failed": _request_failed,
    "threshold": _threshold,
    "series": _series,
}


# --------------------------------------------------------------------------------- the engine

def new_alert_id(key: str, at: datetime, sequence: int) -> str:
    """Unique: `sequence` (how many alerts there were before) tells apart two alerts of one key
    raised at one time (resolved and raised again within a pass)."""
    return str(uuid5(NAMESPACE, f"alert/{key}/{at.isoformat()}/{sequence}"))


@dataclass
class AlertEngine:
    """Turns findings into Alert events on the model. Keeps, in memory, since when each condition
    not yet raised has held (a restart starts those durations again, as Prometheus does)."""

    pending: dict[str, datetime] = field(default_factory=dict)
    hosts: HostIndex = field(default_factory=HostIndex)

    def run(self, model: Any, rules: Iterable[RuleDefinition], scope: Scope | None, now: datetime,
            fetch: SeriesFetch | None = None, changes: ChangesBefore | None = None) -> list[Alert]:
        """Evaluate `rules` over `scope` (None: everything) and record what changed; returns the
        alerts that got events."""
        touched: dict[str, Alert] = {}
        self.hosts.invalidate(None if scope is None else scope.placement)
        for rule in rules:
            if not rule.enabled:
                for alert in model.open_alerts_of(rule.name):
                    self._resolve(model, alert, now, "the rule was disabled", touched)
                self.pending = {k: v for k, v in self.pending.items() if not k.startswith(rule.name + "|")}
                continue
            if rule.kind == "host_osds_down":
                findings = _host_osds_down(rule, model, scope, now, fetch, self.hosts)
            else:
                findings = EVALUATORS[rule.kind](rule, model, scope, now, fetch)
            if scope is None and not (rule.kind == "series" and fetch is None):
                for alert in model.open_alerts_of(rule.name):  # objects gone since: nothing finds them
                    findings.setdefault(alert.key, None)
            for key, finding in findings.items():
                self._settle(model, rule, key, finding, now, changes, touched)
        return list(touched.values())

    def _settle(self, model: Any, rule: RuleDefinition, key: str, finding: Finding | None, now: datetime,
                changes: ChangesBefore | None, touched: dict[str, Alert]) -> None:
        alert = model.open_alert(key)
        if finding is None:
            self.pending.pop(key, None)
            if alert is not None:
                self._resolve(model, alert, now, "the condition no longer holds", touched)
            return
        if alert is not None:
            if (alert.severity, alert.summary) != (rule.severity, finding.summary):
                model.emit(alert, Alert.AlertUpdated, now, severity=rule.severity, summary=finding.summary,
                           description=finding.description)
                touched[alert.alert_id] = alert
            return
        since = self.pending.setdefault(key, now)
        if (now - since).total_seconds() < rule.for_seconds:
            return
        del self.pending[key]
        before = changes(finding.fsid, finding.related, now) if changes is not None else []
        labels = alert_labels(rule.name, rule.severity, finding.fsid, finding.object)
        alert_id = new_alert_id(key, now, len(model.alerts))
        alert = model.raise_alert(alert_id=alert_id, rule=rule.name, key=key, severity=rule.severity,
                                  fsid=finding.fsid, object=finding.object, summary=finding.summary,
                                  description=finding.description, labels=labels, changes_before=before, at=now)
        touched[alert.alert_id] = alert
        self.silence(model, [alert], now, touched)

    @staticmethod
    def _resolve(model: Any, alert: Alert, now: datetime, reason: str, touched: dict[str, Alert]) -> None:
        model.emit(alert, Alert.AlertResolved, now, reason=reason)
        touched[alert.alert_id] = alert

    @staticmethod
    def silence(model: Any, alerts: Iterable[Alert], now: datetime, touched: dict[str, Alert]) -> None:
        """Mark each firing alert silenced by the active silences covering it, or not."""
        active = [s for s in model.silences.values() if s.active(now)]
        for alert in alerts:
            if alert.state != FIRING:
                continue
            labels = {**alert.labels, "severity": alert.severity}
            covering = sorted(s.silence_id for s in active if s.covers(labels))
            if covering and covering != alert.silenced_by:
                model.emit(alert, Alert.AlertSilenced, now, silences=covering)
                touched[alert.alert_id] = alert
            elif not covering and alert.silenced_by:
                model.emit(alert, Alert.AlertUnsilenced, now)
                touched[alert.alert_id] = alert
