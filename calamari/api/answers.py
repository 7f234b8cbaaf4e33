"""Finished answers of the most read routes, kept between changes to the model and served on the
HTTP server's I/O loop, without a worker thread, Flask or the view (`at_once`, which the server
asks for every complete request it reads: calamari.adapters.http_server).

A route opts in with `@cacheable` (a GET every logged-in user may read). When the app answers such
a request with 200, the answer as the server sends it (status, headers, body) is kept under what
shapes it: the path, the query string, the Host, scheme and forwarded headers, the Accept-Encoding
header and the caller's role; with the model's change count (`ChangeLock.changes`) read before the
view ran, and only if that count was even (nobody changing the model) and is unchanged after (a
sequence lock). A request is answered from it only when it is a plain GET (no conditional or range
header), its bearer token or session cookie authenticates as the app's own check has it
(`access.identity_of`, which also records the session's use), the model's count is the one the
answer was made at. A part of an answer that changes with the clock (the age of the collector's
contact) is the route's `live` part: rendered again for each answer by the function the view
rendered it with, the rest kept (an answer compression would then have to take goes to the app).
Anything else goes to the app as before, which answers and may keep its answer.

Bounds (docs/security.md, "Answer cache"): answers up to MAX_ANSWER bytes, MAX_BYTES in all, the
least recently used dropped first."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.http import parse_cookie

from calamari.api import compression
from calamari.api.access import USER, identity_of, route_level

__all__ = ["AnswerCache", "answer_live_part", "at_once_for", "cacheable"]

MAX_ANSWER = 1 << 20  # bytes of one answer's body; larger ones are not kept (and not sent by the I/O loop)
MAX_BYTES = 32 << 20  # bodies kept in all
# request headers that make an answer depend on more than the path and query
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
                "HTTP_IF_RANGE", "HTTP_RANGE")
_KEY = "calamari.answer_key"  # environ: the request's key parts (without the role), set for GETs
_STAMP = "calamari.answer_stamp"  # environ: the change count read before the view ran
_NOTE = "calamari.answer_note"  # environ: what to keep the answer under, set after the view
_LIVE = "calamari_answer_live"  # attribute of a cacheable view function: its live part, or None

Live = Callable[[Any, dict[str, Any]], bytes]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def cacheable(live: Live | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a GET view whose 200 answers may be kept between changes to the model. `live(services,
    view_args)`: the bytes of the answer that depend on more than the model, the request and the
    role (the clock), rendered anew for each answer; the view puts them in its body itself and
    says where with `answer_live_part`."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, _LIVE, live)
        return view

    return mark


def answer_live_part(start: int, length: int) -> None:
    """Called by a view with a `live` part: where in its body it put the bytes `live` rendered."""
    g.answer_live = (start, length)


@dataclass(frozen=True)
class _Answer:
    stamp: int
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class _LiveAnswer:
    """A kept answer with a part rendered anew: `before` + live(services, view_args) + `after`."""

    stamp: int
    status: str
    headers: tuple[tuple[str, str], ...]  # without Content-Length
    before: bytes
    after: bytes
    live: Live
    view_args: dict[str, Any]
    gzip_from: int | None  # a body this long would have been compressed (None: not accepted)

    @property
    def body(self) -> bytes:  # what the size bound counts
        return self.before + self.after

    def render(self, calamari: Any) -> _Answer | None:
        body = self.before + self.live(calamari, self.view_args) + self.after
        if self.gzip_from is not None and len(body) >= self.gzip_from:
            return None  # compression would take it now: the app answers
        return _Answer(self.stamp, self.status, (*self.headers, ("Content-Length", str(len(body)))), body)


def _send(answer: _Answer) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(answer.status, list(answer.headers))
        return [answer.body]

    return app


def _request_key(environ: dict[str, Any]) -> tuple[Any, ...] | None:
    """What of a request shapes a cacheable answer besides the caller's role; None for a request
    that is never answered from the cache."""
    if environ.get("REQUEST_METHOD") != "GET" or any(name in environ for name in _CONDITIONAL):
        return None
    return (environ.get("PATH_INFO"), environ.get("QUERY_STRING", ""), environ.get("HTTP_HOST"),
            environ.get("wsgi.url_scheme"), environ.get("HTTP_X_FORWARDED_PROTO"),
            environ.get("HTTP_X_FORWARDED_HOST"), environ.get("HTTP_X_FORWARDED_PREFIX"),
            environ.get("HTTP_ACCEPT_ENCODING", ""))


def _length_within(headers: list[tuple[str, str]], limit: int) -> bool:
    length = next((value for name, value in headers if name.lower() == "content-length"), None)
    return length is not None and length.isdigit() and int(length) <= limit


class AnswerCache:
    """The kept answers of one app (install() puts it in front of the app), and `at_once`."""

    def __init__(self, app: Flask, changes: Callable[[], int], max_bytes: int = MAX_BYTES,
                 max_answer: int = MAX_ANSWER, held: Callable[[], bool] | None = None) -> None:
        """`held()`: true while no kept answer may be given (maps are on their way: the app's
        reads wait for them, calamari.api.maps_coming)."""
        self.app = app
        self.changes = changes
        self.held = held
        self.max_bytes = max_bytes
        self.max_answer = max_answer
        self.endpoints: dict[str, Live | None] = {}
        self._answers: OrderedDict[tuple[Any, ...], _Answer | _LiveAnswer] = OrderedDict()
        self._size = 0
        self._paths: Counter[str] = Counter()  # kept answers by path: most requests are told apart by it alone
        self._lock = threading.Lock()
        self.hits = 0

    # ------------------------------------------------------------------ installing

    def install(self) -> None:
        """Keep the answers of the app's @cacheable routes; call after every blueprint is registered."""
        app = self.app
        for rule in app.url_map.iter_rules():
            view = app.view_functions.get(rule.endpoint)
            if view is None or not hasattr(view, _LIVE):
                continue
            if "GET" not in (rule.methods or ()) or route_level(app, "GET", rule.rule) != USER:
                raise ValueError(f"{rule.rule}: only a GET route every logged-in user reads may be cacheable")
            self.endpoints[rule.endpoint] = getattr(view, _LIVE)
        app.before_request(self._before)
        app.after_request(self._after)
        inner = app.wsgi_app
        app.wsgi_app = lambda environ, start_response: self._serve(inner, environ, start_response)  # type: ignore[method-assign]
        app.extensions["calamari_answers"] = self

    def _before(self) -> None:
        if request.endpoint in self.endpoints and _KEY in request.environ:
            request.environ[_STAMP] = self.changes()  # before the view reads anything

    def _after(self, response: Response) -> Response:
        environ = request.environ
        stamp = environ.get(_STAMP)
        identity = g.get("identity")
        if (stamp is None or stamp % 2 or identity is None or response.status_code != 200
                or response.is_streamed or "Set-Cookie" in response.headers):
            return response
        live = self.endpoints[request.endpoint or ""]
        split = g.get("answer_live")
        gzip_from = None
        if live is not None:
            if split is None or "Content-Encoding" in response.headers:
                return response  # no live part where it can be replaced: not kept
            gzip_from = compression.MIN_SIZE if compression.accepts_gzip() else None
        environ[_NOTE] = (identity.role, stamp, live, dict(request.view_args or {}), split, gzip_from)
        return response

    def _serve(self, inner: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The app's WSGI entry: the answer as the app makes it, kept when the app noted it may be."""
        key = _request_key(environ)
        if key is None:
            return inner(environ, start_response)
        environ[_KEY] = key
        sent: list[Any] = []

        def keep_head(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent[:] = [status, headers]
            return start_response(status, headers, exc_info)

        answer = inner(environ, keep_head)
        note = environ.get(_NOTE)
        if note is None or not sent or not _length_within(sent[1], self.max_answer):
            return answer
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        role, stamp, live, view_args, split, gzip_from = note
        if len(body) <= self.max_answer and self.changes() == stamp:
            kept: _Answer | _LiveAnswer = _Answer(stamp, sent[0], tuple(sent[1]), body)
            if live is not None:
                start, length = split
                headers = tuple((name, value) for name, value in sent[1] if name.lower() != "content-length")
                kept = _LiveAnswer(stamp, sent[0], headers, body[:start], body[start + length:], live, view_args,
                                   gzip_from)
            self._put((*key, role), kept)
        return [body]

    # ------------------------------------------------------------------ keeping

    def _put(self, key: tuple[Any, ...], answer: _Answer | _LiveAnswer) -> None:
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
                self._paths[key[0]] -= 1
            self._answers[key] = answer
            self._size += len(answer.body)
            self._paths[key[0]] += 1
            while self._size > self.max_bytes:
                dropped_key, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped.body)
                self._paths[dropped_key[0]] -= 1
                if not self._paths[dropped_key[0]]:
                    del self._paths[dropped_key[0]]

    def _get(self, key: tuple[Any, ...]) -> _Answer | _LiveAnswer | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    # ------------------------------------------------------------------ answering

    def at_once(self, environ: dict[str, Any]) -> WsgiApp | None:
        """The kept answer to the request `environ` if it is still the answer the app would give,
        as a WSGI app that sends it without blocking; None to leave the request to the app. Never
        waits for a lock another thread may hold for long (the I/O loop calls it)."""
        if not self._paths.get(environ.get("PATH_INFO", "")):
            return None
        key = _request_key(environ)
        if key is None:
            return None
        stamp = self.changes()
        if stamp % 2 or (self.held is not None and self.held()):
            return None  # a change is being made, or on its way
        cookies = parse_cookie(environ.get("HTTP_COOKIE", "")) if "HTTP_AUTHORIZATION" not in environ else {}
        identity, refusal = identity_of(self.app.config["CALAMARI"].auth, "GET", environ.get("HTTP_AUTHORIZATION", ""),
                                        cookies, None, wait=False)
        if identity is None or refusal is not None:
            return None  # the app refuses it, in its own words
        kept = self._get((*key, identity.role))
        if kept is None or kept.stamp != stamp:
            return None
        answer = kept.render(self.app.config["CALAMARI"]) if isinstance(kept, _LiveAnswer) else kept
        if answer is None or self.changes() != stamp:
            return None  # compression would take it, or a change began while it was looked up
        self.hits += 1
        return _send(answer)


def at_once_for(app: Flask) -> Callable[[dict[str, Any]], WsgiApp | None] | None:
    """The app's `at_once` for the HTTP server, if it keeps answers."""
    cache = app.extensions.get("calamari_answers")
    return cache.at_once if cache is not None else None
