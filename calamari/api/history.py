"""`GET /api/v2/cluster/<fsid>/history`: the cluster as it was (`?at=`) or what changed
(`?from=&to=`). Translates HTTP to calamari.service.history and back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from calamari.api.common import doc, json_response
from calamari.domain.documents import OSD_FIELDS
from calamari.domain.history import STATE_PARTS
from calamari.service.history import (
    MAX_BUCKETS,
    MAX_HEALTH_MARKS,
    ClusterNotFound,
    History,
    HistoryArchivedError,
    HistoryError,
    parse_buckets,
    parse_limit,
    parse_osd_fields,
    parse_parts,
)

blueprint = Blueprint("history", __name__)

_POINT = {"type": "string", "description": "an ISO 8601 time (UTC when no zone is given) or an event position"}
_KEPT_FROM = {"type": "object", "nullable": True, "required": ["position", "time"],
              "description": "where the kept history starts (the last archived event); null: all of it is kept",
              "properties": {"position": {"type": "integer"}, "time": {"type": "string", "format": "date-time"}}}


def history_of(service: Any) -> History:
    """One History per app (it caches event times), over the service's store and snapshots."""
    history = current_app.extensions.get("calamari.history")
    if history is None:
        history = History(service.store, service.config.snapshot_dir)
        current_app.extensions["calamari.history"] = history
    return history


@blueprint.get("/api/v2/cluster/<fsid>/history")
@doc("The cluster as it was at a time or event position (at: cluster, health, osd, pool, server), "
     "or the events and a summary of what changed between two of them (from, to). Every answer has "
     "`kept_from` ({position, time}: where the kept history starts, after `calamari-ctl events archive`; "
     "null while the whole history is stored); a point before it answers 410 naming it",
     response={"type": "object", "required": ["fsid", "kept_from"],
               "properties": {"fsid": {"type": "string"}, "kept_from": _KEPT_FROM}},
     query={
         "at": _POINT,
         "from": _POINT,
         "to": {**_POINT, "description": "an ISO 8601 time or an event position (default: now)"},
         "limit": {"type": "integer", "minimum": 0, "maximum": 10_000, "default": 1000,
                   "description": "list at most this many events (the summary covers all)"},
         "parts": {"type": "string", "description": "with at: comma-separated lists to answer, of: "
                   + ", ".join(STATE_PARTS) + " (default: all; cluster, health and counters always come)"},
         "osd_fields": {"type": "string", "description": "with at: comma-separated fields of each OSD to answer, "
                        "of: " + ", ".join(OSD_FIELDS) + " (default: all)"},
     },
     errors=(400, 401, 403, 404, 410))
def cluster_history(fsid: str) -> Response:
    service = current_app.config["SERVICE"]
    if fsid not in service.view.clusters:  # a forgotten cluster has no history here until it reports again
        return json_response({"detail": f"no cluster {fsid}"}, 404)
    args = request.args
    try:
        unknown = sorted(set(args) - {"at", "from", "to", "limit", "parts", "osd_fields"})
        if unknown:
            raise HistoryError(unknown[0], "unknown parameter (use at with parts and osd_fields, or from and to, "
                                           "and limit)")
        if "at" in args:
            if "from" in args or "to" in args:
                raise HistoryError("at", "give either at, or from (and to), not both")
            parts, osd_fields = parse_parts(args.get("parts")), parse_osd_fields(args.get("osd_fields"))
            return json_response(history_of(service).live_state(fsid, args["at"], parts, osd_fields))
        for name in ("parts", "osd_fields"):
            if name in args:
                raise HistoryError(name, "goes with at, not from and to")
        if "from" not in args:
            raise HistoryError("at", "required: at=<time or position>, or from=<...>&to=<...>")
        return json_response(history_of(service).diff(fsid, args["from"], args.get("to"), parse_limit(args.get("limit"))))
    except HistoryArchivedError as err:
        return json_response({"detail": f"invalid {err.field}: {err.reason}", "errors": {err.field: err.reason},
                              "kept_from": err.kept_from.as_dict()}, 410)
    except HistoryError as err:
        return json_response({"detail": f"invalid {err.field}: {err.reason}", "errors": {err.field: err.reason}}, 400)
    except ClusterNotFound as err:
        return json_response({"detail": str(err)}, 404)


@blueprint.get("/api/v2/cluster/<fsid>/history/timeline")
@doc("How many events were stored in each of equal time buckets between two times, and the cluster's "
     "health transitions in between: the console's timeline",
     response={"type": "object"},
     query={
         "from": {**_POINT, "description": "an ISO 8601 time or an event position (default: the first event)"},
         "to": {**_POINT, "description": "an ISO 8601 time or an event position (default: the newest event)"},
         "buckets": {"type": "integer", "minimum": 1, "maximum": MAX_BUCKETS, "default": 100,
                     "description": "how many equal spans to count events in"},
     },
     errors=(400, 401, 403, 404))
def cluster_history_timeline(fsid: str) -> Response:
    service = current_app.config["SERVICE"]
    if fsid not in service.view.clusters:
        return json_response({"detail": f"no cluster {fsid}"}, 404)
    args = request.args
    try:
        unknown = sorted(set(args) - {"from", "to", "buckets"})
        if unknown:
            raise HistoryError(unknown[0], "unknown parameter (use from, to and buckets)")
        answer = history_of(service).timeline(fsid, args.get("from"), args.get("to"), parse_buckets(args.get("buckets")))
    except HistoryError as err:
        return json_response({"detail": f"invalid {err.field}: {err.reason}", "errors": {err.field: err.reason}}, 400)
    answer["health_limit"] = MAX_HEALTH_MARKS
    return json_response(answer)
