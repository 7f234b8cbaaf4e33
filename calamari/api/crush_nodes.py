"""CRUSH buckets (nodes) of a cluster: the list, one bucket, and adding, changing and deleting
one (202: a request)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from calamari.api.common import doc, json_response, parse_body, submit_plan
from calamari.api.lookup import cluster_model, first
from calamari.api.response_schemas import ACCEPTED, LIST, OBJECT
from calamari.api.schemas import CRUSH_NODE_READ_ONLY, CRUSH_NODE_UPDATE_READ_ONLY, CrushNodeCreate, CrushNodeUpdate
from calamari.domain.documents import crush_node_document
from calamari.domain.requests import plan_crush_node_create, plan_crush_node_delete, plan_crush_node_update

blueprint = Blueprint("crush_nodes", __name__, url_prefix="/api/v2")


def _buckets(fsid: str) -> list[dict[str, Any]]:
    return cluster_model(fsid).crush.get("buckets", [])


@blueprint.get("/cluster/<fsid>/crush_node")
@doc("CRUSH buckets", response=LIST, errors=(401, 404))
def crush_nodes(fsid: str) -> Response:
    return json_response([crush_node_document(b) for b in _buckets(fsid)])


@blueprint.get("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("One CRUSH bucket", response=OBJECT, errors=(401, 404))
def crush_node(fsid: str, node_id: int) -> Response:
    bucket = first(_buckets(fsid), lambda b: b["id"] == node_id, f"no CRUSH node {node_id}")
    return json_response(crush_node_document(bucket))


@blueprint.post("/cluster/<fsid>/crush_node")
@doc("Add a CRUSH bucket, optionally under a parent node (id or name) and with items moved into it "
     "(202: a request)", body=CrushNodeCreate,
     status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def create_crush_node(fsid: str) -> Response:
    body = parse_body(CrushNodeCreate, read_only=CRUSH_NODE_READ_ONLY)
    return submit_plan(fsid, plan_crush_node_create, body.model_dump(exclude_none=True))


@blueprint.patch("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("Rename a CRUSH bucket, move it under another parent and/or set its items (children moved in, "
     "reweighted, unlinked) (202: a request; 304 when nothing would change)", body=CrushNodeUpdate, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def update_crush_node(fsid: str, node_id: int) -> Response:
    body = parse_body(CrushNodeUpdate, read_only=CRUSH_NODE_UPDATE_READ_ONLY)
    return submit_plan(fsid, plan_crush_node_update, node_id, body.model_dump(exclude_none=True))


@blueprint.delete("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("Delete an empty CRUSH bucket no rule uses (202: a request)", status=202, response=ACCEPTED,
     errors=(401, 403, 404, 409, 503))
def delete_crush_node(fsid: str, node_id: int) -> Response:
    return submit_plan(fsid, plan_crush_node_delete, node_id)
