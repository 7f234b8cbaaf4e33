"""gzip for the answers of clients that accept it (`Accept-Encoding: gzip`): large lists and
/metrics shrink tenfold or more. Installed on the app as one after-request hook."""

from __future__ import annotations

import zlib

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
    if (response.status_code < 200 or response.status_code in (204, 304) or response.direct_passthrough
            or response.is_streamed or "Content-Encoding" in response.headers
            or response.mimetype not in COMPRESSIBLE):
        return response
    response.vary.add("Accept-Encoding")  # caches must keep the two encodings apart
    if (not accepts_gzip() or request.path.startswith(SECRET_PATHS)
            or "Set-Cookie" in response.headers):
        return response
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip_bytes(body))
    response.headers["Content-Encoding"] = "gzip"
    return response


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding takes gzip (`gzip`, `*`, not `gzip;q=0`)."""
    return request.accept_encodings["gzip"] > 0


def gzip_bytes(body: bytes) -> bytes:
    """`body` as a gzip member (no file name or time in the header: the same body gives the same bytes)."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: the gzip wrapper
    return compressor.compress(body) + compressor.flush()
