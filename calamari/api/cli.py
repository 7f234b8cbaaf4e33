"""`POST /api/v2/cluster/<fsid>/cli`: read-only ceph commands run by the cluster's collector."""

from __future__ import annotations

import shlex
from typing import Any

from flask import Blueprint, Response

from calamari.api.common import ApiError, doc, json_response, parse_body, services
from calamari.api.lookup import cluster_model
from calamari.api.schemas import CliCommand

blueprint = Blueprint("cli", __name__, url_prefix="/api/v2")

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
    """A command line -> (an allowed read-only command, its arguments); 400 for anything else."""
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
