"""The collector agent: polls a cluster source and speaks the bus protocol over a ZeroMQ DEALER.

One thread owns the socket (ZeroMQ sockets are not thread-safe); it polls the source about once a
second and, for a source with a cheap version check (a real cluster), checks it every 50 ms in
between, so that a change is sent within tens of milliseconds; it sends heartbeats, stats and
server facts on their own intervals, executes commands from the server and resends their results
until the server acknowledges them. ZeroMQ reconnects by itself; when the server has forgotten us
(it restarted) it asks for a new hello.

Nothing the cluster gives may stop the thread silently: a map the protocol cannot carry (say an
integer beyond 64 bits) is not sent, and heartbeats report the cluster as unreachable with the
reason until a later version goes through; a command whose resulting map cannot be sent fails with
that reason; and if the loop itself fails, it is logged, restarted on a new socket after a back-off,
and the next heartbeat tells the server why.
"""

from __future__ import annotations

import errno
import logging
import math
import threading
import time
from typing import Any

import zmq

from calamari import protocol
from calamari.adapters.curve_keys import ClientCurveKeys
from calamari.protocol import (
    ACK,
    CLUSTER_LOG,
    COMMAND,
    COMMAND_RESULT,
    HEARTBEAT,
    HELLO,
    HELLO_REQUEST,
    RESYNC,
    SERVER_FACTS,
    STATS,
    SYNC_OBJECT,
    ProtocolError,
)
from calamari.protocol.host_logs import HOST_TARGET
from collector.logs import run_host_command
from collector.source import ClusterSource, VersionChecking

log = logging.getLogger("calamari.collector")

COLLECTOR_VERSION = "0.1.0"
MAX_POINTS_PER_MESSAGE = 20_000
MAX_LOG_LINES_PER_MESSAGE = 1_000
MAX_RESTART_DELAY_S = 30.0  # the back-off between restarts of a failing loop grows up to this
RESTART_RESET_S = 60.0  # a loop that ran this long before failing starts the back-off afresh


class UnsendableMessage(ValueError):
    """A message the protocol cannot encode (e.g. an integer beyond 64 bits)."""


