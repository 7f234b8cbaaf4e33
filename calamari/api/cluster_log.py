"""The tail of a cluster's log (the newest lines its collector sent, kept in memory)."""

from __future__ import annotations

from flask import Blueprint, Response

from calamari.api.common import doc, int_arg, json_response, services
from calamari.api.lookup import cluster_model
from calamari.domain.documents import cluster_log_document

blueprint = Blueprint("cluster_log", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster/<fsid>/log")
@doc("Tail of the cluster log", response={"type": "object", "properties": {"lines": {"type": "string"}}},
     query={"lines": {"type": "integer", "minimum": 1, "maximum": 1000}}, errors=(400, 401, 404))
def cluster_log(fsid: str) -> Response:
    cluster_model(fsid)
    count = int_arg("lines", 40, 1, 1000) or 40
    with services().service.reading():
        entries = list(services().service.cluster_log.get(fsid, [])[-count:])
    return json_response(cluster_log_document(entries))
