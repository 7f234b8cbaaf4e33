"""Pools: list (filters, fields, pages, ETags), detail, create, change, delete (changes answer
202 with a request id)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response

from calamari.api.answers import cacheable
from calamari.api.common import (
    doc,
    parse_body,
    services,
    submit_plan,
)
from calamari.api.listing import (
    LIST_HEADERS,
    PAGE_QUERY,
    choice_arg,
    etag,
    fields_arg,
    fields_query,
    in_key_order,
    json_bytes_response,
    plain_list,
    select,
    selectable,
    unchanged,
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


# The fields of a pool document, in its order (what `?fields=` may name)
POOL_FIELDS = ("id", "name", "type", "size", "min_size", "pg_num", "pgp_num", "crush_ruleset", "crush_rule",
               "crash_replay_interval", "hashpspool", "full", "erasure_code_profile", "pg_autoscale_mode",
               "application", "quota_max_objects", "quota_max_bytes", "epoch")
POOL_TYPES = ("replicated", "erasure")


@blueprint.get("/pool")
@doc("Pools, by id; `?type=replicated|erasure`, `?fields=`, `?limit=&offset=`; an ETag (If-None-Match: 304)",
     response={"type": "array", "items": selectable(POOL_SCHEMA)}, errors=(400, 401, 404), etag=True, headers=LIST_HEADERS,
     query={"type": {"type": "string", "enum": list(POOL_TYPES)}, "fields": fields_query(POOL_FIELDS),
            **PAGE_QUERY})
@cacheable()
def pools(fsid: str) -> Response:
    cluster_model(fsid)
    kinds = choice_arg("type", POOL_TYPES)
    fields = fields_arg(POOL_FIELDS)
    tag = etag(services().service.view.generation(("pools", fsid)))
    if (answer := unchanged(tag)) is not None:
        return answer
    rows = services().service.view.pools.get(fsid, {})
    selected = in_key_order(rows)
    if kinds is not None:
        selected = [r for r in selected if _kind(r) in kinds]
    return plain_list(selected, tag, fields)


def _kind(row: dict[str, Any]) -> str:
    return "erasure" if row.get("type") in ("erasure", 3) else "replicated"


def _pool(fsid: str, pool_id: int) -> dict:
    cluster_model(fsid)
    return found(services().service.view.pools.get(fsid, {}).get(pool_id), f"no pool {pool_id} in cluster {fsid}")


@blueprint.get("/pool/<int:pool_id>")
@doc("One pool; `?fields=`; an ETag (If-None-Match: 304)", response=selectable(POOL_SCHEMA),
     query={"fields": fields_query(POOL_FIELDS)}, errors=(400, 401, 404), etag=True)
def pool(fsid: str, pool_id: int) -> Response:
    fields = fields_arg(POOL_FIELDS)
    tag = etag(services().service.view.generation(("pools", fsid)))
    row = _pool(fsid, pool_id)
    if (answer := unchanged(tag)) is not None:
        return answer
    return json_bytes_response(orjson.dumps(select(row, fields)), tag)


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
