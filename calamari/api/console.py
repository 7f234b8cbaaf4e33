"""The web console's files: the built front end (web/dist, made by `make venv`/`make run`) served at
`/`, in front of the API's routing. Paths under /api/, /graphite/ and /metrics, and every method but
GET and HEAD, go on to the Flask app untouched, so the API keeps its access rules and its strict
headers; the console itself is public (its login page must load without a session) and holds no
data: everything it shows it reads from the API with the user's session.

- `/` and client routes (`/osds`, `/hosts/<fqdn>`, …: a path that names no file of the build)
  answer index.html, which is never cached (`no-cache`: revalidated by its ETag), so a
  new build is picked up at the next load.
- `/assets/*` are content-hashed by the build: cached for a year, immutable.
- A `.gz` twin made at build time is sent to clients that accept gzip.
- Pages carry a CSP allowing only the console's own scripts, styles, images and API calls."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

# The API's own paths: never answered by the console.
API_PREFIXES = ("/api/", "/graphite/")
API_PATHS = ("/api", "/graphite", "/metrics")

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HASHED_ASSETS = "assets/"
YEAR = 365 * 24 * 3600

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def default_console_dir() -> Path:
    """$CALAMARI_CONSOLE_DIR, else web/dist of the source tree this package runs from."""
    configured = os.environ.get("CALAMARI_CONSOLE_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "web" / "dist"


STATIC_SUFFIXES = (".js", ".mjs", ".css", ".map", ".png", ".svg", ".ico", ".json", ".txt", ".woff", ".woff2", ".html",
                   ".gz", ".webmanifest")


def looks_like_file(relative: str) -> bool:
    """A path that names a file of the build, not a client route: anything under assets/, or a
    top-level name with a file type of the build (`/hosts/node1.example.com` is a route)."""
    return relative.startswith(HASHED_ASSETS) or ("/" not in relative and relative.lower().endswith(STATIC_SUFFIXES))


def is_api_path(path: str) -> bool:
    return path in API_PATHS or path.startswith(API_PREFIXES) or path.startswith("/metrics/")


class ConsoleFiles:
    """WSGI middleware: the console's files for GET/HEAD outside the API, the API for the rest."""

    def __init__(self, api: WsgiApp, directory: str | Path, hsts_seconds: int = 0) -> None:
        self.api = api
        self.directory = Path(directory)
        self.hsts_seconds = hsts_seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or is_api_path(path):
            return self.api(environ, start_response)
        response = self.answer(Request(environ))
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        index = self.directory / "index.html"
        if not index.is_file():
            return self._headers(request, Response(
                "<!doctype html><title>Calamari</title><h1>The web console is not built</h1>"
                "<p>Build it with <code>make venv</code> (or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>; "
                "it needs Node.js 20 and npm), then reload. The REST API is at <code>/api/v2/</code>.</p>",
                status=503, mimetype="text/html"), page=True)
        relative = request.path.lstrip("/")
        found = safe_join(str(self.directory), relative) if relative else None
        if found is not None and os.path.isfile(found):
            return self._file(request, Path(found))
        if looks_like_file(relative):
            # a missing file (an old asset, a typo) is a 404, not the page: a script tag must not get HTML
            return self._headers(request, Response(f"no such file: /{relative}\n", status=404, mimetype="text/plain"))
        return self._file(request, index)  # a client route: the page routes itself

    def _file(self, request: Request, path: Path) -> Response:
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        gzipped = path.with_name(path.name + ".gz")
        send = path
        encoded = False
        if request.accept_encodings["gzip"] > 0 and gzipped.is_file():
            send, encoded = gzipped, True
        response = send_file(str(send), request.environ, mimetype=mimetype, conditional=True, etag=True)
        response.headers.pop("Content-Disposition", None)  # a page, not a download of index.html.gz
        if encoded:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        relative = path.relative_to(self.directory).as_posix()
        if relative.startswith(HASHED_ASSETS):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return self._headers(request, response, page=mimetype == "text/html")

    def _headers(self, request: Request, response: Response, page: bool = False) -> Response:
        headers = response.headers
        # the API's strict policy for anything that is not a page; pages may load their own files
        headers["Content-Security-Policy"] = PAGE_CSP if page else "default-src 'none'; frame-ancestors 'none'"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers.setdefault("Cache-Control", "no-store")
        if self.hsts_seconds > 0 and request.is_secure:
            headers["Strict-Transport-Security"] = f"max-age={self.hsts_seconds}; includeSubDomains"
        return response


def install(app: Any, directory: str | Path | None = None) -> None:
    """Put the console in front of `app` (a Flask app); before the proxy set-up wraps it, so that
    HTTPS behind a proxy is seen as such."""
    app.wsgi_app = ConsoleFiles(app.wsgi_app, directory if directory is not None else default_console_dir(),
                                int(app.config.get("HSTS_SECONDS") or 0))
