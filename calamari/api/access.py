"""Who may call what, and what every answer carries: authentication of every route (bearer token
or session cookie with its CSRF header), the role each route needs (ROUTE_ACCESS: a route missing
from it is refused, so a new route cannot be open by mistake), security headers, the request size
limit, and the proxy set-up for running behind a TLS-terminating proxy.

App settings (create_app options): METRICS_PUBLIC (serve /metrics without a token; for setups that
protect it by network), HSTS_SECONDS (Strict-Transport-Security on HTTPS answers; 0: none),
SECURE_COOKIES (mark cookies Secure even when the request arrived as plain HTTP from a proxy),
PROXY_HOPS (trust that many X-Forwarded-For/-Proto headers), MAX_CONTENT_LENGTH (bytes)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from calamari.api.common import ApiError, json_response
from calamari.domain.user import ADMIN, OPERATOR

log = logging.getLogger(__name__)

# Access levels: no login; any logged-in user (read-only and up); operators and admins; admins
# only; admins, or the user the route names (<name>, or "me").
PUBLIC, USER, OPERATOR_ONLY, ADMIN_ONLY, SELF_OR_ADMIN = "public", "user", "operator", "admin", "self-or-admin"
ROLES_OF_LEVEL = {OPERATOR_ONLY: {OPERATOR, ADMIN}, ADMIN_ONLY: {ADMIN}}

SESSION_COOKIE = "calamari_session"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRFToken"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_MAX_CONTENT_LENGTH = 1 << 20  # the largest body any route takes is a few KiB

_CLUSTER = "/api/v2/cluster/<fsid>"
_OSD = f"{_CLUSTER}/osd/<int:osd_id>"
_POOL = f"{_CLUSTER}/pool/<int:pool_id>"
_CRUSH_NODE = f"{_CLUSTER}/crush_node/<int(signed=True):node_id>"
_CRUSH_RULE = f"{_CLUSTER}/crush_rule/<int:rule_id>"

# (method, route) -> level. HEAD and OPTIONS take the level of GET (or of the route's only method).
ROUTE_ACCESS: dict[tuple[str, str], str] = {
    ("POST", "/api/v2/auth/login"): PUBLIC,
    ("POST", "/api/v2/auth/logout"): USER,
    ("GET", "/api/v2/auth/token"): USER,  # the caller's own sessions
    ("DELETE", "/api/v2/auth/token/<session_id>"): USER,  # one of the caller's own sessions
    ("GET", "/api/v2/info"): USER,
    ("GET", "/api/v2/health/active"): PUBLIC,  # a load balancer's check: which server is active
    ("GET", "/api/v2/openapi.json"): USER,
    ("GET", "/api/v2/event"): USER,
    ("GET", "/api/v2/stream"): USER,  # the push stream of committed events (Server-Sent Events)
    ("GET", "/api/v2/request"): USER,
    ("GET", "/api/v2/request/<request_id>"): USER,
    ("POST", "/api/v2/request/<request_id>/cancel"): OPERATOR_ONLY,
    ("GET", "/api/v2/server"): USER,
    ("GET", "/api/v2/server/<fqdn>"): USER,
    ("DELETE", "/api/v2/server/<fqdn>"): ADMIN_ONLY,
    ("GET", "/api/v2/server/<fqdn>/event"): USER,
    ("GET", "/api/v2/grains"): USER,
    ("GET", "/api/v2/server/<fqdn>/grains"): USER,
    ("GET", "/api/v2/server/<fqdn>/log"): USER,  # the host's Ceph log files, read by its collector
    ("GET", "/api/v2/server/<fqdn>/log/<path:log_path>"): USER,
    ("GET", "/api/v2/cluster"): USER,
    ("GET", _CLUSTER): USER,
    ("DELETE", _CLUSTER): ADMIN_ONLY,  # forget the cluster
    ("POST", f"{_CLUSTER}/cli"): OPERATOR_ONLY,  # read-only commands, but they load the cluster
    ("GET", f"{_CLUSTER}/config"): USER,
    ("GET", f"{_CLUSTER}/config/<path:key>"): USER,
    ("GET", f"{_CLUSTER}/crush_map"): USER,
    ("POST", f"{_CLUSTER}/crush_map"): OPERATOR_ONLY,  # replaces the whole map: like every CRUSH change
    ("GET", f"{_CLUSTER}/crush_node"): USER,
    ("POST", f"{_CLUSTER}/crush_node"): OPERATOR_ONLY,
    ("GET", _CRUSH_NODE): USER,
    ("PATCH", _CRUSH_NODE): OPERATOR_ONLY,
    ("DELETE", _CRUSH_NODE): OPERATOR_ONLY,
    ("GET", f"{_CLUSTER}/crush_rule"): USER,
    ("POST", f"{_CLUSTER}/crush_rule"): OPERATOR_ONLY,
    ("GET", _CRUSH_RULE): USER,
    ("PATCH", _CRUSH_RULE): OPERATOR_ONLY,
    ("DELETE", _CRUSH_RULE): OPERATOR_ONLY,
    ("GET", f"{_CLUSTER}/crush_rule_set"): USER,
    ("GET", f"{_CLUSTER}/crush_type"): USER,
    ("GET", f"{_CLUSTER}/crush_type/<int:type_id>"): USER,
    ("GET", f"{_CLUSTER}/event"): USER,
    ("GET", f"{_CLUSTER}/history"): USER,
    ("GET", f"{_CLUSTER}/history/timeline"): USER,
    ("GET", f"{_CLUSTER}/log"): USER,
    ("GET", f"{_CLUSTER}/mon"): USER,
    ("GET", f"{_CLUSTER}/mon/<name>"): USER,
    ("GET", f"{_CLUSTER}/mon/<name>/status"): USER,
    ("GET", f"{_CLUSTER}/osd"): USER,
    ("GET", _OSD): USER,
    ("PATCH", _OSD): OPERATOR_ONLY,
    ("GET", f"{_OSD}/command"): USER,
    ("POST", f"{_OSD}/command/<command>"): OPERATOR_ONLY,
    ("GET", f"{_OSD}/stats"): USER,
    ("GET", f"{_CLUSTER}/osd/command"): USER,
    ("POST", f"{_CLUSTER}/osd/command/<command>"): OPERATOR_ONLY,
    ("GET", f"{_CLUSTER}/osd_config"): USER,
    ("PATCH", f"{_CLUSTER}/osd_config"): OPERATOR_ONLY,
    ("GET", f"{_CLUSTER}/pool"): USER,
    ("POST", f"{_CLUSTER}/pool"): OPERATOR_ONLY,
    ("GET", _POOL): USER,
    ("PATCH", _POOL): OPERATOR_ONLY,
    ("DELETE", _POOL): OPERATOR_ONLY,
    ("GET", f"{_POOL}/stats"): USER,
    ("GET", f"{_CLUSTER}/pool/stats"): USER,
    ("GET", f"{_CLUSTER}/request"): USER,
    ("GET", f"{_CLUSTER}/request/<request_id>"): USER,
    ("GET", f"{_CLUSTER}/server"): USER,
    ("GET", f"{_CLUSTER}/server/<fqdn>"): USER,
    ("GET", f"{_CLUSTER}/stats"): USER,
    ("GET", f"{_CLUSTER}/sync_object"): USER,
    ("GET", f"{_CLUSTER}/sync_object/<name>"): USER,
    ("GET", "/api/v2/key"): USER,  # public keys and their status: nothing secret
    ("GET", "/api/v2/key/<key_id>"): USER,
    ("PATCH", "/api/v2/key/<key_id>"): ADMIN_ONLY,
    ("DELETE", "/api/v2/key/<key_id>"): ADMIN_ONLY,
    # channels hold receivers' addresses and take secrets; the outbox tells what reached them
    ("GET", "/api/v2/notification_channel"): ADMIN_ONLY,
    ("POST", "/api/v2/notification_channel"): ADMIN_ONLY,
    ("GET", "/api/v2/notification_channel/<channel_id>"): ADMIN_ONLY,
    ("PATCH", "/api/v2/notification_channel/<channel_id>"): ADMIN_ONLY,
    ("DELETE", "/api/v2/notification_channel/<channel_id>"): ADMIN_ONLY,
    ("POST", "/api/v2/notification_channel/<channel_id>/test"): ADMIN_ONLY,
    ("GET", "/api/v2/notification"): OPERATOR_ONLY,
    ("GET", "/api/v2/notification/<notification_id>"): OPERATOR_ONLY,
    ("POST", "/api/v2/notification/<notification_id>/retry"): OPERATOR_ONLY,
    ("GET", "/api/v2/user"): ADMIN_ONLY,
    ("POST", "/api/v2/user"): ADMIN_ONLY,
    ("GET", "/api/v2/user/<name>"): SELF_OR_ADMIN,
    ("PATCH", "/api/v2/user/<name>"): SELF_OR_ADMIN,  # the handler keeps role changes to admins
    ("DELETE", "/api/v2/user/<name>"): ADMIN_ONLY,
    ("DELETE", "/api/v2/user/<name>/token"): SELF_OR_ADMIN,  # end all of a user's sessions
    ("GET", "/api/v2/alert"): USER,
    ("GET", "/api/v2/alert/<alert_id>"): USER,
    ("POST", "/api/v2/alert/<alert_id>/acknowledge"): OPERATOR_ONLY,
    ("GET", "/api/v2/silence"): USER,
    ("POST", "/api/v2/silence"): OPERATOR_ONLY,
    ("GET", "/api/v2/silence/<silence_id>"): USER,
    ("DELETE", "/api/v2/silence/<silence_id>"): OPERATOR_ONLY,  # expire it
    ("GET", "/api/v2/alert-rule"): USER,
    ("POST", "/api/v2/alert-rule"): OPERATOR_ONLY,
    ("PATCH", "/api/v2/alert-rule/<name>"): OPERATOR_ONLY,
    ("GET", "/metrics"): USER,  # PUBLIC with METRICS_PUBLIC
    ("GET", "/graphite/functions"): USER,
    ("GET", "/graphite/metrics/find"): USER,
    ("POST", "/graphite/metrics/find"): USER,  # Grafana posts its queries; they change nothing
    ("GET", "/graphite/render"): USER,
    ("POST", "/graphite/render"): USER,
    ("GET", "/api/v2/graphite/render"): USER,
}


def route_level(app: Flask, method: str, rule: str) -> str | None:
    """The access level of a method on a route; None if no rule covers it (then it is refused)."""
    if method in ("HEAD", "OPTIONS"):
        level = ROUTE_ACCESS.get(("GET", rule))
        if level is not None:
            return level
        others = [lvl for (m, r), lvl in ROUTE_ACCESS.items() if r == rule]
        return max(others, key=_LEVEL_ORDER.index) if others else None
    if method == "GET" and rule == "/metrics" and app.config.get("METRICS_PUBLIC"):
        return PUBLIC
    return ROUTE_ACCESS.get((method, rule))


_LEVEL_ORDER = [PUBLIC, USER, SELF_OR_ADMIN, OPERATOR_ONLY, ADMIN_ONLY]


def identity_of(auth: object, method: str, authorization: str, cookies: Mapping[str, str], csrf: str | None,
                wait: bool = True) -> tuple[object | None, ApiError | None]:
    """Who sends a request, from its Authorization header (a bearer token) or else its session
    cookie (which a change must back with the CSRF header): (identity, None), (None, None) when
    it names nobody, or (None, refusal). The one rule both the app and the answer cache
    (calamari.api.answers) apply. `wait=False`: never wait for the model's lock (None then)."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None, ApiError(401, "unsupported Authorization header: send 'Bearer <token>'")
        return auth.authenticate(credentials.strip(), wait=wait), None
    cookie = cookies.get(SESSION_COOKIE)
    if not cookie:
        return None, None
    identity = auth.authenticate(cookie, wait=wait)
    # A browser sends the cookie on any request, also one a hostile page makes it send: a change
    # must also carry the CSRF token, which only our own pages can read.
    if identity is not None and method not in SAFE_METHODS:
        if not auth.csrf_ok(identity, csrf):
            return None, ApiError(403, f"CSRF check failed: send the {CSRF_HEADER} header given at login")
    return identity, None


