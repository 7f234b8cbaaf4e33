"""Several servers on one store (docs/high-availability.md): which one is active, for a load
balancer (`GET /api/v2/health/active`: 200 only where changes are accepted), and the refusal
of changes on a standby (503 naming the active server's address; not forwarded)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from calamari.api.access import SAFE_METHODS
from calamari.api.common import doc, json_response

blueprint = Blueprint("high_availability", __name__, url_prefix="/api/v2")

SINGLE = "single"  # a server alone on its store (SQLite): always the one that writes

_STATUS = {"type": "object", "properties": {
    "role": {"type": "string", "enum": ["single", "active", "standby", "fenced"]},
    "active": {"type": ["string", "null"], "description": "the API address of the active server"},
    "lag": {"type": "object", "properties": {"events": {"type": "integer"}, "seconds": {"type": "number"}}},
}}


def role_status(app: Flask) -> dict[str, Any]:
    """This server's role, the active server's address and a standby's lag behind the store."""
    keeper = app.config.get("HIGH_AVAILABILITY")
    if keeper is None:
        return {"role": SINGLE, "active": None, "lag": {"events": 0, "seconds": 0.0}}
    status = dict(keeper.status())
    status["active"] = status.get("active") or None
    return status


def accepts_changes(app: Flask) -> bool:
    keeper = app.config.get("HIGH_AVAILABILITY")
    return keeper is None or bool(keeper.is_active())


@blueprint.get("/health/active")
@doc("200 on the server that accepts changes (the active one, or a server alone on its store), 503 on a "
     "standby: for a load balancer's health check; no login needed", response=_STATUS, errors=(503,))
def active_health() -> Response:
    status = role_status(current_app)
    return json_response(status, 200 if accepts_changes(current_app) else 503)


def refuse_changes_on_standby(app: Flask) -> Response | None:
    """The before_request hook: a change (any method but GET, HEAD, OPTIONS) sent to a standby
    is answered 503 with the active server's address, for the client to send it there."""
    if request.method in SAFE_METHODS or accepts_changes(app):
        return None
    active = role_status(app)["active"]
    where = f"send it to the active server at {active}" if active else "no server is active right now; retry shortly"
    response = json_response({"detail": f"this server is a standby and does not accept changes: {where}",
                              "errors": {"server": "standby"}, "active": active}, 503)
    response.headers["Retry-After"] = "1"
    return response


def install(app: Flask) -> None:
    """Refuse changes on a standby (after authentication, so that 401 and 403 come first)."""
    app.before_request(lambda: refuse_changes_on_standby(app))
