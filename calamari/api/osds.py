"""OSDs: list (with filters), detail, changes (202: a request) and scrub/deep-scrub/repair."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from calamari.api.common import (
    ApiError,
    doc,
    json_response,
    parse_body,
    services,
    submit_plan,
)
from calamari.api.lookup import cluster_model, found
from calamari.api.response_schemas import ACCEPTED
from calamari.api.schemas import OSD_READ_ONLY, OsdCommandMany, OsdUpdate
from calamari.domain.documents import osd_document, osd_server_fqdns, pools_by_root, valid_osd_commands
from calamari.domain.requests import OSD_COMMANDS, plan_osd_command, plan_osd_update

blueprint = Blueprint("osds", __name__, url_prefix="/api/v2/cluster/<fsid>")

OSD_SCHEMA = {"type": "object", "required": ["id", "up", "in", "reweight"],
              "properties": {"id": {"type": "integer"}, "up": {"type": "boolean"}, "in": {"type": "boolean"},
                             "reweight": {"type": "number"}, "pools": {"type": "array", "items": {"type": "integer"}},
                             "valid_commands": {"type": "array", "items": {"type": "string"}}}}


def _pools_by_root(fsid: str) -> dict[str | None, list[int]]:
    crush = cluster_model(fsid).crush
    return pools_by_root(crush, [row for _, row in sorted(services().service.view.pools.get(fsid, {}).items())])


def _server_fqdns(fsid: str) -> dict[int, str]:
    return osd_server_fqdns(list(services().service.view.servers.values()), fsid)


def _rows(fsid: str) -> dict[int, dict[str, Any]]:
    cluster_model(fsid)
    return services().service.view.osds.get(fsid, {})


@blueprint.get("/osd")
@doc("OSDs; `?pool=ID` those serving a pool, `?id__in[]=1&id__in[]=2` those ids",
     response={"type": "array", "items": OSD_SCHEMA},
     query={"pool": {"type": "integer"}, "id__in[]": {"type": "array", "items": {"type": "integer"}}},
     errors=(400, 401, 404))
def osds(fsid: str) -> Response:
    rows = _rows(fsid)
    by_root = _pools_by_root(fsid)
    selected: Any = list(rows.values())  # a copy: the ingest thread may add OSDs meanwhile
    wanted = request.args.getlist("id__in[]") or request.args.getlist("id__in")
    if wanted:
        try:
            ids = {int(i) for w in wanted for i in w.split(",") if i != ""}
        except ValueError:
            raise ApiError(400, "invalid OSD ids", {"id__in": "must be integers"}) from None
        selected = [rows[i] for i in sorted(ids) if i in rows]
    server_fqdns = _server_fqdns(fsid)
    result = [osd_document(r, by_root, server_fqdns) for r in selected]
    pool = request.args.get("pool")
    if pool is not None:
        try:
            pool_id = int(pool)
        except ValueError:
            raise ApiError(400, "invalid pool id", {"pool": "must be an integer"}) from None
        if pool_id not in services().service.view.pools.get(fsid, {}):
            raise ApiError(404, f"no pool {pool_id}")
        result = [r for r in result if pool_id in r["pools"]]
    return json_response(result)


def _osd(fsid: str, osd_id: int) -> dict[str, Any]:
    return found(_rows(fsid).get(osd_id), f"no OSD {osd_id} in cluster {fsid}")


@blueprint.get("/osd/<int:osd_id>")
@doc("One OSD", response=OSD_SCHEMA, errors=(401, 404))
def osd(fsid: str, osd_id: int) -> Response:
    fqdn = services().service.view.osd_servers.get((fsid, osd_id))
    return json_response(osd_document(_osd(fsid, osd_id), _pools_by_root(fsid), {osd_id: fqdn} if fqdn else {}))


@blueprint.patch("/osd/<int:osd_id>")
@doc("Mark an OSD down, in or out, or reweight it (202: a request)", body=OsdUpdate, status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409))
def patch_osd(fsid: str, osd_id: int) -> Response:
    body = parse_body(OsdUpdate, read_only=OSD_READ_ONLY).model_dump(by_alias=True, exclude_none=True)
    return submit_plan(fsid, plan_osd_update, osd_id, body)


@blueprint.get("/osd/command")
@doc("Commands implemented for OSDs", response={"type": "array", "items": {"type": "string"}}, errors=(401, 404))
def osd_commands(fsid: str) -> Response:
    cluster_model(fsid)
    return json_response(list(OSD_COMMANDS))


@blueprint.get("/osd/<int:osd_id>/command")
@doc("The commands valid for an OSD now", response={"type": "object"}, errors=(401, 404))
def osd_valid_commands(fsid: str, osd_id: int) -> Response:
    row = _osd(fsid, osd_id)
    return json_response({str(osd_id): {"valid_commands": valid_osd_commands(row)}})


def _run(fsid: str, ids: list[int], command: str) -> Response:
    return submit_plan(fsid, plan_osd_command, ids, command)


@blueprint.post("/osd/<int:osd_id>/command/<command>")
@doc("Run scrub, deep_scrub or repair on one OSD (202: a request)", status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409))
def run_osd_command(fsid: str, osd_id: int, command: str) -> Response:
    _osd(fsid, osd_id)
    return _run(fsid, [osd_id], command)


@blueprint.post("/osd/command/<command>")
@doc("Run scrub, deep_scrub or repair on several OSDs (202: a request)", body=OsdCommandMany, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409))
def run_osds_command(fsid: str, command: str) -> Response:
    body = parse_body(OsdCommandMany)
    return _run(fsid, sorted(set(body.ids)), command)
