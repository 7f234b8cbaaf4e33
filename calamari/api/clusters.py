"""Clusters: the list, one cluster (health, flags, monitors, PG and OSD counts, the collector's
contact) and forgetting one."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, Response

from calamari.api.answers import answer_live_part, cacheable
from calamari.api.common import ApiError, current_user, doc, json_response, services
from calamari.api.listing import json_bytes_response
from calamari.api.lookup import found
from calamari.api.response_schemas import OBJECT
from calamari.domain.documents import cluster_summary, contact_age

blueprint = Blueprint("clusters", __name__, url_prefix="/api/v2")


@blueprint.get("/cluster")
@doc("Clusters", response={"type": "array", "items": {"type": "object", "required": ["id", "name"]}},
     errors=(401,))
def clusters() -> Response:
    return json_response([cluster_summary(c) for c in list(services().service.view.clusters.values())])


def _contact_json(calamari: Any, view_args: dict[str, Any]) -> bytes:
    """The collector's contact and its age now, as the members of the cluster's JSON object: the
    part of its answer that changes with the clock (rendered anew for each kept answer)."""
    contact = contact_age(calamari.service.model.last_contact.get(view_args["fsid"]), time.time())
    return orjson.dumps(contact)[1:-1]


@blueprint.get("/cluster/<fsid>")
@doc("One cluster: health, flags, monitors, PG and OSD counts", response=OBJECT, errors=(401, 404))
@cacheable(live=_contact_json)
def cluster(fsid: str) -> Response:
    service = services().service
    row = found(service.view.clusters.get(fsid), f"no cluster {fsid}")
    counters = service.view.counters(fsid)
    # cluster_document(row, counters, contact) as orjson writes it, with the contact in between
    before = orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)[:-1] + b","
    live = _contact_json(services(), {"fsid": fsid})
    answer_live_part(len(before), len(live))
    return json_bytes_response(before + live + b',"counters":' + orjson.dumps(counters, option=orjson.OPT_NON_STR_KEYS)
                               + b"}")


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
