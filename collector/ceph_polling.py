"""The CephSource's reads (docs/architecture.md, "Freshness"), each paced by what it costs
(collector/pacing.py):
- `check()`, every few tens of milliseconds: one `status` gives the epochs of the OSD, monitor and
  file system maps, the quorum's election and a hash of health; a map is fetched when its
  version changed.
- `poll()`, about once a second: the PG map's version (`pg dump summary`, `mgr stat`) and the
  PG summary when it moved, usage, config, OSD metadata and health on their refresh intervals,
  the cluster log; and a check.
- `notified()`, when the calamari_notify mgr module announced a new map (collector/mgr_notify.py):
  that map, read at once from the mgr that holds it (else from the monitors); checks stand down
  while the module's channel is up.
"""

from __future__ import annotations

import hmac
import json
import logging
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from collector.ceph_backend import CephCommandError
from collector.ceph_mgr.calamari_notify import wire
from collector.ceph_shapes import content_hash, pg_summary_from_dumps
from collector.mgr_notify import mgr_map_problem
from collector.source import SyncVersion

log = logging.getLogger("calamari.collector.ceph")

# The calamari_notify module's command that hands over a map the mgr holds (docs/mgr-module.md).
MGR_GET_PREFIX = "calamari_notify get"


def process_cpu_seconds() -> float:
    """CPU time of this process (all its threads: librados does its work on its own) and of its
    children that ended (one `ceph` process per command)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime



class Polling:
    """The version check, the polls and their pacing; a part of `collector.ceph_source.CephSource`,
    whose state (set in its `__init__`) and `query` it uses."""

    # -- pacing ---------------------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """CPU time spent on this source: the process's and its children's, and that of a
        bridge's worker."""
        extra = sum(backend.cpu_seconds() for backend in self._backends if hasattr(backend, "cpu_seconds"))
        return self._cpu_clock() + extra

    @contextmanager
    def _paced(self, kind: str, started: float) -> Iterator[None]:
        """Charge what the block costs to the pacer of `kind`."""
        before = self.cpu_seconds()
        try:
            yield
        finally:
            self.pacers[kind].ran(started, self.cpu_seconds() - before)
            self.reads[kind] += 1

    # -- polling --------------------------------------------------------------------------------
    def check(self) -> dict[str, tuple[SyncVersion, Any]]:
        """The version check: sync objects that changed since reported, read from one `status`
        (when the pacer allows one now; else nothing). Skipped while the mgr module pushes
        notifications: the maps it does not announce (the quorum) are left to the poll's check."""
        now = self._clock()
        if self.pacers["check"].due(now) and not self.pushed():
            self._cause = "check"
            self._read_maps(now)
        return self._reports.changed(self._current)

    def poll(self) -> dict[str, tuple[SyncVersion, Any]]:
        now = self._clock()
        self._cause = "poll"
        self._read_push_key_early()
        if self.pacers["check"].due(now) or self._status is None:
            self._read_maps(now)
        if self.pacers["poll"].due(now):
            with self._paced("poll", now):
                self._read_slow(now)
        return self._reports.changed(self._current)

    # -- pushed notifications (collector/mgr_notify.py) -----------------------------------------
    def pushed(self) -> bool:
        """Does the calamari_notify mgr module tell us of new maps now?"""
        return self._notifier is not None and self._notifier.live()

    def notify_fileno(self) -> int | None:
        """What the agent waits on besides its socket: readable when the module announced a map."""
        return self._notifier.fileno() if self._notifier is not None else None

    def notified(self) -> dict[str, tuple[SyncVersion, Any]]:
        """Fetch the maps the module announced, at once (not held back by pacing: a change is what
        the collector is for, and the module announces one at the pace the monitors commit them)."""
        if self._notifier is None:
            return {}
        kinds = self._notifier.take()
        if not kinds:
            return {}
        now = self._clock()
        self._cause = "notified"
        with self._paced("notified", now):
            for kind in sorted(kinds):
                self._fetch_announced(kind, now)
        return self._reports.changed(self._current)

    def _fetch_announced(self, kind: str, now: float) -> None:
        """Read the map of `kind` whatever the stamps say (a `status` from another monitor might
        not show it yet), and note its version so that the next check does not read it again.
        The map comes from the mgr that announced it when its module can hand it over
        (`_from_mgr`), else from the monitors."""
        if kind == "osd_map":
            self._read_osd_map(now, self._announced_map("osd_map"))
            self._stamps["osd_map"] = self._current["osd_map"][0]
        elif kind == "mon_map":
            self._read_mon_map(now)
            self._stamps["mon_map"] = self._current["mon_map"][0]
        elif kind == "fs_map":
            self._read_fs_map(now, self._announced_map("fs_map"))
            self._stamps["fs_map"] = self._current["fs_map"][0]
        elif kind == "health":
            self._read_health(now)

    def _announced_map(self, kind: str) -> dict[str, Any] | None:
        """The map the module sent with its announcement, else the mgr's answer, else None."""
        pushed = self._pushed_map(kind)
        return pushed if pushed is not None else self._from_mgr(kind)

    def _pushed_map(self, kind: str) -> dict[str, Any] | None:
        """The map of `kind` the module sent with its announcement, when it is signed with the
        module's key (read from Ceph through cephx once per connection) and is this cluster's map.
        Anything else is not used: logged, and no sent map is taken until the channel reconnects
        (the mgr is asked instead), so that a stream of bad ones costs nothing more."""
        notifier = self._notifier
        sent = notifier.take_data(kind) if notifier is not None else None
        if notifier is None or sent is None or notifier.connection == self._pushed_off:
            return None
        try:
            key = self._push_key(notifier.connection)
            if not hmac.compare_digest(sent.mac, wire.data_mac(key, self.fsid or "", kind, sent.payload)):
                problem = "its signature is not the module's"
            else:
                document = json.loads(sent.payload)
                problem = mgr_map_problem(document, kind, self.fsid)
        except Exception as exc:  # the key unreadable (CephCommandError, rados.Error), bad JSON
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            self.maps_pushed += 1
            return document
        self._pushed_off = notifier.connection
        log.warning("a %s sent by the calamari_notify module was not used (%s); asking the mgr for maps "
                    "until its channel reconnects", kind, problem)
        return None

    def announced_maps_sent(self) -> bool:
        notifier = self._notifier
        return (notifier is not None and notifier.connection != self._pushed_off
                and notifier.announced_all_sent())

    def mgr_push_key(self) -> bytes | None:
        notifier = self._notifier
        if notifier is None or not notifier.live():
            return None
        connection, key = self._push_key_read
        if connection != notifier.connection or connection == self._pushed_off or not key:
            return None  # not read on this connection, or a map it sent did not check out
        return key

    def _read_push_key_early(self) -> None:
        """Read the module's signing key once its channel is up, not with the first map it sends:
        a read right after a change waits for the monitors' proposal (see `_from_mgr`). Tried
        once per connection; `_pushed_map` tries again with the first map."""
        notifier = self._notifier
        if notifier is None or not notifier.live():
            return
        connection = notifier.connection
        if connection in (self._push_key_read[0], self._push_key_tried, self._pushed_off):
            return
        self._push_key_tried = connection
        try:
            self._push_key(connection)
        except Exception as exc:  # CephCommandError (no such key, no caps), rados.Error
            log.info("cannot read the calamari_notify module's key yet (%s); trying with the first map it sends", exc)

    def _push_key(self, connection: int) -> bytes:
        """The module's signing key, read from its store once per channel connection."""
        if self._push_key_read[0] != connection:
            rc, out, err = self._raw("config-key get", {"key": wire.PUSH_KEY_CONFIG_KEY}, "mon")
            if rc != 0:
                raise CephCommandError("config-key get", rc, err)
            self._push_key_read = (connection, bytes(out).strip())
        return self._push_key_read[1]

    def _from_mgr(self, kind: str) -> dict[str, Any] | None:
        """The map of `kind` as the active mgr holds it (`calamari_notify get`, through librados
        and cephx like any read): the mgr has the map when its module announces it, while the
        monitors answer a read of it only once they have finished the proposal that made it,
        several milliseconds later. None, and the caller reads the monitors, when the module
        cannot answer (an older module, a mgr failing over) or answers with something that is not
        this cluster's map; it is then not asked again until the channel reconnects."""
        notifier = self._notifier
        if kind not in wire.MAP_DUMPS or notifier is None or notifier.connection == self._mgr_get_off:
            return None
        try:
            document = self.query(MGR_GET_PREFIX, target="mgr", kind=kind)
            problem = mgr_map_problem(document, kind, self.fsid)
        except Exception as exc:  # CephCommandError, rados.Error, bad JSON...
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            self.maps_from_mgr += 1
            return document
        self._mgr_get_off = notifier.connection
        log.warning("the calamari_notify module did not hand over the %s (%s); reading maps from the monitors "
                    "until its channel reconnects", kind, problem)
        return None

    def _read_maps(self, now: float) -> None:
        """One `status` (what the check pacer is charged), then every map whose version moved."""
        with self._paced("check", now):
            status = self.query("status")
        self._status = status
        stamps = {
            "osd_map": status["osdmap"]["epoch"],
            "mon_map": status["monmap"]["epoch"],
            "mon_status": (status["election_epoch"], tuple(status.get("quorum", []))),
            "fs_map": status["fsmap"]["epoch"],
            "health": content_hash(status["health"]),
        }
        fetch = {"osd_map": self._read_osd_map, "mon_map": self._read_mon_map, "mon_status": self._read_quorum,
                 "fs_map": self._read_fs_map, "health": self._read_health}
        for key, stamp in stamps.items():
            if self._stamps.get(key) != stamp:
                fetch[key](now)
                # only now: a fetch that failed is tried again at the next check, not forgotten
                self._stamps[key] = stamp

    def _read_osd_map(self, now: float, osd_map: dict[str, Any] | None = None) -> None:
        """The OSD map (`osd_map`: as the mgr handed it over; else read from the monitors), and the
        CRUSH map when its version moved."""
        if osd_map is None:
            osd_map = self.query("osd dump")
        self._store("osd_map", int(osd_map["epoch"]), osd_map, now)
        crush_version = int(osd_map.get("crush_version", 0))
        if self._current.get("crush_map", (None,))[0] != crush_version:
            self._store("crush_map", crush_version, self.query("osd crush dump"), now)
        self._fetched_at.pop("osd_metadata", None)  # daemons may have restarted

    def _read_mon_map(self, now: float) -> None:
        mon_map = self.query("mon dump")
        self._store("mon_map", int(mon_map["epoch"]), mon_map, now)

    def _read_quorum(self, now: float) -> None:
        quorum = self.query("quorum_status")
        self._store("mon_status", int(quorum["election_epoch"]), quorum, now)

    def _read_fs_map(self, now: float, fs_map: dict[str, Any] | None = None) -> None:
        if fs_map is None:
            fs_map = self.query("fs dump")
        self._store("fs_map", int(fs_map["epoch"]), fs_map, now)

    def _read_health(self, now: float) -> None:
        health = self.query("health", detail="detail")
        self._store("health", content_hash(health), health, now)

    def _read_slow(self, now: float) -> None:
        """The PG map, usage, config, OSD metadata, health on their refresh intervals, the log."""
        status = self._status
        assert status is not None  # a check ran first
        summary_dump = self.query("pg dump", dumpcontents=["summary"])
        # The PG map's version lives in the active mgr and starts again after a failover; led by
        # the mgr map's epoch (which only grows) it still moves forward for the server.
        pg_stamp = (self._mgr_epoch() << 32) + int(summary_dump["pg_map"]["version"])
        pg_changed = self._stamps.get("pg") != pg_stamp
        if pg_changed:
            brief = self.query("pg dump", dumpcontents=["pgs_brief"])
            self._store("pg_summary", pg_stamp, pg_summary_from_dumps(summary_dump, brief, status), now)
            self._stamps["pg"] = pg_stamp
        if (pg_changed and self._due("df", now)) or "df" not in self._current:
            self._store("df", int(pg_stamp), self.query("df", detail="detail"), now)
        if self._due("health", now):
            self._read_health(now)
        if self._due("config", now):
            config = self.query("config dump")
            self._store("config", content_hash(config), config, now)
        if self._due("osd_metadata", now):
            metadata = self.query("osd metadata")
            self._store("osd_metadata", content_hash(metadata), metadata, now)
        self._log_entries = self._reports.new_log_entries(self.query("log last", num=100, channel="cluster") or [])

    def _mgr_epoch(self) -> int:
        """The mgr map's epoch (0 where `mgr stat` is not known)."""
        try:
            return int(self.query("mgr stat").get("epoch", 0))
        except (RuntimeError, ValueError, TypeError, AttributeError):
            return 0

    def _due(self, name: str, now: float) -> bool:
        return now - self._fetched_at.get(name, -1e9) >= self.refresh.get(name, 0.0)

    def _store(self, name: str, version: Any, data: Any, now: float) -> None:
        if self._current.get(name, (None,))[0] != version:
            self.fetched_by[name] = self._cause  # what made the collector read this version first
        self._current[name] = (version, data)
        self._fetched_at[name] = now

    def current(self, name: str) -> tuple[Any, Any] | None:
        return self._current.get(name)

    def cluster_log(self) -> list[dict[str, Any]]:
        """The new entries the last poll read (each returned once)."""
        entries, self._log_entries = self._log_entries, []
        return entries
