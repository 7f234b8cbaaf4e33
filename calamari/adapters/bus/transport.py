"""The bus's socket: a ZeroMQ ROUTER served by one thread, which receives frames, sends what other
threads queued, and runs a periodic check. Knows nothing of what the frames mean."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from calamari import protocol

log = logging.getLogger("calamari.bus")

# (frames: routing identity then payload; the client's CURVE key; the connection's source address)
FrameHandler = Callable[[list[bytes], str | None, str | None], None]
# Prepares the socket before it binds (CURVE options); True when it made the socket a CURVE server.
SocketSetup = Callable[[zmq.Socket], bool]

# How many queued messages the socket may hold each way before sends fail or receives wait.
HIGH_WATER_MARK = 100_000
# Frames handled in one go before queued sends and the periodic check get their turn.
RECEIVE_BATCH = 1000


def peer_address(frame: zmq.Frame) -> str | None:
    """The source address of the connection a frame came on (libzmq's Peer-Address property; None
    where the transport has none). Registrations of new keys are limited per source address."""
    try:
        return frame.get("Peer-Address")
    except (zmq.ZMQError, ValueError, UnicodeDecodeError):
        return None


_WAKE_NAMES = itertools.count(1)


class RouterTransport:
    """`start()` binds and serves in a daemon thread; `send()` may be called from any thread."""

    def __init__(self, context: zmq.Context, endpoint: str, max_message_bytes: int, check_interval_s: float) -> None:
        self.context = context
        self.endpoint = endpoint
        self.max_message_bytes = max_message_bytes
        self.check_interval_s = check_interval_s
        self.mechanism: int | None = None  # zmq.CURVE or zmq.NULL once started
        self.bound_endpoint: str | None = None
        self.host = socket.gethostname()  # the envelope's `host` of what the server sends
        self._seq = itertools.count(1)
        self._router: zmq.Socket | None = None
        self._wake_rx: zmq.Socket | None = None
        self._wake_tx: zmq.Socket | None = None
        self._wake_lock = threading.Lock()
        self._outbox: deque[tuple[bytes, bytes]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, handle: FrameHandler, check: Callable[[], None], setup: SocketSetup | None = None) -> None:
        """Bind (errors such as a busy port are raised here) and serve: `handle` gets every message,
        `check` runs every check interval. `setup` prepares the socket first."""
        router = self.context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        router.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
        router.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
        try:
            curve = setup(router) if setup is not None else False
            self.mechanism = router.getsockopt(zmq.MECHANISM)
            router.bind(self.endpoint)
        except zmq.ZMQError:
            router.close(0)
            raise
        self.bound_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        # unique for the process: a closed socket's inproc name is released by libzmq's reaper
        # thread later, and id(self) may already be another transport's by then
        wake_address = f"inproc://calamari-bus-wake-{next(_WAKE_NAMES)}"
        self._wake_rx = self.context.socket(zmq.PAIR)
        self._wake_rx.bind(wake_address)
        self._wake_tx = self.context.socket(zmq.PAIR)
        self._wake_tx.setsockopt(zmq.LINGER, 0)
        self._wake_tx.connect(wake_address)
        self._router = router
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, args=(handle, check, curve), name="calamari-bus", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """End the serving thread; False when it did not end within `timeout` seconds."""
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
        return stopped

    def encode(self, msg_type: str, body: dict[str, Any], fsid: str | None) -> bytes:
        """A frame of a message from the server (each gets the next sequence number)."""
        return protocol.encode(msg_type, body, fsid=fsid, host=self.host, seq=next(self._seq))

    def send(self, identity: bytes, frame: bytes) -> None:
        """Queue `frame` for the collector `identity`; the serving thread sends it."""
        self._outbox.append((identity, frame))
        self._wake()

    def queue(self, identity: bytes, frame: bytes) -> None:
        """Queue `frame` from the serving thread itself (sent before it polls again)."""
        self._outbox.append((identity, frame))

    def _wake(self) -> None:
        with self._wake_lock:
            if self._wake_tx is not None:
                try:
                    self._wake_tx.send(b"", zmq.NOBLOCK)
                except zmq.Again:
                    pass  # a wake-up is already pending

    def _serve(self, handle: FrameHandler, check: Callable[[], None], curve: bool) -> None:
        router, wake_rx = self._router, self._wake_rx
        assert router is not None and wake_rx is not None
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(wake_rx, zmq.POLLIN)
        next_check = time.monotonic() + self.check_interval_s
        try:
            while not self._stopping.is_set():
                timeout_ms = max(0, int((next_check - time.monotonic()) * 1000))
                events = dict(poller.poll(min(timeout_ms, 500)))
                if wake_rx in events:
                    self._drain_wakeups(wake_rx)
                self._flush_outbox(router)
                if router in events:
                    self._receive_batch(router, handle, curve)
                    self._flush_outbox(router)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.check_interval_s
                    check()
        finally:
            router.close(0)
            wake_rx.close(0)
            self._router = None
            self._wake_rx = None

    @staticmethod
    def _drain_wakeups(wake_rx: zmq.Socket) -> None:
        while True:
            try:
                wake_rx.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def _receive_batch(self, router: zmq.Socket, handle: FrameHandler, curve: bool) -> None:
        # A bounded batch, so that commands and contact checks are not starved; the answers to
        # each message go out before the next is handled, so that an ack does not wait behind a
        # large map that came after it (a collector takes a server that does not answer for
        # gone, and says hello again at each heartbeat until its hello is acknowledged).
        for _ in range(RECEIVE_BATCH):
            self._flush_outbox(router)
            try:
                if curve:
                    parts = router.recv_multipart(zmq.NOBLOCK, copy=False)
                else:
                    frames = router.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            try:
                if curve:
                    # ZAP set User-Id to the client's Z85 key during the handshake.
                    handle([p.bytes for p in parts], parts[-1].get("User-Id"), peer_address(parts[-1]))
                else:
                    handle(frames, None, None)
            except Exception:  # whatever one message does, the bus keeps serving
                log.exception("a collector message could not be handled")

    def _flush_outbox(self, router: zmq.Socket) -> None:
        while self._outbox:
            identity, frame = self._outbox.popleft()
            try:
                router.send_multipart([identity, frame], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.warning("could not send to collector %s: %s", identity.hex(), exc)
