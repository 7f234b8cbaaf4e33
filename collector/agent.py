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

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from calamari import protocol
from calamari.adapters.curve_keys import ClientCurveKeys
from collector.agent_commands import CommandHandling
from collector.agent_sending import (
    COLLECTOR_VERSION,
    MAX_LOG_LINES_PER_MESSAGE,
    MAX_POINTS_PER_MESSAGE,
    RECENT_LOG_LINES,
    UnsendableMessage,
)
from collector.agent_supervision import MAX_RESTART_DELAY_S, RESTART_RESET_S, Supervised
from collector.failover import DEFAULT_FAILOVER_AFTER_S, ServerRotation, StatsBacklog
from collector.source import ClusterSource, Notifying, VersionChecking

__all__ = [
    "COLLECTOR_VERSION",
    "MAX_LOG_LINES_PER_MESSAGE",
    "MAX_POINTS_PER_MESSAGE",
    "MAX_RESTART_DELAY_S",
    "RESTART_RESET_S",
    "BusServer",
    "Collector",
    "UnsendableMessage",
]

log = logging.getLogger("calamari.collector")

# How long the agent's copies of the maps the mgr module sent wait while the server takes them
# straight from the module: off the moment the server answers the first reads of the change.
PUSHED_MAP_DELAY_S = 0.02


@dataclass(frozen=True)
class BusServer:
    """One server the collector may talk to: its bus endpoint and, for CURVE, the keys to use
    with it (this collector's pair and that server's public key); None for plain TCP."""

    endpoint: str
    curve: ClientCurveKeys | None = None


