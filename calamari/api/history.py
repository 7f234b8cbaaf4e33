"""`GET /api/v2/cluster/<fsid>/history`: the cluster as it was (`?at=`) or what changed
(`?from=&to=`). Translates HTTP to calamari.service.history and back."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from calamari.domain.model import ClusterModel
from calamari.service.history import ClusterNotFound, History, HistoryError, parse_limit

blueprint = Blueprint("history", __name__)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status,
                    mimetype="application/json")


def live_shape(model: ClusterModel, fsid: str, docs: dict[str, Any]) -> dict[str, Any]:
    """Give the past rows the fields the live routes derive (OSD pools and commands, server
    versions, cluster counters), with the live routes' own functions over the past state."""
    from calamari.api.clusters import rule_root
    from calamari.api.osds import _full_row, osd_server_fqdns
    from calamari.api.servers import server_row

    cluster = model.clusters[fsid]
    rules = {r["rule_id"]: rule_root(r) for r in cluster.crush.get("rules", [])}
    by_root: dict[str | None, list[int]] = {}
    for row in docs["pool"]:
        by_root.setdefault(rules.get(row["crush_ruleset"]), []).append(row["id"])
    server_fqdns = osd_server_fqdns(docs["server"], fsid)
    return {
        **docs,
        "cluster": {**docs["cluster"], "counters": docs["counters"]},
        "osd": [_full_row(row, by_root, server_fqdns) for row in docs["osd"]],
        "server": [server_row(row, fsid) for row in docs["server"]],
    }


def history_of(service: Any) -> History:
    """One History per app (it caches event times), over the service's store and snapshots."""
    history = current_app.extensions.get("calamari.history")
    if history is None:
        history = History(service.store, service.config.snapshot_dir)
        current_app.extensions["calamari.history"] = history
    return history


@blueprint.get("/api/v2/cluster/<fsid>/history")
def cluster_history(fsid: str) -> Response:
    service = current_app.config["SERVICE"]
    if fsid not in service.view.clusters:  # a forgotten cluster has no history here until it reports again
        return _json({"detail": f"no cluster {fsid}"}, 404)
    args = request.args
    try:
        unknown = sorted(set(args) - {"at", "from", "to", "limit"})
        if unknown:
            raise HistoryError(unknown[0], "unknown parameter (use at, or from and to, and limit)")
        if "at" in args:
            if "from" in args or "to" in args:
                raise HistoryError("at", "give either at, or from (and to), not both")
            return _json(history_of(service).state(fsid, args["at"], live_shape))
        if "from" not in args:
            raise HistoryError("at", "required: at=<time or position>, or from=<...>&to=<...>")
        return _json(history_of(service).diff(fsid, args["from"], args.get("to"), parse_limit(args.get("limit"))))
    except HistoryError as err:
        return _json({"detail": f"invalid {err.field}: {err.reason}", "errors": {err.field: err.reason}}, 400)
    except ClusterNotFound as err:
        return _json({"detail": str(err)}, 404)


_POINT = {"type": "string", "description": "an ISO 8601 time (UTC when no zone is given) or an event position"}

# Route documentation for the app's OpenAPI document (the shape of calamari.api.common.doc).
cluster_history._api_doc = {  # type: ignore[attr-defined]
    "summary": "The cluster as it was at a time or event position (at: cluster, health, osd, pool, server), "
               "or the events and a summary of what changed between two of them (from, to)",
    "body": None,
    "response": {"type": "object"},
    "query": {
        "at": _POINT,
        "from": _POINT,
        "to": {**_POINT, "description": "an ISO 8601 time or an event position (default: now)"},
        "limit": {"type": "integer", "minimum": 0, "maximum": 10_000, "default": 1000,
                  "description": "list at most this many events (the summary covers all)"},
    },
    "status": 200,
    "errors": (400, 401, 403, 404),
}
