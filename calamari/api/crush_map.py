"""A cluster's whole CRUSH map: read as text (`crushtool -d`) or as Ceph's JSON, and replaced
with edited text (202: a request)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from calamari.api.common import ApiError, doc, json_response, parse_body, submit_plan
from calamari.api.lookup import cluster_model, held
from calamari.api.response_schemas import ACCEPTED
from calamari.api.schemas import MAX_CRUSH_MAP_TEXT, CrushMapReplace
from calamari.crush.text_render import render_crush_text
from calamari.domain.requests import check_crush_map_text, plan_crush_map_set

blueprint = Blueprint("crush_map", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster/<fsid>/crush_map")
@doc("The CRUSH map as text, as `crushtool -d` prints it (a JSON string); `?format=json`: as Ceph dumps "
     "it (`ceph osd crush dump`)", response={"oneOf": [{"type": "string"}, {"type": "object"}]},
     query={"format": {"type": "string", "enum": ["text", "json"]}}, errors=(400, 401, 404, 503))
def crush_map(fsid: str) -> Response:
    kind = request.args.get("format", "text")
    if kind not in ("text", "json"):
        raise ApiError(400, "invalid query parameter format", {"format": "text or json"})
    crush = held(fsid, "crush_map")
    return json_response(crush if kind == "json" else render_crush_text(crush))


def _crush_map_text() -> str:
    """The text of a POST: a JSON body {"crush_map": text}, or the text itself as text/plain."""
    if request.mimetype == "text/plain":
        raw = request.get_data(cache=True)
        if len(raw) > MAX_CRUSH_MAP_TEXT:
            raise ApiError(400, "invalid input", {"crush_map": f"at most {MAX_CRUSH_MAP_TEXT} bytes"})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid input", {"crush_map": "must be UTF-8 text"}) from None
        if not text.strip():
            raise ApiError(400, "invalid input", {"crush_map": "the CRUSH map is empty"})
        return text
    body = parse_body(CrushMapReplace)
    return body.crush_map  # type: ignore[attr-defined]


@blueprint.post("/cluster/<fsid>/crush_map")
@doc("Replace the CRUSH map with its text as GET gives it: JSON {'crush_map': text}, or the text as a "
     "text/plain body. 400 names each bad line; Ceph refuses it if the map changed since it was read "
     "(202: a request)",
     body=CrushMapReplace, status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 415, 503))
def replace_crush_map(fsid: str) -> Response:
    text = _crush_map_text()
    cluster_model(fsid)  # 404 first
    # parsed before the model's lock is taken: a large map takes seconds, and ingest must not wait
    return submit_plan(fsid, plan_crush_map_set, text, check_crush_map_text(text))
