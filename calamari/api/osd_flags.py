"""A cluster's OSD flags (noout, pause, ...): read, and set or unset (202: a request)."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import doc, json_response, parse_body, submit_plan
from calamari.api.lookup import cluster_model
from calamari.api.schemas import OsdConfigUpdate
from calamari.domain.requests import osd_flags, plan_osd_config

blueprint = Blueprint("osd_flags", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster/<fsid>/osd_config")
@doc("Cluster-wide OSD flags", response={"type": "object", "additionalProperties": {"type": "boolean"}},
     errors=(401, 404))
def osd_config(fsid: str) -> Response:
    return json_response(osd_flags(cluster_model(fsid).flags))


@blueprint.patch("/cluster/<fsid>/osd_config")
@doc("Set or unset OSD flags (202: a request)", body=OsdConfigUpdate, status=202,
     response={"type": "object", "properties": {"request_id": {"type": "string"}}},
     errors=(400, 401, 403, 404, 409))
def patch_osd_config(fsid: str) -> Response:
    body = parse_body(OsdConfigUpdate).model_dump(by_alias=True, exclude_none=True)
    return submit_plan(fsid, plan_osd_config, body)
