"""The server's own ear on ceph-mgr: it listens to the calamari_notify module (docs/mgr-module.md)
as the collector does, for each new OSD or file system map as ceph-mgr takes it in.

- When the module says a map is coming (before it dumps it, about a millisecond in the mgr), reads
  of that cluster start waiting for a version newer than the model's (maps_coming.py), instead of
  answering with what is about to be stale.
- A map signed with the module's key, which the cluster's collector read from Ceph and handed over
  in its heartbeats, is taken into the model at once, as if the collector had sent it: the same
  checks, the same events. The collector's own copy of it, a moment later, is then only
  acknowledged. Four hand-overs between threads and processes fewer, on the path that decides how
  soon a change is seen.
- Any other map sent (no key yet, a signature that is not the module's) is not data: only its
  epoch is used, and reads wait for the collector's copy of that version.
At worst (a module that announces maps that never come) reads wait `COMING_WAIT_S` each time."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from calamari.service.sink import InvalidMap
from collector.ceph_mgr.calamari_notify import wire
from collector.mgr_notify import MapData, MgrNotifyListener, mgr_map_problem

log = logging.getLogger(__name__)

BAD_LINE_LOG_EVERY_S = 60.0


class MgrAnnouncements:
    """Listens to the modules at `endpoints` (the first that answers) and hands what they send to
    `service` (a ModelService): signed maps to take, other announcements to wait for."""

    def __init__(self, service: Any, endpoints: Sequence[tuple[str, int]]) -> None:
        self.service = service
        # taken on the listener's own thread as each line arrives: no hand-over to another thread
        self.listener = MgrNotifyListener(endpoints, None, on_announce=self.take, on_coming=self.coming)
        self._bad_logged_at = -BAD_LINE_LOG_EVERY_S
        self.taken = 0  # signed maps taken into the model
        self.expected = 0  # maps only waited for
        self.unreadable = 0
        self.unsigned = 0  # maps whose signature was not the module's, with a key known
        self.signature_failing = False  # the last map sent was not signed with the key held

    def start(self) -> None:
        self.listener.start()

    def stop(self, timeout: float = 2.0) -> None:
        self.listener.close(timeout)

    def takes_maps_of(self, fsid: str) -> bool:
        """Connected to a module of cluster `fsid` that spoke lately, and the last map it sent (if
        any) was signed with the key held (its key is the service's to check)."""
        return self.listener.cluster == fsid and self.listener.live() and not self.signature_failing

    def coming(self, kind: str) -> None:
        """The module is about to send a map of `kind`: reads of its cluster wait for it from now
        (it is dumped in the mgr meanwhile), not only once it is here and being taken in."""
        fsid = self.listener.cluster
        if fsid is not None:
            self.service.expect_newer_map(fsid, kind)

    def take(self) -> None:
        """Take in, or wait for, the maps announced since the last call."""
        fsid = self.listener.cluster
        for kind in sorted(self.listener.take()):
            sent = self.listener.take_data(kind)
            if fsid is None or kind not in wire.MAP_DUMPS or sent is None:
                continue  # the module sends only these maps with their announcement
            try:
                document = json.loads(sent.payload)
            except ValueError as exc:
                problem: str | None = f"{type(exc).__name__}: {exc}"
            else:
                problem = mgr_map_problem(document, kind, fsid)  # the collector's own rule
            if problem is not None:
                self.unreadable += 1
                self._warn(f"an announced {kind} without a readable epoch, or not its cluster's ({problem}); "
                           f"not waited for ({self.unreadable} so far)")
            elif self._signed(fsid, kind, sent):
                if not self._ingest(fsid, kind, document):
                    # held already (the collector was quicker): what was expected when it was
                    # said to be coming is not what comes
                    self.service.maps_coming.withdraw(fsid, kind)
            else:
                # reads wait for this version now, not the one guessed when it was said to be coming
                self.service.expect_map(fsid, kind, document["epoch"])
                self.expected += 1

    def _signed(self, fsid: str, kind: str, sent: MapData) -> bool:
        key = self.service.mgr_push_keys.get(fsid)
        if key is None:
            return False
        self.signature_failing = not hmac.compare_digest(sent.mac, wire.data_mac(key, fsid, kind, sent.payload))
        if not self.signature_failing:
            return True
        self.unsigned += 1
        self._warn(f"a {kind} whose signature is not the module's key ({self.unsigned} so far); "
                   "waited for from the collector instead")
        return False

    def _ingest(self, fsid: str, kind: str, document: dict[str, Any]) -> bool:
        """Take the map into the model; whether it was (not when the collector was quicker, the
        store is behind or the model refuses it)."""
        mgr = f"ceph-mgr {self.listener.mgr_name or '?'}"
        try:
            applied = self.service.on_sync_object(fsid, kind, document["epoch"], document, datetime.now(UTC), mgr)
        except InvalidMap:
            return False  # logged and counted by the service; the collector's copy meets the same checks
        except Exception:  # a bug in the model must not end the listener: the collector's copy follows
            log.exception("taking the %s of %s sent by %s failed", kind, fsid, mgr)
            return False
        self.taken += applied
        return applied

    def _warn(self, message: str) -> None:
        """Log `message` at most once a minute (a module may send many such maps)."""
        now = time.monotonic()
        if now - self._bad_logged_at >= BAD_LINE_LOG_EVERY_S:
            self._bad_logged_at = now
            log.warning("%s", message)
