"""What the collector agent needs from a cluster: the real one (CephSource), the simulator
(SimulatedCluster) and recorded captures (ReplaySource) all provide this."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from collector.logs import HostLogs

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

    def execute(self, prefix: str, args: dict[str, Any], target: str = "mon",
                input: str | None = None) -> tuple[int, Any, str]:  # noqa: A002 - the protocol's name
        """Run a Ceph command, with `input` as its input data if given: (rc, output, error text)."""

    def host_logs(self, host: str) -> HostLogs | None:
        """The Ceph log files of `host` (by host name or fqdn), None for a host it has none of."""

    def close(self) -> None: ...


@runtime_checkable
class VersionChecking(Protocol):
    """A source with a cheap read of its version stamps, which the agent runs between polls, many
    times a second (CephSource: one `status`); polls then do the costlier rest."""

    def check(self) -> dict[str, tuple[SyncVersion, Any]]:
        """Like poll(), from the version stamps alone: sync objects whose version changed."""


@runtime_checkable
class Notifying(Protocol):
    """A source told of new maps as they come (CephSource with the calamari_notify mgr module):
    the agent waits on `notify_fileno()` with its socket and then calls `notified()`."""

    def notify_fileno(self) -> int | None:
        """A file descriptor readable when something was announced; None: the source has none."""

    def notified(self) -> dict[str, tuple[SyncVersion, Any]]:
        """Like check(), for the maps announced: sync objects whose version changed."""

    def announced_maps_sent(self) -> bool:
        """Whether everything announced since the last notified() came with its map, signed with
        the key handed to the server: a server that takes such maps has them already."""

    def mgr_push_key(self) -> bytes | None:
        """The key the mgr module signs the maps it sends with, once read from Ceph and while
        its channel is up and its maps check out; None otherwise. The agent hands it to the
        server, which then takes those maps straight from the module (docs/mgr-module.md)."""


class ReportTracker:
    """What a source has already reported: the version of each sync object, and the cluster log
    entries seen (bounded, oldest forgotten first), so each poll says only what is new."""

    def __init__(self, log_memory: int = 1000) -> None:
        self._versions: dict[str, SyncVersion] = {}
        self._seen_log: dict[tuple[Any, ...], None] = {}
        self._log_memory = log_memory

    def reported_version(self, name: str) -> SyncVersion | None:
        """The version of the sync object last reported (None: never reported)."""
        return self._versions.get(name)

    def changed(self, current: dict[str, tuple[SyncVersion, Any]]) -> dict[str, tuple[SyncVersion, Any]]:
        result = {}
        for name, (version, data) in current.items():
            if self._versions.get(name) != version:
                self._versions[name] = version
                result[name] = (version, data)
        return result

    def new_log_entries(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = []
        for entry in entries:
            key = (entry.get("stamp"), entry.get("seq"), entry.get("name"))
            if key not in self._seen_log:
                self._seen_log[key] = None
                new.append(entry)
        while len(self._seen_log) > self._log_memory:
            self._seen_log.pop(next(iter(self._seen_log)))
        return new
