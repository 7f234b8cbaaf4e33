"""The module's listening side: a TCP server on its own thread that tells every connected
collector which kinds of map are new (wire.py). Standard library only.

`notify()` runs on ceph-mgr's notification thread and must never wait: it adds the kind to a set
under a lock held for a set operation, and writes one byte to a non-blocking pipe that wakes the
serving loop (a full pipe already means "wake up"). Per client, kinds not yet sent are a set, so a
slow or stopped collector costs at most one line per kind, never a growing queue."""

import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

from .wire import KEEPALIVE_S, MAP_DUMPS, MAP_TYPES, TICK, coming_line, greeting, map_line

# A client has nothing to say; one that sends more than this is not a collector and is cut off.
MAX_CLIENT_BYTES = 4096
DEFAULT_MAX_CLIENTS = 16


class _Client:
    def __init__(self, sock: socket.socket, hello: bytes) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.out = bytearray(hello)  # bytes being written (one batch of lines at most)
        self.pending: set[str] = set()  # kinds to send once `out` is written
        self.received = 0


class NotifyServer:
    """Serves the channel on (addr, port) until `stop()`; `notify()` may be called from any thread."""

    def __init__(self, fsid: str, mgr_name: str, log: logging.Logger,
                 max_clients: int = DEFAULT_MAX_CLIENTS, clock: Callable[[], float] = time.monotonic,
                 dump: Callable[[str], bytes | None] | None = None,
                 dumps: Callable[[str], bool] | None = None) -> None:
        """`dump(kind)`: the `data` line of the map of `kind` the mgr holds now (wire.data_line),
        or None to announce it only; called on the serving thread, once per kind and round.
        `dumps(kind)`: whether `dump` will be tried for `kind` now (else: always, for MAP_DUMPS),
        i.e. whether a `coming` line may promise it."""
        self._hello = greeting(fsid, mgr_name)
        self._dump = dump
        self._dumps = dumps
        self._log = log
        self._max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._stopping = False
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._clients: dict[int, _Client] = {}
        self.address: tuple | None = None  # (host, port) bound, once listening
        self.counters = {"notifications": 0, "lines_sent": 0, "maps_sent": 0, "coalesced": 0, "connections": 0,
                         "refused": 0, "disconnected": 0, "dump_errors": 0}

    # -- any thread -----------------------------------------------------------------------------
    def notify(self, notify_type: str) -> None:
        if notify_type not in MAP_TYPES:
            return
        with self._lock:
            self._pending.add(notify_type)
            self.counters["notifications"] += 1
            self._wake()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake()

    def clients(self) -> int:
        return len(self._clients)

    def _wake(self) -> None:
        """Under the lock: once the pipe is closed its descriptor number may belong to something
        else in ceph-mgr, and a late notify() must not write into that."""
        if self._closed:
            return
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:  # full: a wake-up is pending already
            pass

    # -- the serving thread ---------------------------------------------------------------------
    def serve(self, addr: str, port: int) -> None:
        """Listen and serve until stop(); raises OSError when (addr, port) cannot be bound."""
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        selector = selectors.DefaultSelector()
        try:
            # a restarted mgr binds again at once, despite connections of its predecessor in TIME_WAIT
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((addr, port))
            listener.listen(self._max_clients)
            listener.setblocking(False)
            self.address = listener.getsockname()[:2]
            self._log.info("calamari_notify listening on %s:%s", *self.address)
            selector.register(listener, selectors.EVENT_READ, "listener")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            next_tick = self._clock() + KEEPALIVE_S
            while not self._stopping:
                for key, events in selector.select(max(0.0, next_tick - self._clock())):
                    if key.data == "listener":
                        self._accept(listener, selector)
                    elif key.data == "wake":
                        self._tell_coming(self._take_pending(), selector)
                    else:
                        self._serve_client(key.data, events, selector)
                if self._clock() >= next_tick:
                    next_tick = self._clock() + KEEPALIVE_S
                    for client in self._clients.values():
                        if not client.out and not client.pending:
                            client.out += TICK
                lines: dict[str, bytes] = {}  # this round's line per kind: each map dumped once
                for client in list(self._clients.values()):
                    self._flush(client, selector, lines)
        finally:
            for client in list(self._clients.values()):
                self._drop(client, selector)
            selector.close()
            listener.close()
            self.close()

    def close(self) -> None:
        """Release the wake-up pipe (serve() does on its way out; a server never served must be
        closed by its owner)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._wake_r)
                os.close(self._wake_w)

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> None:
        try:
            sock, peer = listener.accept()
        except OSError:
            return
        if len(self._clients) >= self._max_clients:
            self.counters["refused"] += 1
            self._log.warning("calamari_notify: refused %s, already %d clients", peer, len(self._clients))
            sock.close()
            return
        sock.setblocking(False)
        # each line is news to send now: not held back for the ACK of the line before (Nagle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = _Client(sock, self._hello)
        self._clients[client.fd] = client
        selector.register(sock, selectors.EVENT_READ, client)
        self.counters["connections"] += 1
        self._log.info("calamari_notify: collector connected from %s", peer)

    def _take_pending(self) -> set[str]:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            kinds, self._pending = self._pending, set()
        for client in self._clients.values():
            self.counters["coalesced"] += len(kinds & client.pending)
            client.pending |= kinds
        return kinds

    def _tell_coming(self, kinds: set[str], selector: selectors.BaseSelector) -> None:
        """Say at once which maps are about to be dumped and sent, before dumping them (about a
        millisecond in the mgr): a reader can hold its answers for them from now. Only to
        clients with nothing else waiting to be sent (one that is behind gets the map when it has
        caught up); the rest of a line the socket does not take at once is sent first later."""
        if self._dump is None:
            return
        coming = b"".join(coming_line(kind) for kind in sorted(kinds)
                          if kind in MAP_DUMPS and (self._dumps is None or self._dumps(kind)))
        if not coming:
            return
        for client in list(self._clients.values()):
            if client.out:
                continue
            try:
                sent = client.sock.send(coming)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(client, selector)
                continue
            client.out += coming[sent:]

    def _serve_client(self, client: _Client, events: int, selector: selectors.BaseSelector) -> None:
        if events & selectors.EVENT_READ:
            try:
                data = client.sock.recv(4096)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"" or (data and client.received + len(data) > MAX_CLIENT_BYTES):
                self._drop(client, selector)
                return
            client.received += len(data or b"")

    def _flush(self, client: _Client, selector: selectors.BaseSelector, lines: dict[str, bytes]) -> None:
        if not client.out and client.pending:
            # a client still writing out its last batch gets the map as it is when that is done
            for kind in sorted(client.pending):
                client.out += self._line(kind, lines)
                self.counters["lines_sent"] += 1
            client.pending.clear()
        if client.out:
            try:
                sent = client.sock.send(client.out)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(client, selector)
                return
            del client.out[:sent]
        # (maps still pending once `out` is written, after a `coming` line: sent at the next round)
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.out or client.pending else 0)
        if selector.get_key(client.sock).events != wanted:
            selector.modify(client.sock, wanted, client)

    def _line(self, kind: str, lines: dict[str, bytes]) -> bytes:
        """The line that tells of a new map of `kind`: with the map when `dump` gives it."""
        line = lines.get(kind)
        if line is None:
            data = None
            if self._dump is not None and kind in MAP_DUMPS:
                try:
                    data = self._dump(kind)
                except Exception as exc:  # whatever the mgr raised: announced only, the collector reads it
                    self.counters["dump_errors"] += 1
                    self._log.warning("calamari_notify: cannot send the %s (%s); announcing it only", kind, exc)
            if data is not None:
                self.counters["maps_sent"] += 1
            line = lines[kind] = data if data is not None else map_line(kind)
        return line

    def _drop(self, client: _Client, selector: selectors.BaseSelector) -> None:
        if self._clients.pop(client.fd, None) is None:
            return
        self.counters["disconnected"] += 1
        try:
            selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
