"""Envelope round trips and validation, the sync-object delta codec, the PG reduction."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calamari import protocol
from calamari.protocol import ProtocolError, apply_delta, make_delta, summarize_pgs

# Real Ceph 16.2 captures live next to the repository (same convention as tests/conftest.py).
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ceph-pacific-3osd"
STEPS = sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.exists() else []
needs_fixtures = pytest.mark.skipif(not STEPS, reason="Ceph 16.2 captures not available")


def load(step: Path, name: str):
    return json.loads((step / name).read_text())


BODIES = {
    "hello": {"collector_version": "0.1.0", "fsid": "f1", "hostname": "node1"},
    "heartbeat": {"versions": {"osd_map": 15, "health": "abc"}},
    "sync_object": {"name": "osd_map", "version": 15, "data": {"epoch": 15, "osds": []}},
    "server_facts": {"hostname": "node1", "fqdn": "node1.example", "boot_time": 1.5, "kernel": "6.1",
                     "cpu_count": 4, "mem_total": 1024, "services": [
                         {"type": "osd", "id": "0", "fsid": "f1", "running": True, "version": "16.2.15"}],
                     "frontend_addr": "10.0.0.1", "backend_addr": "10.0.0.1"},
    "stats": {"points": [["servers.node1.cpu.total.user", 1.0, 2.5]]},
    "cluster_log": {"lines": [{"name": "mon.a", "message": "hi", "seq": 1}]},
    "command": {"request_id": "r1", "prefix": "osd set", "args": {"key": "noout"}, "target": "mon"},
    "command_result": {"request_id": "r1", "rc": 0, "out": "", "err": "noout is set"},
    "ack": {"sync": {"osd_map": 15}},
    "resync": {"names": ["osd_map"]},
    "hello_request": {},
}


@pytest.mark.parametrize("msg_type", sorted(BODIES))
def test_every_message_type_round_trips(msg_type: str) -> None:
    frame = protocol.encode(msg_type, BODIES[msg_type], fsid="f1", host="node1", seq=7, ts=123.5)
    envelope = protocol.decode(frame)
    assert envelope.type == msg_type
    assert (envelope.fsid, envelope.host, envelope.seq, envelope.ts) == ("f1", "node1", 7, 123.5)
    assert envelope.body == BODIES[msg_type]
    assert protocol.decode(protocol.encode_envelope(envelope)) == envelope


def raw_frame(**overrides) -> bytes:
    message = {"v": 1, "type": "heartbeat", "fsid": "f1", "host": "h", "seq": 1, "ts": 1.0,
               "body": {"versions": {}}}
    message.update(overrides)
    return msgpack.packb(message)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "undecodable"),
        (b"\xc1garbage", "undecodable"),
        (raw_frame()[:-3], "undecodable"),
        (msgpack.packb([1, 2, 3]), "bad_envelope"),
        (raw_frame(v=2), "unsupported_version"),
        (raw_frame(v=True), "bad_envelope"),
        (raw_frame(type="nonsense"), "unknown_type"),
        (raw_frame(type=5), "bad_envelope"),
        (raw_frame(seq=-1), "bad_envelope"),
        (raw_frame(seq=True), "bad_envelope"),
        (raw_frame(ts=math.nan), "bad_envelope"),
        (raw_frame(ts="now"), "bad_envelope"),
        (raw_frame(host=""), "bad_envelope"),
        (raw_frame(fsid=12), "bad_envelope"),
        (raw_frame(body=[]), "bad_envelope"),
        (raw_frame(body={"versions": []}), "bad_body"),
        (raw_frame(type="sync_object", body={"name": "osd_map", "version": "x", "data": {}}), "bad_body"),
        (raw_frame(type="sync_object", body={"name": "health", "version": 3, "data": {}}), "bad_body"),
        (raw_frame(type="sync_object", body={"name": "bogus", "version": 3, "data": {}}), "bad_body"),
        (raw_frame(type="sync_object", body={"name": "osd_map", "version": 3}), "bad_body"),
        (raw_frame(type="sync_object", body={"name": "osd_map", "version": 3, "data": {},
                                             "delta_from": 2, "delta": {}}), "bad_body"),
        (raw_frame(type="stats", body={"points": [["m", 1.0]]}), "bad_body"),
        (raw_frame(type="stats", body={"points": [["m", 1.0, "x"]]}), "bad_body"),
        (raw_frame(type="command_result", body={"request_id": "r", "rc": "0", "out": "", "err": ""}),
         "bad_body"),
        (msgpack.packb({1: 2}), "undecodable"),  # non-string map keys
    ],
)
def test_invalid_frames_are_rejected_with_a_reason(frame: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(frame)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "body",
    [
        {"name": "osd_map", "version": 3, "data": {"epoch": 3, "osds": [{0: "up"}]}},
        {"name": "osd_map", "version": 3, "delta_from": 2, "delta": {"set": {7: 1}}},
    ],
)
def test_map_keys_that_are_not_text_are_rejected_anywhere_in_a_frame(body) -> None:
    """Not only the envelope's: a map nested deep in a sync object's data is checked too, so that
    nothing downstream meets a key JSON cannot carry."""
    with pytest.raises(ProtocolError) as caught:
        protocol.decode(raw_frame(type="sync_object", body=body))
    assert caught.value.reason == "undecodable"


def test_oversized_frames_are_rejected_before_decoding() -> None:
    frame = protocol.encode("stats", {"points": [["m", 1.0, 1.0]] * 1000}, fsid=None, host="h", seq=1)
    with pytest.raises(ProtocolError, match="too_large"):
        protocol.decode(frame, max_bytes=len(frame) - 1)
    assert protocol.decode(frame, max_bytes=len(frame)).type == "stats"


def test_an_ack_says_whether_the_server_takes_the_mgr_maps_with_a_boolean() -> None:
    ok = {"sync": {}, "heartbeat": 4, "mgr_maps": True}
    assert protocol.decode(protocol.encode("ack", ok, fsid="f1", host="h", seq=1)).body == ok
    with pytest.raises(ProtocolError, match="mgr_maps"):
        protocol.decode(protocol.encode("ack", {**ok, "mgr_maps": "yes"}, fsid="f1", host="h", seq=1))


def test_allowed_types_limit_the_direction() -> None:
    frame = protocol.encode("command", BODIES["command"], fsid="f1", host="h", seq=1)
    with pytest.raises(ProtocolError, match="unexpected_type"):
        protocol.decode(frame, allowed_types=protocol.UPSTREAM_TYPES)


def test_version_ordering_rule() -> None:
    assert protocol.version_is_newer(16, 15)
    assert not protocol.version_is_newer(15, 15)
    assert not protocol.version_is_newer(14, 15)
    assert protocol.version_is_newer("b", "a") and not protocol.version_is_newer("a", "a")
    assert protocol.version_is_newer(1, None)


@needs_fixtures
def test_osd_map_deltas_between_captured_steps_rebuild_the_next_map() -> None:
    maps = [load(step, "osd_dump.json") for step in STEPS]
    for old, new in zip(maps, maps[1:], strict=False):
        delta = make_delta("osd_map", old, new)
        rebuilt = apply_delta("osd_map", old, msgpack.unpackb(msgpack.packb(delta)))
        assert rebuilt == new
        assert list(rebuilt) == list(new) or set(rebuilt) == set(new)


@needs_fixtures
def test_one_changed_osd_gives_a_small_delta_and_shares_unchanged_entries() -> None:
    old = load(STEPS[0], "osd_dump.json")
    big = copy.deepcopy(old)
    template = big["osds"][0]
    big["osds"] = [dict(template, osd=i) for i in range(10_000)]
    big["osd_xinfo"] = [dict(big["osd_xinfo"][0], osd=i) for i in range(10_000)]
    new = dict(big, epoch=big["epoch"] + 1, osds=list(big["osds"]))
    new["osds"][1234] = dict(big["osds"][1234], up=0, state=["exists"])
    delta = make_delta("osd_map", big, new)
    assert delta["lists"] == {"osds": {"upsert": [new["osds"][1234]], "remove": []}}
    assert delta["set"] == {"epoch": big["epoch"] + 1}
    assert len(msgpack.packb(delta)) < 2000
    rebuilt = apply_delta("osd_map", big, delta)
    assert rebuilt == new
    assert rebuilt["osds"][0] is big["osds"][0]  # shallow: unchanged entries are reused
    assert rebuilt["osd_xinfo"] is big["osd_xinfo"]


def test_delta_adds_and_removes_entries_in_id_order() -> None:
    old = {"epoch": 1, "pools": [{"pool": 1, "pool_name": "a"}, {"pool": 3, "pool_name": "c"}]}
    new = {"epoch": 2, "pools": [{"pool": 2, "pool_name": "b"}, {"pool": 3, "pool_name": "c2"}]}
    delta = make_delta("osd_map", old, new)
    assert delta["lists"]["pools"]["remove"] == [1]
    assert apply_delta("osd_map", old, delta) == new


@pytest.mark.parametrize(
    "delta",
    [{"bogus": 1}, {"set": []}, {"lists": {"osds": {"upsert": [1]}}}, {"lists": {"nope": {}}},
     {"lists": {"osds": {"upsert": [{"osd": [1]}]}}}, {"maps": {"by_osd": {}}}, {"unset": [1]}],
)
def test_malformed_deltas_raise_delta_error(delta) -> None:
    with pytest.raises(protocol.DeltaError):
        apply_delta("osd_map", {"epoch": 1, "osds": [{"osd": 0}]}, delta)


@pytest.mark.parametrize("name, base, delta, message", [
    ("osd_map", {"osds": []}, {"lists": {"nope": {}}}, "nope is not a keyed list of osd_map"),
    ("osd_map", {"osds": {}}, {"lists": {"osds": {}}}, "osds is not a list in the base"),
    ("pg_summary", {"by_osd": {}}, {"maps": {"nope": {}}}, "nope is not a keyed map of pg_summary"),
    ("pg_summary", {"by_osd": []}, {"maps": {"by_osd": {}}}, "by_osd is not a map in the base"),
])
def test_a_keyed_change_says_what_is_wrong_with_its_key(name, base, delta, message) -> None:
    with pytest.raises(protocol.DeltaError) as err:
        apply_delta(name, base, delta)
    assert str(err.value) == message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
osd_entries = st.lists(
    st.fixed_dictionaries({"osd": st.integers(0, 20), "up": st.integers(0, 1), "x": json_values}),
    max_size=6, unique_by=lambda e: e["osd"],
).map(lambda entries: sorted(entries, key=lambda e: e["osd"]))
osd_maps = st.fixed_dictionaries(
    {"epoch": st.integers(0, 100), "osds": osd_entries},
    optional={"flags": st.text(max_size=5), "extra": json_values},
)


@settings(max_examples=300, deadline=None)
@given(old=osd_maps, new=osd_maps)
def test_delta_round_trips_for_any_pair_of_maps(old, new) -> None:
    delta = make_delta("osd_map", old, new)
    assert apply_delta("osd_map", old, msgpack.unpackb(msgpack.packb(delta))) == new


@settings(max_examples=200, deadline=None)
@given(
    old=st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=3)),
    new=st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=3)),
)
def test_pg_summary_map_deltas_round_trip(old, new) -> None:
    old_summary = {"version": 1, "by_osd": old, "by_pool": {}, "by_state": {}}
    new_summary = {"version": 2, "by_osd": new, "by_pool": {}, "by_state": {}}
    delta = make_delta("pg_summary", old_summary, new_summary)
    assert apply_delta("pg_summary", old_summary, delta) == new_summary


@needs_fixtures
@pytest.mark.parametrize("step", STEPS, ids=lambda p: p.name)
def test_pg_reduction_agrees_with_cephs_own_counts(step: Path) -> None:
    brief = load(step, "pg_pgs_brief.json")["pg_stats"]
    summary = summarize_pgs(brief, version=1, stamp="s")
    expected = {e["name"]: e["num"] for e in load(step, "pg_stat.json")["pg_summary"]["num_pg_by_state"]}
    assert summary["by_state"] == expected
    assert summary["num_pgs"] == len(brief) == sum(expected.values())
    assert sum(sum(c.values()) for c in summary["by_pool"].values()) == len(brief)
    acting_total = sum(len([o for o in pg["acting"] if o != 2147483647]) for pg in brief)
    assert sum(sum(c.values()) for c in summary["by_osd"].values()) == acting_total
    assert set(summary["io"]) == {"read_bytes_sec", "write_bytes_sec", "read_op_per_sec", "write_op_per_sec"}
