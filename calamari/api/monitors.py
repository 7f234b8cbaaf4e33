"""Monitors of a cluster: the list, one monitor, and its status document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from calamari.api.answers import cacheable
from calamari.api.common import doc, json_response, services
from calamari.api.lookup import cluster_model, first, held
from calamari.api.response_schemas import LIST, OBJECT
from calamari.domain.documents import monitor_documents

blueprint = Blueprint("monitors", __name__, url_prefix="/api/v2")


def _monitors(fsid: str) -> list[dict[str, Any]]:
    return monitor_documents(cluster_model(fsid), list(services().service.view.servers.values()))


@blueprint.get("/cluster/<fsid>/mon")
@doc("Monitors", response=LIST, errors=(401, 404))
@cacheable()
def mons(fsid: str) -> Response:
    return json_response(_monitors(fsid))


@blueprint.get("/cluster/<fsid>/mon/<name>")
@doc("One monitor", response=OBJECT, errors=(401, 404))
def mon(fsid: str, name: str) -> Response:
    return json_response(first(_monitors(fsid), lambda m: m["name"] == name, f"no monitor {name!r}"))


@blueprint.get("/cluster/<fsid>/mon/<name>/status")
@doc("A monitor's status document (the newest quorum status)", response=OBJECT, errors=(401, 404, 503))
def mon_status(fsid: str, name: str) -> Response:
    first(_monitors(fsid), lambda m: m["name"] == name, f"no monitor {name!r}")
    return json_response(held(fsid, "mon_status"))
