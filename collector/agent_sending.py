"""The collector agent's sending: messages encoded and queued on the DEALER, sync objects as deltas
against what the server has, the source's polls and version checks turned into messages,
heartbeats, facts and stats, and command results resent until acknowledged.

A map the protocol cannot carry (say an integer beyond 64 bits) is not sent, and heartbeats report
the cluster as unreachable with the reason until a later version goes through.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import zmq

from calamari import protocol
from calamari.protocol import CLUSTER_LOG, COMMAND_RESULT, HEARTBEAT, HELLO, SERVER_FACTS, STATS, SYNC_OBJECT
from collector.source import Notifying

log = logging.getLogger("calamari.collector")

COLLECTOR_VERSION = "0.1.0"
MAX_POINTS_PER_MESSAGE = 20_000
MAX_LOG_LINES_PER_MESSAGE = 1_000
# The cluster log lines last sent, given to a server the collector moves to: as many as a server
# keeps per cluster (it keeps the log in memory only, so a new active one starts without it).
RECENT_LOG_LINES = 1_000


class UnsendableMessage(ValueError):
    """A message the protocol cannot encode (e.g. an integer beyond 64 bits)."""


class Sending:
    """What the agent sends; a part of `collector.agent.Collector`, whose state (set in its
    `__init__`) it uses."""

    # -- sending --------------------------------------------------------------------------------
    def _encode(self, msg_type: str, body: dict[str, Any], host: str | None = None) -> bytes:
        """One message as a frame; UnsendableMessage when the protocol cannot carry it."""
        self._seq += 1
        try:
            return protocol.encode(msg_type, body, fsid=self.source.fsid, host=host or self.source.hostname,
                                   seq=self._seq)
        except (OverflowError, TypeError, ValueError) as exc:  # msgpack: int beyond 64 bits, odd types
            raise UnsendableMessage(f"{type(exc).__name__}: {exc}") from None

    def _push(self, frame: bytes) -> None:
        sock = self._socket
        if sock is None:
            return
        try:
            sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            # Server unreachable and the queue is full: heartbeats and resyncs repair the loss.
            self.counters["send_dropped"] += 1
            return
        self.counters["messages_sent"] += 1
        self.counters["bytes_sent"] += len(frame)
        # a large map delays the server's next answers: not to be taken for silence (failover.py)
        self._rotation.sent(len(frame), time.monotonic())

    def _send(self, msg_type: str, body: dict[str, Any], host: str | None = None) -> bool:
        """Queue one message; False (logged, counted) when it cannot be encoded."""
        try:
            frame = self._encode(msg_type, body, host)
        except UnsendableMessage as exc:
            self.counters["unsendable"] += 1
            log.error("a %s message cannot be sent: %s", msg_type, exc)
            return False
        self._push(frame)
        return True

    def _send_hello(self) -> None:
        self._send(
            HELLO,
            {"collector_version": COLLECTOR_VERSION, "fsid": self.source.fsid, "hostname": self.source.hostname},
        )

    def _heartbeat_body(self) -> dict[str, Any]:
        versions = {name: version for name, (version, _) in self._held.items()}
        body: dict[str, Any] = {"versions": versions}
        problem = self.cluster_error or next(iter(self.unsendable.values()), None)
        if problem is not None:
            body.update(cluster_unreachable=True, error=problem[:500])
        elif self._restart_notice is not None:
            body["error"] = self._restart_notice[:500]
        key = self.source.mgr_push_key() if isinstance(self.source, Notifying) else None
        if key:  # each time: a server that restarted or took over learns it within a heartbeat
            body["mgr_push_key"] = key.decode("ascii", "replace")
        return body

    def _send_heartbeats(self) -> None:
        if self._send(HEARTBEAT, self._heartbeat_body()):
            self._restart_notice = None
        for host in self.source.reporting_hosts():
            if host != self.source.hostname:
                self._send(HEARTBEAT, {"versions": {}}, host=host)

    def send_sync(self, name: str, version: Any, data: Any, *, full: bool = False) -> bool:
        """Send one sync object, as a delta against the version sent before when possible. False
        when it cannot be encoded (see _sync_frame)."""
        frame = self._sync_frame(name, version, data, full=full)
        if frame is not None:
            self._push(frame)
        return frame is not None

    def _sync_frame(self, name: str, version: Any, data: Any, *, full: bool = False) -> bytes | None:
        """The frame of one sync object. None when the protocol cannot carry it: it then counts as
        not sent (the next delta is still made against what the server has), and heartbeats report
        it until a later version goes through."""
        previous = self._sent.get(name)
        if (
            not full
            and name not in self._needs_full
            and previous is not None
            and protocol.supports_delta(name)
            and isinstance(previous[1], dict)
            and isinstance(data, dict)
        ):
            delta = protocol.make_delta(name, previous[1], data)
            body = {"name": name, "version": version, "delta_from": previous[0], "delta": delta}
        else:
            body = {"name": name, "version": version, "data": data}
        try:
            frame = self._encode(SYNC_OBJECT, body)
        except UnsendableMessage as exc:
            self.counters["unsendable"] += 1
            if name not in self.unsendable:
                log.error("the cluster's %s (version %s) cannot be sent to the server: %s", name, version, exc)
            self.unsendable[name] = f"the cluster's {name} (version {version}) cannot be sent: {exc}"
            return None
        if self.unsendable.pop(name, None) is not None:
            log.info("the cluster's %s is sent again (version %s)", name, version)
        self.counters["syncs_delta" if "delta" in body else "syncs_full"] += 1
        if "data" in body:
            self._needs_full.discard(name)
        self._held[name] = (version, data)
        self._sent[name] = (version, data)
        return frame

    def _poll_source(self) -> None:
        changes = self._read_source()
        if changes is not None:
            self._send_changes(changes[1], self._sync_frames(changes[0]))

    def _check_source(self) -> None:
        """The version check; skipped while the cluster does not answer (each check would wait for
        the same timeout: the polls find out when it answers again)."""
        if self._check is None or self.cluster_error is not None:
            return
        try:
            changed = self._check()
        except Exception as exc:
            self._source_failed(exc)
            return
        self.checks += 1
        if changed:
            self._send_changes([], self._sync_frames(changed))

    def _notified_source(self) -> None:
        """The source was told of new maps (the mgr module): read and send them now."""
        try:
            changed = self.source.notified()
        except Exception as exc:
            self._source_failed(exc)
            return
        self.counters["notified"] += 1
        if changed:
            self._send_changes([], self._sync_frames(changed))

    def _source_failed(self, exc: Exception) -> None:
        self.counters["source_errors"] += 1
        log.exception("polling the cluster failed")
        if self.cluster_error is None:
            self.cluster_error = str(exc) or type(exc).__name__
            self._send_heartbeats()  # say so now, not at the next heartbeat

    def _read_source(self) -> tuple[dict[str, tuple[Any, Any]], list[Any]] | None:
        """The sync objects that changed and the new cluster log lines; None when the cluster
        could not be read (heartbeats then say so)."""
        try:
            changed = self.source.poll()
            lines = self.source.cluster_log()
        except Exception as exc:
            self._source_failed(exc)
            return None
        self.polls += 1
        return changed, lines

    def _sync_frames(self, changed: dict[str, tuple[Any, Any]]) -> list[bytes]:
        frames = (self._sync_frame(name, version, data) for name, (version, data) in changed.items())
        return [frame for frame in frames if frame is not None]

    def _send_changes(self, lines: list[Any], frames: list[bytes]) -> None:
        was_unsendable = bool(self.unsendable)
        for frame in frames:
            self._push(frame)
        if self.cluster_error is not None:
            log.info("the cluster answers again")
            self.cluster_error = None
            self._send_heartbeats()  # after the fresh maps, so that "not stale" means current
        elif bool(self.unsendable) != was_unsendable:
            self._send_heartbeats()  # the server's copy became stale, or current again: say so now
        self._recent_log.extend(lines)
        self._send_log_lines(lines)

    def _send_log_lines(self, lines: list[Any]) -> None:
        for start in range(0, len(lines), MAX_LOG_LINES_PER_MESSAGE):
            self._send(CLUSTER_LOG, {"lines": lines[start : start + MAX_LOG_LINES_PER_MESSAGE]})

    def _send_facts_and_stats(self) -> None:
        if self.cluster_error is not None:
            return  # they would only wait for the same timeouts as the failing poll
        try:
            facts = self.source.server_facts()
            stats = self.source.stats()
        except Exception:
            self.counters["source_errors"] += 1
            log.exception("collecting facts and stats failed")
            return
        for host, host_facts in facts:
            self._send(SERVER_FACTS, host_facts, host=host)
        for host, points in stats:
            for start in range(0, len(points), MAX_POINTS_PER_MESSAGE):
                self._send_stats(host, points[start : start + MAX_POINTS_PER_MESSAGE])

    def _send_stats(self, host: str, points: list[list[Any]]) -> None:
        """One stats message, kept until a server acknowledges a later heartbeat (sent again to
        the next server if none does)."""
        if self._send(STATS, {"points": points}, host=host):
            self._stats_backlog.sent(self._seq, host, points)

    def _resend_stats_backlog(self) -> None:
        """Send the stats not known to have arrived again (to a server that did not have them)."""
        for host, points in self._stats_backlog.take():
            self._send_stats(host, points)

    def _send_probe(self) -> None:
        """A heartbeat for this collector's own host, which the server acknowledges: whether it
        still answers while nothing else is said."""
        self._send(HEARTBEAT, self._heartbeat_body())

    def _resend_results(self, now: float) -> None:
        for entry in list(self._results.values()):
            body, last_sent, acknowledged = entry
            if acknowledged:
                continue
            if now - last_sent >= self.result_resend_interval:
                entry[1] = now
                self._send(COMMAND_RESULT, body)
        # keep the ids of old, acknowledged results only as long as needed to ignore duplicates
        if len(self._results) > 1000:
            for request_id in [rid for rid, entry in self._results.items() if entry[2]][:500]:
                del self._results[request_id]