def _identity_from_request(auth: object) -> tuple[object | None, ApiError | None]:
    return identity_of(auth, request.method, request.environ.get("HTTP_AUTHORIZATION", ""), request.cookies,
                       request.headers.get(CSRF_HEADER))


def check_access(app: Flask) -> Response | None:
    """The before_request hook: None lets the request through, else the refusal."""
    url_rule = request.url_rule
    rule = url_rule.rule if url_rule is not None else None
    level = route_level(app, request.method, rule) if rule is not None else None
    if level == PUBLIC:
        return None
    identity, refusal = _identity_from_request(app.config["CALAMARI"].auth)
    if refusal is not None:
        return refusal.response()
    if identity is None:
        return ApiError(401, "authentication required: log in at /api/v2/auth/login and send "
                             "'Authorization: Bearer <token>'").response()
    g.identity = identity
    if rule is None:
        return None  # no such route or method: routing answers 404 or 405 (only to a logged-in user)
    if level is None:
        log.error("no access rule for %s %s: refused", request.method, rule)
        return ApiError(403, "this route has no access rule; it is refused to everyone").response()
    if level == USER:
        return None
    if level == SELF_OR_ADMIN:
        name = (request.view_args or {}).get("name")
        if identity.role == ADMIN or name in (identity.username, "me"):
            return None
        return ApiError(403, f"only an admin or the user {name!r} may do this").response()
    if identity.role in ROLES_OF_LEVEL[level]:
        return None
    return ApiError(403, f"the {identity.role} role may not do this; it needs the {level} role").response()


