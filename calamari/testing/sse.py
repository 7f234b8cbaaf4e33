"""Many `GET /api/v2/stream` clients on raw sockets, read together from one thread (tests and
benchmarks): each parses the answer's head, undoes chunked transfer coding and splits the
Server-Sent Events frames. Every wait has a timeout."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any


class SseFrame(dict[str, str]):
    """One frame's fields (`id`, `event`, `data`; `event` is "message" when the frame names none)."""


class StreamClient:
    """One stream over its own connection; `pump()` takes what has arrived."""

    def __init__(self, host: str, port: int, token: str, last_event_id: str | None = None,
                 timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(f"GET /api/v2/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                          f"Authorization: Bearer {token}\r\n{resume}\r\n".encode())
        self.sock.setblocking(False)
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.frames: list[SseFrame] = []
        self.comments = 0  # keep-alives and the greeting
        self.closed = False  # the server ended the connection
        self._raw = b""  # received, not yet parsed as head or chunks
        self._text = ""  # the body, not yet parsed as frames
        self._chunked = False
        self.body_error = ""  # set when the answer was not an event stream (its body)

    def fileno(self) -> int:
        return self.sock.fileno()

    def pump(self) -> None:
        """Read what the socket holds now (never blocks)."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                break
            self._raw += data
        self._parse()

    def close(self) -> None:
        self.sock.close()

    @property
    def changes(self) -> list[SseFrame]:
        return [f for f in self.frames if f.get("event") == "change"]

    def _parse(self) -> None:
        if self.status is None:
            head, sep, rest = self._raw.partition(b"\r\n\r\n")
            if not sep:
                return
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            self._chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
            self._raw = rest
        if self._chunked:
            while True:
                size_line, sep, rest = self._raw.partition(b"\r\n")
                if not sep:
                    break
                size = int(size_line.split(b";")[0], 16)
                if len(rest) < size + 2:
                    break
                self._text += rest[:size].decode()
                self._raw = rest[size + 2:]
                if size == 0:
                    break
        else:
            self._text += self._raw.decode(errors="replace")
            self._raw = b""
        if self.status != 200:
            self.body_error = self._text
            return
        while "\n\n" in self._text:
            block, self._text = self._text.split("\n\n", 1)
            frame = SseFrame()
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments += 1
                elif line:
                    name, _, value = line.partition(":")
                    frame[name] = value[1:] if value.startswith(" ") else value
            if "data" in frame:
                frame.setdefault("event", "message")
                self.frames.append(frame)


def open_streams(host: str, port: int, token: str, count: int, timeout: float = 30.0) -> list[StreamClient]:
    """`count` streams, each opened on its own connection (not yet read)."""
    return [StreamClient(host, port, token, timeout=timeout) for _ in range(count)]


def pump_until(clients: Iterable[StreamClient], done: Callable[[StreamClient], bool], timeout: float,
               what: str) -> None:
    """Read every client until `done(client)` holds for all of them; AssertionError after
    `timeout` s naming how many are not done."""
    pending = [c for c in clients]
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for client in pending:
            selector.register(client, selectors.EVENT_READ)
        while True:
            pending = [c for c in pending if not done(c)]
            if not pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                sample: Any = pending[0]
                raise AssertionError(f"{len(pending)} streams not done waiting for {what}: e.g. status "
                                     f"{sample.status}, {len(sample.frames)} frames, closed={sample.closed}, "
                                     f"body {sample.body_error[:200]!r}")
            for key, _ in selector.select(min(left, 0.5)):
                client = key.fileobj
                assert isinstance(client, StreamClient)
                client.pump()
                if client.closed:
                    selector.unregister(client)
