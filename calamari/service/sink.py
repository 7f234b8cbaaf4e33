"""What the bus delivers to the model: the server-side contract between the ZeroMQ adapter and the
event-sourced model service. The bus validates envelopes; the sink validates map contents."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from calamari.domain.maps import InvalidMap

SyncVersion = int | str

__all__ = ["ClusterSink", "InvalidMap", "SyncVersion"]


class ClusterSink(Protocol):
    def on_sync_object(
        self, fsid: str, name: str, version: SyncVersion, data: Any, at: datetime, host: str
    ) -> bool:
        """Apply a full sync object. Returns False when the version is not newer than the one held
        (ignored). Raises InvalidMap when its content is malformed (nothing is changed)."""

    def sync_versions(self, fsid: str) -> dict[str, SyncVersion]:
        """The versions of the sync objects held for a cluster (what the server acknowledges)."""

    def sync_object(self, fsid: str, name: str) -> tuple[SyncVersion, Any] | None:
        """The newest full sync object held (the base a delta applies to)."""

    def sync_wanted(self, fsid: str, versions: dict[str, SyncVersion]) -> list[str]:
        """Optional: the names among a collector's versions that would be applied (the bus asks
        for those again). Without it the bus asks for every version newer than sync_versions."""

    def on_server_facts(self, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
        """Host facts from a collector (hostname, fqdn, services, ...)."""

    def on_heartbeat(self, fsid: str | None, host: str, at: datetime) -> None:
        """A collector is alive; used for staleness / contact lost-regained."""

    def on_mgr_push_key(self, fsid: str, key: bytes) -> None:
        """Optional: the key cluster `fsid`'s calamari_notify module signs the maps it sends with,
        as that cluster's collector read it from Ceph (the server then takes signed maps straight
        from the module: calamari.service.mgr_announcements)."""

    def takes_mgr_maps(self, fsid: str) -> bool:
        """Optional: whether this server takes the maps cluster `fsid`'s calamari_notify module
        signs straight from it now (its key held, the module heard)."""

    def on_cluster_unreachable(self, fsid: str, host: str, at: datetime) -> None:
        """A collector is alive but cannot reach its cluster: the cluster is stale from now on,
        until a plain heartbeat says otherwise."""

    def check_contact(self, now: datetime, timeout_s: float) -> None:
        """Mark clusters stale and servers contact-lost when heartbeats stopped."""

    def on_command_result(
        self, request_id: str, rc: int, out: Any, err: str, at: datetime
    ) -> None:
        """The outcome of a command the server sent for a user request."""

    def on_cluster_log(self, fsid: str, lines: list[dict[str, Any]], at: datetime) -> None:
        """Cluster log entries (the format of `ceph log last -f json`)."""
