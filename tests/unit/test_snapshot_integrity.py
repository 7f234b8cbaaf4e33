"""Snapshots carry a checksum of their content: a damaged or edited snapshot, or one of format 1
(no checksum, so it cannot be told from a forged one), is never loaded. It is set aside with a
warning, and the model comes from an older snapshot or the events, equal to what they say."""

from __future__ import annotations

import logging
import os
import random
import zlib
from datetime import UTC, datetime

import pytest
from api_support import FAST_HASHER, feed_step, step

from calamari.adapters import snapshots
from calamari.adapters.codec import pack, unpack
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import encode_aggregates, load_model, newest_snapshot, snapshot_path, write_snapshot
from calamari.domain.model import ClusterModel
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig

AT = datetime(2026, 1, 1, tzinfo=UTC)


def aggregate_states(model: ClusterModel) -> dict:
    return {k: a.domain_state() for k, a in model.aggregates.items()}


def flipped(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def users_model() -> ClusterModel:
    model = ClusterModel()
    model.add_user("admin", "admin", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "", "test", AT)
    model.add_user("viewer", "read-only", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$b3RoZXJoYXNo", "", "test", AT)
    model.drain()
    return model


def test_every_single_bit_flip_of_a_snapshot_is_rejected():
    data = snapshots.encode_snapshot(7, users_model())
    assert snapshots.decode_snapshot(data, 7)["position"] == 7
    for bit in range(len(data) * 8):
        with pytest.raises(snapshots.SnapshotRejected):
            snapshots.decode_snapshot(flipped(data, bit), 7)


@pytest.fixture
def stored(tmp_path, capture_dir):
    """A data dir whose store holds a cluster and users, and a snapshot of its newest position."""
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=10**9)
    service = ModelService(config)
    auth = AuthService(service, hasher=FAST_HASHER)
    for prefix in ("00", "01", "02"):
        feed_step(service, step(capture_dir, prefix))
    auth.add_user("admin", "correct-horse-1", "admin", "test")
    auth.add_user("viewer", "correct-horse-1", "read-only", "test")
    position = service.snapshot()
    truth = aggregate_states(service.model)
    service.close()
    return config, position, truth


def test_hundreds_of_bit_flips_on_disk_fall_back_to_the_events(stored, caplog):
    config, position, truth = stored
    path = snapshot_path(config.snapshot_dir, position)
    with open(path, "rb") as f:
        original = f.read()
    store = EventStore(config.store_url)
    rng = random.Random(12)
    try:
        for bit in rng.sample(range(len(original) * 8), 300):
            with open(path, "wb") as f:
                f.write(flipped(original, bit))
            with caplog.at_level(logging.WARNING):
                model, end = load_model(config.snapshot_dir, store)
            assert end == position and aggregate_states(model) == truth, f"bit {bit}"
            assert not os.path.exists(path) and os.path.exists(path + ".rejected")
            os.remove(path + ".rejected")
    finally:
        store.close()
    assert "rejected" in caplog.text


def edit_role(path: str, username: str, role: str, keep_header: bool = True) -> None:
    """Change a user's role inside a snapshot, as a careless or malicious editor would: the body
    stays valid msgpack; with keep_header the checksum line stays as it was, else the file is
    written in format 1, which had none."""
    with open(path, "rb") as f:
        data = f.read()
    header, body = data.split(b"\n", 1) if data.startswith(b"calamari-snapshot") else (b"", data)
    compressed = header.startswith(b"calamari-snapshot 3 ")
    doc = unpack(zlib.decompress(body) if compressed else body)
    for _topic, state in doc["aggregates"]:
        if state.get("username") == username:
            state["role"] = role
    if not keep_header:
        doc["format"], header = 1, b""
    edited = zlib.compress(pack(doc)) if compressed and keep_header else pack(doc)
    with open(path, "wb") as f:
        f.write(header + b"\n" + edited if header else edited)


@pytest.mark.parametrize("keep_header", [True, False], ids=["body edited", "rewritten in format 1"])
def test_an_edited_snapshot_does_not_make_a_user_admin(stored, keep_header):
    config, position, _ = stored
    edit_role(snapshot_path(config.snapshot_dir, position), "viewer", "admin", keep_header)

    service = ModelService(config)
    role = service.model.users["viewer"].role
    written = service.snapshot(timeout=30)
    service.close()
    assert role == "read-only"
    assert written is not None
    again = ModelService(config)  # from the snapshot written since: it does not carry the edit
    try:
        assert newest_snapshot(config.snapshot_dir)[0] == written
        assert again.model.users["viewer"].role == "read-only"
    finally:
        again.close()


def test_a_rejected_newest_snapshot_falls_back_to_the_older_one(stored, capture_dir):
    config, first, _ = stored
    service = ModelService(config)
    feed_step(service, step(capture_dir, "03"))
    second = service.snapshot()
    truth = aggregate_states(service.model)
    service.close()
    assert second > first
    path = snapshot_path(config.snapshot_dir, second)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x10]))

    store = EventStore(config.store_url)
    try:
        model, end = load_model(config.snapshot_dir, store)
    finally:
        store.close()
    assert end == second and aggregate_states(model) == truth
    assert newest_snapshot(config.snapshot_dir)[0] == first  # the damaged one is set aside


def test_a_snapshot_of_format_1_is_replayed_not_trusted(stored, caplog):
    config, position, truth = stored
    path = snapshot_path(config.snapshot_dir, position)
    store = EventStore(config.store_url)
    try:
        model, _ = load_model(config.snapshot_dir, store)
        old_format = pack({"format": 1, "position": position, "aggregates": encode_aggregates(model.aggregates.values())})
        with open(path, "wb") as f:
            f.write(old_format)
        with caplog.at_level(logging.WARNING):
            model, end = load_model(config.snapshot_dir, store)
    finally:
        store.close()
    assert end == position and aggregate_states(model) == truth
    assert "format 1" in caplog.text and os.path.exists(path + ".rejected")


def test_a_snapshot_renamed_to_another_position_is_rejected(stored, capture_dir):
    config, position, _ = stored
    service = ModelService(config)
    feed_step(service, step(capture_dir, "03"))
    service.writer.flush(10)
    end = service.store.max_position()
    service.close()
    os.replace(snapshot_path(config.snapshot_dir, position), snapshot_path(config.snapshot_dir, end))
    with pytest.raises(snapshots.SnapshotRejected, match="position"), \
            open(snapshot_path(config.snapshot_dir, end), "rb") as f:
        snapshots.decode_snapshot(f.read(), end)


def test_a_failed_snapshot_write_leaves_no_partial_file(tmp_path, monkeypatch):
    directory = str(tmp_path / "snapshots")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        write_snapshot(directory, 5, users_model())
    assert os.listdir(directory) == []


def test_only_the_newest_rejected_snapshots_are_kept(tmp_path):
    directory = tmp_path / "snapshots"
    directory.mkdir()
    for position in range(1, 8):
        (directory / f"snapshot-{position:012d}.msgpack.rejected").write_bytes(b"old")
    write_snapshot(str(directory), 10, users_model())
    assert sorted(p.name for p in directory.iterdir()) == [
        "snapshot-000000000005.msgpack.rejected", "snapshot-000000000006.msgpack.rejected",
        "snapshot-000000000007.msgpack.rejected", "snapshot-000000000010.msgpack"]
