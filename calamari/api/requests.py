"""User requests: list, detail, cancel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from calamari.api.common import ApiError, current_user, doc, json_response, paginate, services
from calamari.api.listing import etag, fields_arg, fields_query, select, selectable, unchanged
from calamari.api.lookup import cluster_model

blueprint = Blueprint("requests", __name__, url_prefix="/api/v2")

REQUEST_SCHEMA = {"type": "object", "required": ["id", "state"],
                  "properties": {"id": {"type": "string"}, "state": {"enum": ["submitted", "executing", "complete"]},
                                 "error": {"type": "boolean"}, "error_message": {"type": "string"},
                                 "headline": {"type": "string"}, "status": {"type": "string"}}}
PAGE = {"type": "object", "required": ["count", "results"],
        "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": selectable(REQUEST_SCHEMA)}}}
STATES = ("submitted", "executing", "complete")
REQUEST_FIELDS = ("id", "fsid", "username", "kind", "target", "headline", "state", "status", "error", "error_message",
                  "requested_at", "completed_at", "body")
QUERY = {"state": {"type": "string", "enum": list(STATES)}, "page": {"type": "integer", "minimum": 1},
         "page_size": {"type": "integer", "minimum": 1, "maximum": 1000}, "fields": fields_query(REQUEST_FIELDS)}


def _list(fsid: str | None) -> Response:
    state = request.args.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, "invalid state", {"state": f"one of {', '.join(STATES)}"})
    fields = fields_arg(REQUEST_FIELDS)
    tag = etag(services().service.view.generation(("requests", "")))
    if (answer := unchanged(tag)) is not None:
        return answer
    rows = [r for r in list(services().service.view.requests.values())
            if (fsid is None or r["fsid"] == fsid) and (state is None or r["state"] == state)]
    rows.sort(key=lambda r: r["requested_at"], reverse=True)
    return json_response(paginate(rows, lambda row: select(row, fields)), headers={"ETag": tag})


def _one(request_id: str, fsid: str | None) -> dict[str, Any]:
    row = services().service.view.requests.get(request_id)
    if row is None or (fsid is not None and row["fsid"] != fsid):
        raise ApiError(404, f"no request {request_id}")
    return row


@blueprint.get("/request")
@doc("Requests, newest first; `?state=`, `?fields=`; an ETag (If-None-Match: 304)", response=PAGE, query=QUERY,
     errors=(400, 401), etag=True)
def requests_() -> Response:
    return _list(None)


@blueprint.get("/cluster/<fsid>/request")
@doc("Requests of a cluster, newest first; `?state=`, `?fields=`; an ETag (If-None-Match: 304)", response=PAGE,
     query=QUERY, errors=(400, 401, 404), etag=True)
def cluster_requests(fsid: str) -> Response:
    cluster_model(fsid)
    return _list(fsid)


@blueprint.get("/request/<request_id>")
@doc("One request", response=REQUEST_SCHEMA, errors=(401, 404))
def request_detail(request_id: str) -> Response:
    return json_response(_one(request_id, None))


@blueprint.get("/cluster/<fsid>/request/<request_id>")
@doc("One request of a cluster", response=REQUEST_SCHEMA, errors=(401, 404))
def cluster_request_detail(fsid: str, request_id: str) -> Response:
    cluster_model(fsid)
    return json_response(_one(request_id, fsid))


@blueprint.post("/request/<request_id>/cancel")
@doc("Cancel a request that is not complete (409 if it is)", response=REQUEST_SCHEMA, errors=(401, 403, 404, 409))
def cancel(request_id: str) -> Response:
    _one(request_id, None)
    if not services().executor.cancel(request_id, current_user().username):
        raise ApiError(409, "the request is already complete")
    return json_response(_one(request_id, None))
