"""Cluster-wide resources: info, clusters, monitors, CRUSH, configuration, sync objects, the
cluster log, stats, OSD flags and the read-only command line."""

from __future__ import annotations

import shlex
import socket
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from calamari import __version__
from calamari.api.common import (
    ApiError,
    current_user,
    doc,
    int_arg,
    json_response,
    parse_body,
    services,
    submit_plan,
)
from calamari.api.schemas import (
    CRUSH_NODE_READ_ONLY,
    CRUSH_NODE_UPDATE_READ_ONLY,
    CRUSH_RULE_READ_ONLY,
    CRUSH_RULE_UPDATE_READ_ONLY,
    MAX_CRUSH_MAP_TEXT,
    CliCommand,
    CrushMapReplace,
    CrushNodeCreate,
    CrushNodeUpdate,
    CrushRuleCreate,
    CrushRuleUpdate,
    OsdConfigUpdate,
)
from calamari.crush.text_render import render_crush_text
from calamari.domain.model import SYNC_OBJECTS
from calamari.domain.requests import (
    check_crush_map_text,
    osd_flags,
    plan_crush_map_set,
    plan_crush_node_create,
    plan_crush_node_delete,
    plan_crush_node_update,
    plan_crush_rule_create,
    plan_crush_rule_delete,
    plan_crush_rule_update,
    plan_osd_config,
)

blueprint = Blueprint("clusters", __name__, url_prefix="/api/v2")

OBJ = {"type": "object"}
ACCEPTED = {"type": "object", "required": ["request_id"], "properties": {"request_id": {"type": "string"}}}
LIST = {"type": "array", "items": {"type": "object"}}
RULE_TYPES = {1: "replicated", 3: "erasure"}


def cluster_model(fsid: str) -> Any:
    cluster = services().service.model.clusters.get(fsid)
    if cluster is None:
        raise ApiError(404, f"no cluster {fsid}")
    return cluster


def held(fsid: str, name: str) -> Any:
    """The newest sync object of a kind; 503 until the cluster has sent one."""
    cluster_model(fsid)
    item = services().service.model.held.get(fsid, {}).get(name)
    if item is None:
        raise ApiError(503, f"no {name} received from cluster {fsid} yet; retry shortly")
    return item[1]


@blueprint.get("/info")
@doc("Server version and host", response={"type": "object", "properties": {"version": {"type": "string"}}},
     errors=(401,))
def info() -> Response:
    # the host's names from the same reader as /grains (a loopback fqdn is no name), where given
    read_grains = current_app.config.get("SERVER_GRAINS")
    grains = read_grains() if read_grains is not None else {}
    fqdn = grains.get("fqdn") or socket.getfqdn()
    try:
        ipaddr = socket.gethostbyname(socket.gethostname())
    except OSError:
        ipaddr = None
    return json_response({"version": __version__, "license": "LGPL-2.1", "registered": "calamari",
                          "hostname": socket.gethostname(), "fqdn": fqdn, "ipaddr": ipaddr,
                          "bootstrap_url": None, "bootstrap_ubuntu": None, "bootstrap_rhel": None})


def cluster_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "update_time": row["update_time"]}


@blueprint.get("/cluster")
@doc("Clusters", response={"type": "array", "items": {"type": "object", "required": ["id", "name"]}},
     errors=(401,))
def clusters() -> Response:
    return json_response([cluster_summary(c) for c in list(services().service.view.clusters.values())])


@blueprint.get("/cluster/<fsid>")
@doc("One cluster: health, flags, monitors, PG and OSD counts", response=OBJ, errors=(401, 404))
def cluster(fsid: str) -> Response:
    row = services().service.view.clusters.get(fsid)
    if row is None:
        raise ApiError(404, f"no cluster {fsid}")
    return json_response({**row, **contact_age(fsid), "counters": services().service.view.counters(fsid)})


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


