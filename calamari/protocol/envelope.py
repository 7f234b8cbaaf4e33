"""The collector <-> server message envelope: one msgpack map per ZeroMQ frame.

    {"v": 1, "type": str, "fsid": str|None, "host": str, "seq": int, "ts": float, "body": {...}}

Validation is explicit (no pydantic models) because the bus validates every frame on its hot path
and plain isinstance checks are several times cheaper.
"""
# Not msgspec: its decoder lets non-text map keys through inside free-form data (msgpack's
# strict_map_key rejects them), and with the walk that needs it is slower on a 10,000-OSD map
# (bench/bench_envelope.py).

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

from calamari.protocol.host_logs import HOST_TARGET, host_command_problem

PROTOCOL_VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_BUS_ENDPOINT = "tcp://127.0.0.1:5560"
# The calamari_notify module's signing key as a heartbeat carries it (the module makes 64 hex digits).
MAX_PUSH_KEY_CHARS = 256

# collector -> server
HELLO = "hello"
HEARTBEAT = "heartbeat"
SYNC_OBJECT = "sync_object"
SERVER_FACTS = "server_facts"
STATS = "stats"
CLUSTER_LOG = "cluster_log"
COMMAND_RESULT = "command_result"
# server -> collector
COMMAND = "command"
ACK = "ack"
RESYNC = "resync"
HELLO_REQUEST = "hello_request"

UPSTREAM_TYPES = frozenset(
    {HELLO, HEARTBEAT, SYNC_OBJECT, SERVER_FACTS, STATS, CLUSTER_LOG, COMMAND_RESULT}
)
DOWNSTREAM_TYPES = frozenset({COMMAND, ACK, RESYNC, HELLO_REQUEST})
MESSAGE_TYPES = UPSTREAM_TYPES | DOWNSTREAM_TYPES

# Sync object names and the kind of version each carries (int: newer wins; str: content hash).
SYNC_VERSION_KIND: dict[str, type] = {
    "osd_map": int,
    "mon_map": int,
    "mon_status": int,
    "fs_map": int,
    "health": str,
    "pg_summary": int,
    "df": int,
    "crush_map": int,
    "config": str,
    "osd_metadata": str,
}
SYNC_NAMES = frozenset(SYNC_VERSION_KIND)

COMMAND_TARGETS = frozenset({"mon", "mgr"})

_ENVELOPE_KEYS = ("v", "type", "fsid", "host", "seq", "ts", "body")


class ProtocolError(ValueError):
    """A frame that is not a valid message; `reason` is a short machine-friendly tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Envelope:
    type: str
    fsid: str | None
    host: str
    seq: int
    ts: float
    body: dict[str, Any] = field(default_factory=dict)
    v: int = PROTOCOL_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "type": self.type,
            "fsid": self.fsid,
            "host": self.host,
            "seq": self.seq,
            "ts": self.ts,
            "body": self.body,
        }


def is_int(value: Any) -> bool:
    """True for a real int (bool is an int subclass in Python but not in the protocol)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def is_sync_version(value: Any) -> bool:
    return (is_int(value) and value >= 0) or (isinstance(value, str) and 0 < len(value) <= 256)


def encode(
    msg_type: str,
    body: dict[str, Any],
    *,
    fsid: str | None,
    host: str,
    seq: int,
    ts: float | None = None,
) -> bytes:
    """Pack one message into a frame."""
    return msgpack.packb(
        {
            "v": PROTOCOL_VERSION,
            "type": msg_type,
            "fsid": fsid,
            "host": host,
            "seq": seq,
            "ts": time.time() if ts is None else float(ts),
            "body": body,
        },
        use_bin_type=True,
    )


def encode_envelope(envelope: Envelope) -> bytes:
    return msgpack.packb(envelope.to_dict(), use_bin_type=True)


