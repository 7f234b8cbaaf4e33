"""A cluster's configuration (`ceph config dump`): all keys, and one key."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import ApiError, doc, json_response, services
from calamari.api.lookup import cluster_model
from calamari.api.response_schemas import LIST, OBJECT
from calamari.domain.documents import config_document

blueprint = Blueprint("cluster_config", __name__, url_prefix="/api/v2")


def _config(fsid: str) -> dict[str, str]:
    cluster = cluster_model(fsid)
    if not cluster.config and "config" not in services().service.model.held.get(fsid, {}):
        raise ApiError(503, f"no configuration received from cluster {fsid} yet; retry shortly")
    return cluster.config


@blueprint.get("/cluster/<fsid>/config")
@doc("Configuration (`ceph config dump`: global keys by name, others as section/name)", response=LIST,
     errors=(401, 404, 503))
def config(fsid: str) -> Response:
    return json_response([config_document(k, v) for k, v in sorted(_config(fsid).items())])


@blueprint.get("/cluster/<fsid>/config/<path:key>")
@doc("One configuration key", response=OBJECT, errors=(401, 404, 503))
def config_key(fsid: str, key: str) -> Response:
    values = _config(fsid)
    if key not in values:
        raise ApiError(404, f"no configuration key {key!r}")
    return json_response(config_document(key, values[key]))
