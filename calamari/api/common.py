"""What every blueprint shares: JSON responses, the error type, body parsing with the pydantic
schemas, route documentation for the OpenAPI document, pagination, and the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Response, current_app, g, request
from pydantic import BaseModel, ValidationError

from calamari.domain.requests import Plan, RequestRejected
from calamari.service.model import NotPersisted

STORE_RETRY_AFTER_S = 10  # what a 503 for a change that could not be stored suggests to wait


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status,
                    mimetype="application/json", headers=headers)


class ApiError(Exception):
    def __init__(self, status: int, detail: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or {}
        self.extra: dict[str, Any] = {}  # more fields of the answer (e.g. a 410's retired_at)

    def response(self) -> Response:
        body: dict[str, Any] = {"detail": self.detail, **self.extra}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, self.status)

    @classmethod
    def from_rejected(cls, err: RequestRejected) -> ApiError:
        return cls(err.status, err.detail, err.errors)


def not_stored_response(err: NotPersisted) -> Response:
    """503 for a change the event store did not take (full disk, read-only, unreachable): it was
    undone and will not happen later, so the client may simply try again."""
    return json_response({"detail": f"the change was not stored: {err.reason}; nothing was changed, "
                                    "try again later", "reason": err.reason},
                         503, headers={"Retry-After": str(STORE_RETRY_AFTER_S)})


def services() -> Any:
    return current_app.config["CALAMARI"]


def accepted(request_id: str) -> Response:
    return json_response({"request_id": request_id}, 202)


def not_modified() -> Response:
    return Response(status=304)


def submit_plan(fsid: str, planner: Callable[..., Plan | None], *args: Any) -> Response:
    """Plan a change under the model's lock and hand it to the executor (202); 304 for no change."""
    s = services()
    with s.service.reading():
        plan = planner(s.service.model, fsid, *args)
    if plan is None:
        return not_modified()
    return accepted(s.executor.submit(fsid, current_user().username, plan))


def parse_body(model: type[BaseModel], read_only: tuple[str, ...] = ()) -> BaseModel:
    """The request body validated by `model`; 400 with a reason per field otherwise, 415 unless
    it is sent as JSON (a body without a Content-Type is not guessed to be JSON)."""
    if not request.is_json:
        raise ApiError(415, f"send the body as application/json, not {request.mimetype}" if request.mimetype
                       else "send the body as application/json: the request has no Content-Type")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "a JSON body is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ApiError(400, f"malformed JSON: {err}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    errors = {k: "read-only field" for k in read_only if k in data}
    if errors:
        raise ApiError(400, "read-only fields cannot be written", errors)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ApiError(400, "invalid input", validation_errors(err)) from None


def validation_errors(err: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(body)"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        errors.setdefault(field, message)
    return errors


def int_arg(name: str, default: int | None = None, low: int | None = None, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"invalid query parameter {name}", {name: "must be an integer"}) from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError(400, f"invalid query parameter {name}", {name: f"must be between {low} and {high}"})
    return value


def time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"invalid query parameter {name}", {name: "must be an ISO 8601 time"}) from None
    if when.tzinfo is None:
        raise ApiError(400, f"invalid query parameter {name}", {name: "must carry a time zone (e.g. Z)"})
    return when


def paginate(rows: list[Any], shown: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The page of `rows` that `?page=&page_size=` ask for, with its count and links; `shown`, when
    given, makes what the page shows of each of its rows (e.g. only the `?fields=` asked for)."""
    page = int_arg("page", 1, 1, 1_000_000) or 1
    size = int_arg("page_size", 50, 1, 1000) or 50
    start = (page - 1) * size
    base = request.base_url

    def link(n: int) -> str:
        # every query argument kept (repeated ones too) and encoded: a `since=…+00:00` must come back as '+'
        wanted = {"page": str(n), "page_size": str(size)}
        args = [(k, wanted.pop(k) if k in wanted else v) for k, v in request.args.items(multi=True)
                if k not in ("page", "page_size") or k in wanted]
        return base + "?" + urlencode(args + list(wanted.items()))

    results = rows[start:start + size]
    return {"count": len(rows), "next": link(page + 1) if start + size < len(rows) else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": results if shown is None else [shown(row) for row in results]}


def current_user() -> Any:
    return g.identity


# ---------------------------------------------------------------------------- route docs

def doc(summary: str, *, body: type[BaseModel] | None = None, response: dict[str, Any] | None = None,
        query: dict[str, dict[str, Any]] | None = None, status: int = 200,
        errors: tuple[int, ...] = (400, 401, 403, 404), etag: bool = False,
        headers: dict[str, dict[str, Any]] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a route for /openapi.json: the same pydantic models validate the bodies. `etag`:
    the answer has an ETag and If-None-Match gets 304; `headers`: other headers of the answer."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._api_doc = {"summary": summary, "body": body, "response": response or {}, "query": query or {},
                       "status": status, "errors": errors, "etag": etag, "headers": headers or {}}
        return fn

    return mark


def route_doc(view: Callable[..., Any] | None) -> dict[str, Any] | None:
    """What `doc` noted on a view function, or None for an undocumented one."""
    return getattr(view, "_api_doc", None)
