"""Clusters: the list, one cluster (health, flags, monitors, PG and OSD counts, the collector's
contact) and forgetting one."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from calamari.api.answers import answer_varies_by, cacheable
from calamari.api.common import ApiError, current_user, doc, json_response, services
from calamari.api.lookup import found
from calamari.api.response_schemas import OBJECT
from calamari.domain.documents import cluster_document, cluster_summary, contact_age

blueprint = Blueprint("clusters", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster")
@doc("Clusters", response={"type": "array", "items": {"type": "object", "required": ["id", "name"]}},
     errors=(401,))
def clusters() -> Response:
    return json_response([cluster_summary(c) for c in list(services().service.view.clusters.values())])


def _contact(service: Any, fsid: str) -> dict[str, Any]:
    return contact_age(service.model.last_contact.get(fsid), time.time())


def _contact_now(calamari: Any, view_args: dict[str, Any]) -> tuple[Any, ...]:
    """What a kept answer of the cluster depends on besides the model: its contact's age, now."""
    contact = _contact(calamari.service, view_args["fsid"])
    return contact["last_contact"], contact["age_s"]


@blueprint.get("/cluster/<fsid>")
@doc("One cluster: health, flags, monitors, PG and OSD counts", response=OBJECT, errors=(401, 404))
@cacheable(vary=_contact_now)
def cluster(fsid: str) -> Response:
    service = services().service
    row = found(service.view.clusters.get(fsid), f"no cluster {fsid}")
    contact = _contact(service, fsid)
    answer_varies_by((contact["last_contact"], contact["age_s"]))
    return json_response(cluster_document(row, service.view.counters(fsid), contact))


@blueprint.delete("/cluster/<fsid>")
@doc("Forget a cluster: it leaves /cluster with its OSDs and pools (its history stays stored). A "
     "collector still reporting brings it back with its next maps.", status=204, response={},
     errors=(401, 403, 404))
def forget_cluster(fsid: str) -> Response:
    s = services()
    with s.service.durable() as model:
        if fsid not in model.clusters:
            raise ApiError(404, f"no cluster {fsid}")
        model.forget_cluster(fsid, current_user().username, datetime.now(UTC))
    return Response(status=204)
