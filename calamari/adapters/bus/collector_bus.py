"""The server end of the collector bus: the transport, admission, routing and peers put together,
and what the service calls (start, stop, commands to collectors, counters).

Every frame is validated (calamari.protocol) before anything reaches the model. Nothing a
collector sends can stop the bus: bad frames are logged, counted per collector and dropped.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import zmq

from calamari import protocol
from calamari.adapters.bus.admission import KeyAdmission, KeyGate
from calamari.adapters.bus.peers import Peers
from calamari.adapters.bus.replies import RESYNC_TIMEOUT_S, Replies
from calamari.adapters.bus.routing import MessageRouting, StatsSink, discard_stats
from calamari.adapters.bus.transport import RouterTransport
from calamari.adapters.curve_keys import KeyPair
from calamari.protocol import UPSTREAM_TYPES, ProtocolError
from calamari.protocol.host_logs import HOST_TARGET, host_command_problem
from calamari.service.sink import ClusterSink, InvalidMap

log = logging.getLogger("calamari.bus")


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
        resync_timeout_s: float = RESYNC_TIMEOUT_S,
    ) -> None:
        """`server_keys` makes the bus a CURVE server that applies only what `key_gate` accepts;
        without them it is plain TCP and trusts every peer. `resync_timeout_s`: how long a whole
        copy asked of a collector is awaited before it is asked for again (replies.py)."""
        if (server_keys is None) != (key_gate is None):
            raise ValueError("CURVE needs both server_keys and key_gate")
        self.sink = sink
        self.endpoint = endpoint
        self.max_message_bytes = max_message_bytes
        self.contact_timeout_s = contact_timeout_s
        # ZAP handlers are per context: a CURVE bus gets its own so that it cannot clash.
        self._owns_context = context is None and server_keys is not None
        self._context = context or (zmq.Context() if self._owns_context else zmq.Context.instance())
        self.transport = RouterTransport(self._context, endpoint, max_message_bytes, contact_check_interval_s)
        self.peers = Peers(contact_timeout_s)
        self.replies = Replies(self.transport, resync_timeout_s)
        self.routing = MessageRouting(sink, stats_sink or discard_stats, self.peers, self.replies)
        self.admission: KeyAdmission | None = None
        if server_keys is not None and key_gate is not None:
            self.admission = KeyAdmission(server_keys, key_gate, self.peers, self.replies)

    @property
    def mechanism(self) -> int | None:
        """zmq.CURVE or zmq.NULL once started."""
        return self.transport.mechanism

    @property
    def bound_endpoint(self) -> str | None:
        return self.transport.bound_endpoint

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind (errors such as a busy port are raised here) and start serving."""
        setup = self.admission.secure if self.admission is not None else None
        try:
            self.transport.start(self._handle_frames, self._check_contact, setup)
        except zmq.ZMQError:
            if self.admission is not None:
                self.admission.stop()
            raise
        log.info("collector bus listening on %s", self.bound_endpoint)

    def stop(self, timeout: float = 5.0) -> None:
        stopped = self.transport.stop(timeout)
        if self.admission is not None:
            self.admission.stop()
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
        identity, session = self.peers.for_cluster(fsid)
        if identity is None:
            return False
        if self.admission is not None and not self.admission.accepts(session):
            return False  # its key was rejected or deleted since its hello
        body = {"request_id": request_id, "prefix": prefix, "args": dict(args or {}), "target": target}
        if input is not None:
            body["input"] = input
        self.replies.command(identity, body, fsid)
        return True

    def send_host_command(self, host: str, request_id: str, prefix: str, args: dict[str, Any] | None = None) -> bool:
        """Queue a host command (calamari.protocol.host_logs) for the collector that speaks for
        `host`. False when none does: never heard of, not said hello, its key no longer accepted,
        or silent for longer than the contact timeout (its host is then as good as unreachable)."""
        body_args = {**dict(args or {}), "host": host}
        problem = host_command_problem(prefix, body_args)
        if problem is not None:
            raise ValueError(problem)
        session = self.peers.for_host(host)
        if session is None or not session.hello:
            return False
        if time.time() - session.last_seen > self.contact_timeout_s:
            return False
        if self.admission is not None and not self.admission.accepts(session):
            return False
        body = {"request_id": request_id, "prefix": prefix, "args": body_args, "target": HOST_TARGET}
        self.replies.command(session.identity, body, session.fsid)
        return True

    def connected_fsids(self) -> list[str]:
        return self.peers.connected_fsids()

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per collector (keyed by host and routing id) messages, bytes and rejects."""
        return self.peers.counters()

    def totals(self) -> dict[str, int]:
        return self.peers.totals()

    # -- the serving thread ---------------------------------------------------------------------
    def _check_contact(self) -> None:
        try:
            self.sink.check_contact(datetime.now(UTC), self.contact_timeout_s)
        except Exception:
            log.exception("sink.check_contact failed")
        self.peers.forget_idle()

    def _handle_frames(self, frames: list[bytes], public_key: str | None = None,
                       peer_address: str | None = None) -> None:
        """One message from the socket: validated, admitted, routed; whatever is wrong with it is
        counted against its collector."""
        if len(frames) < 2:
            return
        session = self.peers.session(frames[0])
        self.peers.received(session, sum(len(frame) for frame in frames[1:]), public_key, peer_address)
        if len(frames) != 2:
            self.peers.reject(session, "multipart", f"{len(frames) - 1} frames")
            return
        try:
            envelope = protocol.decode(frames[1], max_bytes=self.max_message_bytes, allowed_types=UPSTREAM_TYPES)
        except ProtocolError as exc:
            self.peers.reject(session, exc.reason, exc.detail)
            return
        if self.admission is not None and not self.admission.admit(session, envelope):
            return
        try:
            self.routing.route(session, envelope)
        except ProtocolError as exc:
            self.peers.reject(session, exc.reason, exc.detail)
        except InvalidMap as exc:
            self.peers.reject(session, "invalid_map", str(exc))
        except Exception:
            # A bug in the model must not take the bus down with it.
            log.exception("handling %s from %s failed", envelope.type, session.host or session.identity.hex())
            self.peers.count_reason(session, "sink_error")
