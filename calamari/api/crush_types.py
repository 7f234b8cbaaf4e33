"""CRUSH types (the levels of a cluster's CRUSH hierarchy: osd, host, rack, ...)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from calamari.api.common import doc, json_response
from calamari.api.lookup import cluster_model, first
from calamari.api.response_schemas import LIST, OBJECT
from calamari.domain.documents import crush_type_document

blueprint = Blueprint("crush_types", __name__, url_prefix="/api/v2")


def _types(fsid: str) -> list[dict[str, Any]]:
    return cluster_model(fsid).crush.get("types", [])


@blueprint.get("/cluster/<fsid>/crush_type")
@doc("CRUSH types", response=LIST, errors=(401, 404))
def crush_types(fsid: str) -> Response:
    return json_response([crush_type_document(t) for t in _types(fsid)])


@blueprint.get("/cluster/<fsid>/crush_type/<int:type_id>")
@doc("One CRUSH type", response=OBJECT, errors=(401, 404))
def crush_type(fsid: str, type_id: int) -> Response:
    crush_type = first(_types(fsid), lambda t: t["type_id"] == type_id, f"no CRUSH type {type_id}")
    return json_response(crush_type_document(crush_type))
