"""Pools: list, detail, create, change, delete (changes answer 202 with a request id)."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import (
    doc,
    json_response,
    parse_body,
    services,
    submit_plan,
)
from calamari.api.lookup import cluster_model, found
from calamari.api.schemas import POOL_READ_ONLY, POOL_UPDATE_READ_ONLY, PoolCreate, PoolUpdate
from calamari.domain.requests import plan_pool_create, plan_pool_delete, plan_pool_update

blueprint = Blueprint("pools", __name__, url_prefix="/api/v2/cluster/<fsid>")

POOL_SCHEMA = {"type": "object", "required": ["id", "name"],
               "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "size": {"type": "integer"},
                              "min_size": {"type": "integer"}, "pg_num": {"type": "integer"},
                              "pgp_num": {"type": "integer"}, "crush_ruleset": {"type": "integer"}}}
ACCEPTED = {"type": "object", "required": ["request_id"], "properties": {"request_id": {"type": "string"}}}


@blueprint.get("/pool")
@doc("Pools", response={"type": "array", "items": POOL_SCHEMA}, errors=(401, 404))
def pools(fsid: str) -> Response:
    cluster_model(fsid)
    return json_response(list(services().service.view.pools.get(fsid, {}).values()))


def _pool(fsid: str, pool_id: int) -> dict:
    cluster_model(fsid)
    return found(services().service.view.pools.get(fsid, {}).get(pool_id), f"no pool {pool_id} in cluster {fsid}")


@blueprint.get("/pool/<int:pool_id>")
@doc("One pool", response=POOL_SCHEMA, errors=(401, 404))
def pool(fsid: str, pool_id: int) -> Response:
    return json_response(_pool(fsid, pool_id))


@blueprint.post("/pool")
@doc("Create a pool, replicated or erasure-coded (202: a request)", body=PoolCreate, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def create_pool(fsid: str) -> Response:
    body = parse_body(PoolCreate, read_only=POOL_READ_ONLY).model_dump(exclude_none=True)
    return submit_plan(fsid, plan_pool_create, body)


@blueprint.patch("/pool/<int:pool_id>")
@doc("Change a pool (202: a request; 304 when nothing would change)", body=PoolUpdate, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def update_pool(fsid: str, pool_id: int) -> Response:
    body = parse_body(PoolUpdate, read_only=POOL_UPDATE_READ_ONLY).model_dump(exclude_none=True)
    return submit_plan(fsid, plan_pool_update, pool_id, body)


@blueprint.delete("/pool/<int:pool_id>")
@doc("Delete a pool (202: a request)", status=202, response=ACCEPTED, errors=(401, 403, 404, 409))
def delete_pool(fsid: str, pool_id: int) -> Response:
    return submit_plan(fsid, plan_pool_delete, pool_id)
