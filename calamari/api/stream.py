"""GET /api/v2/stream: Server-Sent Events of every committed event, in store order, as the event
feed tells it plus the API paths of the resources it changed (docs/api.md, "stream"). `id:` is the
event's store position; a client that sends `Last-Event-ID` (or `?after=`) first gets every stored
event after it, then the live ones, so a reconnect misses nothing.

Each open stream holds one API worker thread (waitress gives each request a thread), so streams
are bounded: at most STREAM_LIMIT open at once (503 with Retry-After beyond it: poll meanwhile),
each for at most STREAM_SECONDS (then the client reconnects and resumes), a keep-alive comment
every STREAM_KEEPALIVE seconds (5; a write is how a worker learns that its client left), and a client that falls
STREAM_QUEUE events behind is cut off (it resumes from the store)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request

from calamari.api.common import ApiError
from calamari.service.stream_hub import StreamHub  # built by the composition root (calamari/bootstrap.py)

blueprint = Blueprint("stream", __name__, url_prefix="/api/v2")

RESUME_LIMIT = 50_000  # stored events sent on a resume; beyond it the client is told to reload
RETRY_MS = 2000


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
    keepalive = _setting(current_app, "STREAM_KEEPALIVE", 5.0)
    sub = hub.subscribe()  # before reading the store: nothing stored meanwhile can fall between the two
    if sub is None:
        error = ApiError(503, f"{hub.max_subscribers} streams are open, the most this server serves; "
                              "read the resources meanwhile and try again later")
        response = error.response()
        response.headers["Retry-After"] = "30"
        return response
    backlog: list[dict[str, Any]] = []
    reset = False
    try:
        start = hub.service.store.max_position()  # after subscribing: later events are in the queue
        if after is not None:
            backlog, reset = hub.stored_after(after, RESUME_LIMIT)
    except Exception:
        hub.unsubscribe(sub)
        raise

    def events() -> Iterator[str]:
        try:
            yield f"retry: {RETRY_MS}\n: calamari event stream\n\n"
            sent = after if after is not None else -1
            if after is None:
                # where this stream starts: a client that reconnects with it misses nothing after it
                sent = start
                yield f"id: {start}\nevent: hello\ndata: {{\"position\": {start}}}\n\n"
            if reset:
                # too much was missed to send: the client reloads what it shows, then follows from here
                yield "event: reset\ndata: {}\n\n"
            for message in backlog:
                yield frame(message)
                sent = message["position"]
            deadline = time.monotonic() + lifetime
            for message in hub.messages(sub, min(keepalive, max(0.05, lifetime))):
                if message is None:
                    yield ": keep-alive\n\n"
                elif message["position"] > sent:
                    yield frame(message)
                    sent = message["position"]
                if time.monotonic() >= deadline:
                    return
        finally:
            hub.unsubscribe(sub)

    response = Response(events(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must pass events on as they come
    return response