def contact_age(fsid: str) -> dict[str, Any]:
    """When the collector last confirmed this state as current, and how long ago: with `stale`
    it tells how old the shown state may be. None before the first heartbeat since a restart."""
    last = services().service.model.last_contact.get(fsid)
    if last is None:
        return {"last_contact": None, "age_s": None}
    return {"last_contact": datetime.fromtimestamp(last, UTC).isoformat(),
            "age_s": round(max(0.0, time.time() - last), 1)}


# ---------------------------------------------------------------------------- monitors

def _mon_rows(fsid: str) -> list[dict[str, Any]]:
    cluster = cluster_model(fsid)
    hosts = {s["id"]: fqdn for fqdn, row in list(services().service.view.servers.items())
             for s in row["services"] if s["type"] == "mon" and s["fsid"] == fsid}
    quorum = set(cluster.quorum)
    return [{"name": m["name"], "rank": m["rank"], "in_quorum": m["name"] in quorum, "addr": m["addr"],
             "server": hosts.get(m["name"])} for m in cluster.mons]


@blueprint.get("/cluster/<fsid>/mon")
@doc("Monitors", response=LIST, errors=(401, 404))
def mons(fsid: str) -> Response:
    return json_response(_mon_rows(fsid))


@blueprint.get("/cluster/<fsid>/mon/<name>")
@doc("One monitor", response=OBJ, errors=(401, 404))
def mon(fsid: str, name: str) -> Response:
    for row in _mon_rows(fsid):
        if row["name"] == name:
            return json_response(row)
    raise ApiError(404, f"no monitor {name!r}")


@blueprint.get("/cluster/<fsid>/mon/<name>/status")
@doc("A monitor's status document (the newest quorum status)", response=OBJ, errors=(401, 404, 503))
def mon_status(fsid: str, name: str) -> Response:
    if not any(row["name"] == name for row in _mon_rows(fsid)):
        raise ApiError(404, f"no monitor {name!r}")
    return json_response(held(fsid, "mon_status"))


# ---------------------------------------------------------------------------- CRUSH

def _crush(fsid: str) -> dict[str, Any]:
    return cluster_model(fsid).crush


def _rule_row(rule: dict[str, Any], osd_count: int) -> dict[str, Any]:
    return {"id": rule["rule_id"], "name": rule["rule_name"], "ruleset": rule.get("ruleset", rule["rule_id"]),
            "type": RULE_TYPES.get(rule.get("type"), str(rule.get("type"))), "min_size": rule.get("min_size"),
            "max_size": rule.get("max_size"), "osd_count": osd_count,
            "steps": [{"op": s.get("op"), "type": s.get("type"), "num": s.get("num"), "item": s.get("item"),
                       "item_name": s.get("item_name")} for s in rule.get("steps", [])]}


def osds_under(fsid: str, root: str | None) -> list[int]:
    rows = services().service.view.osds.get(fsid, {})
    return [i for i, r in list(rows.items()) if root is None or root in r["crush_node_ancestry"]]


def rule_root(rule: dict[str, Any]) -> str | None:
    return next((s.get("item_name") for s in rule.get("steps", []) if s.get("op") == "take"), None)


def _rule_rows(fsid: str) -> list[dict[str, Any]]:
    counts: dict[str | None, int] = {}
    rows = []
    for rule in _crush(fsid).get("rules", []):
        root = rule_root(rule)
        if root not in counts:
            counts[root] = len(osds_under(fsid, root))
        rows.append(_rule_row(rule, counts[root]))
    return rows


@blueprint.get("/cluster/<fsid>/crush_rule")
@doc("CRUSH rules", response=LIST, errors=(401, 404))
def crush_rules(fsid: str) -> Response:
    return json_response(_rule_rows(fsid))