class Collector(Supervised, CommandHandling):
    """Runs `source` against the server bus at `server_endpoint`, or against the first of
    `servers` that answers (see collector.failover).

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
        servers: Sequence[BusServer] | None = None,
        failover_after: float = DEFAULT_FAILOVER_AFTER_S,
        first_answer_after: float | None = None,
    ) -> None:
        """`check_interval`: seconds between version checks, for a source that has them (see
        VersionChecking). `curve`: encrypt and authenticate with these keys (a CURVE server needs
        them); None speaks plain TCP, for a server started with --insecure-bus. `servers`: several
        servers (active/standby) instead of `server_endpoint` and `curve`; the collector moves to
        the next when the one it talks to has not answered for `failover_after` seconds, or not at all
        for `first_answer_after` (see collector.failover.ServerRotation)."""
        self.source = source
        self.servers = list(servers) if servers else [BusServer(server_endpoint, curve)]
        self._rotation: ServerRotation[BusServer] = ServerRotation(
            self.servers, time.monotonic(), failover_after=failover_after, first_answer_after=first_answer_after)
        self.curve = self.servers[0].curve
        self.mechanism: int | None = None  # zmq.CURVE or zmq.NULL once running
        self.server_endpoint = self.servers[0].endpoint
        self.poll_interval = poll_interval
        self.check_interval = check_interval
        self._check = source.check if isinstance(source, VersionChecking) else None
        self._notify_fd = source.notify_fileno() if isinstance(source, Notifying) else None
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
        # The server says (in its answers to heartbeats) that it takes the maps the mgr module
        # signs straight from the module: the agent's copies of those then wait `pushed_map_delay_s`
        # (see _serve). False until it says so, and again after a move to another server.
        self.server_takes_mgr_maps = False
        self.pushed_map_delay_s = PUSHED_MAP_DELAY_S
        # request_id -> [body, last sent monotonic time, acknowledged]
        self._results: dict[str, list[Any]] = {}
        self._host_results: set[str] = set()  # ids in _results of host commands (dropped once acknowledged)
        self._stats_backlog = StatsBacklog()  # stats not yet known to have reached the server
        self._recent_log: deque[Any] = deque(maxlen=RECENT_LOG_LINES)  # for a server moved to
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
            "failovers": 0,  # moves to the next server after the current one fell silent
            "notified": 0,  # reads of maps the mgr module announced (collector/mgr_notify.py)
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

    @property
    def current_server(self) -> BusServer:
        """The server the collector talks to now."""
        return self._rotation.current

    def _connect(self, server: BusServer) -> zmq.Socket:
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.SNDHWM, 10_000)
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
        if server.curve is not None:
            sock.curve_secretkey = server.curve.client.secret_key.encode()
            sock.curve_publickey = server.curve.client.public_key.encode()
            sock.curve_serverkey = server.curve.server_public_key.encode()
        self.mechanism = sock.getsockopt(zmq.MECHANISM)
        self.curve = server.curve
        self.server_endpoint = server.endpoint
        sock.connect(server.endpoint)
        self._socket = sock
        log.info("collector for %s connected to %s", self.source.fsid, server.endpoint)
        return sock

    def _switch_server(self, old: zmq.Socket, now: float) -> zmq.Socket:
        """The server fell silent: move to the next one and give it everything afresh."""
        silent = self._rotation.silent_for(now)
        had_answered = self._rotation.has_answered
        old.close(linger=0)  # what it queued is sent again below, or repaired by resyncs
        self._socket = None
        server = self._rotation.advance(now)
        self.counters["failovers"] += 1
        if had_answered:
            log.warning("the server at %s has not answered for %.1f s; moving to %s",
                        self.server_endpoint, silent, server.endpoint)
        else:  # a standby, or down: said at INFO, as it repeats every round while no server answers
            log.info("no answer from the server at %s (not active?); moving to %s", self.server_endpoint,
                     server.endpoint)
        sock = self._connect(server)
        self._introduce(now)
        return sock

    def _introduce(self, now: float) -> None:
        """Say hello to a server that does not know this collector and give it what it may not
        have: every held sync object in full (no delta against a version it never acknowledged),
        the recent cluster log, the command results not yet acknowledged, the stats not known to
        have arrived."""
        self._sent.clear()
        self._hello_acked = False
        self.server_takes_mgr_maps = False  # until this server says so
        self._send_hello()
        for name, (version, data) in list(self._held.items()):
            self.send_sync(name, version, data, full=True)
        self._send_log_lines(list(self._recent_log))
        for entry in self._results.values():
            entry[1] = -math.inf  # resent by _resend_results now, not after its interval
        self._resend_results(now)
        self._resend_stats_backlog()
        self._send_heartbeats()

    def _serve(self) -> None:
        sock = self._connect(self._rotation.current)
        try:
            now = time.monotonic()
            self._rotation.reconnected(now)
            self._send_hello()
            next_poll = now
            next_check = math.inf if self._check is None else now + self.check_interval
            next_heartbeat = now + self.heartbeat_interval
            next_stats = now + min(1.0, self.stats_interval)
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            notified_due = math.inf  # when maps the server has already are read and sent
            if self._notify_fd is not None:  # the mgr module announces new maps through it
                poller.register(self._notify_fd, zmq.POLLIN)
            while not self._stopping.is_set():
                timeout = max(0.0, min(next_poll, next_check, next_heartbeat, next_stats, notified_due)
                              - time.monotonic())
                # rounded up: a wait rounded down to 0 ms would spin until the deadline
                ready = dict(poller.poll(math.ceil(min(timeout, 0.25) * 1000)))
                if sock in ready:
                    self._receive_all(sock)
                if self._notify_fd is not None and self._notify_fd in ready:
                    if self.server_takes_mgr_maps and self.source.announced_maps_sent():
                        # the server took these from the module: the copies wait, off the moment
                        # it answers the first reads of the change (announcements meanwhile too)
                        poller.unregister(self._notify_fd)
                        notified_due = time.monotonic() + self.pushed_map_delay_s
                    else:
                        self._notified_source()
                self.counters["wakeups"] += 1
                now = time.monotonic()
                if now >= notified_due:
                    notified_due = math.inf
                    poller.register(self._notify_fd, zmq.POLLIN)
                    self._notified_source()
                decision = self._rotation.decide(now)
                if decision.switch:
                    poller.unregister(sock)
                    sock = self._switch_server(sock, now)
                    poller.register(sock, zmq.POLLIN)
                    next_heartbeat = now + self.heartbeat_interval
                elif decision.probe:
                    self._rotation.probed(now)
                    self._send_probe()
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