def unpack_frame(frame: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """msgpack-decode a frame, turning every decoder failure into ProtocolError."""
    if len(frame) > max_bytes:
        raise ProtocolError("too_large", f"{len(frame)} bytes > {max_bytes}")
    try:
        if len(frame) < LARGE_FRAME_BYTES:
            return msgpack.unpackb(frame, raw=False, strict_map_key=True)
        with _collector_paused():
            return msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several unrelated exception types
        raise ProtocolError("undecodable", type(exc).__name__) from None


# A full map of thousands of OSDs decodes into hundreds of thousands of new containers; the cyclic
# garbage collector would walk the whole heap several times meanwhile (half the decode time), and
# none of them can be garbage yet. Above this size it is paused while decoding.
LARGE_FRAME_BYTES = 1 << 20


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decode(
    frame: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    allowed_types: frozenset[str] = MESSAGE_TYPES,
) -> Envelope:
    """Decode and validate a frame (envelope and body of its type). Raises ProtocolError."""
    envelope = validate_envelope(unpack_frame(frame, max_bytes))
    if envelope.type not in allowed_types:
        raise ProtocolError("unexpected_type", envelope.type)
    validate_body(envelope.type, envelope.body)
    return envelope


def validate_envelope(raw: Any) -> Envelope:
    if not isinstance(raw, dict):
        raise ProtocolError("bad_envelope", "not a map")
    for key in _ENVELOPE_KEYS:
        if key not in raw:
            raise ProtocolError("bad_envelope", f"missing {key}")
    version = raw["v"]
    if not is_int(version):
        raise ProtocolError("bad_envelope", "v is not an int")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("unsupported_version", str(version))
    msg_type = raw["type"]
    if not isinstance(msg_type, str):
        raise ProtocolError("bad_envelope", "type is not a string")
    if msg_type not in MESSAGE_TYPES:
        raise ProtocolError("unknown_type", msg_type[:64])
    fsid = raw["fsid"]
    if fsid is not None and not (isinstance(fsid, str) and 0 < len(fsid) <= 64):
        raise ProtocolError("bad_envelope", "fsid")
    host = raw["host"]
    if not (isinstance(host, str) and 0 < len(host) <= 255):
        raise ProtocolError("bad_envelope", "host")
    seq = raw["seq"]
    if not (is_int(seq) and seq >= 0):
        raise ProtocolError("bad_envelope", "seq")
    ts = raw["ts"]
    if not is_number(ts):
        raise ProtocolError("bad_envelope", "ts")
    body = raw["body"]
    if not isinstance(body, dict):
        raise ProtocolError("bad_envelope", "body is not a map")
    return Envelope(msg_type, fsid, host, seq, float(ts), body, version)


def _require(cond: bool, msg_type: str, detail: str) -> None:
    if not cond:
        raise ProtocolError("bad_body", f"{msg_type}: {detail}")


def _validate_sync_object(body: dict[str, Any]) -> None:
    name = body.get("name")
    _require(isinstance(name, str) and name in SYNC_NAMES, SYNC_OBJECT, "name")
    version = body.get("version")
    _require(is_sync_version(version), SYNC_OBJECT, "version")
    _require(isinstance(version, SYNC_VERSION_KIND[name]), SYNC_OBJECT, "version kind")
    has_data = "data" in body
    has_delta = "delta" in body or "delta_from" in body
    _require(has_data != has_delta, SYNC_OBJECT, "exactly one of data or delta")
    if has_delta:
        _require(is_sync_version(body.get("delta_from")), SYNC_OBJECT, "delta_from")
        _require(isinstance(body.get("delta"), dict), SYNC_OBJECT, "delta")


def _validate_heartbeat(body: dict[str, Any]) -> None:
    versions = body.get("versions")
    _require(isinstance(versions, dict), HEARTBEAT, "versions")
    for name, version in versions.items():
        _require(isinstance(name, str) and is_sync_version(version), HEARTBEAT, "versions entry")
    _require(isinstance(body.get("cluster_unreachable", False), bool), HEARTBEAT, "cluster_unreachable")
    _require(isinstance(body.get("error", ""), str), HEARTBEAT, "error")
    key = body.get("mgr_push_key", "x")
    _require(isinstance(key, str) and 0 < len(key) <= MAX_PUSH_KEY_CHARS and key.isascii() and key.isprintable()
             and " " not in key, HEARTBEAT, "mgr_push_key")


def _validate_hello(body: dict[str, Any]) -> None:
    _require(isinstance(body.get("collector_version"), str), HELLO, "collector_version")
    fsid = body.get("fsid")
    _require(fsid is None or (isinstance(fsid, str) and 0 < len(fsid) <= 64), HELLO, "fsid")
    _require(isinstance(body.get("hostname"), str), HELLO, "hostname")


def _validate_server_facts(body: dict[str, Any]) -> None:
    for key in ("hostname", "fqdn"):
        _require(isinstance(body.get(key), str) and body[key] != "", SERVER_FACTS, key)
    services = body.get("services", [])
    _require(isinstance(services, list), SERVER_FACTS, "services")
    for service in services:
        _require(
            isinstance(service, dict)
            and isinstance(service.get("type"), str)
            and isinstance(service.get("id"), str),
            SERVER_FACTS,
            "service entry",
        )
    for key in ("cpu_count", "mem_total"):
        if key in body:
            _require(is_int(body[key]) and body[key] >= 0, SERVER_FACTS, key)
    if "boot_time" in body:
        _require(is_number(body["boot_time"]), SERVER_FACTS, "boot_time")


def _validate_stats(body: dict[str, Any]) -> None:
    points = body.get("points")
    _require(isinstance(points, list), STATS, "points")
    for point in points:
        _require(
            isinstance(point, list | tuple)
            and len(point) == 3
            and isinstance(point[0], str)
            and is_number(point[1])
            and is_number(point[2]),
            STATS,
            "point",
        )


def _validate_cluster_log(body: dict[str, Any]) -> None:
    lines = body.get("lines")
    _require(isinstance(lines, list), CLUSTER_LOG, "lines")
    for line in lines:
        _require(isinstance(line, dict), CLUSTER_LOG, "line")


def _validate_command(body: dict[str, Any]) -> None:
    _require(isinstance(body.get("request_id"), str), COMMAND, "request_id")
    _require(isinstance(body.get("prefix"), str) and body["prefix"] != "", COMMAND, "prefix")
    _require(isinstance(body.get("args", {}), dict), COMMAND, "args")
    _require(isinstance(body.get("input", ""), str), COMMAND, "input")  # the command's input data (inbuf)
    target = body.get("target", "mon")
    if target == HOST_TARGET:
        problem = host_command_problem(body["prefix"], body.get("args", {}))
        _require(problem is None, COMMAND, str(problem))
        return
    _require(target in COMMAND_TARGETS, COMMAND, "target")


def _validate_command_result(body: dict[str, Any]) -> None:
    _require(isinstance(body.get("request_id"), str), COMMAND_RESULT, "request_id")
    _require(is_int(body.get("rc")), COMMAND_RESULT, "rc")
    _require("out" in body, COMMAND_RESULT, "out")
    _require(isinstance(body.get("err"), str), COMMAND_RESULT, "err")


def _validate_ack(body: dict[str, Any]) -> None:
    if "sync" in body:
        _require(isinstance(body["sync"], dict), ACK, "sync")
        # the answer to a heartbeat names it by its envelope's seq
        _require(is_int(body.get("heartbeat", 0)) and body.get("heartbeat", 0) >= 0, ACK, "heartbeat")
        _require(isinstance(body.get("mgr_maps", False), bool), ACK, "mgr_maps")
    elif "command_result" in body:
        _require(isinstance(body["command_result"], str), ACK, "command_result")
    else:
        raise ProtocolError("bad_body", "ack: sync or command_result")


def _validate_resync(body: dict[str, Any]) -> None:
    names = body.get("names")
    _require(isinstance(names, list) and all(isinstance(n, str) for n in names), RESYNC, "names")


def _validate_nothing(body: dict[str, Any]) -> None:
    return None


_BODY_VALIDATORS = {
    HELLO: _validate_hello,
    HEARTBEAT: _validate_heartbeat,
    SYNC_OBJECT: _validate_sync_object,
    SERVER_FACTS: _validate_server_facts,
    STATS: _validate_stats,
    CLUSTER_LOG: _validate_cluster_log,
    COMMAND: _validate_command,
    COMMAND_RESULT: _validate_command_result,
    ACK: _validate_ack,
    RESYNC: _validate_resync,
    HELLO_REQUEST: _validate_nothing,
}


def validate_body(msg_type: str, body: dict[str, Any]) -> None:
    validator = _BODY_VALIDATORS.get(msg_type)
    if validator is None:
        raise ProtocolError("unknown_type", msg_type[:64])
    validator(body)


def version_is_newer(candidate: int | str, held: int | str | None) -> bool:
    """The server's ordering rule: int versions must grow; hash versions must differ."""
    if held is None:
        return True
    if is_int(candidate) and is_int(held):
        return candidate > held
    return candidate != held
