"""/metrics in the Prometheus text format: each known cluster's current figures, named like the
Ceph mgr prometheus module's metrics so existing dashboards and alerts apply, with an `fsid`
label on every sample so several clusters can be told apart.

Everything comes from memory: the projections (service.view), the newest held sync objects
(`df`, `pg_summary`) and the time-series writer's newest points (per-OSD usage and latency).
Nothing reads the event store or whisper files here."""

from __future__ import annotations

import re
import threading
from types import MappingProxyType
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from calamari.api.compression import MIN_SIZE, accepts_gzip
from calamari.api.listing import etag, unchanged
from calamari.api.prometheus_text import Family, Sections, go_float
from calamari.domain.alerts.alert import FIRING, SEVERITIES
from calamari.domain.notifications.notification import PENDING, STATES

blueprint = Blueprint("prometheus", __name__)

HEALTH_CODES = {"HEALTH_OK": 0, "HEALTH_WARN": 1, "HEALTH_ERR": 2}
OSD_FLAGS = ("noup", "nodown", "noout", "noin", "nobackfill", "norebalance", "norecover", "noscrub",
             "nodeep-scrub")
# Ceph's PG state names; each gets a ceph_pg_<state> count per pool even when zero, as the mgr does.
PG_STATES = (
    "active", "clean", "down", "recovery_unfound", "backfill_unfound", "scrubbing", "degraded",
    "inconsistent", "peering", "repair", "recovering", "forced_recovery", "backfill_wait", "incomplete",
    "stale", "remapped", "deep", "backfilling", "forced_backfill", "backfill_toofull", "recovery_wait",
    "recovery_toofull", "undersized", "activating", "peered", "snaptrim", "snaptrim_wait", "snaptrim_error",
    "creating", "unknown", "premerge", "failed_repair", "laggy", "wait",
)
POOL_GAUGES = ("stored", "stored_raw", "objects", "max_avail", "bytes_used", "percent_used", "dirty",
               "quota_bytes", "quota_objects", "compress_bytes_used", "compress_under_bytes", "avail_raw")
# Ever-growing IO counters. Exposed untyped under the mgr's names: prometheus_client would rename a
# typed counter to <name>_total, and dashboards query these names with rate().
POOL_COUNTERS = ("rd", "rd_bytes", "wr", "wr_bytes")
CLUSTER_DF = ("total_bytes", "total_used_bytes", "total_used_raw_bytes", "total_avail_bytes")
_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(text: str) -> str:
    return _NAME_RE.sub("_", text)


_NO_SERVER: Any = MappingProxyType({})  # one object, so that "no server" compares as unchanged
OSD_LABELS = ["fsid", "ceph_daemon"]
OSD_METADATA_LABELS = ["fsid", "ceph_daemon", "hostname", "device_class", "objectstore", "public_addr",
                       "cluster_addr", "front_iface", "back_iface", "ceph_version"]
POOL_LABELS = ["fsid", "pool_id"]


def gauge(name: str, documentation: str, labels: list[str]) -> Family:
    return Family(name, documentation, "gauge", labels)


