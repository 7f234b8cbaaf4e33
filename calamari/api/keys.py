"""Collector keys, like Calamari's salt key resource: list them, accept or reject one (admins),
delete one (admins). `id` is the collector's host name; `status` is `pre` (pending), `accepted` or
`rejected`. A host name may have several keys (pending ones from different addresses): each is a
row of the list with its fingerprint, and a decision names the key by `fingerprint` when the host
has more than one."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, request
from pydantic import Field

from calamari.api.common import ApiError, current_user, doc, json_response, parse_body
from calamari.api.schemas import Strict
from calamari.domain.collector_key import CollectorKey
from calamari.service.auth import CAN_ADMINISTER
from calamari.service.collector_keys import AmbiguousKey, CollectorKeyService, key_row

blueprint = Blueprint("keys", __name__, url_prefix="/api/v2")

KEY_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string", "description": "the collector's host name"},
    "status": {"type": "string", "enum": ["pre", "accepted", "rejected"]},
    "fingerprint": {"type": "string", "description": "SHA256 of the CURVE public key"},
    "public_key": {"type": "string", "description": "the CURVE public key, Z85"},
    "decided_by": {"type": ["string", "null"]},
    "registered_at": {"type": "string"}, "updated_at": {"type": "string"},
    "registered_from": {"type": ["string", "null"], "description": "the address its hello came from"},
    "expires_at": {"type": ["string", "null"], "description": "when a pending key expires if not decided"}}}
HOST_KEY_SCHEMA = {**KEY_SCHEMA, "properties": {
    **KEY_SCHEMA["properties"],
    "keys": {"type": "array", "items": KEY_SCHEMA, "description": "every key of the host, this one included"}}}
READ_ONLY = ("id", "public_key", "decided_by", "registered_at", "updated_at", "registered_from", "expires_at")
FINGERPRINT_QUERY = {"fingerprint": {"type": "string", "description": "which of the host's keys"}}
MAX_FINGERPRINT_LENGTH = 100


class KeyUpdate(Strict):
    status: Literal["accepted", "rejected"]
    fingerprint: str | None = Field(default=None, min_length=1, max_length=MAX_FINGERPRINT_LENGTH)  # which key


def collector_keys() -> CollectorKeyService:
    """The server's key service, shared with the bus (the composition root gives it to the app)."""
    return current_app.config["COLLECTOR_KEYS"]


def _row(key: CollectorKey) -> dict[str, object]:
    return key_row(key, collector_keys().limits.pending_ttl_s)


def _require_admin() -> str:
    me = current_user()
    if me.role not in CAN_ADMINISTER:
        raise ApiError(403, f"only an admin may decide about collector keys, not the {me.role} role")
    return me.username


def _fingerprint_query() -> str | None:
    value = request.args.get("fingerprint")
    if value is not None and not 0 < len(value) <= MAX_FINGERPRINT_LENGTH:
        raise ApiError(400, "invalid query parameter fingerprint",
                       {"fingerprint": f"1 to {MAX_FINGERPRINT_LENGTH} characters"})
    return value


def _no_key(key_id: str, fingerprint: str | None) -> ApiError:
    return ApiError(404, f"no collector key {key_id!r}" + (f" with fingerprint {fingerprint}" if fingerprint else ""))


@blueprint.get("/key")
@doc("Collector keys, pending (pre) ones included; a host may have several", response={"type": "array",
     "items": KEY_SCHEMA}, errors=(401,))
def list_keys() -> Response:
    return json_response([_row(k) for k in collector_keys().keys()])


@blueprint.get("/key/<key_id>")
@doc("A host's collector key: the one with `fingerprint`, else its accepted one, else the first registered; "
     "`keys` lists all of the host's", response=HOST_KEY_SCHEMA, query=FINGERPRINT_QUERY, errors=(400, 401, 404))
def get_key(key_id: str) -> Response:
    fingerprint = _fingerprint_query()
    keys = collector_keys()
    key = keys.get(key_id, fingerprint)
    if key is None:
        raise _no_key(key_id, fingerprint)
    return json_response({**_row(key), "keys": [_row(k) for k in keys.keys_of(key_id)]})


@blueprint.patch("/key/<key_id>")
@doc("Accept or reject a collector key (admin): only accepted keys' data reaches the model. A host with "
     "several keys needs `fingerprint`; accepting one removes the host's other pending keys",
     body=KeyUpdate, response=KEY_SCHEMA, errors=(400, 401, 403, 404))
def change_key(key_id: str) -> Response:
    by = _require_admin()
    body = parse_body(KeyUpdate, read_only=READ_ONLY)
    try:
        key = collector_keys().decide(key_id, body.status, by, body.fingerprint)
    except KeyError:
        raise _no_key(key_id, body.fingerprint) from None
    except AmbiguousKey as err:
        raise ApiError(400, f"which key of {key_id}?", {err.field: err.reason}) from None
    return json_response(_row(key))


@blueprint.delete("/key/<key_id>")
@doc("Forget a host's collector key (admin): the one with `fingerprint`, else all of the host's; the "
     "collector's next hello makes it pending again", response={"type": "object"}, query=FINGERPRINT_QUERY,
     errors=(400, 401, 403, 404))
def delete_key(key_id: str) -> Response:
    by = _require_admin()
    fingerprint = _fingerprint_query()
    try:
        count = collector_keys().delete(key_id, by, fingerprint)
    except KeyError:
        raise _no_key(key_id, fingerprint) from None
    return json_response({"detail": f"deleted collector key {key_id}" if count == 1
                          else f"deleted {count} collector keys of {key_id}"})
