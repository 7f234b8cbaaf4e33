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
from calamari.api.prometheus_text import Family, Sections

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
    each part is rendered again only when what it is made of changed (the ReadModel's change
    counters, the held `df` and `pg_summary`, the newest OSD points), and within the large parts
    an OSD's or pool's lines only when its own inputs changed. One scrape renders at a time."""

    def __init__(self, service: Any, timeseries: Any = None, writer: Any = None) -> None:
        self.service = service
        self.timeseries = timeseries  # a WhisperStore: its `latest` points, never its files
        self.writer = writer
        self.sections = Sections()
        self._lock = threading.Lock()
        self._osd_lines: dict[tuple[str, int], tuple[Any, Any, tuple[str, ...]]] = {}
        self._osd_pgs: dict[tuple[str, int], tuple[Any, str]] = {}
        self._osd_stats: dict[tuple[str, int], tuple[tuple[str, ...], tuple[Any, ...], tuple[str, ...]]] = {}
        self._stats_changes = 0
        self._pool_pgs: dict[tuple[str, str], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
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
                           gauge("ceph_osd_crush_weight", "OSD CRUSH weight", OSD_LABELS),
                           gauge("ceph_osd_metadata", "OSD metadata", OSD_METADATA_LABELS))
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

    def render(self) -> Sections:
        """Bring every part up to date and return them; call with `lock` held, and read the
        sections before letting it go."""
        service = self.service
        with service.lock:  # copy references only; rows are replaced, never mutated
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
            s.put("cluster", clusters, self._cluster_text(clusters))
        if not s.current("osd_state", (osd_gen, server_gen)):
            s.put("osd_state", (osd_gen, server_gen), self._osd_state_text(osds, servers, osd_servers))
        if not s.current("osd_pgs", (osd_gen, pgs)):
            s.put("osd_pgs", (osd_gen, pgs), self._osd_pgs_text(osds, held))
        stats = self._osd_stats_text(osds, latest)  # no cheaper key: the newest points move on their own
        if not s.current("osd_stats", (osd_gen, self._stats_changes)):
            s.put("osd_stats", (osd_gen, self._stats_changes), stats())
        if not s.current("pool_metadata", pool_gen):
            s.put("pool_metadata", pool_gen, self._pool_metadata_text(pools))
        if not s.current("pool_df", (pool_gen, dfs)):
            s.put("pool_df", (pool_gen, dfs), self._pool_df_text(pools, held))
        if not s.current("pgs", (pool_gen, pgs)):
            s.put("pgs", (pool_gen, pgs), self._pgs_text(clusters, pools, held))
        if not s.current("usage", dfs):
            s.put("usage", dfs, self._usage_text(held))
        calamari = self._calamari_text(clusters)
        if not s.current("calamari", calamari):
            s.put("calamari", calamari, calamari)
        s.keep_only(("cluster", "osd_state", "osd_pgs", "osd_stats", "pool_metadata", "pool_df", "pgs", "usage",
                     "calamari"))
        return s

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    # ---------------------------------------------------------------- parts

    def _cluster_text(self, clusters: dict[str, dict[str, Any]]) -> str:
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
        return "".join([status.text(status_lines), detail.text(detail_lines),
                        *(family.text(flag_lines[flag]) for flag, family in self._flags.items()),
                        quorum.text(quorum_lines), mon_metadata.text(mon_lines)])

    def _osd_state_text(self, osds: dict[str, list[dict[str, Any]]], servers: dict[str, Any],
                        osd_servers: dict[tuple[str, int], str]) -> str:
        lines: list[list[str]] = [[] for _ in self._osd_state]
        cache, kept = self._osd_lines, {}
        for fsid, rows in osds.items():
            for row in rows:
                key = (fsid, row["id"])
                server = servers.get(osd_servers.get(key, row.get("server") or ""), _NO_SERVER)
                entry = cache.get(key)
                if entry is None or entry[0] is not row or entry[1] is not server:
                    entry = (row, server, self._osd_state_lines(fsid, row, server))
                kept[key] = entry
                for family_lines, line in zip(lines, entry[2], strict=True):
                    family_lines.append(line)
        self._osd_lines = kept
        return "".join(family.text(family_lines) for family, family_lines in zip(self._osd_state, lines, strict=True))

    def _osd_state_lines(self, fsid: str, row: dict[str, Any], server: Any) -> tuple[str, ...]:
        up, in_, weight, crush_weight, metadata = self._osd_state
        key = [fsid, f"osd.{row['id']}"]
        return (up.line(key, 1 if row["up"] else 0), in_.line(key, 1 if row["in"] else 0),
                weight.line(key, row["reweight"] or 0.0), crush_weight.line(key, row["crush_weight"] or 0.0),
                metadata.line([*key, str(row.get("server") or ""), str(row.get("device_class") or ""),
                               str(row.get("objectstore") or ""), str(row.get("public_addr") or ""),
                               str(row.get("cluster_addr") or ""), str(server.get("frontend_iface") or ""),
                               str(server.get("backend_iface") or ""), str(row.get("ceph_version") or "")], 1))

    def _osd_pgs_text(self, osds: dict[str, list[dict[str, Any]]], held: dict[str, dict[str, Any]]) -> str:
        lines = []
        cache, kept = self._osd_pgs, {}
        for fsid, rows in osds.items():
            pg = held.get(fsid, {}).get("pg_summary")
            by_osd = (pg[1].get("by_osd") or {}) if pg else {}
            if not by_osd:
                continue
            for row in rows:
                key = (fsid, row["id"])
                counts = by_osd.get(str(row["id"]), {})
                entry = cache.get(key)
                if entry is None or entry[0] != counts:
                    entry = (counts, self._numpg.line([fsid, f"osd.{row['id']}"], sum(counts.values())))
                kept[key] = entry
                lines.append(entry[1])
        self._osd_pgs = kept
        return self._numpg.text(lines)

    def _osd_stats_text(self, osds: dict[str, list[dict[str, Any]]], latest: dict[str, Any]) -> Any:
        """Brings the per-OSD lines up to date (counting a change in `_stats_changes`); returns
        what joins them, called only when something changed."""
        stat_bytes, stat_used, apply_latency, commit_latency = self._osd_stat
        cache, kept = self._osd_stats, {}
        changed = False
        for fsid, rows in osds.items():
            prefix = f"ceph.cluster.{fsid}.osd."
            for row in rows:
                key = (fsid, row["id"])
                entry = cache.get(key)
                names = entry[0] if entry is not None else tuple(
                    f"{prefix}{row['id']}.{stat}" for stat in ("kb_used", "kb_avail", "apply_latency_ms",
                                                               "commit_latency_ms"))
                points = tuple(latest.get(name) for name in names)
                if entry is None or entry[1] != points:
                    changed = True
                    used, avail, applied, committed = points
                    labels = [fsid, f"osd.{row['id']}"]
                    entry = (names, points, (
                        stat_bytes.line(labels, (used[1] + avail[1]) * 1024) if used and avail else "",
                        stat_used.line(labels, used[1] * 1024) if used else "",
                        apply_latency.line(labels, applied[1]) if applied else "",
                        commit_latency.line(labels, committed[1]) if committed else ""))
                kept[key] = entry
        if changed or len(kept) != len(cache):
            self._stats_changes += 1
        self._osd_stats = kept
        entries = list(kept.values())
        return lambda: "".join(family.text(entry[2][i] for entry in entries)
                               for i, family in enumerate(self._osd_stat))

    def _pool_metadata_text(self, pools: dict[str, list[dict[str, Any]]]) -> str:
        family = self._pool_metadata
        return family.text(
            family.line([fsid, str(row["id"]), row["name"], "erasure" if row.get("type") in ("erasure", 3)
                         else "replicated", kind_description(row), ""], 1)
            for fsid, rows in pools.items() for row in rows)

    def _pool_df_text(self, pools: dict[str, list[dict[str, Any]]], held: dict[str, dict[str, Any]]) -> str:
        gauge_lines: dict[str, list[str]] = {stat: [] for stat in POOL_GAUGES}
        counter_lines: dict[str, list[str]] = {stat: [] for stat in POOL_COUNTERS}
        for fsid, rows in pools.items():
            df = held.get(fsid, {}).get("df")
            known = {row["id"] for row in rows}
            for entry in (df[1].get("pools") or []) if df else []:
                if entry.get("id") not in known:
                    continue  # deleted since this df was taken
                labels = [fsid, str(entry["id"])]
                stats = entry.get("stats") or {}
                for stat, family in self._pool_gauges.items():
                    if isinstance(stats.get(stat), int | float):
                        gauge_lines[stat].append(family.line(labels, stats[stat]))
                for stat, family in self._pool_counters.items():
                    if isinstance(stats.get(stat), int | float):
                        counter_lines[stat].append(family.line(labels, stats[stat]))
        return "".join([*(family.text(gauge_lines[stat]) for stat, family in self._pool_gauges.items()),
                        *(family.text(counter_lines[stat]) for stat, family in self._pool_counters.items())])

    def _pgs_text(self, clusters: dict[str, Any], pools: dict[str, list[dict[str, Any]]],
                  held: dict[str, dict[str, Any]]) -> str:
        per_pool: list[tuple[str, str, dict[str, int]]] = []
        states = list(PG_STATES)
        for fsid in clusters:
            pg = held.get(fsid, {}).get("pg_summary")
            if pg is None:
                continue
            by_pool: dict[str, dict[str, int]] = pg[1].get("by_pool") or {}
            pool_ids = {str(row["id"]) for row in pools.get(fsid, [])} | set(by_pool)
            for pool_id in sorted(pool_ids, key=lambda p: int(p) if _small_int(p) else 0):
                counts = by_pool.get(pool_id) or {}
                per_pool.append((fsid, pool_id, counts))
                for state in counts:
                    for part in state.split("+"):
                        if part not in states:  # a state newer than this list: still shown
                            states.append(part)
        families = tuple(gauge(f"ceph_pg_{metric_name(state)}", f"PGs in state {state}, per pool", POOL_LABELS)
                         for state in states)
        names = tuple(states)
        cache, kept = self._pool_pgs, {}
        lines: list[list[str]] = [[] for _ in range(len(families) + 1)]
        for fsid, pool_id, counts in per_pool:
            key = (fsid, pool_id)
            entry = cache.get(key)
            if entry is None or entry[0] != counts or entry[1] != names:
                entry = (counts, names, self._pool_pg_lines(fsid, pool_id, counts, families, names))
            kept[key] = entry
            for family_lines, line in zip(lines, entry[2], strict=True):
                family_lines.append(line)
        self._pool_pgs = kept
        return "".join(family.text(family_lines) for family, family_lines
                       in zip((*families, self._pg_total), lines, strict=True))

    def _pool_pg_lines(self, fsid: str, pool_id: str, counts: dict[str, int], families: tuple[Family, ...],
                       names: tuple[str, ...]) -> tuple[str, ...]:
        parts: dict[str, int] = {}
        for state, count in counts.items():
            for part in state.split("+"):  # "active+clean" counts for active and for clean
                parts[part] = parts.get(part, 0) + count
        labels = [fsid, pool_id]
        return (*(family.line(labels, parts.get(name, 0)) for family, name in zip(families, names, strict=True)),
                self._pg_total.line(labels, sum(counts.values())))

    def _usage_text(self, held: dict[str, dict[str, Any]]) -> str:
        lines: dict[str, list[str]] = {key: [] for key in CLUSTER_DF}
        for fsid, objects in held.items():
            df = objects.get("df")
            stats = (df[1].get("stats") or {}) if df else {}
            for key, family in self._usage.items():
                if isinstance(stats.get(key), int | float):
                    lines[key].append(family.line([fsid], stats[key]))
        return "".join(family.text(lines[key]) for key, family in self._usage.items())

    def _calamari_text(self, clusters: dict[str, Any]) -> str:
        text = [self._stale.text(self._stale.line([fsid], 1 if row.get("stale") else 0)
                                 for fsid, row in clusters.items())]
        writer = self.writer
        if writer is not None:
            for name, documentation, value in (
                ("calamari_timeseries_points_written", "Metric points written to whisper", writer.written),
                ("calamari_timeseries_points_rejected", "Metric points rejected (bad name or value)", writer.rejected),
                ("calamari_timeseries_points_dropped", "Metric points dropped while the writer was behind",
                 writer.dropped),
            ):
                # a counter family <name> has one sample, <name>_total
                counter = Family(name + "_total", documentation, "counter", [])
                text.append(counter.text([counter.line([], value)]))
        return "".join(text)


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
        found = MetricsRenderer(config["SERVICE"], config.get("TIMESERIES"), config.get("TIMESERIES_WRITER"))
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
        body = sections.body()
        gzipped = sections.gzip() if accepts_gzip() and len(body) >= MIN_SIZE else None
    # the classic 0.0.4 text format: what generate_latest writes and every Prometheus version reads
    response = Response(gzipped if gzipped is not None else body, content_type=CONTENT_TYPE_PLAIN_0_0_4,
                        headers={"ETag": tag})
    if gzipped is not None:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response