class MetricsRenderer:
    """The /metrics body, rendered from the service's in-memory state by parts (`Sections`):
    a part is rendered again only when what it is made of changed (the ReadModel's change
    counters, the held `df` and `pg_summary`; the OSDs' newest points move on their own, so that
    part is rendered every time), and only the families whose text changed are compressed again.
    Label sets are formatted once per OSD and pool. One scrape renders at a time (`lock`)."""

    def __init__(self, service: Any, timeseries: Any = None, writer: Any = None, alerting: Any = None,
                 notifier: Any = None) -> None:
        self.service = service
        self.timeseries = timeseries  # a WhisperStore: its `latest` points, never its files
        self.writer = writer
        self.alerting = alerting  # the AlertingService, for its count of failed passes
        self.notifier = notifier  # the Notifier, for the alert documents it refused or dropped
        self.sections = Sections()
        self.lock = threading.Lock()
        self._osd_labels: dict[tuple[str, int], tuple[str, str]] = {}  # -> labels, metric name prefix
        self._pool_labels: dict[tuple[str, str], str] = {}
        self._osd_metadata: dict[tuple[str, int], tuple[Any, Any, str]] = {}  # -> row, server, line
        self._health = (gauge("ceph_health_status", "Cluster health status (0 OK, 1 WARN, 2 ERR)", ["fsid"]),
                        gauge("ceph_health_detail", "Active health checks (1 while raised)",
                              ["fsid", "name", "severity"]))
        self._flags = {flag: gauge(f"ceph_osd_flag_{metric_name(flag)}", f"OSD flag {flag}", ["fsid"])
                       for flag in OSD_FLAGS}
        self._mons = (gauge("ceph_mon_quorum_status", "Monitors in quorum", ["fsid", "ceph_daemon"]),
                      gauge("ceph_mon_metadata", "Monitor metadata", ["fsid", "ceph_daemon", "rank", "public_addr"]))
        self._osd_state = (gauge("ceph_osd_up", "OSD up (1) or down (0)", OSD_LABELS),
                           gauge("ceph_osd_in", "OSD in (1) or out (0)", OSD_LABELS),
                           gauge("ceph_osd_weight", "OSD reweight (0..1)", OSD_LABELS),
                           gauge("ceph_osd_crush_weight", "OSD CRUSH weight", OSD_LABELS))
        self._osd_metadata_family = gauge("ceph_osd_metadata", "OSD metadata", OSD_METADATA_LABELS)
        self._numpg = gauge("ceph_osd_numpg", "PGs whose acting set holds the OSD", OSD_LABELS)
        self._osd_stat = (gauge("ceph_osd_stat_bytes", "OSD capacity in bytes", OSD_LABELS),
                          gauge("ceph_osd_stat_bytes_used", "OSD bytes used", OSD_LABELS),
                          gauge("ceph_osd_apply_latency_ms", "OSD apply latency (ms)", OSD_LABELS),
                          gauge("ceph_osd_commit_latency_ms", "OSD commit latency (ms)", OSD_LABELS))
        self._pool_metadata = gauge("ceph_pool_metadata", "Pool metadata",
                                    ["fsid", "pool_id", "name", "type", "description", "compression_mode"])
        self._pool_gauges = {stat: gauge(f"ceph_pool_{stat}", f"Pool {stat} (ceph df detail)", POOL_LABELS)
                             for stat in POOL_GAUGES}
        # Ever-growing IO counters. Exposed untyped under the mgr's names: a typed counter would be
        # renamed <name>_total, and dashboards query these names with rate().
        self._pool_counters = {stat: Family(f"ceph_pool_{stat}", f"Pool {stat} since creation (ceph df detail)",
                                            "unknown", POOL_LABELS) for stat in POOL_COUNTERS}
        self._pg_total = gauge("ceph_pg_total", "PGs per pool", POOL_LABELS)
        self._usage = {key: gauge(f"ceph_cluster_{key}", f"Cluster {key.replace('_', ' ')} (ceph df)", ["fsid"])
                       for key in CLUSTER_DF}
        self._stale = gauge("calamari_cluster_stale", "1 while no collector reports for the cluster", ["fsid"])
        self._alerts = (gauge("calamari_alerts_firing", "Alerts firing, silenced ones included", ["severity"]),
                        gauge("calamari_alerts_silenced", "Alerts firing under a silence", ["severity"]))
        self._outbox = (gauge("calamari_notifications", "Notifications in the outbox by channel and state "
                              "(pending: not yet delivered; failed: given up)", ["channel", "state"]),
                        gauge("calamari_notifications_retrying", "Pending notifications whose last attempt failed",
                              ["channel"]),
                        Family("calamari_notification_attempts_failed_total",
                               "Delivery attempts that failed, by channel", "counter", ["channel"]))

    def render(self) -> Sections:
        """Bring every part up to date and return them; call with `lock` held, and read the
        sections before letting it go."""
        service = self.service
        with service.reading():  # copy references only; rows are replaced, never mutated
            view = service.view
            clusters = dict(view.clusters)
            osds = {fsid: list(rows.values()) for fsid, rows in view.osds.items() if fsid in clusters}
            pools = {fsid: list(rows.values()) for fsid, rows in view.pools.items() if fsid in clusters}
            servers = dict(view.servers)
            osd_servers = dict(view.osd_servers)
            osd_gen = tuple((fsid, *view.generation(("osds", fsid))) for fsid in osds)
            pool_gen = tuple((fsid, *view.generation(("pools", fsid))) for fsid in pools)
            server_gen = view.generation(("servers", ""), ("osd_servers", ""))
            held = {fsid: {name: service.model.held.get(fsid, {}).get(name) for name in ("df", "pg_summary")}
                    for fsid in clusters}
        latest = self.timeseries.latest if self.timeseries is not None else {}
        pgs = tuple(objects["pg_summary"] for objects in held.values())
        dfs = tuple(objects["df"] for objects in held.values())
        s = self.sections
        if not s.current("cluster", clusters):
            s.put("cluster", clusters, self._cluster_texts(clusters))
        if not s.current("osd_state", (osd_gen, server_gen)):
            self._forget_gone_osds(osds)
            s.put("osd_state", (osd_gen, server_gen), self._osd_state_texts(osds, servers, osd_servers))
        if not s.current("osd_pgs", (osd_gen, pgs)):
            s.put("osd_pgs", (osd_gen, pgs), [self._osd_pgs_text(osds, held)])
        # the newest points move on their own: rendered again when one of them changed value
        stats_key = (osd_gen, getattr(self.timeseries, "latest_version", None), len(latest))
        if stats_key[1] is None or not s.current("osd_stats", stats_key):
            s.put("osd_stats", stats_key, self._osd_stats_texts(osds, latest))
        if not s.current("pool_metadata", pool_gen):
            s.put("pool_metadata", pool_gen, [self._pool_metadata_text(pools)])
        if not s.current("pool_df", (pool_gen, dfs)):
            s.put("pool_df", (pool_gen, dfs), self._pool_df_texts(pools, held))
        if not s.current("pgs", (pool_gen, pgs)):
            s.put("pgs", (pool_gen, pgs), self._pgs_texts(clusters, pools, held))
        if not s.current("usage", dfs):
            s.put("usage", dfs, self._usage_texts(held))
        s.put("calamari", None, self._calamari_texts(clusters))
        s.put("alerting", None, self._alerting_texts())
        s.keep_only(("cluster", "osd_state", "osd_pgs", "osd_stats", "pool_metadata", "pool_df", "pgs", "usage",
                     "calamari", "alerting"))
        return s

    # ---------------------------------------------------------------- label sets, kept

    def _osd(self, fsid: str, osd_id: int) -> tuple[str, str]:
        """An OSD's label set and the prefix of its metrics' names."""
        found = self._osd_labels.get((fsid, osd_id))
        if found is None:
            found = self._osd_labels[(fsid, osd_id)] = (self._numpg.labels([fsid, f"osd.{osd_id}"]),
                                                        f"ceph.cluster.{fsid}.osd.{osd_id}.")
        return found

    def _pool(self, fsid: str, pool_id: str) -> str:
        found = self._pool_labels.get((fsid, pool_id))
        if found is None:
            found = self._pool_labels[(fsid, pool_id)] = self._pg_total.labels([fsid, pool_id])
        return found

    def _forget_gone_osds(self, osds: dict[str, list[dict[str, Any]]]) -> None:
        count = sum(len(rows) for rows in osds.values())
        for kept in (self._osd_labels, self._osd_metadata):
            if len(kept) > 2 * count + 100:
                kept.clear()
        if len(self._pool_labels) > 100_000:
            self._pool_labels.clear()

    # ---------------------------------------------------------------- parts

    def _cluster_texts(self, clusters: dict[str, dict[str, Any]]) -> list[str]:
        status, detail = self._health
        quorum, mon_metadata = self._mons
        status_lines, detail_lines, quorum_lines, mon_lines = [], [], [], []
        flag_lines: dict[str, list[str]] = {flag: [] for flag in self._flags}
        for fsid, row in clusters.items():
            status_lines.append(status.line([fsid], HEALTH_CODES.get(row["health"]["status"], 2)))
            for code, check in sorted(row["health"]["checks"].items()):
                detail_lines.append(detail.line([fsid, code, check.get("severity", "")], 1))
            for flag, family in self._flags.items():
                flag_lines[flag].append(family.line([fsid], 1 if flag in (row.get("flags") or []) else 0))
            in_quorum = set(row.get("quorum") or [])
            for mon in row.get("mons") or []:
                daemon = f"mon.{mon['name']}"
                quorum_lines.append(quorum.line([fsid, daemon], 1 if mon["name"] in in_quorum else 0))
                mon_lines.append(mon_metadata.line([fsid, daemon, str(mon.get("rank", "")),
                                                    str(mon.get("addr") or "")], 1))
        return [status.text(status_lines), detail.text(detail_lines),
                *(family.text(flag_lines[flag]) for flag, family in self._flags.items()),
                quorum.text(quorum_lines), mon_metadata.text(mon_lines)]

    def _osd_state_texts(self, osds: dict[str, list[dict[str, Any]]], servers: dict[str, Any],
                         osd_servers: dict[tuple[str, int], str]) -> list[str]:
        up, in_, weight, crush_weight = self._osd_state
        lines: tuple[list[str], ...] = ([], [], [], [], [])
        kept = self._osd_metadata
        for fsid, rows in osds.items():
            for row in rows:
                key = (fsid, row["id"])
                labels = self._osd(fsid, row["id"])[0]
                lines[0].append(up.sample(labels, 1 if row["up"] else 0))
                lines[1].append(in_.sample(labels, 1 if row["in"] else 0))
                lines[2].append(weight.sample(labels, row["reweight"] or 0.0))
                lines[3].append(crush_weight.sample(labels, row["crush_weight"] or 0.0))
                server = servers.get(osd_servers.get(key, row.get("server") or ""), _NO_SERVER)
                metadata = kept.get(key)
                if metadata is None or metadata[0] is not row or metadata[1] is not server:
                    metadata = kept[key] = (row, server, self._osd_metadata_line(fsid, row, server))
                lines[4].append(metadata[2])
        return [family.text(family_lines) for family, family_lines
                in zip((*self._osd_state, self._osd_metadata_family), lines, strict=True)]

    def _osd_metadata_line(self, fsid: str, row: dict[str, Any], server: Any) -> str:
        return self._osd_metadata_family.line(
            [fsid, f"osd.{row['id']}", str(row.get("server") or ""), str(row.get("device_class") or ""),
             str(row.get("objectstore") or ""), str(row.get("public_addr") or ""), str(row.get("cluster_addr") or ""),
             str(server.get("frontend_iface") or ""), str(server.get("backend_iface") or ""),
             str(row.get("ceph_version") or "")], 1)

    def _osd_pgs_text(self, osds: dict[str, list[dict[str, Any]]], held: dict[str, dict[str, Any]]) -> str:
        lines = []
        name = self._numpg.name
        for fsid, rows in osds.items():
            pg = held.get(fsid, {}).get("pg_summary")
            by_osd = (pg[1].get("by_osd") or {}) if pg else {}
            if not by_osd:
                continue
            for row in rows:
                count = sum(by_osd.get(str(row["id"]), {}).values())
                lines.append(f"{name}{self._osd(fsid, row['id'])[0]} {go_float(count)}\n")
        return self._numpg.text(lines)

    def _osd_stats_texts(self, osds: dict[str, list[dict[str, Any]]], latest: dict[str, Any]) -> list[str]:
        # the hottest loop of a scrape (every OSD, every time): samples written inline
        stat_bytes, stat_used, apply_latency, commit_latency = (family.name for family in self._osd_stat)
        lines: tuple[list[str], ...] = ([], [], [], [])
        get = latest.get
        for fsid, rows in osds.items():
            for row in rows:
                labels, prefix = self._osd(fsid, row["id"])
                used = get(prefix + "kb_used")
                if used is not None:
                    avail = get(prefix + "kb_avail")
                    if avail is not None:
                        lines[0].append(f"{stat_bytes}{labels} {go_float((used[1] + avail[1]) * 1024)}\n")
                    lines[1].append(f"{stat_used}{labels} {go_float(used[1] * 1024)}\n")
                applied = get(prefix + "apply_latency_ms")
                if applied is not None:
                    lines[2].append(f"{apply_latency}{labels} {go_float(applied[1])}\n")
                committed = get(prefix + "commit_latency_ms")
                if committed is not None:
                    lines[3].append(f"{commit_latency}{labels} {go_float(committed[1])}\n")
        return [family.text(family_lines) for family, family_lines in zip(self._osd_stat, lines, strict=True)]

    def _pool_metadata_text(self, pools: dict[str, list[dict[str, Any]]]) -> str:
        family = self._pool_metadata
        return family.text(
            family.line([fsid, str(row["id"]), row["name"], "erasure" if row.get("type") in ("erasure", 3)
                         else "replicated", kind_description(row), ""], 1)
            for fsid, rows in pools.items() for row in rows)

    def _pool_df_texts(self, pools: dict[str, list[dict[str, Any]]], held: dict[str, dict[str, Any]]) -> list[str]:
        families = {**self._pool_gauges, **self._pool_counters}  # gauges first, then counters
        lines: dict[str, list[str]] = {stat: [] for stat in families}
        for fsid, rows in pools.items():
            df = held.get(fsid, {}).get("df")
            known = {row["id"] for row in rows}
            for entry in (df[1].get("pools") or []) if df else []:
                if entry.get("id") not in known:
                    continue  # deleted since this df was taken
                labels = self._pool(fsid, str(entry["id"]))
                stats = entry.get("stats") or {}
                for stat, family in families.items():
                    value = stats.get(stat)
                    if isinstance(value, int | float):
                        lines[stat].append(family.sample(labels, value))
        return [family.text(lines[stat]) for stat, family in families.items()]

    def _pgs_texts(self, clusters: dict[str, Any], pools: dict[str, list[dict[str, Any]]],
                   held: dict[str, dict[str, Any]]) -> list[str]:
        per_pool: list[tuple[str, dict[str, int]]] = []  # (labels, counts per state part)
        totals: list[tuple[str, int]] = []
        states = list(PG_STATES)
        known = set(states)
        for fsid in clusters:
            pg = held.get(fsid, {}).get("pg_summary")
            if pg is None:
                continue
            by_pool: dict[str, dict[str, int]] = pg[1].get("by_pool") or {}
            pool_ids = {str(row["id"]) for row in pools.get(fsid, [])} | set(by_pool)
            for pool_id in sorted(pool_ids, key=lambda p: int(p) if _small_int(p) else 0):
                counts = by_pool.get(pool_id) or {}
                parts: dict[str, int] = {}
                for state, count in counts.items():
                    for part in state.split("+"):  # "active+clean" counts for active and for clean
                        parts[part] = parts.get(part, 0) + count
                        if part not in known:  # a state newer than this list: still shown
                            known.add(part)
                            states.append(part)
                labels = self._pool(fsid, pool_id)
                per_pool.append((labels, parts))
                totals.append((labels, sum(counts.values())))
        texts = []
        for state in states:
            family = gauge(f"ceph_pg_{metric_name(state)}", f"PGs in state {state}, per pool", POOL_LABELS)
            name = family.name
            texts.append(family.text([f"{name}{labels} {go_float(parts.get(state, 0))}\n"
                                      for labels, parts in per_pool]))
        texts.append(self._pg_total.text([self._pg_total.sample(labels, total) for labels, total in totals]))
        return texts

    def _usage_texts(self, held: dict[str, dict[str, Any]]) -> list[str]:
        lines: dict[str, list[str]] = {key: [] for key in CLUSTER_DF}
        for fsid, objects in held.items():
            df = objects.get("df")
            stats = (df[1].get("stats") or {}) if df else {}
            for key, family in self._usage.items():
                if isinstance(stats.get(key), int | float):
                    lines[key].append(family.line([fsid], stats[key]))
        return [family.text(lines[key]) for key, family in self._usage.items()]

    def _calamari_texts(self, clusters: dict[str, Any]) -> list[str]:
        texts = [self._stale.text(self._stale.line([fsid], 1 if row.get("stale") else 0)
                                  for fsid, row in clusters.items())]
        counters: list[tuple[str, str, int]] = []
        writer = self.writer
        if writer is not None:
            counters += [
                ("calamari_timeseries_points_written", "Metric points written to whisper", writer.written),
                ("calamari_timeseries_points_rejected", "Metric points rejected (bad name or value)", writer.rejected),
                ("calamari_timeseries_points_dropped", "Metric points dropped while the writer was behind",
                 writer.dropped),
            ]
        announcements = getattr(self.service, "mgr_announcements", None)
        if announcements is not None:  # calamari-server --mgr-notify
            counters += [
                ("calamari_mgr_maps_taken", "Maps signed by the calamari_notify module taken straight from it",
                 announcements.taken),
                ("calamari_mgr_maps_awaited", "Maps ceph-mgr announced whose collector copy reads waited for",
                 announcements.expected),
                ("calamari_mgr_maps_unusable", "Maps the module sent that were unreadable or not signed with its key",
                 announcements.unreadable + announcements.unsigned),
            ]
        for name, documentation, value in counters:
            # a counter family <name> has one sample, <name>_total
            counter = Family(name + "_total", documentation, "counter", [])
            texts.append(counter.text([counter.line([], value)]))
        return texts


    def _alerting_texts(self) -> list[str]:
        """Alerts firing by severity and the outbox by channel and state, counted from the model
        (every live channel and severity has its samples, zeros included, so an absence is a 0)."""
        firing = dict.fromkeys(SEVERITIES, 0)
        silenced = dict.fromkeys(SEVERITIES, 0)
        model = self.service.model
        with self.service.reading():
            for by_key in model.alert_index.values():
                for alert in by_key.values():
                    if alert.state == FIRING:
                        firing[alert.severity] = firing.get(alert.severity, 0) + 1
                        if alert.silenced_by:
                            silenced[alert.severity] = silenced.get(alert.severity, 0) + 1
            channels = sorted(c.channel_id for c in model.channels.values() if not c.deleted)
            by_state = {channel: dict.fromkeys(STATES, 0) for channel in channels}
            retrying = dict.fromkeys(channels, 0)
            attempts_failed = dict.fromkeys(channels, 0)
            for note in model.notifications.values():
                if note.channel_id not in by_state:
                    continue  # a deleted channel's: cancelled, and no longer a label
                by_state[note.channel_id][note.state] += 1
                failed = note.attempts - 1 if note.delivered_at is not None else note.attempts
                attempts_failed[note.channel_id] += failed
                if note.state == PENDING and note.attempts:
                    retrying[note.channel_id] += 1
        firing_family, silenced_family = self._alerts
        outbox_family, retrying_family, attempts_family = self._outbox
        texts = [firing_family.text(firing_family.line([sev], n) for sev, n in firing.items()),
                 silenced_family.text(silenced_family.line([sev], n) for sev, n in silenced.items()),
                 outbox_family.text(outbox_family.line([channel, state], n)
                                    for channel, states in by_state.items() for state, n in states.items()),
                 retrying_family.text(retrying_family.line([channel], n) for channel, n in retrying.items()),
                 attempts_family.text(attempts_family.line([channel], n) for channel, n in attempts_failed.items())]
        for source, name, documentation, attribute in (
            (self.alerting, "calamari_alert_evaluations_failed_total", "Alert rule passes that failed",
             "failed_passes"),
            (self.notifier, "calamari_notifier_alerts_rejected_total", "Malformed alert documents the notifier "
             "refused", "rejected"),
            (self.notifier, "calamari_notifier_alerts_dropped_total", "Alert documents dropped while too many "
             "waited to be routed", "dropped"),
        ):
            if source is not None:
                counter = Family(name, documentation, "counter", [])
                texts.append(counter.text([counter.line([], getattr(source, attribute))]))
        return texts


