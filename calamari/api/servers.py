"""Servers (hosts running Ceph services), all of them or those of one cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from calamari.api.clusters import cluster_model
from calamari.api.common import ApiError, current_user, doc, json_response, services

blueprint = Blueprint("servers", __name__, url_prefix="/api/v2")

SERVER_SCHEMA = {"type": "object", "required": ["fqdn", "hostname", "services"],
                 "properties": {"fqdn": {"type": "string"}, "hostname": {"type": "string"},
                                "services": {"type": "array", "items": {"type": "object"}}}}


def server_row(row: dict[str, Any], fsid: str | None = None) -> dict[str, Any]:
    services_ = [s for s in row["services"] if fsid is None or s["fsid"] == fsid]
    versions = {s.get("version") for s in services_ if s.get("version")}
    return {**row, "services": services_, "ceph_version": versions.pop() if len(versions) == 1 else None}


def _server(fqdn: str) -> dict[str, Any]:
    row = services().service.view.servers.get(fqdn)
    if row is None:
        raise ApiError(404, f"no server {fqdn!r}")
    return row


@blueprint.get("/server")
@doc("All servers", response={"type": "array", "items": SERVER_SCHEMA}, errors=(401,))
def servers() -> Response:
    return json_response([server_row(r) for r in list(services().service.view.servers.values())])


@blueprint.get("/server/<fqdn>")
@doc("One server", response=SERVER_SCHEMA, errors=(401, 404))
def server(fqdn: str) -> Response:
    return json_response(server_row(_server(fqdn)))


@blueprint.delete("/server/<fqdn>")
@doc("Forget a server that runs no Ceph service any more (a decommissioned host); it comes back "
     "if its collector reports again or the OSD metadata names it", status=204, response={},
     errors=(401, 403, 404, 409))
def forget_server(fqdn: str) -> Response:
    s = services()
    with s.service.lock:
        _server(fqdn)
        try:
            s.service.model.forget_server(fqdn, current_user().username, datetime.now(UTC))
        except KeyError:
            raise ApiError(404, f"no server {fqdn!r}") from None
        except ValueError as err:
            raise ApiError(409, f"server {fqdn!r} cannot be forgotten: {err}") from None
        s.service._commit_durable()
    return Response(status=204)


@blueprint.get("/server/<fqdn>/grains")
@doc("Host facts reported by the collector", response={"type": "object"}, errors=(401, 404))
def grains(fqdn: str) -> Response:
    _server(fqdn)
    facts = services().service.model.servers[fqdn].facts
    return json_response({"fqdn": fqdn, **facts})


@blueprint.get("/cluster/<fsid>/server")
@doc("Servers of a cluster, with that cluster's services", response={"type": "array", "items": SERVER_SCHEMA},
     errors=(401, 404))
def cluster_servers(fsid: str) -> Response:
    cluster_model(fsid)
    return json_response([server_row(r, fsid) for r in list(services().service.view.servers.values())
                          if any(s["fsid"] == fsid for s in r["services"])])


@blueprint.get("/cluster/<fsid>/server/<fqdn>")
@doc("One server of a cluster", response=SERVER_SCHEMA, errors=(401, 404))
def cluster_server(fsid: str, fqdn: str) -> Response:
    cluster_model(fsid)
    row = _server(fqdn)
    if not any(s["fsid"] == fsid for s in row["services"]):
        raise ApiError(404, f"server {fqdn!r} runs no service of cluster {fsid}")
    return json_response(server_row(row, fsid))