# Every answer is data (JSON, text, images): nothing may run, load or frame it.
_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def add_security_headers(app: Flask, response: Response) -> Response:
    headers = response.headers
    # one look at the names the answer has: a setdefault per header would scan them all each time
    present = {name.lower() for name, _ in headers.items()}
    missing = [pair for pair in _SECURITY_HEADERS if pair[0].lower() not in present]
    if missing:
        headers.extend(missing)
    if "cache-control" not in present:
        headers.add("Cache-Control", "no-store")  # answers hold cluster data and tokens: no cache keeps them
    elif request.path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
    hsts = int(app.config.get("HSTS_SECONDS") or 0)
    if hsts > 0 and request.is_secure:
        headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"
    return response


def too_large(app: Flask, err: RequestEntityTooLarge) -> Response:
    limit = app.config.get("MAX_CONTENT_LENGTH")
    return json_response({"detail": f"request body too large: at most {limit} bytes"}, 413)


def secure_cookies(app: Flask) -> bool:
    return bool(app.config.get("SECURE_COOKIES")) or request.is_secure


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def install(app: Flask) -> None:
    """Authentication, headers, size limit and proxy handling for the app."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is no limit
        app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_CONTENT_LENGTH
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        # Behind a proxy the client address and scheme come from its headers; trusting them
        # without a proxy would let any client pick its address (and dodge login throttling).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.before_request(lambda: check_access(app))
    app.after_request(lambda response: add_security_headers(app, response))
    app.register_error_handler(RequestEntityTooLarge, lambda err: too_large(app, err))