class Collector:
    """Runs `source` against the server bus at `server_endpoint`.

    `start()` runs in a daemon thread (what `calamari-server --simulate` uses); `run()` blocks
    (what the `calamari-collector` command uses); `stop()` ends either."""

    def __init__(
        self,
        source: ClusterSource,
        server_endpoint: str = protocol.DEFAULT_BUS_ENDPOINT,
        *,
        poll_interval: float = 1.0,
        check_interval: float = 0.05,
        heartbeat_interval: float = 5.0,
        stats_interval: float = 10.0,
        result_resend_interval: float = 2.0,
        context: zmq.Context | None = None,
        curve: ClientCurveKeys | None = None,
    ) -> None:
        """`check_interval`: seconds between version checks, for a source that has them (see
        VersionChecking). `curve`: encrypt and authenticate with these keys (a CURVE server needs
        them); None speaks plain TCP, for a server started with --insecure-bus."""
        self.source = source
        self.curve = curve
        self.mechanism: int | None = None  # zmq.CURVE or zmq.NULL once running
        self.server_endpoint = server_endpoint
        self.poll_interval = poll_interval
        self.check_interval = check_interval
        self._check = source.check if isinstance(source, VersionChecking) else None
        self.heartbeat_interval = heartbeat_interval
        self.stats_interval = stats_interval
        self.result_resend_interval = result_resend_interval
        self._context = context or zmq.Context.instance()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: zmq.Socket | None = None
        self._seq = 0
        self._sent: dict[str, tuple[Any, Any]] = {}  # name -> (version, data) last sent
        self._held: dict[str, tuple[Any, Any]] = {}  # name -> newest (version, data) from the source
        self._needs_full: set[str] = set()
        self._acked: dict[str, Any] = {}
        self._hello_acked = False
        # request_id -> [body, last sent monotonic time, acknowledged]
        self._results: dict[str, list[Any]] = {}
        self._host_results: set[str] = set()  # ids in _results of host commands (dropped once acknowledged)
        self.counters: dict[str, int] = {
            "messages_sent": 0,
            "bytes_sent": 0,
            "send_dropped": 0,
            "messages_received": 0,
            "rejected_received": 0,
            "syncs_full": 0,
            "syncs_delta": 0,
            "resyncs": 0,
            "commands": 0,
            "source_errors": 0,
            "unsendable": 0,
            "restarts": 0,
            "wakeups": 0,  # turns of the loop: about one per check, poll or message, unless it spins
        }
        self.polls = 0
        self.checks = 0
        # Why the last poll of the cluster failed; None while it answers. Heartbeats carry it, so
        # that the server can tell "collector alive, cluster unreachable" from "all is well".
        self.cluster_error: str | None = None
        # sync object name -> why its newest version could not be sent (heartbeats carry it too:
        # the server's copy is stale until a later version goes through)
        self.unsendable: dict[str, str] = {}
        self.last_failure: str | None = None  # why the loop last failed and was restarted
        self._restart_notice: str | None = None  # told to the server in the next heartbeat

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name="calamari-collector", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Serve until stop(). A failure of the loop is logged and the loop restarted on a new
        socket after a back-off (0.5 s, doubling up to MAX_RESTART_DELAY_S); the next heartbeat
        tells the server why."""
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._serve()
                return
            except Exception as exc:
                failures = 1 if time.monotonic() - started > RESTART_RESET_S else failures + 1
                delay = min(MAX_RESTART_DELAY_S, 0.5 * 2 ** (failures - 1))
                self.counters["restarts"] += 1
                self.last_failure = f"{type(exc).__name__}: {exc}"[:500]
                self._restart_notice = f"the collector restarted after an error: {self.last_failure}"
                log.exception("the collector loop failed; restarting it in %.1f s", delay)
                # the new socket is a new session for the server: hello again, full objects again
                self._sent.clear()
                self._hello_acked = False
                if self._stopping.wait(delay):
                    return

    def _serve(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.SNDHWM, 10_000)
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
        if self.curve is not None:
            sock.curve_secretkey = self.curve.client.secret_key.encode()
            sock.curve_publickey = self.curve.client.public_key.encode()
            sock.curve_serverkey = self.curve.server_public_key.encode()
        self.mechanism = sock.getsockopt(zmq.MECHANISM)
        sock.connect(self.server_endpoint)
        self._socket = sock
        log.info("collector for %s connected to %s", self.source.fsid, self.server_endpoint)
        try:
            self._send_hello()
            now = time.monotonic()
            next_poll = now
            next_check = math.inf if self._check is None else now + self.check_interval
            next_heartbeat = now + self.heartbeat_interval
            next_stats = now + min(1.0, self.stats_interval)
            while not self._stopping.is_set():
                timeout = max(0.0, min(next_poll, next_check, next_heartbeat, next_stats) - time.monotonic())
                # rounded up: a wait rounded down to 0 ms would spin until the deadline
                if sock.poll(math.ceil(min(timeout, 0.25) * 1000), zmq.POLLIN):
                    self._receive_all(sock)
                self.counters["wakeups"] += 1
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + self.poll_interval
                    if self._check is not None:
                        next_check = now + self.check_interval  # a poll checks too
                    self._poll_source()
                elif now >= next_check:
                    next_check = now + self.check_interval
                    self._check_source()
                if now >= next_heartbeat:
                    next_heartbeat = now + self.heartbeat_interval
                    if not self._hello_acked:
                        self._send_hello()
                    self._send_heartbeats()
                if now >= next_stats:
                    next_stats = now + self.stats_interval
                    self._send_facts_and_stats()
                self._resend_results(now)
        finally:
            sock.close()
            self._socket = None

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

    def _send_heartbeats(self) -> None:
        versions = {name: version for name, (version, _) in self._held.items()}
        body: dict[str, Any] = {"versions": versions}
        problem = self.cluster_error or next(iter(self.unsendable.values()), None)
        if problem is not None:
            body.update(cluster_unreachable=True, error=problem[:500])
        elif self._restart_notice is not None:
            body["error"] = self._restart_notice[:500]
        if self._send(HEARTBEAT, body):
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
                self._send(STATS, {"points": points[start : start + MAX_POINTS_PER_MESSAGE]}, host=host)

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

    # -- receiving ------------------------------------------------------------------------------
    def _receive_all(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.counters["messages_received"] += 1
            try:
                envelope = protocol.decode(frame, allowed_types=protocol.DOWNSTREAM_TYPES)
            except ProtocolError as exc:
                self.counters["rejected_received"] += 1
                log.warning("ignoring a bad message from the server: %s", exc)
                continue
            self._handle(envelope)

    def _handle(self, envelope: protocol.Envelope) -> None:
        body = envelope.body
        if envelope.type == ACK:
            if "command_result" in body:
                request_id = body["command_result"]
                entry = self._results.get(request_id)
                if entry is not None:
                    entry[2] = True
                if request_id in self._host_results:
                    # a log tail may be a MiB: not kept once delivered (running it again is harmless)
                    self._host_results.discard(request_id)
                    self._results.pop(request_id, None)
            else:
                self._hello_acked = True
                self._acked.update(body["sync"])
        elif envelope.type == RESYNC:
            self.counters["resyncs"] += 1
            for name in body["names"]:
                self._resync(name)
        elif envelope.type == HELLO_REQUEST:
            self._hello_acked = False
            self._send_hello()
            self._send_heartbeats()
        elif envelope.type == COMMAND:
            self._run_command(body)

    def _resync(self, name: str) -> None:
        held = self._held.get(name)
        if held is None:
            try:
                held = self.source.current(name)
            except Exception:
                log.exception("reading %s for a resync failed", name)
                held = None
        if held is None:
            return
        self.send_sync(name, held[0], held[1], full=True)

    def _run_command(self, body: dict[str, Any]) -> None:
        request_id = body["request_id"]
        known = self._results.get(request_id)
        if known is not None:
            # A repeated command must not run twice; answer with the result we have.
            known[2] = False
            known[1] = 0.0
            return
        self.counters["commands"] += 1
        prefix, args, target = body["prefix"], body.get("args", {}), body.get("target", "mon")
        log.info("running command %s %s (request %s)", prefix, args, request_id)
        try:
            if target == HOST_TARGET:  # about this host, answered here: Ceph is not asked
                rc, out, err = run_host_command(self.source.host_logs, prefix, args)
            else:
                rc, out, err = self.source.execute(prefix, args, target, **(
                    {"input": body["input"]} if "input" in body else {}))
        except Exception as exc:
            log.exception("command %s failed", prefix)
            rc, out, err = -errno.EIO, "", f"collector error: {exc}"
        result = {"request_id": request_id, "rc": int(rc), "out": out, "err": str(err)}
        if target == HOST_TARGET:
            self._host_results.add(request_id)
            self._deliver_result(result)
            return  # it changed nothing in the cluster: no map to send after it
        # The result goes first, then the map that shows the change (the server completes a
        # request when a newer map arrives after the result). A change whose map cannot be sent
        # would leave the request waiting for it: it fails with the reason instead.
        changes = self._read_source()
        if changes is None:
            self._deliver_result(result)
            return
        changed, lines = changes
        frames = self._sync_frames(changed)
        unsent = [self.unsendable[name] for name in changed if name in self.unsendable]
        if result["rc"] == 0 and unsent:
            result = {**result, "rc": -errno.EIO, "out": "",
                      "err": f"collector error: Ceph ran the command, but {unsent[0]}"}
        self._deliver_result(result)
        self._send_changes(lines, frames)

    def _deliver_result(self, result: dict[str, Any]) -> None:
        """Send a command's result and keep it for resending until acknowledged; a result the
        protocol cannot carry (e.g. its output holds an integer beyond 64 bits) is replaced by
        a failure saying so."""
        try:
            frame = self._encode(COMMAND_RESULT, result)
        except UnsendableMessage as exc:
            self.counters["unsendable"] += 1
            log.error("the result of request %s cannot be sent: %s", result["request_id"], exc)
            result = {"request_id": result["request_id"], "rc": -errno.EIO, "out": "",
                      "err": f"collector error: the command's result cannot be sent: {exc}"}
            frame = self._encode(COMMAND_RESULT, result)
        self._results[result["request_id"]] = [result, time.monotonic(), False]
        self._push(frame)
