"""GET /api/v2/stream: Server-Sent Events of every committed event, in store order, as the event
feed tells it plus the API paths of the resources it changed (docs/api.md, "stream"). `id:` is the
event's store position; a client that sends `Last-Event-ID` (or `?after=`) first gets every stored
event after it, then the live ones, so a reconnect misses nothing.

The route authenticates, validates and reads what the client missed on an API worker thread like
any other; then, under calamari-server, it hands the connection to the stream hub (HAND_OVER,
offered by calamari.adapters.http_server) and the thread is free again: open streams hold no
worker thread. Bounds: at most STREAM_LIMIT open at once (256; 503 with Retry-After beyond it),
each for at most STREAM_SECONDS (then the client reconnects and resumes: a session that ended is
then refused), a keep-alive comment every STREAM_KEEPALIVE seconds (5), and a client with more
than STREAM_UNSENT bytes (1 MiB) waiting to be sent is cut off (it resumes from the store).
Under another WSGI server (the tests' client) the answer is read on its thread instead, and a
client STREAM_QUEUE events behind is cut off."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request

from calamari.api.common import ApiError
from calamari.service.stream_hub import HAND_OVER, StreamHub, Subscription  # the hub: built by calamari/bootstrap.py

blueprint = Blueprint("stream", __name__, url_prefix="/api/v2")

RESUME_LIMIT = 50_000  # stored events sent on a resume; beyond it the client is told to reload
RETRY_MS = 2000
KEEPALIVE = ": keep-alive\n\n"


def _setting(app: Any, name: str, default: float) -> float:
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(f"CALAMARI_{name}")
    return float(value) if value is not None else default


def frame(message: dict[str, Any]) -> str:
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    return f"id: {message['position']}\nevent: change\ndata: {data}\n\n"


def _resume_position() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(400, "invalid resume position", {"Last-Event-ID": "an event position: a whole number >= 0"})
    return int(raw)


@blueprint.get("/stream")
def stream() -> Response:
    hub: StreamHub = current_app.config["STREAM_HUB"]
    after = _resume_position()
    lifetime = _setting(current_app, "STREAM_SECONDS", 55.0)
    keepalive = min(_setting(current_app, "STREAM_KEEPALIVE", 5.0), max(0.05, lifetime))
    # before reading the store: nothing stored meanwhile can fall between the two
    sub = hub.subscribe(lifetime=lifetime, keepalive=keepalive)
    if sub is None:
        error = ApiError(503, f"{hub.max_subscribers} streams are open, the most this server serves; "
                              "read the resources meanwhile and try again later")
        response = error.response()
        response.headers["Retry-After"] = "30"
        return response
    try:
        opening = _opening(hub, sub, after)
    except Exception:
        hub.unsubscribe(sub)
        raise
    body = StreamBody(hub, sub, opening, request.environ.get(HAND_OVER), lifetime, keepalive)
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must pass events on as they come
    return response


def _opening(hub: StreamHub, sub: Subscription, after: int | None) -> str:
    """The stream's first frames: retry, where it starts (hello) or what the client missed."""
    # after subscribing: later events are in the queue (a standby's are those it has yet to follow)
    start = hub.service.position()
    parts = [f"retry: {RETRY_MS}\n: calamari event stream\n\n"]
    if after is None:
        # where this stream starts: a client that reconnects with it misses nothing after it
        sub.sent = start
        parts.append(f"id: {start}\nevent: hello\ndata: {{\"position\": {start}}}\n\n")
        return "".join(parts)
    sub.sent = after
    backlog, reset = hub.stored_after(after, RESUME_LIMIT)
    if reset:
        # too much was missed to send: the client reloads what it shows, then follows from here
        sub.sent = start
        parts.append(f"id: {start}\nevent: reset\ndata: {{}}\n\n")
    for message in backlog:
        parts.append(frame(message))
        sub.sent = message["position"]
    return "".join(parts)


class StreamBody:
    """The stream's body. Under calamari-server it is handed over to the hub at the first read
    (the head is sent, the worker thread returns); elsewhere it is read here, frame by frame."""

    def __init__(self, hub: StreamHub, sub: Subscription, opening: str, hand_over: Any, lifetime: float,
                 keepalive: float) -> None:
        self.hub = hub
        self.sub = sub
        self.opening = opening
        self.hand_over = hand_over
        self.lifetime = lifetime
        self.keepalive = keepalive
        self.handed_over = False

    def __iter__(self) -> Iterator[str | bytes]:
        return self._handed_over() if self.hand_over is not None else self._read()

    def _handed_over(self) -> Iterator[bytes]:
        sub = self.sub
        target = self.hand_over(lambda: self.hub.closed(sub))
        self.hub.hand_over(sub, target, self.opening.encode())
        self.handed_over = True  # from now on the hub ends it, not close()
        yield from ()  # nothing more on this thread

    def _read(self) -> Iterator[str]:
        try:
            yield self.opening
            sent = self.sub.sent
            deadline = time.monotonic() + self.lifetime
            for message in self.hub.messages(self.sub, self.keepalive):
                if message is None:
                    yield KEEPALIVE
                elif message["position"] > sent:
                    yield frame(message)
                    sent = message["position"]
                if time.monotonic() >= deadline:
                    return
        finally:
            self.hub.unsubscribe(self.sub)

    def close(self) -> None:
        if not self.handed_over:
            self.hub.unsubscribe(self.sub)
