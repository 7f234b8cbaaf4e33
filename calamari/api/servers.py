"""Servers (hosts running Ceph services), all of them or those of one cluster; lists with
filters, fields, pages and ETags."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, Response, current_app

from calamari.api.answers import cacheable
from calamari.api.common import ApiError, current_user, doc, int_arg, json_response, services
from calamari.api.listing import (
    LIST_HEADERS,
    PAGE_QUERY,
    etag,
    fields_arg,
    fields_query,
    json_bytes_response,
    plain_list,
    select,
    selectable,
    unchanged,
    values_arg,
)
from calamari.api.lookup import cluster_model, found
from calamari.domain.documents import SERVER_FIELDS, server_document
from calamari.protocol.host_logs import (
    LOG_LIST,
    LOG_TAIL,
    MAX_TAIL_BYTES,
    MAX_TAIL_LINES,
    host_result_problem,
    log_path_problem,
)

blueprint = Blueprint("servers", __name__, url_prefix="/api/v2")

SERVER_SCHEMA = {"type": "object", "required": ["fqdn", "hostname", "services"],
                 "properties": {"fqdn": {"type": "string"}, "hostname": {"type": "string"},
                                "services": {"type": "array", "items": {"type": "object"}}}}


def live_server_row(row: dict[str, Any], fsid: str | None = None) -> dict[str, Any]:
    """The server's document with `last_contact` the time the host's collector was last heard
    from (its heartbeats and facts, kept in memory), where the stored row has the time of its last
    change (until the first heartbeat after a restart, that time stays)."""
    return server_document(row, fsid, services().service.model.last_contact_host.get(row["fqdn"]))


def _server(fqdn: str) -> dict[str, Any]:
    return found(services().service.view.servers.get(fqdn), f"no server {fqdn!r}")


LIST_QUERY = {"service": {"type": "string", "description": "servers running a service of any of these types "
                                                           "(comma-separated), e.g. osd,mon"},
              "fields": fields_query(SERVER_FIELDS), **PAGE_QUERY}


def _servers_etag() -> str:
    """Server documents change with their rows, and with every heartbeat (`last_contact`, kept
    in memory): both go into the tag."""
    s = services().service
    return etag(s.view.generation(("servers", "")), hash(tuple(s.model.last_contact_host.items())))


def _server_list(fsid: str | None) -> Response:
    kinds = values_arg("service")
    fields = fields_arg(SERVER_FIELDS)
    tag = _servers_etag()
    if (answer := unchanged(tag)) is not None:
        return answer
    rows = services().service.view.servers
    selected = [r for fqdn in sorted(list(rows)) if (r := rows.get(fqdn)) is not None
                and (fsid is None or any(s["fsid"] == fsid for s in r["services"]))]
    documents = [live_server_row(r, fsid) for r in selected]
    if kinds is not None:
        wanted = set(kinds)
        documents = [d for d in documents if any(s.get("type") in wanted for s in d["services"])]
    return plain_list(documents, tag, fields)


@blueprint.get("/server")
@doc("All servers, by fqdn; `?service=`, `?fields=`, `?limit=&offset=`; an ETag (If-None-Match: 304)",
     response={"type": "array", "items": selectable(SERVER_SCHEMA)}, query=LIST_QUERY, errors=(400, 401), etag=True,
     headers=LIST_HEADERS)
def servers() -> Response:
    return _server_list(None)


@blueprint.get("/server/<fqdn>")
@doc("One server; `?fields=`; an ETag (If-None-Match: 304)", response=selectable(SERVER_SCHEMA),
     query={"fields": fields_query(SERVER_FIELDS)}, errors=(400, 401, 404), etag=True)
def server(fqdn: str) -> Response:
    fields = fields_arg(SERVER_FIELDS)
    tag = _servers_etag()
    row = _server(fqdn)
    if (answer := unchanged(tag)) is not None:
        return answer
    return json_bytes_response(orjson.dumps(select(live_server_row(row), fields)), tag)


@blueprint.delete("/server/<fqdn>")
@doc("Forget a server that runs no Ceph service any more (a decommissioned host); it comes back "
     "if its collector reports again or the OSD metadata names it", status=204, response={},
     errors=(401, 403, 404, 409))
def forget_server(fqdn: str) -> Response:
    s = services()
    with s.service.durable() as model:
        _server(fqdn)
        try:
            model.forget_server(fqdn, current_user().username, datetime.now(UTC))
        except KeyError:
            raise ApiError(404, f"no server {fqdn!r}") from None
        except ValueError as err:
            raise ApiError(409, f"server {fqdn!r} cannot be forgotten: {err}") from None
    return Response(status=204)


@blueprint.get("/grains")
@doc("Facts of the host the Calamari server runs on (salt-style grain names, as Calamari gave them)",
     response={"type": "object", "required": ["fqdn", "kernel", "num_cpus", "mem_total"]}, errors=(401, 503))
def server_grains() -> Response:
    # read by an adapter (calamari.adapters.local_host) that calamari-server hands to the app
    read_grains = current_app.config.get("SERVER_GRAINS")
    if read_grains is None:
        raise ApiError(503, "this server's host facts are not available")
    return json_response(read_grains())


@blueprint.get("/server/<fqdn>/grains")
@doc("Host facts reported by the collector", response={"type": "object"}, errors=(401, 404))
def grains(fqdn: str) -> Response:
    _server(fqdn)
    facts = services().service.model.servers[fqdn].facts
    return json_response({"fqdn": fqdn, **facts})


@blueprint.get("/cluster/<fsid>/server")
@doc("Servers of a cluster, with that cluster's services, by fqdn; `?service=`, `?fields=`, `?limit=&offset=`; "
     "an ETag (If-None-Match: 304)", response={"type": "array", "items": selectable(SERVER_SCHEMA)}, query=LIST_QUERY,
     errors=(400, 401, 404), etag=True, headers=LIST_HEADERS)
@cacheable()
def cluster_servers(fsid: str) -> Response:
    cluster_model(fsid)
    return _server_list(fsid)


@blueprint.get("/cluster/<fsid>/server/<fqdn>")
@doc("One server of a cluster", response=SERVER_SCHEMA, errors=(401, 404))
def cluster_server(fsid: str, fqdn: str) -> Response:
    cluster_model(fsid)
    row = _server(fqdn)
    if not any(s["fsid"] == fsid for s in row["services"]):
        raise ApiError(404, f"server {fqdn!r} runs no service of cluster {fsid}")
    return json_response(live_server_row(row, fsid))


# ---------------------------------------------------------------------------- log files

# As in Calamari, log paths are relative to the log root (/var/log): the collector's log
# directory (/var/log/ceph by default) is `ceph/`, whatever its real location.
LOG_ROOT_NAME = "ceph"
DEFAULT_TAIL_LINES = 40
HOST_COMMAND_TIMEOUT_S = 10.0


def _ask_host(fqdn: str, prefix: str, args: dict[str, Any]) -> Any:
    """The output of a host command run by the collector of `fqdn`; ApiError when there is none."""
    result = services().executor.run_host_command(fqdn, prefix, args, timeout_s=HOST_COMMAND_TIMEOUT_S)
    if result is None:
        raise ApiError(504, f"no answer from the collector of {fqdn!r} within {HOST_COMMAND_TIMEOUT_S:.0f} s")
    rc, out, err = result
    if rc == -errno.ENOENT:
        raise ApiError(404, f"no log file {args.get('path', '')!r} on server {fqdn!r}")
    if rc == -errno.EHOSTUNREACH:
        raise ApiError(503, f"the collector of {fqdn!r} does not have its logs: {err}")
    if rc != 0:
        raise ApiError(502, f"the collector of {fqdn!r} failed: {err or rc}")
    problem = host_result_problem(prefix, out)
    if problem is not None:
        raise ApiError(502, f"the collector of {fqdn!r} answered malformed output: {problem}")
    return out


@blueprint.get("/server/<fqdn>/log")
@doc("The server's Ceph log files, relative to the log root (e.g. ceph/ceph.log); asks the host's collector",
     response={"type": "array", "items": {"type": "string"}}, errors=(401, 404, 502, 503, 504))
def server_logs(fqdn: str) -> Response:
    _server(fqdn)
    paths = _ask_host(fqdn, LOG_LIST, {})
    return json_response([f"{LOG_ROOT_NAME}/{path}" for path in paths])


@blueprint.get("/server/<fqdn>/log/<path:log_path>")
@doc(f"The last lines of one of the server's log files (?lines=N, default {DEFAULT_TAIL_LINES}; at most "
     f"{MAX_TAIL_BYTES} bytes, `truncated` when that cut lines off)",
     response={"type": "object", "required": ["lines"],
               "properties": {"lines": {"type": "string"}, "truncated": {"type": "boolean"}}},
     query={"lines": {"type": "integer", "minimum": 1, "maximum": MAX_TAIL_LINES}},
     errors=(400, 401, 404, 502, 503, 504))
def server_log_tail(fqdn: str, log_path: str) -> Response:
    _server(fqdn)
    lines = int_arg("lines", DEFAULT_TAIL_LINES, 1, MAX_TAIL_LINES) or DEFAULT_TAIL_LINES
    root, _, relative = log_path.partition("/")
    # refused here too, so that a path that can name no log file never reaches a collector
    if root != LOG_ROOT_NAME or log_path_problem(relative) is not None:
        raise ApiError(404, f"no log file {log_path[:200]!r} on server {fqdn!r}")
    out = _ask_host(fqdn, LOG_TAIL, {"path": relative, "lines": lines, "max_bytes": MAX_TAIL_BYTES})
    return json_response({"lines": out["lines"], "truncated": out.get("truncated", False)})
