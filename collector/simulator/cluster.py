"""SimulatedCluster: a simulated cluster as a cluster source of the collector agent. It holds the
state under one lock, advances it a tick per poll and reports the sync objects whose version
changed, the cluster log, host facts, stats and log files; it runs commands sent to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from collector.logs import HostLogs
from collector.simulator import host_reports
from collector.simulator.ceph import SIM_DOMAIN, Reply
from collector.simulator.commands import run_command
from collector.simulator.logs import simulated_host_logs
from collector.simulator.pool import SimPool
from collector.simulator.spec import SimSpec
from collector.simulator.state import ClusterState
from collector.simulator.sync_objects import PERIODIC, all_sync_objects, cheap_versions, sync_object
from collector.simulator.ticks import tick
from collector.source import ReportTracker


class SimulatedCluster:
    """A cluster source for `collector.agent.Collector`; one call to `poll()` is one tick."""

    def __init__(self, spec: SimSpec | str, clock: Callable[[], float] = time.time) -> None:
        self.spec = SimSpec.parse(spec) if isinstance(spec, str) else spec
        self._lock = threading.RLock()
        self.state = ClusterState(self.spec, clock)
        self.fsid = self.state.fsid
        self.hosts = self.state.hosts
        self.hostname = self.hosts[0]
        self._reports = ReportTracker()

    # what tests and tools read of the state (all of it is in `state`)
    @property
    def pools(self) -> dict[int, SimPool]:
        return self.state.pools

    @property
    def host_osds(self) -> list[list[int]]:
        return self.state.host_osds

    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def crush_version(self) -> int:
        return self.state.crush.version

    @property
    def tick_count(self) -> int:
        return self.state.tick_count

    @property
    def num_pgs(self) -> int:
        return self.state.pgs.num_pgs

    @property
    def pg_version(self) -> int:
        return self.state.pgs.version

    # ------------------------------------------------------------------------- documents --
    def osd_map(self) -> dict[str, Any]:
        return self._document("osd_map")

    def crush_map(self) -> dict[str, Any]:
        return self._document("crush_map")

    def health(self) -> dict[str, Any]:
        return self._document("health")

    def pg_summary(self) -> dict[str, Any]:
        return self._document("pg_summary")

    def df(self) -> dict[str, Any]:
        return self._document("df")

    def mon_map(self) -> dict[str, Any]:
        return self._document("mon_map")

    def mon_status(self) -> dict[str, Any]:
        return self._document("mon_status")

    def fs_map(self) -> dict[str, Any]:
        return self._document("fs_map")

    def config(self) -> list[dict[str, Any]]:
        return self._document("config")

    def osd_metadata(self) -> tuple[str, list[dict[str, Any]]]:
        """(a hash of the OSDs' metadata, the metadata)."""
        with self._lock:
            return sync_object(self.state, "osd_metadata")

    def _document(self, name: str) -> Any:
        with self._lock:
            return sync_object(self.state, name)[1]

    # -------------------------------------------------------------------- source interface --
    def tick(self) -> None:
        """Advance the simulation by one step (OSD flaps, PG churn, IO and usage growth)."""
        with self._lock:
            tick(self.state)

    def sync_objects(self) -> dict[str, tuple[Any, Any]]:
        """Every sync object, current: name -> (version, data)."""
        with self._lock:
            return all_sync_objects(self.state)

    def poll(self) -> dict[str, tuple[Any, Any]]:
        """One tick, then the sync objects whose version changed since the previous poll."""
        with self._lock:
            state = self.state
            tick(state)
            # Objects whose versions are cheap to know are only built when they changed.
            stale = [name for name, version in cheap_versions(state).items()
                     if self._reports.reported_version(name) != version]
            current = {name: sync_object(state, name) for name in stale}
            if state.tick_count % 5 == 1:  # df and content-hashed objects every few ticks
                for name in PERIODIC:
                    current[name] = sync_object(state, name)
            elif "osd_map" in stale:
                current["health"] = sync_object(state, "health")
            return self._reports.changed(current)

    def current(self, name: str) -> tuple[Any, Any] | None:
        with self._lock:
            try:
                return sync_object(self.state, name)
            except KeyError:
                return None

    def cluster_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.state.log.take_new()

    def reporting_hosts(self) -> list[str]:
        return list(self.hosts)

    def host_logs(self, host: str) -> HostLogs | None:
        """The log files of a simulated host, named by host name or fqdn."""
        name = host.removesuffix(f".{SIM_DOMAIN}")
        if name not in self.hosts:
            return None
        with self._lock:
            return simulated_host_logs(self.state, self.hosts.index(name), self.state.log.history())

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return host_reports.server_facts(self.state)

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        """Points per reporting host; cluster-wide points are reported by the first host."""
        with self._lock:
            return host_reports.stats(self.state)

    def close(self) -> None:
        return None

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> Reply:  # noqa: A002 - the protocol's name
        """Run a Ceph command the way the mon/mgr would; returns (rc, out, err). `input`: the
        command's input data (for `osd setcrushmap`, the map's text, which the simulator reads
        instead of crushtool's binary)."""
        with self._lock:
            return run_command(self.state, prefix, args, input)