@blueprint.get("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("One CRUSH rule", response=OBJ, errors=(401, 404))
def crush_rule(fsid: str, rule_id: int) -> Response:
    for row in _rule_rows(fsid):
        if row["id"] == rule_id:
            return json_response(row)
    raise ApiError(404, f"no CRUSH rule {rule_id}")


@blueprint.get("/cluster/<fsid>/crush_rule_set")
@doc("CRUSH rules grouped by ruleset", response=LIST, errors=(401, 404))
def crush_rule_sets(fsid: str) -> Response:
    sets: dict[int, list[dict[str, Any]]] = {}
    for row in _rule_rows(fsid):
        sets.setdefault(row["ruleset"], []).append(row)
    return json_response([{"id": k, "rules": v} for k, v in sorted(sets.items())])


def _node_row(bucket: dict[str, Any]) -> dict[str, Any]:
    return {"id": bucket["id"], "name": bucket["name"], "bucket_type": bucket.get("type_name"),
            "weight": round(bucket.get("weight", 0) / 0x10000, 5), "alg": bucket.get("alg"),
            "hash": bucket.get("hash"),
            "items": [{"id": i["id"], "weight": round(i.get("weight", 0) / 0x10000, 5), "pos": i.get("pos")}
                      for i in bucket.get("items", [])]}


@blueprint.get("/cluster/<fsid>/crush_node")
@doc("CRUSH buckets", response=LIST, errors=(401, 404))
def crush_nodes(fsid: str) -> Response:
    return json_response([_node_row(b) for b in _crush(fsid).get("buckets", [])])


@blueprint.get("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("One CRUSH bucket", response=OBJ, errors=(401, 404))
def crush_node(fsid: str, node_id: int) -> Response:
    for bucket in _crush(fsid).get("buckets", []):
        if bucket["id"] == node_id:
            return json_response(_node_row(bucket))
    raise ApiError(404, f"no CRUSH node {node_id}")


@blueprint.post("/cluster/<fsid>/crush_rule")
@doc("Create a CRUSH rule: replicated (root, failure_domain, device_class) or erasure (from an "
     "erasure_code_profile) (202: a request)", body=CrushRuleCreate, status=202, response=ACCEPTED,
     errors=(400, 401, 403, 404, 409, 503))
def create_crush_rule(fsid: str) -> Response:
    body = parse_body(CrushRuleCreate, read_only=CRUSH_RULE_READ_ONLY)
    return submit_plan(fsid, plan_crush_rule_create, body.model_dump(exclude_none=True))


@blueprint.patch("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("Rename a CRUSH rule, the only change Ceph allows (202: a request; 304 when the name is the same)",
     body=CrushRuleUpdate, status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def update_crush_rule(fsid: str, rule_id: int) -> Response:
    body = parse_body(CrushRuleUpdate, read_only=CRUSH_RULE_UPDATE_READ_ONLY)
    return submit_plan(fsid, plan_crush_rule_update, rule_id, body.model_dump(exclude_none=True))


@blueprint.delete("/cluster/<fsid>/crush_rule/<int:rule_id>")
@doc("Delete a CRUSH rule no pool uses (202: a request)", status=202, response=ACCEPTED,
     errors=(401, 403, 404, 409, 503))
def delete_crush_rule(fsid: str, rule_id: int) -> Response:
    return submit_plan(fsid, plan_crush_rule_delete, rule_id)


@blueprint.post("/cluster/<fsid>/crush_node")
@doc("Add a CRUSH bucket, optionally under a parent node (id or name) and with items moved into it "
     "(202: a request)", body=CrushNodeCreate,
     status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def create_crush_node(fsid: str) -> Response:
    body = parse_body(CrushNodeCreate, read_only=CRUSH_NODE_READ_ONLY)
    return submit_plan(fsid, plan_crush_node_create, body.model_dump(exclude_none=True))


@blueprint.patch("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("Rename a CRUSH bucket, move it under another parent and/or set its items (children moved in, "
     "reweighted, unlinked) (202: a request; 304 when nothing would change)", body=CrushNodeUpdate, status=202,
     response=ACCEPTED, errors=(400, 401, 403, 404, 409, 503))
def update_crush_node(fsid: str, node_id: int) -> Response:
    body = parse_body(CrushNodeUpdate, read_only=CRUSH_NODE_UPDATE_READ_ONLY)
    return submit_plan(fsid, plan_crush_node_update, node_id, body.model_dump(exclude_none=True))


@blueprint.delete("/cluster/<fsid>/crush_node/<int(signed=True):node_id>")
@doc("Delete an empty CRUSH bucket no rule uses (202: a request)", status=202, response=ACCEPTED,
     errors=(401, 403, 404, 409, 503))
def delete_crush_node(fsid: str, node_id: int) -> Response:
    return submit_plan(fsid, plan_crush_node_delete, node_id)


@blueprint.get("/cluster/<fsid>/crush_type")
@doc("CRUSH types", response=LIST, errors=(401, 404))
def crush_types(fsid: str) -> Response:
    return json_response([{"id": t["type_id"], "name": t["name"]} for t in _crush(fsid).get("types", [])])


@blueprint.get("/cluster/<fsid>/crush_type/<int:type_id>")
@doc("One CRUSH type", response=OBJ, errors=(401, 404))
def crush_type(fsid: str, type_id: int) -> Response:
    for t in _crush(fsid).get("types", []):
        if t["type_id"] == type_id:
            return json_response({"id": t["type_id"], "name": t["name"]})
    raise ApiError(404, f"no CRUSH type {type_id}")


@blueprint.get("/cluster/<fsid>/crush_map")
@doc("The CRUSH map as text, as `crushtool -d` prints it (a JSON string); `?format=json`: as Ceph dumps "
     "it (`ceph osd crush dump`)", response={"oneOf": [{"type": "string"}, {"type": "object"}]},
     query={"format": {"type": "string", "enum": ["text", "json"]}}, errors=(400, 401, 404, 503))
def crush_map(fsid: str) -> Response:
    kind = request.args.get("format", "text")
    if kind not in ("text", "json"):
        raise ApiError(400, "invalid query parameter format", {"format": "text or json"})
    crush = held(fsid, "crush_map")
    return json_response(crush if kind == "json" else render_crush_text(crush))


def _crush_map_text() -> str:
    """The text of a POST: a JSON body {"crush_map": text}, or the text itself as text/plain."""
    if request.mimetype == "text/plain":
        raw = request.get_data(cache=True)
        if len(raw) > MAX_CRUSH_MAP_TEXT:
            raise ApiError(400, "invalid input", {"crush_map": f"at most {MAX_CRUSH_MAP_TEXT} bytes"})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid input", {"crush_map": "must be UTF-8 text"}) from None
        if not text.strip():
            raise ApiError(400, "invalid input", {"crush_map": "the CRUSH map is empty"})
        return text
    body = parse_body(CrushMapReplace)
    return body.crush_map  # type: ignore[attr-defined]


@blueprint.post("/cluster/<fsid>/crush_map")
@doc("Replace the CRUSH map with its text as GET gives it: JSON {'crush_map': text}, or the text as a "
     "text/plain body. 400 names each bad line; Ceph refuses it if the map changed since it was read "
     "(202: a request)",
     body=CrushMapReplace, status=202, response=ACCEPTED, errors=(400, 401, 403, 404, 409, 415, 503))
def replace_crush_map(fsid: str) -> Response:
    text = _crush_map_text()
    cluster_model(fsid)  # 404 first
    # parsed before the model's lock is taken: a large map takes seconds, and ingest must not wait
    return submit_plan(fsid, plan_crush_map_set, text, check_crush_map_text(text))


# ---------------------------------------------------------------------------- config, sync objects, log

def _config(fsid: str) -> dict[str, str]:
    cluster = cluster_model(fsid)
    if not cluster.config and "config" not in services().service.model.held.get(fsid, {}):
        raise ApiError(503, f"no configuration received from cluster {fsid} yet; retry shortly")
    return cluster.config


@blueprint.get("/cluster/<fsid>/config")
@doc("Configuration (`ceph config dump`: global keys by name, others as section/name)", response=LIST,
     errors=(401, 404, 503))
def config(fsid: str) -> Response:
    return json_response([{"key": k, "value": v} for k, v in sorted(_config(fsid).items())])


@blueprint.get("/cluster/<fsid>/config/<path:key>")
@doc("One configuration key", response=OBJ, errors=(401, 404, 503))
def config_key(fsid: str, key: str) -> Response:
    values = _config(fsid)
    if key not in values:
        raise ApiError(404, f"no configuration key {key!r}")
    return json_response({"key": key, "value": values[key]})


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


def _log_line(entry: dict[str, Any]) -> str:
    return f"{entry.get('stamp', '')} {entry.get('name', '')} {entry.get('priority', '')} {entry.get('message', '')}"


@blueprint.get("/cluster/<fsid>/log")
@doc("Tail of the cluster log", response={"type": "object", "properties": {"lines": {"type": "string"}}},
     query={"lines": {"type": "integer", "minimum": 1, "maximum": 1000}}, errors=(400, 401, 404))
def cluster_log(fsid: str) -> Response:
    cluster_model(fsid)
    count = int_arg("lines", 40, 1, 1000) or 40
    with services().service.lock:
        lines = list(services().service.cluster_log.get(fsid, [])[-count:])
    return json_response({"lines": "\n".join(_log_line(e) for e in lines if isinstance(e, dict))})


# ---------------------------------------------------------------------------- OSD flags

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


# ---------------------------------------------------------------------------- cli

# Read-only commands and the names of their positional arguments.
READ_ONLY_COMMANDS: dict[str, tuple[str, ...]] = {
    "status": (), "health": ("detail",), "df": ("detail",), "versions": (), "quorum_status": (),
    "mon dump": (), "mon stat": (), "osd dump": (), "osd tree": (), "osd df": (), "osd stat": (), "osd ls": (),
    "osd pool ls": ("detail",), "osd pool get": ("pool", "var"), "osd pool stats": ("pool_name",),
    "osd pool get-quota": ("pool",), "osd crush dump": (), "osd crush rule dump": ("name",),
    "osd crush rule ls": (), "osd erasure-code-profile ls": (), "osd erasure-code-profile get": ("name",),
    "osd metadata": ("id",), "osd perf": (), "osd blocked-by": (), "pg stat": (), "pg dump": ("dumpcontents",),
    "pg ls": (), "fs dump": (), "fs ls": (), "mgr dump": (), "config dump": (), "config get": ("who", "key"),
    "health detail": (), "node ls": (),
}


def parse_cli(text: str) -> tuple[str, dict[str, Any]]:
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise ApiError(400, "cannot parse the command", {"command": str(err)}) from None
    if words and words[0] == "ceph":
        words = words[1:]
    cleaned: list[str] = []
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in ("-f", "--format"):
            skip = i + 1 < len(words)
            continue
        if word.startswith("--format="):
            continue
        cleaned.append(word)
    for length in range(min(4, len(cleaned)), 0, -1):
        prefix = " ".join(cleaned[:length])
        if prefix in READ_ONLY_COMMANDS:
            names = READ_ONLY_COMMANDS[prefix]
            rest = cleaned[length:]
            if len(rest) > len(names):
                raise ApiError(400, "too many arguments", {"command": f"{prefix!r} takes {len(names)} at most"})
            return prefix, {"format": "json", **dict(zip(names, rest, strict=False))}
    raise ApiError(400, "not an allowed read-only command",
                   {"command": f"allowed: {', '.join(sorted(READ_ONLY_COMMANDS))}"})


@blueprint.post("/cluster/<fsid>/cli")
@doc("Run read-only ceph commands; answers out, err and status", body=CliCommand,
     response={"type": "object", "properties": {"out": {}, "err": {"type": "string"}, "status": {"type": "integer"}}},
     errors=(400, 401, 403, 404, 503, 504))
def cli(fsid: str) -> Response:
    body = parse_body(CliCommand)
    cluster_model(fsid)
    # As in Calamari, a list is the words of one command line (its argv), not several commands.
    line = body.command if isinstance(body.command, str) else shlex.join(body.command)
    prefix, args = parse_cli(line)
    result = services().executor.run_readonly(fsid, prefix, args)
    if result is None:
        raise ApiError(504, f"no answer from the cluster to {prefix!r} in time")
    rc, out, err = result
    return json_response({"out": out, "err": err or "", "status": rc})


__all__ = ["blueprint", "cluster_model", "held", "osds_under", "request"]
