"""What the collector agent needs from a cluster: the real one (CephSource), the simulator
(SimulatedCluster) and recorded captures (ReplaySource) all provide this."""

from __future__ import annotations

from typing import Any, Protocol

SyncVersion = int | str


class ClusterSource(Protocol):
    fsid: str | None
    hostname: str  # the host the collector speaks for in envelopes

    def poll(self) -> dict[str, tuple[SyncVersion, Any]]:
        """Sync objects whose version changed since the previous poll: name -> (version, data)."""

    def current(self, name: str) -> tuple[SyncVersion, Any] | None:
        """The newest full sync object (to answer a resync)."""

    def cluster_log(self) -> list[dict[str, Any]]:
        """Cluster log entries not reported yet (`ceph log last` format)."""

    def server_facts(self) -> list[tuple[str, dict[str, Any]]]:
        """(host, facts) for every host this source reports on."""

    def stats(self) -> list[tuple[str, list[list[Any]]]]:
        """(host, [[metric, ts, value], ...]) for every host this source reports on."""

    def reporting_hosts(self) -> list[str]:
        """Hosts to send heartbeats for (the simulator speaks for many)."""

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon") -> tuple[int, Any, str]:
        """Run a Ceph command: (rc, output, error text)."""

    def close(self) -> None: ...
