"""/api/v2/openapi.json: an OpenAPI 3.0 document built from the registered routes, their `doc`
notes and the pydantic models that validate their bodies."""

# Kept over flask-openapi3/spectree: not faster, and they blur 415/bad-JSON/read-only errors (docs/architecture.md).

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app

from calamari import __version__
from calamari.api.common import doc, json_response, route_doc

blueprint = Blueprint("openapi", __name__, url_prefix="/api/v2")

ERROR = {"type": "object", "required": ["detail"],
         "properties": {"detail": {"type": "string"},
                        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
                        # only in a history answer's 410: where the kept history starts
                        "kept_from": {"type": "object", "properties": {"position": {"type": "integer"},
                                                                       "time": {"type": "string"}}},
                        # only in the 410 of an alert, silence or notification retired from the live model
                        "retired_at": {"type": "string", "format": "date-time"}}}
REASONS = {400: "invalid input", 401: "not authenticated", 403: "not allowed for this role", 404: "no such object",
           409: "conflict with an existing object or an unfinished request", 503: "not yet known from the cluster",
           410: "gone: before the kept history (`kept_from` says where it starts), or retired from the live "
                "model (`retired_at`; history keeps it)",
           413: "request body too large", 415: "the body must be JSON",
           429: "too many failed logins: wait (Retry-After)", 504: "the cluster did not answer in time"}
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_TYPES = {"int": {"type": "integer"}, "path": {"type": "string"}, None: {"type": "string", "pattern": r"^[^/]+$"}}
# These blueprints' routes were published as one blueprint, "clusters": their operationIds keep that
# name, which clients generated from this document use for their methods.
OPERATION_ID_BLUEPRINTS = {name: "clusters" for name in (
    "info", "monitors", "crush_rules", "crush_nodes", "crush_types", "crush_map", "cluster_config", "sync_objects",
    "cluster_log", "osd_flags", "cli")}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _PARAM.findall(rule):
        schema = dict(_TYPES.get(converter or None, {"type": "string"}))
        if converter == "int" and "signed=True" not in rule:
            schema["minimum"] = 0
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def operation_id(endpoint: str, method: str) -> str:
    """`<blueprint>.<view function>_<method>`."""
    blueprint, _, view = endpoint.rpartition(".")
    blueprint = OPERATION_ID_BLUEPRINTS.get(blueprint, blueprint)
    return f"{blueprint}.{view}_{method.lower()}" if blueprint else f"{view}_{method.lower()}"


def build_spec(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR}
    for rule in app.url_map.iter_rules():
        note = route_doc(app.view_functions.get(rule.endpoint))
        if note is None or not rule.rule.startswith("/api/"):
            continue
        path, params = _path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            params_all = params + [{"name": k, "in": "query", "required": False, "schema": v,
                                    **({"style": "form", "explode": True} if v.get("type") == "array" else {})}
                                   for k, v in note["query"].items()]
            op: dict[str, Any] = {"summary": note["summary"], "operationId": operation_id(rule.endpoint, method),
                                  "parameters": params_all,
                                  "responses": {str(note["status"]): {
                                      "description": "OK" if note["status"] < 300 else "Accepted",
                                      "content": {"application/json": {"schema": note["response"]}}}}}
            if method == "PATCH" or rule.endpoint.endswith("patch_osd_config"):
                op["responses"]["304"] = {"description": "nothing to change"}
            answer_headers = dict(note.get("headers") or {})
            if note.get("etag"):
                answer_headers["ETag"] = {"description": "weak; send it back in If-None-Match",
                                          "schema": {"type": "string"}}
                op["parameters"] = [*params_all, {"name": "If-None-Match", "in": "header", "required": False,
                                                  "schema": {"type": "string"}}]
                op["responses"]["304"] = {"description": "not modified since the ETag given in If-None-Match"}
            if answer_headers:
                op["responses"][str(note["status"])]["headers"] = answer_headers
            for code in note["errors"]:
                op["responses"][str(code)] = {"description": REASONS.get(code, "error"), "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if rule.rule != "/api/v2/auth/login":
                op["security"] = [{"bearer": []}, {"session": []}]
            body = note["body"]
            if body is not None:
                schema = body.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
                for name, sub in schema.pop("$defs", {}).items():
                    schemas[name] = sub
                schemas[body.__name__] = schema
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "calamari REST API", "version": __version__,
                 "description": "Calamari's v2 API for Ceph clusters. Changes answer 202 with a request id. "
                                "Answers of 1 KiB or more are gzip-compressed for clients that send "
                                "Accept-Encoding: gzip."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "calamari_session"}}},
    }


@blueprint.get("/openapi.json")
@doc("This document", response={"type": "object"}, errors=(401,))
def openapi() -> Response:
    spec = current_app.config.get("_OPENAPI")
    if spec is None:
        spec = current_app.config["_OPENAPI"] = build_spec(current_app)
    return json_response(spec)
