"""Calamari-style usage and IO figures from the whisper store:
/api/v2/cluster/<fsid>/stats, …/pool/stats, …/pool/<id>/stats and …/osd/<id>/stats.

Each answers {"from", "until", "step", "latest": {metric: value}, "series": {metric: [[ts, value], ...]}}
with metric names relative to the object (e.g. `num_bytes` for a pool, `df.total_used_bytes` for a
cluster). `?from=` and `?until=` take Graphite's time syntax (default the last hour);
`?max_points=N` shrinks each series by averaging."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, request

from calamari.api.common import doc
from calamari.api.graphite import RangeError, bad_request, json_response, no_store, time_range, whole_number
from calamari.graphite.series import Series, last_value, limit_points

blueprint = Blueprint("stats", __name__, url_prefix="/api/v2/cluster/<fsid>")

CLUSTER_GROUPS = ("df", "io")  # the cluster-wide subtrees; pool.* and osd.* have their own routes
MAX_POINTS_LIMIT = 10_000
RANGE_QUERY = {"from": {"type": "string"}, "until": {"type": "string"},
               "max_points": {"type": "integer", "minimum": 0, "maximum": MAX_POINTS_LIMIT}}
SERIES_RESPONSE = {"type": "object", "required": ["from", "until", "step", "latest", "series"], "properties": {
    "from": {"type": "integer"}, "until": {"type": "integer"}, "step": {"type": "integer", "nullable": True},
    "latest": {"type": "object"}, "series": {"type": "object"}}}
ERRORS = (400, 401, 404, 503)


def _read(prefixes: list[str]) -> Response | tuple[int, int, int, dict[str, Series]]:
    """The series of every metric directly under each prefix, keyed by name relative to the first."""
    store = current_app.config.get("TIMESERIES")
    if store is None:
        return no_store()
    now = int(time.time())
    try:
        start, end = time_range(request.args, now, default_from="-1h")
    except RangeError as err:
        return bad_request(err.field, str(err))
    max_points = whole_number(request.args.get("max_points", "0"))
    if max_points is None or max_points > MAX_POINTS_LIMIT:
        return bad_request("max_points", f"max_points must be a whole number up to {MAX_POINTS_LIMIT}")
    base = prefixes[0].count(".") + 1
    found: dict[str, Series] = {}
    for prefix in prefixes:
        for metric in store.children(prefix):
            series = store.fetch(metric, start, end, now)
            if series is not None:
                found[".".join(metric.split(".")[base:])] = limit_points(series, max_points)
    return start, end, now, found


def _answer(result: Response | tuple[int, int, int, dict[str, Series]], extra: dict[str, Any]) -> Response:
    if isinstance(result, Response):
        return result
    start, end, _now, found = result
    steps = {s.step for s in found.values()}
    return json_response({
        **extra,
        "from": start,
        "until": end,
        "step": min(steps) if steps else None,
        "latest": {name: last_value(s) for name, s in sorted(found.items())},
        "series": {name: [[t, v] for t, v in zip(s.timestamps(), s.values, strict=True)]
                   for name, s in sorted(found.items())},
    })


def _unknown(what: str) -> Response:
    return json_response({"detail": f"no {what}"}, 404)


def _view() -> Any:
    return current_app.config["SERVICE"].view


@blueprint.get("/stats")
@doc("Cluster usage and IO series (df.*, io.*) from the time-series store", response=SERIES_RESPONSE,
     query=RANGE_QUERY, errors=ERRORS)
def cluster_stats(fsid: str) -> Response:
    if fsid not in _view().clusters:
        return _unknown(f"cluster {fsid}")
    root = f"ceph.cluster.{fsid}"
    return _answer(_read([root] + [f"{root}.{group}" for group in CLUSTER_GROUPS]), {"cluster": fsid})


def _member_stats(fsid: str, kind: str, member_id: int, rows: dict[str, dict[int, Any]], what: str) -> Response:
    """The series of one pool or OSD (`kind`) of the cluster; 404 when the cluster has no such one."""
    if member_id not in rows.get(fsid, {}):
        return _unknown(f"{what} {member_id} in cluster {fsid}")
    return _answer(_read([f"ceph.cluster.{fsid}.{kind}.{member_id}"]), {"cluster": fsid, kind: member_id})


@blueprint.get("/pool/<int:pool_id>/stats")
@doc("One pool's usage and IO series", response=SERIES_RESPONSE, query=RANGE_QUERY, errors=ERRORS)
def pool_stats(fsid: str, pool_id: int) -> Response:
    return _member_stats(fsid, "pool", pool_id, _view().pools, "pool")


@blueprint.get("/osd/<int:osd_id>/stats")
@doc("One OSD's usage and latency series", response=SERIES_RESPONSE, query=RANGE_QUERY, errors=ERRORS)
def osd_stats(fsid: str, osd_id: int) -> Response:
    return _member_stats(fsid, "osd", osd_id, _view().osds, "OSD")


@blueprint.get("/pool/stats")
@doc("Every pool's newest usage and IO figures", response={"type": "array", "items": {"type": "object"}},
     errors=(401, 404, 503))
def all_pool_stats(fsid: str) -> Response:
    """The newest figures of every pool (no series): a list of {"id", "name", <metric>: value}."""
    pools = _view().pools.get(fsid)
    if fsid not in _view().clusters or pools is None:
        return _unknown(f"cluster {fsid}")
    rows = []
    for pool_id, row in sorted(pools.items()):
        result = _read([f"ceph.cluster.{fsid}.pool.{pool_id}"])
        if isinstance(result, Response):
            return result
        rows.append({"id": pool_id, "name": row["name"],
                     **{name: last_value(s) for name, s in sorted(result[3].items())}})
    return json_response(rows)
