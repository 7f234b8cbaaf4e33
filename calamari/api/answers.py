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
answer was made at, and the route's `vary` value (e.g. the age of the collector's contact, for
answers that change with the clock) is the one the view used. Anything else goes to the app as
before, which answers and may keep its answer.

Bounds (docs/security.md, "Answer cache"): answers up to MAX_ANSWER bytes, MAX_BYTES in all, the
least recently used dropped first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.http import parse_cookie

from calamari.api.access import USER, identity_of, route_level

__all__ = ["AnswerCache", "answer_varies_by", "at_once_for", "cacheable"]

MAX_ANSWER = 1 << 20  # bytes of one answer's body; larger ones are not kept (and not sent by the I/O loop)
MAX_BYTES = 32 << 20  # bodies kept in all
# request headers that make an answer depend on more than the path and query
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
                "HTTP_IF_RANGE", "HTTP_RANGE")
_KEY = "calamari.answer_key"  # environ: the request's key parts (without the role), set for GETs
_STAMP = "calamari.answer_stamp"  # environ: the change count read before the view ran
_NOTE = "calamari.answer_note"  # environ: what to keep the answer under, set after the view
_VARY = "calamari_answer_vary"  # attribute of a cacheable view function: its vary, or None

Vary = Callable[[Any, dict[str, Any]], Hashable]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def cacheable(vary: Vary | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a GET view whose 200 answers may be kept between changes to the model. `vary(services,
    view_args)`: what else the answer depends on now (the view says which value it used with
    `answer_varies_by`); without it the answer depends on the model, the request and the role only."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, _VARY, vary)
        return view

    return mark


def answer_varies_by(value: Hashable) -> None:
    """Called by a view with a `vary`: the value its answer was made with."""
    g.answer_vary = value


@dataclass(frozen=True)
class _Answer:
    stamp: int
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    vary: Vary | None
    view_args: dict[str, Any]
    vary_value: Hashable

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(self.status, list(self.headers))
        return [self.body]


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
                 max_answer: int = MAX_ANSWER) -> None:
        self.app = app
        self.changes = changes
        self.max_bytes = max_bytes
        self.max_answer = max_answer
        self.endpoints: dict[str, Vary | None] = {}
        self._answers: OrderedDict[tuple[Any, ...], _Answer] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0

    # ------------------------------------------------------------------ installing

    def install(self) -> None:
        """Keep the answers of the app's @cacheable routes; call after every blueprint is registered."""
        app = self.app
        for rule in app.url_map.iter_rules():
            view = app.view_functions.get(rule.endpoint)
            if view is None or not hasattr(view, _VARY):
                continue
            if "GET" not in (rule.methods or ()) or route_level(app, "GET", rule.rule) != USER:
                raise ValueError(f"{rule.rule}: only a GET route every logged-in user reads may be cacheable")
            self.endpoints[rule.endpoint] = getattr(view, _VARY)
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
        vary = self.endpoints[request.endpoint or ""]
        vary_value = g.get("answer_vary")
        if vary is not None and vary_value is None:
            return response  # the view did not say what it used: not kept
        environ[_NOTE] = (identity.role, stamp, vary, dict(request.view_args or {}), vary_value)
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
        role, stamp, vary, view_args, vary_value = note
        if len(body) <= self.max_answer and self.changes() == stamp:
            self._put((*key, role), _Answer(stamp, sent[0], tuple(sent[1]), body, vary, view_args, vary_value))
        return [body]

    # ------------------------------------------------------------------ keeping

    def _put(self, key: tuple[Any, ...], answer: _Answer) -> None:
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._answers[key] = answer
            self._size += len(answer.body)
            while self._size > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._size -= len(dropped.body)

    def _get(self, key: tuple[Any, ...]) -> _Answer | None:
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
        if not self._answers:
            return None
        key = _request_key(environ)
        if key is None:
            return None
        stamp = self.changes()
        if stamp % 2:
            return None  # a change is being made
        cookies = parse_cookie(environ.get("HTTP_COOKIE", "")) if "HTTP_AUTHORIZATION" not in environ else {}
        identity, refusal = identity_of(self.app.config["CALAMARI"].auth, "GET", environ.get("HTTP_AUTHORIZATION", ""),
                                        cookies, None, wait=False)
        if identity is None or refusal is not None:
            return None  # the app refuses it, in its own words
        answer = self._get((*key, identity.role))
        if answer is None or answer.stamp != stamp:
            return None
        if answer.vary is not None and answer.vary(self.app.config["CALAMARI"], answer.view_args) != answer.vary_value:
            return None
        if self.changes() != stamp:
            return None  # a change began while it was looked up
        self.hits += 1
        return answer


def at_once_for(app: Flask) -> Callable[[dict[str, Any]], WsgiApp | None] | None:
    """The app's `at_once` for the HTTP server, if it keeps answers."""
    cache = app.extensions.get("calamari_answers")
    return cache.at_once if cache is not None else None
