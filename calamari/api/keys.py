"""Collector keys, like Calamari's salt key resource: list them, accept or reject one (admins),
delete one (admins). `id` is the collector's host name; `status` is `pre` (pending), `accepted` or
`rejected`."""

from __future__ import annotations

import threading
from typing import Literal

from flask import Blueprint, Response, current_app

from calamari.api.common import ApiError, current_user, doc, json_response, parse_body
from calamari.api.schemas import Strict
from calamari.domain.collector_key import CollectorKey
from calamari.service.auth import CAN_ADMINISTER
from calamari.service.collector_keys import CollectorKeyService, key_row

blueprint = Blueprint("keys", __name__, url_prefix="/api/v2")

KEY_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string", "description": "the collector's host name"},
    "status": {"type": "string", "enum": ["pre", "accepted", "rejected"]},
    "fingerprint": {"type": "string", "description": "SHA256 of the CURVE public key"},
    "public_key": {"type": "string", "description": "the CURVE public key, Z85"},
    "decided_by": {"type": ["string", "null"]},
    "registered_at": {"type": "string"}, "updated_at": {"type": "string"}}}
READ_ONLY = ("id", "fingerprint", "public_key", "decided_by", "registered_at", "updated_at")

_keys_lock = threading.Lock()


class KeyUpdate(Strict):
    status: Literal["accepted", "rejected"]


def collector_keys() -> CollectorKeyService:
    """The server's key service (shared with the bus), or one over the model service."""
    keys = current_app.config.get("COLLECTOR_KEYS")
    if keys is None:
        with _keys_lock:
            keys = current_app.config.get("COLLECTOR_KEYS")
            if keys is None:
                keys = current_app.config["COLLECTOR_KEYS"] = CollectorKeyService(current_app.config["SERVICE"])
    return keys


def _require_admin() -> str:
    me = current_user()
    if me.role not in CAN_ADMINISTER:
        raise ApiError(403, f"only an admin may decide about collector keys, not the {me.role} role")
    return me.username


def _key(key_id: str) -> CollectorKey:
    key = collector_keys().get(key_id)
    if key is None:
        raise ApiError(404, f"no collector key {key_id!r}")
    return key


@blueprint.get("/key")
@doc("Collector keys, pending (pre) ones included", response={"type": "array", "items": KEY_SCHEMA},
     errors=(401,))
def list_keys() -> Response:
    return json_response([key_row(k) for k in collector_keys().keys()])


@blueprint.get("/key/<key_id>")
@doc("One collector key", response=KEY_SCHEMA, errors=(401, 404))
def get_key(key_id: str) -> Response:
    return json_response(key_row(_key(key_id)))


@blueprint.patch("/key/<key_id>")
@doc("Accept or reject a collector key (admin): only accepted keys' data reaches the model",
     body=KeyUpdate, response=KEY_SCHEMA, errors=(400, 401, 403, 404))
def change_key(key_id: str) -> Response:
    by = _require_admin()
    body = parse_body(KeyUpdate, read_only=READ_ONLY)
    _key(key_id)
    try:
        key = collector_keys().decide(key_id, body.status, by)
    except KeyError:
        raise ApiError(404, f"no collector key {key_id!r}") from None
    return json_response(key_row(key))


@blueprint.delete("/key/<key_id>")
@doc("Forget a collector key (admin): the collector's next hello makes it pending again",
     response={"type": "object"}, errors=(401, 403, 404))
def delete_key(key_id: str) -> Response:
    by = _require_admin()
    try:
        collector_keys().delete(key_id, by)
    except KeyError:
        raise ApiError(404, f"no collector key {key_id!r}") from None
    return json_response({"detail": f"deleted collector key {key_id}"})
