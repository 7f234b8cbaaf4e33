"""Envelope decode + validation per frame, over realistic frames: a heartbeat, a one-OSD osd_map
delta and a full 10,000-OSD osd_map. Compares calamari.protocol.decode (msgpack and explicit
checks) with msgspec, where it is installed: msgspec's decoder into plain objects followed by our
checks, and msgspec's typed decoding (Structs with constraints) of the same rules for these two
message types. Prints figures; asserts nothing."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from calamari import protocol
from calamari.protocol import envelope as ours
from collector.simulator import SimulatedCluster

try:
    import msgspec
    from msgspec import UNSET, Meta, Raw, Struct, UnsetType
except ImportError:  # not a dependency: the comparison is made where it is installed
    msgspec = None


def realistic_frames() -> dict[str, bytes]:
    cluster = SimulatedCluster("hosts=1000,osds=10000,pools=100,pgs=10000,seed=7")
    old = cluster.osd_map()
    cluster.execute("osd out", {"ids": ["4321"]})
    new = cluster.osd_map()
    versions = {"osd_map": new["epoch"], "mon_map": 3, "health": "9f2c4e1a", "pg_summary": 812, "df": 40,
                "crush_map": 7, "config": "c0ffee", "osd_metadata": "abcdef", "mon_status": 3, "fs_map": 1}
    delta = protocol.make_delta("osd_map", old, new)
    return {
        "heartbeat": protocol.encode("heartbeat", {"versions": versions}, fsid=cluster.fsid, host="node0001", seq=1),
        "osd_map delta (1 OSD of 10,000)": protocol.encode(
            "sync_object", {"name": "osd_map", "version": new["epoch"], "delta_from": old["epoch"], "delta": delta},
            fsid=cluster.fsid, host="node0001", seq=2),
        "full osd_map (10,000 OSDs)": protocol.encode(
            "sync_object", {"name": "osd_map", "version": new["epoch"], "data": new},
            fsid=cluster.fsid, host="node0001", seq=3),
    }


def per_call(decode: Callable[[bytes], Any], frame: bytes) -> float:
    """CPU seconds per call (other processes on the machine count less than in wall time): the
    best of five rounds, each of at least ~0.2 s or one call."""
    calls = 1
    while True:
        started = time.process_time()
        for _ in range(calls):
            decode(frame)
        elapsed = time.process_time() - started
        if elapsed > 0.2 or calls >= 1 << 20:
            break
        calls *= 4
    best = elapsed / calls
    for _ in range(4):
        started = time.process_time()
        for _ in range(calls):
            decode(frame)
        best = min(best, (time.process_time() - started) / calls)
    return best


# The same rules as msgspec types (heartbeat and sync_object bodies, the two measured here).
if msgspec is not None:
    sync_version = Annotated[int, Meta(ge=0)] | Annotated[str, Meta(min_length=1, max_length=256)]

    class Wire(Struct):
        v: int
        type: str
        fsid: Annotated[str, Meta(min_length=1, max_length=64)] | None
        host: Annotated[str, Meta(min_length=1, max_length=255)]
        seq: Annotated[int, Meta(ge=0)]
        ts: float
        body: Raw

    class Heartbeat(Struct):
        versions: dict[str, sync_version]
        cluster_unreachable: bool | UnsetType = UNSET
        error: str | UnsetType = UNSET

    class SyncObject(Struct):
        name: str
        version: sync_version
        data: Any | UnsetType = UNSET
        delta_from: sync_version | UnsetType = UNSET
        delta: dict[str, Any] | UnsetType = UNSET


def keys_are_text(value: Any) -> bool:
    """Whether every map inside `value` has str (or bytes) keys: msgpack's strict_map_key checks
    this while decoding, msgspec's decoder into plain objects does not (and its types cannot say it
    of free-form data), so a msgspec decoder must walk the data to reject what ours rejects."""
    stack = [value]
    while stack:
        item = stack.pop()
        children = item.values() if type(item) is dict else item
        if type(item) is dict and not all(type(key) is str or type(key) is bytes for key in item):
            return False
        stack.extend(child for child in children if type(child) is dict or type(child) is list)
    return True


def msgspec_candidates() -> dict[str, Callable[[bytes], Any]]:
    """Two ways msgspec could take the place of our decoder, each raising ProtocolError and, like
    ours, pausing the cyclic garbage collector while it decodes a large frame."""
    wire = msgspec.msgpack.Decoder(Wire)
    bodies = {"heartbeat": msgspec.msgpack.Decoder(Heartbeat), "sync_object": msgspec.msgpack.Decoder(SyncObject)}
    plain = msgspec.msgpack.Decoder()

    def typed(frame: bytes) -> protocol.Envelope:
        try:
            if len(frame) < ours.LARGE_FRAME_BYTES:
                raw = wire.decode(frame)
                parsed = bodies[raw.type].decode(raw.body)
            else:
                with ours._collector_paused():
                    raw = wire.decode(frame)
                    parsed = bodies[raw.type].decode(raw.body)
        except msgspec.DecodeError as exc:
            raise protocol.ProtocolError("bad_body", str(exc)) from None
        if raw.v != protocol.PROTOCOL_VERSION:
            raise protocol.ProtocolError("unsupported_version", str(raw.v))
        if not math.isfinite(raw.ts):
            raise protocol.ProtocolError("bad_envelope", "ts")
        body = {name: getattr(parsed, name) for name in parsed.__struct_fields__}
        body = {key: value for key, value in body.items() if value is not UNSET}
        if raw.type == "sync_object" and (
            parsed.name not in protocol.SYNC_NAMES
            or not isinstance(parsed.version, protocol.SYNC_VERSION_KIND[parsed.name])
            or ("data" in body) == ("delta" in body or "delta_from" in body)
            or not keys_are_text(body.get("data", body.get("delta")))
        ):
            raise protocol.ProtocolError("bad_body", "sync_object")
        return protocol.Envelope(raw.type, raw.fsid, raw.host, raw.seq, raw.ts, body, raw.v)

    def decoder_only(frame: bytes) -> protocol.Envelope:
        try:
            if len(frame) < ours.LARGE_FRAME_BYTES:
                raw = plain.decode(frame)
            else:
                with ours._collector_paused():
                    raw = plain.decode(frame)
        except msgspec.DecodeError as exc:
            raise protocol.ProtocolError("undecodable", str(exc)) from None
        if not keys_are_text(raw):
            raise protocol.ProtocolError("undecodable", "a map key is not text")
        envelope = ours.validate_envelope(raw)
        ours.validate_body(envelope.type, envelope.body)
        return envelope

    return {"msgspec decoder + our checks": decoder_only, "msgspec typed (Structs)": typed}


def main() -> None:
    frames = realistic_frames()
    # A server holds its model and the previous copy of each map: decode with a heap of that size.
    held = protocol.decode(frames["full osd_map (10,000 OSDs)"])  # noqa: F841 - kept alive
    candidates: dict[str, Callable[[bytes], Any]] = {"calamari.protocol.decode": protocol.decode}
    if msgspec is not None:
        candidates.update(msgspec_candidates())
    else:
        print("msgspec is not installed: only our decoder is measured")
    for label, frame in frames.items():
        print(f"{label}: {len(frame):,} bytes")
        for name, decode in candidates.items():
            assert decode(frame).body == protocol.decode(frame).body
            seconds = per_call(decode, frame)
            print(f"  {name:32} {seconds * 1e6:12,.1f} µs")


if __name__ == "__main__":
    main()
