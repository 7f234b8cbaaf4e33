"""gzip for the answers of clients that accept it (`Accept-Encoding: gzip`): large lists and
/metrics shrink tenfold or more. Installed on the app as one after-request hook."""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable

from flask import Flask, Response, request

MIN_SIZE = 1024  # bytes: below this gzip saves less than it costs
# zlib's fastest level: a 45 MB OSD list compresses about 20-fold at level 1 too, several times
# faster than at the default level 6, and the answer's time is what the client waits for.
LEVEL = 1
COMPRESSIBLE = frozenset({"application/json", "text/plain", "text/csv", "application/openmetrics-text"})
# Answers carrying secrets (tokens, session cookies) are never compressed: with a secret and
# input an attacker chooses in one compressed answer, its size tells about the secret (BREACH).
SECRET_PATHS = ("/api/v2/auth/",)


def install(app: Flask) -> None:
    app.after_request(gzip_response)


def gzip_response(response: Response) -> Response:
    """Compress `response` in place when the client takes gzip and it is worth it."""
    headers = response.headers
    # the media type read off the header as it is: response.mimetype parses all its parameters
    mimetype = headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if (response.status_code < 200 or response.status_code in (204, 304) or response.direct_passthrough
            or response.is_streamed or "Content-Encoding" in headers or mimetype not in COMPRESSIBLE):
        return response
    add_vary_accept_encoding(response)  # caches must keep the two encodings apart
    if (not accepts_gzip() or request.path.startswith(SECRET_PATHS)
            or "Set-Cookie" in headers):
        return response
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip_bytes(body))
    headers["Content-Encoding"] = "gzip"
    return response


def add_vary_accept_encoding(response: Response) -> None:
    """`Vary: Accept-Encoding` on `response`, keeping what else it varies on."""
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers.add("Vary", "Accept-Encoding")
    elif "accept-encoding" not in {part.strip().lower() for part in vary.split(",")}:
        response.headers["Vary"] = f"{vary}, Accept-Encoding"


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding takes gzip (`gzip`, `*`, not `gzip;q=0`)."""
    offered = request.environ.get("HTTP_ACCEPT_ENCODING", "")
    if "gzip" not in offered.lower() and "*" not in offered:
        return False  # told without parsing the header: most of what is sent without gzip
    return request.accept_encodings["gzip"] > 0


def gzip_bytes(body: bytes | Iterable[bytes]) -> bytes:
    """`body` (or the concatenation of its parts, never joined) as a gzip member (no file name or
    time in the header: the same body gives the same bytes)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: the gzip wrapper
    parts = [body] if isinstance(body, bytes) else body
    return b"".join([*(compressor.compress(part) for part in parts), compressor.flush()])


class RecentGzip:
    """The gzip form of recent large answers by ETag, so that asking again for an unchanged list
    costs neither its rendering nor its compression; the oldest are dropped beyond `max_bytes`.
    (Their identity form is not kept: a 45 MB OSD list would cost more memory than it saves.)"""

    def __init__(self, max_bytes: int = 16 << 20) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[str, tuple[bytes, dict[str, str]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, tag: str) -> tuple[bytes, dict[str, str]] | None:
        with self._lock:
            found = self._answers.get(tag)
            if found is not None:
                self._answers.move_to_end(tag)
            return found

    def put(self, tag: str, body: bytes, headers: dict[str, str]) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if tag in self._answers:
                return
            self._answers[tag] = (body, headers)
            self._size += len(body)
            while self._size > self.max_bytes:
                _, (dropped, _) = self._answers.popitem(last=False)
                self._size -= len(dropped)


def gzip_answer(body: bytes, headers: dict[str, str]) -> Response:
    """A JSON answer already in gzip form (the hook above leaves it as it is)."""
    response = Response(body, mimetype="application/json", headers=headers)
    response.headers["Content-Encoding"] = "gzip"
    add_vary_accept_encoding(response)
    return response
