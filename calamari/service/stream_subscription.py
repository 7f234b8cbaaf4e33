"""One open push stream: its queue (read, or waiting for the hand-over) or where its bytes are
pushed (calamari.service.stream_hub)."""

from __future__ import annotations

import math
import queue
import threading
from typing import Any, Protocol


class PushTarget(Protocol):
    """Where a pushed stream's bytes go (calamari.adapters.http_server.PushedAnswer)."""

    def push(self, data: bytes) -> int | None:
        """Append without blocking; the bytes waiting unsent, or None once the connection closed."""

    def wake(self) -> None:
        """Have what was pushed sent."""

    def end(self) -> None:
        """Close once everything pushed was sent."""

    def cut(self) -> None:
        """Close now, dropping what was not sent."""



class Subscription:
    """One open stream: its queue (read, or waiting for the hand-over), or its push target."""

    def __init__(self, capacity: int, lifetime: float, keepalive: float) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self.cut = threading.Event()
        self.sent = -1  # the newest position the client has (in its opening, or sent since)
        self.lifetime = lifetime
        self.keepalive = keepalive
        # pushed streams only (pump thread):
        self.target: PushTarget | None = None
        self.deadline = math.inf
        self.last_push = 0.0
        self.pushed = 0  # bytes pushed, the opening included
        self.opening = 0  # bytes of the opening (hello, the missed events): not a sign of lagging

    def offer(self, messages: list[dict[str, Any]]) -> bool:
        if self.cut.is_set():
            return False
        for message in messages:
            try:
                self.queue.put_nowait(message)
            except queue.Full:
                self.cut.set()
                return False
        return True

    def take(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
