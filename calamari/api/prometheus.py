"""/metrics in the Prometheus text format: each known cluster's current figures, named like the
Ceph mgr prometheus module's metrics so existing dashboards and alerts apply, with an `fsid`
label on every sample so several clusters can be told apart.

Everything comes from memory: the projections (service.view), the newest held sync objects
(`df`, `pg_summary`) and the time-series writer's newest points (per-OSD usage and latency).
Nothing reads the event store or whisper files here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from calamari.domain.documents import osd_server_fqdns

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


class ClusterCollector(Collector):
    """A prometheus_client collector that renders the service's in-memory state on each scrape."""

    def __init__(self, service: Any, timeseries: Any = None, writer: Any = None) -> None:
        self.service = service
        self.timeseries = timeseries  # a WhisperStore: its `latest` points, never its files
        self.writer = writer

    def collect(self) -> Iterator[Metric]:
        with self.service.lock:  # copy references only; rows are replaced, never mutated
            view = self.service.view
            clusters = dict(view.clusters)
            osds = {fsid: list(rows.values()) for fsid, rows in view.osds.items()}
            pools = {fsid: list(rows.values()) for fsid, rows in view.pools.items()}
            servers = dict(view.servers)
            held = {fsid: {name: self.service.model.held.get(fsid, {}).get(name)
                           for name in ("df", "pg_summary")} for fsid in clusters}
        latest = self.timeseries.latest if self.timeseries is not None else {}
        yield from self._health(clusters)
        yield from self._mons(clusters)
        yield from self._osds(clusters, osds, servers, held, latest)
        yield from self._pools(pools, held)
        yield from self._pgs(clusters, pools, held)
        yield from self._usage(held)
        yield from self._calamari(clusters)

    @staticmethod
    def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=labels)

    def _health(self, clusters: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        status = self._gauge("ceph_health_status", "Cluster health status (0 OK, 1 WARN, 2 ERR)", ["fsid"])
        detail = self._gauge("ceph_health_detail", "Active health checks (1 while raised)",
                             ["fsid", "name", "severity"])
        flags = {flag: self._gauge(f"ceph_osd_flag_{metric_name(flag)}", f"OSD flag {flag}", ["fsid"])
                 for flag in OSD_FLAGS}
        for fsid, row in clusters.items():
            status.add_metric([fsid], HEALTH_CODES.get(row["health"]["status"], 2))
            for code, check in sorted(row["health"]["checks"].items()):
                detail.add_metric([fsid, code, check.get("severity", "")], 1)
            for flag, family in flags.items():
                family.add_metric([fsid], 1 if flag in (row.get("flags") or []) else 0)
        yield status
        yield detail
        yield from flags.values()

    def _mons(self, clusters: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        quorum = self._gauge("ceph_mon_quorum_status", "Monitors in quorum", ["fsid", "ceph_daemon"])
        metadata = self._gauge("ceph_mon_metadata", "Monitor metadata",
                               ["fsid", "ceph_daemon", "rank", "public_addr"])
        for fsid, row in clusters.items():
            in_quorum = set(row.get("quorum") or [])
            for mon in row.get("mons") or []:
                daemon = f"mon.{mon['name']}"
                quorum.add_metric([fsid, daemon], 1 if mon["name"] in in_quorum else 0)
                metadata.add_metric([fsid, daemon, str(mon.get("rank", "")), str(mon.get("addr") or "")], 1)
        yield quorum
        yield metadata

    def _osds(self, clusters: dict[str, Any], osds: dict[str, list[dict[str, Any]]], servers: dict[str, Any],
              held: dict[str, dict[str, Any]], latest: dict[str, tuple[int, float]]) -> Iterator[Metric]:
        labels = ["fsid", "ceph_daemon"]
        up = self._gauge("ceph_osd_up", "OSD up (1) or down (0)", labels)
        in_ = self._gauge("ceph_osd_in", "OSD in (1) or out (0)", labels)
        weight = self._gauge("ceph_osd_weight", "OSD reweight (0..1)", labels)
        crush_weight = self._gauge("ceph_osd_crush_weight", "OSD CRUSH weight", labels)
        metadata = self._gauge("ceph_osd_metadata", "OSD metadata",
                               ["fsid", "ceph_daemon", "hostname", "device_class", "objectstore", "public_addr",
                                "cluster_addr", "front_iface", "back_iface", "ceph_version"])
        numpg = self._gauge("ceph_osd_numpg", "PGs whose acting set holds the OSD", labels)
        stat_bytes = self._gauge("ceph_osd_stat_bytes", "OSD capacity in bytes", labels)
        stat_used = self._gauge("ceph_osd_stat_bytes_used", "OSD bytes used", labels)
        apply_latency = self._gauge("ceph_osd_apply_latency_ms", "OSD apply latency (ms)", labels)
        commit_latency = self._gauge("ceph_osd_commit_latency_ms", "OSD commit latency (ms)", labels)
        for fsid, rows in osds.items():
            if fsid not in clusters:
                continue
            pg = held.get(fsid, {}).get("pg_summary")
            by_osd = (pg[1].get("by_osd") or {}) if pg else {}
            prefix = f"ceph.cluster.{fsid}.osd."
            server_fqdns = osd_server_fqdns(servers.values(), fsid)
            for row in rows:
                daemon = f"osd.{row['id']}"
                key = [fsid, daemon]
                up.add_metric(key, 1 if row["up"] else 0)
                in_.add_metric(key, 1 if row["in"] else 0)
                weight.add_metric(key, row["reweight"] or 0.0)
                crush_weight.add_metric(key, row["crush_weight"] or 0.0)
                server = servers.get(server_fqdns.get(row["id"], row.get("server") or ""), {})
                metadata.add_metric([fsid, daemon, str(row.get("server") or ""), str(row.get("device_class") or ""),
                                     str(row.get("objectstore") or ""), str(row.get("public_addr") or ""),
                                     str(row.get("cluster_addr") or ""), str(server.get("frontend_iface") or ""),
                                     str(server.get("backend_iface") or ""), str(row.get("ceph_version") or "")], 1)
                if by_osd:
                    numpg.add_metric(key, sum(by_osd.get(str(row["id"]), {}).values()))
                used = latest.get(f"{prefix}{row['id']}.kb_used")
                avail = latest.get(f"{prefix}{row['id']}.kb_avail")
                if used is not None:
                    stat_used.add_metric(key, used[1] * 1024)
                    if avail is not None:
                        stat_bytes.add_metric(key, (used[1] + avail[1]) * 1024)
                for name, family in (("apply_latency_ms", apply_latency), ("commit_latency_ms", commit_latency)):
                    point = latest.get(f"{prefix}{row['id']}.{name}")
                    if point is not None:
                        family.add_metric(key, point[1])
        yield from (up, in_, weight, crush_weight, metadata, numpg, stat_bytes, stat_used, apply_latency,
                    commit_latency)

    def _pools(self, pools: dict[str, list[dict[str, Any]]], held: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        metadata = self._gauge("ceph_pool_metadata", "Pool metadata",
                               ["fsid", "pool_id", "name", "type", "description", "compression_mode"])
        gauges = {stat: self._gauge(f"ceph_pool_{stat}", f"Pool {stat} (ceph df detail)", ["fsid", "pool_id"])
                  for stat in POOL_GAUGES}
        counters = {stat: Metric(f"ceph_pool_{stat}", f"Pool {stat} since creation (ceph df detail)", "unknown")
                    for stat in POOL_COUNTERS}
        for fsid, rows in pools.items():
            if fsid not in held:
                continue
            for row in rows:
                kind = row.get("type")
                metadata.add_metric([fsid, str(row["id"]), row["name"],
                                     "erasure" if kind in ("erasure", 3) else "replicated",
                                     kind_description(row), ""], 1)
            df = held[fsid].get("df")
            known = {row["id"] for row in rows}
            for entry in (df[1].get("pools") or []) if df else []:
                if entry.get("id") not in known:
                    continue  # deleted since this df was taken
                key = [fsid, str(entry["id"])]
                stats = entry.get("stats") or {}
                for stat, family in gauges.items():
                    if isinstance(stats.get(stat), int | float):
                        family.add_metric(key, stats[stat])
                for stat, metric in counters.items():
                    if isinstance(stats.get(stat), int | float):
                        metric.add_sample(metric.name, {"fsid": fsid, "pool_id": key[1]}, stats[stat])
        yield metadata
        yield from gauges.values()
        yield from counters.values()

    def _pgs(self, clusters: dict[str, Any], pools: dict[str, list[dict[str, Any]]],
             held: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {
            state: self._gauge(f"ceph_pg_{state}", f"PGs in state {state}, per pool", ["fsid", "pool_id"])
            for state in PG_STATES}
        total = self._gauge("ceph_pg_total", "PGs per pool", ["fsid", "pool_id"])
        for fsid in clusters:
            pg = held.get(fsid, {}).get("pg_summary")
            if pg is None:
                continue
            by_pool: dict[str, dict[str, int]] = pg[1].get("by_pool") or {}
            pool_ids = {str(row["id"]) for row in pools.get(fsid, [])} | set(by_pool)
            for pool_id in sorted(pool_ids, key=lambda p: int(p) if _small_int(p) else 0):
                counts: dict[str, int] = {}
                for state, count in (by_pool.get(pool_id) or {}).items():
                    for part in state.split("+"):  # "active+clean" counts for active and for clean
                        counts[part] = counts.get(part, 0) + count
                for part in counts:
                    if part not in families:  # a state newer than this list: still shown
                        families[part] = self._gauge(f"ceph_pg_{metric_name(part)}", f"PGs in state {part}, per pool",
                                                     ["fsid", "pool_id"])
                for state, family in families.items():
                    family.add_metric([fsid, pool_id], counts.get(state, 0))
                total.add_metric([fsid, pool_id], sum((by_pool.get(pool_id) or {}).values()))
        yield from families.values()
        yield total

    def _usage(self, held: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        families = {key: self._gauge(f"ceph_cluster_{key}", f"Cluster {key.replace('_', ' ')} (ceph df)", ["fsid"])
                    for key in CLUSTER_DF}
        for fsid, objects in held.items():
            df = objects.get("df")
            stats = (df[1].get("stats") or {}) if df else {}
            for key, family in families.items():
                if isinstance(stats.get(key), int | float):
                    family.add_metric([fsid], stats[key])
        yield from families.values()

    def _calamari(self, clusters: dict[str, Any]) -> Iterator[Metric]:
        stale = self._gauge("calamari_cluster_stale", "1 while no collector reports for the cluster", ["fsid"])
        for fsid, row in clusters.items():
            stale.add_metric([fsid], 1 if row.get("stale") else 0)
        yield stale
        writer = self.writer
        if writer is not None:
            for name, doc, value in (
                ("calamari_timeseries_points_written", "Metric points written to whisper", writer.written),
                ("calamari_timeseries_points_rejected", "Metric points rejected (bad name or value)", writer.rejected),
                ("calamari_timeseries_points_dropped", "Metric points dropped while the writer was behind",
                 writer.dropped),
            ):
                counter = CounterMetricFamily(name, doc)
                counter.add_metric([], value)
                yield counter


def _small_int(text: str) -> bool:
    """Digits int() takes: isdigit() alone also takes '²', and int() refuses thousands of digits."""
    return text.isascii() and text.isdigit() and len(text) < 19


def kind_description(row: dict[str, Any]) -> str:
    """The mgr's `description` label: 'replica:3' or 'ec:<profile>'."""
    if row.get("type") in ("erasure", 3):
        return f"ec:{row.get('erasure_code_profile') or ''}"
    return f"replica:{row.get('size')}"


def metrics_registry(service: Any, timeseries: Any = None, writer: Any = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ClusterCollector(service, timeseries, writer))
    return registry


@blueprint.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions.get("calamari_prometheus")
    if registry is None:
        config = current_app.config
        registry = metrics_registry(config["SERVICE"], config.get("TIMESERIES"), config.get("TIMESERIES_WRITER"))
        current_app.extensions["calamari_prometheus"] = registry
    # the classic 0.0.4 text format: what generate_latest writes and every Prometheus version reads
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
