"""The event feed: what happened, newest first, paginated; filters by severity and time."""

from __future__ import annotations

from flask import Blueprint, Response, request

from calamari.api.common import ApiError, doc, json_response, paginate, services, time_arg
from calamari.api.listing import etag, fields_arg, fields_query, select, selectable, unchanged
from calamari.api.lookup import cluster_model
from calamari.domain.event_feed import SEVERITIES

blueprint = Blueprint("events", __name__, url_prefix="/api/v2")

EVENT = {"type": "object", "required": ["when", "severity", "message"],
         "properties": {"id": {"type": "integer"}, "when": {"type": "string"}, "severity": {"enum": list(SEVERITIES)},
                        "message": {"type": "string"}, "fsid": {"type": ["string", "null"]},
                        "fqdn": {"type": ["string", "null"]}}}
PAGE = {"type": "object", "required": ["count", "results"],
        "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": selectable(EVENT)}}}
EVENT_FIELDS = ("id", "when", "severity", "message", "fsid", "fqdn")
QUERY = {"severity": {"type": "string", "enum": list(SEVERITIES)},
         "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"},
         "page": {"type": "integer", "minimum": 1}, "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
         "fields": fields_query(EVENT_FIELDS)}


def _events(fsid: str | None = None, fqdn: str | None = None) -> Response:
    severity = request.args.get("severity")
    if severity is not None and severity.upper() not in SEVERITIES:
        raise ApiError(400, "invalid severity", {"severity": f"one of {', '.join(SEVERITIES)}"})
    since, until = time_arg("since"), time_arg("until")
    fields = fields_arg(EVENT_FIELDS)
    if not services().feed_history_told.is_set():
        # a list without what happened before the start would be a wrong answer, not a short one
        return json_response({"detail": "the server has just started and is still reading the stored events from "
                                        "before its start; retry shortly"}, 503, headers={"Retry-After": "1"})
    feed = services().feed
    with services().service.reading():  # the feed is appended under the service lock
        # entries are only added (next_id) and the past told once (older): together they say what changed
        tag = etag(feed.next_id, len(feed.older))
        if (answer := unchanged(tag)) is not None:
            return answer
        rows = feed.query(fsid=fsid, fqdn=fqdn, severity=severity.upper() if severity else None,
                          since=since, until=until)
    return json_response(paginate(rows, lambda row: select(row, fields)), headers={"ETag": tag})


@blueprint.get("/event")
@doc("Events of every cluster and server; `?severity=X` shows X and more severe", response=PAGE, query=QUERY,
     errors=(400, 401, 503), etag=True)
def events() -> Response:
    return _events()


@blueprint.get("/cluster/<fsid>/event")
@doc("Events of a cluster", response=PAGE, query=QUERY, errors=(400, 401, 404, 503), etag=True)
def cluster_events(fsid: str) -> Response:
    cluster_model(fsid)
    return _events(fsid=fsid)


@blueprint.get("/server/<fqdn>/event")
@doc("Events of a server", response=PAGE, query=QUERY, errors=(400, 401, 404, 503), etag=True)
def server_events(fqdn: str) -> Response:
    if fqdn not in services().service.view.servers:
        raise ApiError(404, f"no server {fqdn!r}")
    return _events(fqdn=fqdn)
