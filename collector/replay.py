"""Recorded captures as a collector source: DIR holds one sub-folder per step (name order) with
files named as Ceph commands were captured (`osd_dump.json`, `health_detail.json`, ...)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collector import host as host_info
from collector.ceph_shapes import (
    cluster_points,
    content_hash,
    facts_for_remote_host,
    host_services,
    pg_summary_from_dumps,
)
from collector.logs import HostLogs
from collector.source import ReportTracker


def _load(step: Path, filename: str) -> Any:
    path = step / filename
    if not path.is_file():
        return None
    text = path.read_text()
    return json.loads(text) if text.strip() else None


def sync_objects_of_step(step: Path) -> dict[str, tuple[Any, Any]]:
    """The sync objects a live collector would have produced from one capture step."""
    objects: dict[str, tuple[Any, Any]] = {}
    osd_map = _load(step, "osd_dump.json")
    if osd_map is not None:
        objects["osd_map"] = (int(osd_map["epoch"]), osd_map)
        crush = _load(step, "osd_crush_dump.json")
        if crush is not None:
            objects["crush_map"] = (int(osd_map.get("crush_version", 0)), crush)
    mon_map = _load(step, "mon_dump.json")
    if mon_map is not None:
        objects["mon_map"] = (int(mon_map["epoch"]), mon_map)
    quorum = _load(step, "quorum_status.json")
    if quorum is not None:
        objects["mon_status"] = (int(quorum["election_epoch"]), quorum)
    fs_map = _load(step, "fs_dump.json")
    if fs_map is not None:
        objects["fs_map"] = (int(fs_map["epoch"]), fs_map)
    health = _load(step, "health_detail.json")
    if health is not None:
        objects["health"] = (content_hash(health), health)
    summary_dump = _load(step, "pg_summary.json")
    brief = _load(step, "pg_pgs_brief.json")
    status = _load(step, "status.json")
    if summary_dump is not None and brief is not None:
        summary = pg_summary_from_dumps(summary_dump, brief, status)
        objects["pg_summary"] = (summary["version"], summary)
        df = _load(step, "df_detail.json")
        if df is not None:
            objects["df"] = (summary["version"], df)
    config = _load(step, "config_dump.json")
    if config is not None:
        objects["config"] = (content_hash(config), config)
    metadata = _load(step, "osd_metadata.json")
    if metadata is not None:
        objects["osd_metadata"] = (content_hash(metadata), metadata)
    return objects


class ReplaySource:
    """Sends one capture step per `interval` seconds, then stays at the last step."""

    def __init__(self, directory: str | Path, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = Path(directory)
        self.steps = sorted(p for p in self.directory.iterdir() if p.is_dir())
        if not self.steps:
            raise ValueError(f"{directory} has no capture steps (sub-folders)")
        self.interval = interval
        self._clock = clock
        self.step_index = -1
        self._next_step_at = 0.0
        self._current: dict[str, tuple[Any, Any]] = {}
        self._reports = ReportTracker()
        first = sync_objects_of_step(self.steps[0])
        osd_map = first.get("osd_map", (None, {}))[1]
        status = _load(self.steps[0], "status.json") or {}
        self.fsid: str | None = osd_map.get("fsid") or status.get("fsid")
        node_ls = _load(self.steps[0], "node_ls.json") or {}
        hosts = sorted({host for kind in node_ls.values() for host in (kind or {})})
        self.hosts = hosts or [host_info.hostname()]
        self.hostname = self.hosts[0]

    @property
    def done(self) -> bool:
        return self.step_index >= len(self.steps) - 1

    @property
    def step(self) -> Path:
        return self.steps[max(0, self.step_index)]

    def poll(self) -> dict[str, tuple[Any, Any]]:
        now = self._clock()
        if not self.done and now >= self._next_step_at:
            self.step_index += 1
            self._next_step_at = now + self.interval
            self._current.update(sync_objects_of_step(self.step))
        return self._reports.changed(self._current)

    def current(self, name: str) -> tuple[Any, Any] | None:
        return self._current.get(name)

    def cluster_log(self) -> list[dict[str, Any]]:
        entries = _load(self.step, "log_last.json") or []
        return self._reports.new_log_entries(entries)

    def reporting_hosts(self) -> list[str]:
        return list(self.hosts)

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        node_ls = _load(self.step, "node_ls.json") or {}
        metadata = self._current.get("osd_metadata", (None, []))[1] or []
        quorum = self._current.get("mon_status", (None, {}))[1] or {}
        facts = []
        for host in self.hosts:
            services = host_services(
                host, self.fsid or "", node_ls=node_ls,
                osd_map=self._current.get("osd_map", (None, None))[1],
                osd_metadata=metadata, quorum_names=quorum.get("quorum_names"),
            )
            facts.append((host, facts_for_remote_host(host, services, metadata)))
        return facts

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        points = cluster_points(
            self.fsid or "", time.time(),
            df=_load(self.step, "df_detail.json"), status=_load(self.step, "status.json"),
            osd_perf=_load(self.step, "osd_perf.json"), osd_df=_load(self.step, "osd_df.json"),
        )
        return [(self.hostname, points)]

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> tuple[int, Any, str]:  # noqa: A002 - the protocol's name
        return -95, "", "a replayed cluster does not execute commands"  # EOPNOTSUPP

    def host_logs(self, host: str) -> HostLogs | None:
        return None  # captures hold no log files

    def close(self) -> None:
        return None
