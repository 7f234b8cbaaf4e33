"""A ClusterSink for tests of the bus: keeps what it is given and records every call."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from calamari.protocol import version_is_newer
from calamari.service.sink import InvalidMap


class RecordingSink:
    def __init__(self, require_osd_map_fields: bool = True) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.command_results: list[tuple[str, int, Any, str]] = []
        self.heartbeats: list[tuple[str | None, str]] = []
        self.facts: list[tuple[str | None, dict[str, Any]]] = []
        self.log_lines: list[dict[str, Any]] = []
        self.contact_checks = 0
        self.push_keys: dict[str, bytes] = {}
        self.takes_maps = False  # what takes_mgr_maps answers
        self.require_osd_map_fields = require_osd_map_fields

    def on_sync_object(
        self, fsid: str, name: str, version: Any, data: Any, at: datetime, host: str
    ) -> bool:
        with self.lock:
            held = self.objects.get((fsid, name))
            if held is not None and not version_is_newer(version, held[0]):
                return False
            if name == "osd_map" and self.require_osd_map_fields:
                # the real model validates contents; this is the minimum a map must have
                if not isinstance(data, dict) or not isinstance(data.get("osds"), list):
                    raise InvalidMap(name, "osds", "missing")
                if data.get("epoch") != version:
                    raise InvalidMap(name, "epoch", "does not match the version")
            self.objects[(fsid, name)] = (version, data)
            self.calls.append(("on_sync_object", (fsid, name, version)))
            return True

    def sync_versions(self, fsid: str) -> dict[str, Any]:
        with self.lock:
            return {name: held[0] for (f, name), held in self.objects.items() if f == fsid}

    def sync_object(self, fsid: str, name: str) -> tuple[Any, Any] | None:
        with self.lock:
            return self.objects.get((fsid, name))

    def on_server_facts(self, fsid: str | None, facts: dict[str, Any], at: datetime) -> None:
        with self.lock:
            self.facts.append((fsid, facts))
            self.calls.append(("on_server_facts", (fsid, facts.get("hostname"))))

    def on_heartbeat(self, fsid: str | None, host: str, at: datetime) -> None:
        with self.lock:
            self.heartbeats.append((fsid, host))

    def takes_mgr_maps(self, fsid: str) -> bool:
        return self.takes_maps

    def on_mgr_push_key(self, fsid: str, key: bytes) -> None:
        with self.lock:
            self.push_keys[fsid] = key

    def check_contact(self, now: datetime, timeout_s: float) -> None:
        with self.lock:
            self.contact_checks += 1

    def on_command_result(self, request_id: str, rc: int, out: Any, err: str, at: datetime) -> None:
        with self.lock:
            self.command_results.append((request_id, rc, out, err))
            self.calls.append(("on_command_result", (request_id, rc)))

    def on_cluster_log(self, fsid: str, lines: list[dict[str, Any]], at: datetime) -> None:
        with self.lock:
            self.log_lines.extend(lines)
            self.calls.append(("on_cluster_log", (fsid, len(lines))))

    def version(self, fsid: str, name: str) -> Any:
        held = self.sync_object(fsid, name)
        return None if held is None else held[0]

    def data(self, fsid: str, name: str) -> Any:
        held = self.sync_object(fsid, name)
        return None if held is None else held[1]


class UnreachableRecordingSink(RecordingSink):
    """A RecordingSink that also keeps which cluster a collector said it cannot reach, from which host."""

    def __init__(self) -> None:
        super().__init__()
        self.unreachable: list[tuple[str, str]] = []

    def on_cluster_unreachable(self, fsid: str, host: str, at: datetime) -> None:
        with self.lock:
            self.unreachable.append((fsid, host))
