"""A map with missing or wrongly typed fields is rejected naming the field; nothing changes."""

import copy
import logging

import pytest

from calamari.domain.maps import InvalidMap
from calamari.domain.model import ClusterModel
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.captures import capture_steps, captured_at, sync_objects


def _objects(capture_dir, index=0):
    step = capture_steps(capture_dir)[index]
    fsid, objects = sync_objects(step)
    return fsid, {name: (version, data) for name, version, data in objects}, captured_at(step)


def _mutations(fsid, objs):
    osd_map = objs["osd_map"]
    bad = []

    def mutate(name, path, value, field, delete=False):
        version, data = objs[name]
        data = copy.deepcopy(data)
        target = data
        for key in path[:-1]:
            target = target[key]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        bad.append((name, version, data, field))

    mutate("osd_map", ["osds", 1, "up"], "yes", "osds.1.up")
    mutate("osd_map", ["osds", 2, "uuid"], None, "osds.2.uuid", delete=True)
    mutate("osd_map", ["pools", 0, "size"], "three", "pools.0.size")
    mutate("osd_map", ["flags"], 7, "flags")
    mutate("osd_map", ["osds"], {"0": {}}, "osds")
    mutate("osd_map", ["fsid"], "another-cluster", "fsid")
    mutate("health", ["checks"], [], "checks")
    mutate("health", ["status"], None, "status", delete=True)
    mutate("mon_status", ["quorum"], ["a"], "quorum.0")
    mutate("pg_summary", ["by_state"], {"active+clean": "many"}, "by_state.active+clean")
    mutate("crush_map", ["buckets", 0, "items"], None, "buckets.0.items", delete=True)
    assert osd_map
    return bad


def test_each_bad_field_is_named_and_the_model_unchanged(capture_dir):
    fsid, objs, at = _objects(capture_dir)
    model = ClusterModel()
    for name, (version, data) in objs.items():
        model.ingest(fsid, name, version, data, at)
    model.drain()
    before = {k: a.domain_state() for k, a in model.aggregates.items()}
    held_before = dict(model.held[fsid])
    for name, version, data, field in _mutations(fsid, objs):
        bumped = version + 100 if isinstance(version, int) else version + "x"
        if name == "osd_map":
            data = {**data, "epoch": bumped}
        with pytest.raises(InvalidMap) as err:
            model.ingest(fsid, name, bumped, data, at)
        assert err.value.field == field, (name, field, err.value)
        assert model.drain() == []
    assert {k: a.domain_state() for k, a in model.aggregates.items()} == before
    assert model.held[fsid] == held_before


def test_wrong_version_types_are_rejected(capture_dir):
    fsid, objs, at = _objects(capture_dir)
    model = ClusterModel()
    version, data = objs["osd_map"]
    for bad in ("15", 15.0, True, None):
        with pytest.raises(InvalidMap) as err:
            model.ingest(fsid, "osd_map", bad, data, at)
        assert err.value.field == "version"
    with pytest.raises(InvalidMap):
        model.ingest(fsid, "no_such_map", 1, {}, at)
    assert model.aggregates == {}


def test_service_logs_rejection_and_stores_nothing(capture_dir, tmp_path, caplog):
    fsid, objs, at = _objects(capture_dir)
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        version, data = objs["osd_map"]
        service.on_sync_object(fsid, "osd_map", version, data, at, host="vm")
        service.writer.flush(10)
        stored = service.store.max_position()
        bad = copy.deepcopy(data)
        bad["osds"][0]["weight"] = "heavy"
        bad["epoch"] = version + 1
        with caplog.at_level(logging.WARNING), pytest.raises(InvalidMap):
            service.on_sync_object(fsid, "osd_map", version + 1, bad, at, host="vm")
        assert "osds.0.weight" in caplog.text
        service.writer.flush(10)
        assert service.store.max_position() == stored
        assert service.rejected == 1
        assert service.sync_versions(fsid)["osd_map"] == version
    finally:
        service.close()
