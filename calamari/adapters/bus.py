"""The server end of the collector bus: a ZeroMQ ROUTER served by one thread.

With CURVE (the default for real collectors) the ROUTER is a CurveZMQ server: traffic is encrypted
and ZAP tells the bus each message's authenticated client key. Any key may connect, but only
messages from keys the KeyGate reports as accepted reach the model; a `hello` from an unknown key
registers it as pending, everything else from a pending or rejected key is counted and dropped.
Without server keys the bus is plain TCP (development and tests).

Every frame is validated (calamari.protocol) before anything reaches the model; sync objects go to
the ClusterSink (deltas are rebuilt into full maps first), stats to a time-series callable, command
results are acknowledged. Nothing a collector sends can stop the thread: bad frames are logged,
counted per collector and dropped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from calamari import protocol
from calamari.adapters.curve_keys import KeyPair
from calamari.domain.collector_key import ACCEPTED, PENDING, REJECTED, CollectorKeyError
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
    UPSTREAM_TYPES,
    DeltaError,
    Envelope,
    ProtocolError,
)
from calamari.protocol.host_logs import HOST_TARGET, host_command_problem
from calamari.service.sink import ClusterSink, InvalidMap

log = logging.getLogger("calamari.bus")

StatsSink = Callable[[str | None, str, list[list[Any]]], None]


ZAP_DOMAIN = b"calamari"
# Anyone who reaches the port can open connections: the sessions of those that never said a
# hello the bus applied are forgotten once silent for the contact timeout, and beyond this many
# sessions the longest-silent of them are forgotten at once.
MAX_SESSIONS = 10_000
# Rejections are logged at most once per 5 s per collector, and at most this many per 10 s in all.
MAX_REJECT_WARNINGS = 20
KEY_REJECT_REASONS = {None: "key_unknown", PENDING: "key_pending", REJECTED: "key_rejected"}


class KeyGate(Protocol):
    """Which collector keys may feed the model (calamari.service.collector_keys)."""

    def status_of(self, public_key: str) -> str | None:
        """`accepted`, `pre`, `rejected`, or None for a key never registered (or deleted)."""

    def register(self, key_id: str, public_key: str, source: str | None = None) -> str:
        """Register a key presented with a hello from address `source` as pending; its status.
        Raises CollectorKeyError when the id is invalid, the host has an accepted key, or a
        registration limit is reached."""


def _discard_stats(fsid: str | None, host: str, points: list[list[Any]]) -> None:
    return None


def _peer_address(frame: zmq.Frame) -> str | None:
    """The source address of the connection a frame came on (libzmq's Peer-Address property; None
    where the transport has none). Registrations of new keys are limited per source address."""
    try:
        return frame.get("Peer-Address")
    except (zmq.ZMQError, ValueError, UnicodeDecodeError):
        return None


# How far a collector's clock may be from the server's before its times are not trusted.
CLOCK_TOLERANCE_S = 5.0


def event_time(collector_ts: float, server_ts: float) -> datetime:
    """The time an event is stamped with: when the collector saw the change, unless its clock is
    off (ahead of the server, or behind by more than the tolerance: a backlog or a skewed clock);
    then when the server received it. History maps times to positions, so event times must not
    run far ahead of or behind the order the events are stored in."""
    if server_ts - CLOCK_TOLERANCE_S <= collector_ts <= server_ts:
        return datetime.fromtimestamp(collector_ts, UTC)
    return datetime.fromtimestamp(server_ts, UTC)


@dataclass
class CollectorSession:
    """What the bus knows about one connected collector (one ROUTER identity)."""

    identity: bytes
    public_key: str | None = None  # Z85 client key authenticated by CURVE (None on plain TCP)
    peer_address: str | None = None  # the connection's source address, as ZeroMQ gives it
    hello: bool = False
    fsid: str | None = None
    host: str = ""
    collector_version: str = ""
    messages: int = 0
    bytes: int = 0
    rejects: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    resyncs: int = 0
    last_seen: float = 0.0
    last_warning: float = 0.0
    last_hello_request: float = 0.0
    last_error: str | None = None  # the newest problem the collector reported in a heartbeat
    errors_reported: int = 0


class CollectorBus:
    """ROUTER adapter. `start()` binds and serves in a daemon thread; `stop()` ends it."""

    def __init__(
        self,
        sink: ClusterSink,
        endpoint: str = protocol.DEFAULT_BUS_ENDPOINT,
        *,
        stats_sink: StatsSink | None = None,
        max_message_bytes: int = protocol.DEFAULT_MAX_MESSAGE_BYTES,
        contact_timeout_s: float = 30.0,
        contact_check_interval_s: float = 5.0,
        context: zmq.Context | None = None,
        server_keys: KeyPair | None = None,
        key_gate: KeyGate | None = None,
    ) -> None:
        """`server_keys` makes the bus a CURVE server that applies only what `key_gate` accepts;
        without them it is plain TCP and trusts every peer."""
        if (server_keys is None) != (key_gate is None):
            raise ValueError("CURVE needs both server_keys and key_gate")
        self.server_keys = server_keys
        self.key_gate = key_gate
        self.mechanism: int | None = None  # zmq.CURVE or zmq.NULL once started
        self._authenticator: ThreadAuthenticator | None = None
        # ZAP handlers are per context: a CURVE bus gets its own so that it cannot clash.
        self._owns_context = context is None and server_keys is not None
        self.sink = sink
        self.endpoint = endpoint
        self.stats_sink: StatsSink = stats_sink or _discard_stats
        self.max_message_bytes = max_message_bytes
        self.contact_timeout_s = contact_timeout_s
        self.contact_check_interval_s = contact_check_interval_s
        self._context = context or (zmq.Context() if self._owns_context else zmq.Context.instance())
        self._router: zmq.Socket | None = None
        self._wake_rx: zmq.Socket | None = None
        self._wake_tx: zmq.Socket | None = None
        self._wake_lock = threading.Lock()
        self._outbox: deque[tuple[bytes, bytes]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._sessions: dict[bytes, CollectorSession] = {}
        self._identity_by_fsid: dict[str, bytes] = {}
        # host name or fqdn -> the collector that last spoke for that host (hello, server_facts)
        self._identity_by_host: dict[str, bytes] = {}
        self._sessions_lock = threading.Lock()
        self._delivered_results: OrderedDict[str, None] = OrderedDict()
        self._warnings_since = 0.0  # the rejection warnings of the current 10 s window
        self._warnings = 0
        self._seq = 0
        self._host = socket.gethostname()
        self.bound_endpoint: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind (errors such as a busy port are raised here) and start serving."""
        router = self._context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        router.setsockopt(zmq.RCVHWM, 100_000)
        router.setsockopt(zmq.SNDHWM, 100_000)
        if self.server_keys is not None:
            self._start_authenticator()
            router.curve_server = True
            router.curve_secretkey = self.server_keys.secret_key.encode()
            router.curve_publickey = self.server_keys.public_key.encode()
            router.zap_domain = ZAP_DOMAIN
        self.mechanism = router.getsockopt(zmq.MECHANISM)
        try:
            router.bind(self.endpoint)
        except zmq.ZMQError:
            router.close(0)
            self._stop_authenticator()
            raise
        self.bound_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        wake_address = f"inproc://calamari-bus-wake-{id(self)}"
        self._wake_rx = self._context.socket(zmq.PAIR)
        self._wake_rx.bind(wake_address)
        self._wake_tx = self._context.socket(zmq.PAIR)
        self._wake_tx.setsockopt(zmq.LINGER, 0)
        self._wake_tx.connect(wake_address)
        self._router = router
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="calamari-bus", daemon=True)
        self._thread.start()
        log.info("collector bus listening on %s", self.bound_endpoint)

    def _start_authenticator(self) -> None:
        # Every client key passes the handshake (an unknown one must be able to say hello and
        # become pending); ZAP then stamps each message with the key as its User-Id, and
        # _admit() decides what reaches the model.
        self._authenticator = ThreadAuthenticator(self._context, log=logging.getLogger("calamari.bus.zap"))
        self._authenticator.start()
        self._authenticator.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)

    def _stop_authenticator(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake()
        stopped = True
        if self._thread is not None:
            self._thread.join(timeout)
            stopped = not self._thread.is_alive()
            self._thread = None
        with self._wake_lock:
            if self._wake_tx is not None:
                self._wake_tx.close(0)
                self._wake_tx = None
        self._stop_authenticator()
        if self._owns_context and stopped:
            self._context.term()

    def __enter__(self) -> CollectorBus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- API for the service --------------------------------------------------------------------
    def send_command(
        self,
        fsid: str,
        request_id: str,
        prefix: str,
        args: dict[str, Any] | None = None,
        target: str = "mon",
        input: str | None = None,  # noqa: A002 - the protocol's name for the command's input data
    ) -> bool:
        """Queue a Ceph command for the collector of `fsid`; `input`: its input data (the text of
        `osd setcrushmap`). False when no collector of that cluster has said hello (the caller
        should fail the request)."""
        if target not in protocol.envelope.COMMAND_TARGETS:
            raise ValueError(f"target must be mon or mgr, not {target!r}")
        if input is not None and not isinstance(input, str):
            raise ValueError("a command's input must be text")
        with self._sessions_lock:
            identity = self._identity_by_fsid.get(fsid)
            session = self._sessions.get(identity) if identity is not None else None
        if identity is None:
            return False
        if self.key_gate is not None and (
            session is None or session.public_key is None or self.key_gate.status_of(session.public_key) != ACCEPTED
        ):
            return False  # its key was rejected or deleted since its hello
        body = {"request_id": request_id, "prefix": prefix, "args": dict(args or {}), "target": target}
        if input is not None:
            body["input"] = input
        self._outbox.append((identity, self._encode_command(body, fsid)))
        self._wake()
        return True

    def send_host_command(self, host: str, request_id: str, prefix: str, args: dict[str, Any] | None = None) -> bool:
        """Queue a host command (calamari.protocol.host_logs) for the collector that speaks for
        `host`. False when none does: never heard of, not said hello, its key no longer accepted,
        or silent for longer than the contact timeout (its host is then as good as unreachable)."""
        body_args = {**dict(args or {}), "host": host}
        problem = host_command_problem(prefix, body_args)
        if problem is not None:
            raise ValueError(problem)
        with self._sessions_lock:
            identity = self._identity_by_host.get(host)
            session = self._sessions.get(identity) if identity is not None else None
        if identity is None or session is None or not session.hello:
            return False
        if time.time() - session.last_seen > self.contact_timeout_s:
            return False
        if self.key_gate is not None and (
            session.public_key is None or self.key_gate.status_of(session.public_key) != ACCEPTED
        ):
            return False
        body = {"request_id": request_id, "prefix": prefix, "args": body_args, "target": HOST_TARGET}
        self._outbox.append((identity, self._encode_command(body, session.fsid)))
        self._wake()
        return True

    def _speaks_for(self, session: CollectorSession, *hosts: Any) -> None:
        with self._sessions_lock:
            for host in hosts:
                if isinstance(host, str) and host:
                    self._identity_by_host[host] = session.identity

    def connected_fsids(self) -> list[str]:
        with self._sessions_lock:
            return list(self._identity_by_fsid)

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per collector (keyed by host and routing id) messages, bytes and rejects."""
        with self._sessions_lock:
            sessions = list(self._sessions.values())
        result: dict[str, dict[str, Any]] = {}
        for session in sessions:
            key = f"{session.host or '?'}/{session.identity.hex()}"
            result[key] = {
                "fsid": session.fsid,
                "host": session.host,
                "public_key": session.public_key,
                "peer_address": session.peer_address,
                "messages": session.messages,
                "bytes": session.bytes,
                "rejects": session.rejects,
                "reject_reasons": dict(session.reject_reasons),
                "resyncs": session.resyncs,
                "last_seen": session.last_seen,
                "last_error": session.last_error,
                "errors_reported": session.errors_reported,
            }
        return result

    def totals(self) -> dict[str, int]:
        counters = self.counters().values()
        return {
            "collectors": len(counters),
            "messages": sum(c["messages"] for c in counters),
            "bytes": sum(c["bytes"] for c in counters),
            "rejects": sum(c["rejects"] for c in counters),
            "resyncs": sum(c["resyncs"] for c in counters),
        }

    # -- the serving thread ---------------------------------------------------------------------
    def _wake(self) -> None:
        with self._wake_lock:
            if self._wake_tx is not None:
                try:
                    self._wake_tx.send(b"", zmq.NOBLOCK)
                except zmq.Again:
                    pass  # a wake-up is already pending

    def _serve(self) -> None:
        router, wake_rx = self._router, self._wake_rx
        assert router is not None and wake_rx is not None
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake_rx, zmq.POLLIN)
        next_contact_check = time.monotonic() + self.contact_check_interval_s
        curve = self.server_keys is not None
        try:
            while not self._stopping.is_set():
                timeout_ms = max(0, int((next_contact_check - time.monotonic()) * 1000))
                events = dict(poller.poll(min(timeout_ms, 500)))
                if wake_rx in events:
                    while True:
                        try:
                            wake_rx.recv(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                self._flush_outbox(router)
                if router in events:
                    # Drain a bounded batch so commands and contact checks are not starved.
                    for _ in range(1000):
                        try:
                            if curve:
                                parts = router.recv_multipart(zmq.NOBLOCK, copy=False)
                            else:
                                frames = router.recv_multipart(zmq.NOBLOCK, copy=True)
                        except zmq.Again:
                            break
                        try:
                            if curve:
                                # ZAP set User-Id to the client's Z85 key during the handshake.
                                public_key = parts[-1].get("User-Id")
                                self._handle_frames(router, [p.bytes for p in parts], public_key,
                                                    _peer_address(parts[-1]))
                            else:
                                self._handle_frames(router, frames)
                        except Exception:  # whatever one message does, the bus keeps serving
                            log.exception("a collector message could not be handled")
                    self._flush_outbox(router)
                if time.monotonic() >= next_contact_check:
                    next_contact_check = time.monotonic() + self.contact_check_interval_s
                    self._check_contact()
                    self._forget_sessions()
        finally:
            router.close(0)
            wake_rx.close(0)
            self._router = None
            self._wake_rx = None

    def _flush_outbox(self, router: zmq.Socket) -> None:
        while self._outbox:
            identity, frame = self._outbox.popleft()
            try:
                router.send_multipart([identity, frame], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.warning("could not send to collector %s: %s", identity.hex(), exc)

    def _check_contact(self) -> None:
        try:
            self.sink.check_contact(datetime.now(UTC), self.contact_timeout_s)
        except Exception:
            log.exception("sink.check_contact failed")

    def _session(self, identity: bytes) -> CollectorSession:
        session = self._sessions.get(identity)
        if session is None:
            if len(self._sessions) >= MAX_SESSIONS:
                self._forget_sessions(len(self._sessions) - MAX_SESSIONS + MAX_SESSIONS // 10)
            with self._sessions_lock:
                session = self._sessions[identity] = CollectorSession(identity)
        return session

    def _forget_sessions(self, count: int = 0) -> None:
        """Forget sessions without an applied hello that have been silent for the contact timeout,
        and the `count` longest-silent ones of them besides."""
        now = time.time()
        with self._sessions_lock:
            idle = sorted((s for s in self._sessions.values() if not s.hello), key=lambda s: s.last_seen)
            for position, session in enumerate(idle):
                if position < count or now - session.last_seen > self.contact_timeout_s:
                    del self._sessions[session.identity]

    def _handle_frames(self, router: zmq.Socket, frames: list[bytes], public_key: str | None = None,
                       peer_address: str | None = None) -> None:
        if len(frames) < 2:
            return
        identity = frames[0]
        session = self._session(identity)
        if public_key is not None:
            session.public_key = public_key
        if peer_address is not None:
            session.peer_address = peer_address
        session.messages += 1
        session.last_seen = time.time()
        payload_size = sum(len(frame) for frame in frames[1:])
        session.bytes += payload_size
        if len(frames) != 2:
            self._reject(session, "multipart", f"{len(frames) - 1} frames")
            return
        try:
            envelope = protocol.decode(
                frames[1], max_bytes=self.max_message_bytes, allowed_types=UPSTREAM_TYPES
            )
        except ProtocolError as exc:
            self._reject(session, exc.reason, exc.detail)
            return
        if self.key_gate is not None and not self._admit(session, envelope):
            return
        try:
            self._route(router, session, envelope)
        except ProtocolError as exc:
            self._reject(session, exc.reason, exc.detail)
        except InvalidMap as exc:
            self._reject(session, "invalid_map", str(exc))
        except Exception:
            # A bug in the model must not take the bus down with it.
            log.exception("handling %s from %s failed", envelope.type, session.host or identity.hex())
            self._count_reason(session, "sink_error")

    def _admit(self, session: CollectorSession, envelope: Envelope) -> bool:
        """True when the message's key is accepted. Otherwise the message is counted and dropped;
        a hello from a key never seen registers it as pending (an admin then decides)."""
        gate = self.key_gate
        assert gate is not None
        public_key = session.public_key
        if public_key is None:  # cannot happen behind CURVE; refuse rather than trust
            self._reject(session, "key_unknown", "no authenticated key")
            return False
        try:
            status = gate.status_of(public_key)
        except Exception:
            log.exception("looking up collector key %s failed", public_key)
            status = None
        if status == ACCEPTED:
            return True
        if session.hello:
            self._forget_hello(session)  # rejected or deleted since it said hello
        host = ""
        if envelope.type == HELLO:
            host = envelope.body["hostname"] or envelope.host
        if envelope.type != HELLO and status is None:
            # a key deleted under a connected collector: its hello registers it as pending again
            # (docs/security.md), and a running collector says hello only when asked
            self._ask_hello(session)
        if envelope.type == HELLO and status is None:
            try:
                status = gate.register(host, public_key, session.peer_address)
            except CollectorKeyError as exc:
                self._reject(session, "key_refused", f"{host}: {exc.reason}")
                return False
            log.info("collector %s presents a new key %s: pending until an admin accepts it", host, public_key)
            if status == ACCEPTED:
                return True
        self._reject(session, KEY_REJECT_REASONS.get(status, "key_unknown"), host or envelope.type)
        return False

    def _forget_hello(self, session: CollectorSession) -> None:
        with self._sessions_lock:
            session.hello = False
            if session.fsid is not None and self._identity_by_fsid.get(session.fsid) == session.identity:
                del self._identity_by_fsid[session.fsid]
        log.warning("collector %s lost its key's acceptance; its messages are dropped", session.host or "?")

    def _count_reason(self, session: CollectorSession, reason: str) -> None:
        session.rejects += 1
        session.reject_reasons[reason] = session.reject_reasons.get(reason, 0) + 1

    def _reject(self, session: CollectorSession, reason: str, detail: str) -> None:
        self._count_reason(session, reason)
        now = time.monotonic()
        # Rate-limited so that a misbehaving collector (or thousands of them) cannot flood the log.
        if now - self._warnings_since > 10.0:
            self._warnings_since, self._warnings = now, 0
        if now - session.last_warning > 5.0 and self._warnings < MAX_REJECT_WARNINGS:
            session.last_warning = now
            self._warnings += 1
            log.warning(
                "rejected message from collector %s (%s): %s %s (%d rejected so far)",
                session.host or "?",
                session.identity.hex(),
                reason,
                detail[:200],
                session.rejects,
            )
        else:
            log.debug("rejected message from %s: %s %s", session.identity.hex(), reason, detail[:200])

    def _ask_hello(self, session: CollectorSession) -> None:
        now = time.monotonic()
        if now - session.last_hello_request > 1.0:  # at most once a second
            session.last_hello_request = now
            self._reply(session, HELLO_REQUEST, {})

    def _reply(self, session: CollectorSession, msg_type: str, body: dict[str, Any]) -> None:
        self._outbox.append((session.identity, self._encode(msg_type, body, session.fsid)))

    def _encode_command(self, body: dict[str, Any], fsid: str | None) -> bytes:
        """A command's frame; ValueError when the protocol cannot carry it (e.g. an integer beyond
        64 bits among its arguments), which fails the request that sent it."""
        try:
            return self._encode(COMMAND, body, fsid)
        except (OverflowError, TypeError, ValueError) as exc:
            raise ValueError(f"the command cannot be encoded: {exc}") from None

    def _encode(self, msg_type: str, body: dict[str, Any], fsid: str | None) -> bytes:
        self._seq += 1
        return protocol.encode(msg_type, body, fsid=fsid, host=self._host, seq=self._seq)

    # -- routing --------------------------------------------------------------------------------
    def _route(self, router: zmq.Socket, session: CollectorSession, envelope: Envelope) -> None:
        if envelope.type == HELLO:
            self._on_hello(session, envelope)
            return
        if not session.hello:
            # E.g. the server restarted under a connected collector: ask it to introduce itself.
            self._ask_hello(session)
            raise ProtocolError("no_hello", envelope.type)
        if envelope.fsid != session.fsid:
            raise ProtocolError("fsid_mismatch", f"{envelope.fsid} != hello {session.fsid}")
        at = event_time(envelope.ts, time.time())
        body = envelope.body
        if envelope.type == SYNC_OBJECT:
            self._on_sync_object(session, envelope, at)
        elif envelope.type == HEARTBEAT:
            if body.get("error"):
                self._note_collector_error(session, body["error"])
            # (sinks written before the flag existed only know heartbeats)
            unreachable = getattr(self.sink, "on_cluster_unreachable", None)
            if body.get("cluster_unreachable") and envelope.fsid is not None and unreachable is not None:
                unreachable(envelope.fsid, envelope.host, datetime.now(UTC))
            else:
                self.sink.on_heartbeat(envelope.fsid, envelope.host, datetime.now(UTC))
            self._resync_stale(session, body["versions"])
        elif envelope.type == SERVER_FACTS:
            self._speaks_for(session, envelope.host, body["fqdn"], body["hostname"])
            self.sink.on_server_facts(envelope.fsid, body, at)
        elif envelope.type == STATS:
            self.stats_sink(envelope.fsid, envelope.host, body["points"])
        elif envelope.type == CLUSTER_LOG:
            if envelope.fsid is None:
                raise ProtocolError("no_fsid", CLUSTER_LOG)
            self.sink.on_cluster_log(envelope.fsid, body["lines"], at)
        elif envelope.type == COMMAND_RESULT:
            self._on_command_result(session, body, at)

    def _on_hello(self, session: CollectorSession, envelope: Envelope) -> None:
        fsid = envelope.body.get("fsid")
        if envelope.fsid != fsid:
            raise ProtocolError("fsid_mismatch", f"envelope {envelope.fsid} != hello {fsid}")
        if session.hello and session.fsid != fsid:
            raise ProtocolError("fsid_mismatch", f"hello for {fsid} after hello for {session.fsid}")
        with self._sessions_lock:
            session.hello = True
            session.fsid = fsid
            session.host = envelope.body["hostname"] or envelope.host
            session.collector_version = envelope.body["collector_version"]
            if fsid is not None:
                self._identity_by_fsid[fsid] = session.identity
        self._speaks_for(session, session.host)
        log.info("collector %s (%s) says hello for cluster %s", session.host, session.identity.hex(), fsid)

    def _note_collector_error(self, session: CollectorSession, error: str) -> None:
        """A problem the collector reports (its cluster unreachable, a map it cannot send, a
        restart of its loop): counted, and logged when it changes (heartbeats repeat it)."""
        error = error[:500]
        session.errors_reported += 1
        if error != session.last_error:
            log.warning("collector %s reports: %s", session.host or session.identity.hex(), error)
        session.last_error = error

    def _resync_stale(self, session: CollectorSession, versions: dict[str, Any]) -> None:
        if session.fsid is None or not versions:
            return
        wanted = getattr(self.sink, "sync_wanted", None)
        if wanted is not None:
            # the model also knows versions it no longer holds a copy of (after a restart): an
            # older map would be refused, so asking for it again would only repeat the refusal
            candidates = {name: v for name, v in versions.items() if name in protocol.SYNC_NAMES}
            stale = wanted(session.fsid, candidates)
        else:
            held = self.sink.sync_versions(session.fsid)
            stale = [
                name
                for name, version in versions.items()
                if name in protocol.SYNC_NAMES and protocol.version_is_newer(version, held.get(name))
            ]
        if stale:
            session.resyncs += 1
            self._reply(session, RESYNC, {"names": stale})

    def _on_sync_object(self, session: CollectorSession, envelope: Envelope, at: datetime) -> None:
        fsid = envelope.fsid
        if fsid is None:
            raise ProtocolError("no_fsid", SYNC_OBJECT)
        body = envelope.body
        name, version = body["name"], body["version"]
        if "delta" in body:
            held = self.sink.sync_object(fsid, name)
            if held is None or held[0] != body["delta_from"] or not isinstance(held[1], dict):
                session.resyncs += 1
                self._reply(session, RESYNC, {"names": [name]})
                return
            if not protocol.supports_delta(name):
                raise ProtocolError("bad_body", f"no delta for {name}")
            try:
                data = protocol.apply_delta(name, held[1], body["delta"])
            except DeltaError as exc:
                session.resyncs += 1
                self._reply(session, RESYNC, {"names": [name]})
                raise ProtocolError("bad_delta", str(exc)) from None
        else:
            data = body["data"]
        applied = self.sink.on_sync_object(fsid, name, version, data, at, envelope.host)
        if applied:
            self._reply(session, ACK, {"sync": {name: version}})
        else:
            held_version = self.sink.sync_versions(fsid).get(name)
            if held_version is not None:
                self._reply(session, ACK, {"sync": {name: held_version}})

    def _on_command_result(self, session: CollectorSession, body: dict[str, Any], at: datetime) -> None:
        request_id = body["request_id"]
        # Always acknowledge (the collector resends until it hears this); deliver only once.
        self._reply(session, ACK, {"command_result": request_id})
        if request_id in self._delivered_results:
            return
        self._delivered_results[request_id] = None
        if len(self._delivered_results) > 10_000:
            self._delivered_results.popitem(last=False)
        self.sink.on_command_result(request_id, body["rc"], body["out"], body["err"], at)
