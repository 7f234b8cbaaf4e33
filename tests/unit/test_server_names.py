"""A host named by its short name in `ceph osd metadata` and by its fqdn in its collector's facts
is one server, whichever arrives first; replay gives the same."""

from datetime import UTC, datetime, timedelta

import pytest

from calamari.domain.model import ClusterModel
from calamari.domain.projections import ReadModel
from calamari.testing.captures import capture_steps, sync_objects

T0 = datetime(2026, 11, 24, 15, 44, tzinfo=UTC)


def facts(fsid: str) -> dict:
    return {"hostname": "vm", "fqdn": "vm.lab.example", "boot_time": 1.79e9, "kernel": "6.1.0",
            "cpu_count": 8, "mem_total": 1 << 34,
            "services": [{"type": "mon", "id": "a", "fsid": fsid, "running": True, "version": "16.2.15"}]}


def feed_maps(model: ClusterModel, capture_dir: str, at: datetime) -> str:
    fsid, objects = sync_objects(capture_steps(capture_dir)[0])
    for name, version, data in objects:
        model.ingest(fsid, name, version, data, at)
    return fsid


def check_one_server(model: ClusterModel, view: ReadModel, fsid: str) -> None:
    assert list(view.servers) == ["vm.lab.example"]
    services = {(s["type"], s["id"]) for s in view.servers["vm.lab.example"]["services"]}
    assert services == {("mon", "a"), ("osd", "0"), ("osd", "1"), ("osd", "2")}
    replayed, fresh = ClusterModel(), ReadModel()
    for event in model_events:
        replayed.apply(event)
    fresh.rebuild(replayed)
    assert fresh.servers == view.servers


model_events: list = []


@pytest.mark.parametrize("facts_first", [False, True])
def test_short_name_and_fqdn_are_one_server(capture_dir, facts_first):
    model, view = ClusterModel(), ReadModel()
    model_events.clear()

    def commit() -> None:
        for event in model.drain():
            view.apply(event, model)
            model_events.append(event)

    fsid = "9141328e-ac6c-4887-9e9e-66cca43253be"
    if facts_first:
        model.server_facts(fsid, facts(fsid), T0)
        commit()
        feed_maps(model, capture_dir, T0 + timedelta(seconds=1))
    else:
        feed_maps(model, capture_dir, T0)
        commit()
        assert list(view.servers) == ["vm"]  # known by its short name until it reports
        model.server_facts(fsid, facts(fsid), T0 + timedelta(seconds=1))
    commit()
    check_one_server(model, view, fsid)
    # the next metadata keeps the OSDs on the fqdn server, and nothing changes
    fsid2, objects = sync_objects(capture_steps(capture_dir)[1])
    for name, version, data in objects:
        model.ingest(fsid2, name, version, data, T0 + timedelta(seconds=2))
    commit()
    check_one_server(model, view, fsid)
