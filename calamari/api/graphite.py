"""Graphite-compatible reads of the whisper store, for Grafana's Graphite data source and
Calamari's graph clients: /graphite/render, /graphite/metrics/find and /graphite/functions.
The store comes from app.config["TIMESERIES"] (a WhisperStore); the work one request may do from
app.config["GRAPHITE_LIMITS"] (a QueryLimits, the defaults when absent). A malformed target or
query answers 400, one that needs more work than the limits allow 413, each with the reason."""

from __future__ import annotations

import time
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from calamari.graphite.budget import QueryBudget
from calamari.graphite.errors import ExpressionError
from calamari.graphite.evaluate import Context, evaluate
from calamari.graphite.functions import function_catalog
from calamari.graphite.limits import DEFAULT_LIMITS, QueryLimits, QueryTooLarge
from calamari.graphite.parser import Node, parse_target
from calamari.graphite.series import Series, limit_points
from calamari.graphite.timespec import TimeSyntaxError, parse_time

blueprint = Blueprint("graphite", __name__, url_prefix="/graphite")

MAX_TARGETS = 50


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status, mimetype="application/json")


def bad_request(field: str, reason: str) -> Response:
    return json_response({"detail": reason, "errors": {field: reason}}, 400)


def refused_query(field: str, err: ExpressionError) -> Response:
    """400 for a malformed target or query, 413 for one that would need too much work."""
    response = bad_request(field, str(err))
    if isinstance(err, QueryTooLarge):
        response.status_code = 413
    return response


def query_limits() -> QueryLimits:
    return current_app.config.get("GRAPHITE_LIMITS") or DEFAULT_LIMITS


def timeseries_store() -> Any:
    return current_app.config.get("TIMESERIES")


def no_store() -> Response:
    return json_response({"detail": "no time-series store is configured"}, 503)


def whole_number(text: str) -> int | None:
    """A non-negative integer written in ASCII digits, or None. (str.isdigit() alone takes '²',
    and int() refuses thousands of digits.)"""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


class RangeError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def time_range(params: Any, now: int, default_from: str = "-24h") -> tuple[int, int]:
    """(start, end) from the `from` and `until` parameters; RangeError names a bad one."""
    times = {}
    for field, default in (("from", default_from), ("until", "now")):
        try:
            times[field] = parse_time(params.get(field) or default, now)
        except TimeSyntaxError as err:
            raise RangeError(field, str(err)) from None
    if times["from"] >= times["until"]:
        raise RangeError("from", "'from' must be before 'until'")
    return times["from"], times["until"]


def render_series(store: Any, targets: list[str], start: int, end: int, now: int,
                  max_points: int = 0, limits: QueryLimits = DEFAULT_LIMITS) -> list[Series]:
    """Evaluate Graphite targets against the store: ExpressionError for a malformed one (every
    target is parsed before any is read), QueryTooLarge when together they need more work than
    `limits` allow."""
    parsed: list[Node] = [parse_target(target, limits) for target in targets]
    budget = QueryBudget(limits)
    ctx = Context(fetch=lambda pattern: store.fetch_pattern(pattern, start, end, now, budget), budget=budget)
    out: list[Series] = []
    for node in parsed:
        out.extend(evaluate(node, ctx))
    return [limit_points(s, max_points) for s in out] if max_points else out


@blueprint.route("/render", methods=["GET", "POST"])
def render() -> Response:
    store = timeseries_store()
    if store is None:
        return no_store()
    params = request.values
    targets = [t for t in params.getlist("target") if t.strip()]
    if not targets:
        return bad_request("target", "at least one target is required")
    if len(targets) > MAX_TARGETS:
        return bad_request("target", f"at most {MAX_TARGETS} targets per request")
    fmt = params.get("format", "json")
    if fmt not in RENDER_FORMATS:
        return bad_request("format", f"format {fmt!r} is not supported; use one of {', '.join(RENDER_FORMATS)}")
    max_points = whole_number(params.get("maxDataPoints", "0"))
    if max_points is None:
        return bad_request("maxDataPoints", "maxDataPoints must be a whole number")
    now = int(time.time())
    try:
        start, end = time_range(params, now)
    except RangeError as err:
        return bad_request(err.field, str(err))
    try:
        series = render_series(store, targets, start, end, now, max_points, query_limits())
    except ExpressionError as err:
        return refused_query("target", err)
    if fmt == "csv":
        return Response(series_csv(series), mimetype="text/csv")
    if fmt == "raw":
        return Response(series_raw(series), mimetype="text/plain")
    return json_response([{"target": s.name, "tags": {"name": s.name}, "datapoints": s.datapoints()}
                          for s in series])


RENDER_FORMATS = ("json", "csv", "raw")


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def series_csv(series: list[Series]) -> str:
    """Graphite's csv: `target,YYYY-MM-DD HH:MM:SS,value` per point, UTC, empty for no value."""
    lines = []
    for s in series:
        name = s.name.replace('"', "'")
        quoted = f'"{name}"' if "," in name else name
        for value, ts in s.datapoints():
            lines.append(f"{quoted},{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ts))},{_number(value)}")
    return "\n".join(lines) + ("\n" if lines else "")


def series_raw(series: list[Series]) -> str:
    """Graphite's raw: `target,start,end,step|v1,v2,...` per series, `None` for no value."""
    return "".join(f"{s.name},{s.start},{s.end},{s.step}|"
                   + ",".join("None" if v is None else repr(v) for v in s.values) + "\n" for s in series)


@blueprint.route("/metrics/find", methods=["GET", "POST"])
def find() -> Response:
    store = timeseries_store()
    if store is None:
        return no_store()
    query = (request.values.get("query") or "").strip()
    if not query:
        return bad_request("query", "a query is required, e.g. query=ceph.*")
    try:
        nodes = store.find(query, QueryBudget(query_limits()))
    except ExpressionError as err:
        return refused_query("query", err)
    return json_response([{"text": n.name, "id": n.path, "leaf": int(n.leaf), "expandable": int(n.branch),
                           "allowChildren": int(n.branch), "context": {}} for n in nodes])


@blueprint.route("/functions", methods=["GET"])
def functions() -> Response:
    return json_response(function_catalog())