def _small_int(text: str) -> bool:
    """Digits int() takes: isdigit() alone also takes '²', and int() refuses thousands of digits."""
    return text.isascii() and text.isdigit() and len(text) < 19


def kind_description(row: dict[str, Any]) -> str:
    """The mgr's `description` label: 'replica:3' or 'ec:<profile>'."""
    if row.get("type") in ("erasure", 3):
        return f"ec:{row.get('erasure_code_profile') or ''}"
    return f"replica:{row.get('size')}"


def renderer() -> MetricsRenderer:
    found = current_app.extensions.get("calamari_prometheus")
    if found is None:
        config = current_app.config
        services = config.get("CALAMARI")
        found = MetricsRenderer(config["SERVICE"], config.get("TIMESERIES"), config.get("TIMESERIES_WRITER"),
                                getattr(services, "alerting", None), getattr(services, "notifier", None))
        current_app.extensions["calamari_prometheus"] = found
    return found


@blueprint.get("/metrics")
def metrics() -> Response:
    metrics_renderer = renderer()
    with metrics_renderer.lock:
        sections = metrics_renderer.render()
        tag = etag(sections.changes)
        if (answer := unchanged(tag)) is not None:
            return answer
        # the plain body is made only for a client that takes no gzip
        gzipped = sections.gzip() if accepts_gzip() and sections.size() >= MIN_SIZE else None
        body = gzipped if gzipped is not None else sections.body()
    # the classic 0.0.4 text format: what generate_latest writes and every Prometheus version reads
    response = Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4,
                        headers={"ETag": tag})
    if gzipped is not None:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response
