"""`GET /api/v2/graphite/render`: the Graphite render API under /api/v2/ as well, for the web
console. Its session cookie is scoped to /api/ (docs/security.md), so a browser does not send it
to /graphite/; the answers are exactly those of /graphite/render (same handler, same limits).
GET only: a read needs no CSRF token, and Grafana keeps using /graphite/."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import doc
from calamari.api.graphite import MAX_TARGETS, render

blueprint = Blueprint("graphite_console", __name__)


@blueprint.get("/api/v2/graphite/render")
@doc("Time series by Graphite targets, as GET /graphite/render answers them (for the console, whose "
     "session cookie is sent under /api/ only)",
     response={"type": "array", "items": {"type": "object"}},
     query={
         "target": {"type": "string", "description": f"a metric path with globs, or a function call; "
                                                     f"repeatable, at most {MAX_TARGETS}"},
         "from": {"type": "string", "description": "now, -1h, epoch seconds, HH:MM_YYYYMMDD (default -24h)"},
         "until": {"type": "string", "description": "as from (default now)"},
         "format": {"type": "string", "enum": ["json", "csv", "raw"], "default": "json"},
         "maxDataPoints": {"type": "integer", "minimum": 0},
     },
     errors=(400, 401, 403, 413, 503))
def console_render() -> Response:
    return render()
