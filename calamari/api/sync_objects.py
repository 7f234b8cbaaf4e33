"""The sync objects a cluster's collector sent (osd_map, health, ...), newest of each kind, as
received."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import ApiError, doc, json_response, services
from calamari.api.lookup import cluster_model, held
from calamari.domain.model import SYNC_OBJECTS

blueprint = Blueprint("sync_objects", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster/<fsid>/sync_object")
@doc("Names of the sync objects held", response={"type": "array", "items": {"type": "string"}},
     errors=(401, 404))
def sync_objects(fsid: str) -> Response:
    cluster_model(fsid)
    return json_response(sorted(services().service.model.held.get(fsid, {})))


@blueprint.get("/cluster/<fsid>/sync_object/<name>")
@doc("The newest sync object of a kind, as received", response={}, errors=(401, 404, 503))
def sync_object(fsid: str, name: str) -> Response:
    if name not in SYNC_OBJECTS:
        raise ApiError(404, f"no sync object type {name!r}; known: {', '.join(sorted(SYNC_OBJECTS))}")
    return json_response(held(fsid, name))
