"""Maps on their way (calamari.service.maps_coming, .mgr_announcements and the API's reads that
wait for them): ceph-mgr announces a new map; a read of that cluster made before the collector
has sent it answers with that map, not with what is known to be stale; an older map does not end
the wait, and a map that never comes holds reads for the bounded wait only. A map the module sent
signed with the key the cluster's collector handed over is taken into the model straight away;
any other is only waited for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson
import pytest
from api_support import harness_fixture
from test_answer_cache import cache, full, get, serving
from test_mgr_notify import RunningServer

from calamari.service.maps_coming import MapsComing
from calamari.service.mgr_announcements import MgrAnnouncements
from collector.ceph_mgr.calamari_notify import wire

api = harness_fixture(steps=("00", "01", "02", "03", "04", "05"))
LIVENESS_S = 30  # bounds a wait that a working server ends at once; never a speed assertion


def wait_for(condition, timeout: float = LIVENESS_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_a_map_is_awaited_until_that_version_or_a_newer_one_arrives() -> None:
    coming = MapsComing(wait_s=LIVENESS_S)
    assert not coming.pending() and not coming.pending("f1")
    coming.expect("f1", "osd_map", 12)
    coming.expect("f1", "fs_map", 3)
    assert coming.pending() and coming.pending("f1") and not coming.pending("f2")
    coming.arrived("f1", "osd_map", 11)  # the one before: still awaited
    coming.arrived("f2", "osd_map", 12)  # another cluster's
    coming.arrived("f1", "osd_map", 13)  # a newer one will do
    assert coming.pending("f1")  # the file system map is still on its way
    coming.arrived("f1", "fs_map", 3)
    assert not coming.pending("f1") and not coming.pending()
    coming.wait("f1")  # nothing awaited: returns at once
    assert coming.waits == 0


def test_a_wait_ends_when_the_map_arrives() -> None:
    coming = MapsComing(wait_s=LIVENESS_S)
    coming.expect("f1", "osd_map", 12)
    arrive = threading.Timer(0.1, coming.arrived, ("f1", "osd_map", 12))
    arrive.start()
    started = time.monotonic()
    coming.wait("f1")
    assert time.monotonic() - started < LIVENESS_S  # ended by the arrival, not the deadline
    assert coming.waits == 1 and coming.timeouts == 0 and not coming.pending("f1")


def test_a_map_that_never_comes_holds_reads_only_until_its_deadline() -> None:
    now = [100.0]
    coming = MapsComing(wait_s=0.05, clock=lambda: now[0])
    coming.expect("f1", "osd_map", 12)
    assert coming.pending("f1")
    now[0] += 0.06
    assert not coming.pending("f1") and not coming.pending()
    coming.wait("f1")  # past its deadline: returns at once and forgets it
    assert coming.timeouts == 1 and not coming._coming
    coming.expect("f1", "osd_map", 12)
    now[0] += 0.04
    coming.expect("f1", "osd_map", 13)  # a newer announcement moves the deadline
    now[0] += 0.04
    assert coming.pending("f1")


def test_the_service_awaits_only_maps_it_does_not_have_of_clusters_it_knows(api) -> None:
    coming = api.service.maps_coming
    held = api.service.sync_object(api.fsid, "osd_map")[0]
    api.service.expect_map("not-a-cluster-here", "osd_map", held + 1)
    api.service.expect_map(api.fsid, "osd_map", held)  # the collector was quicker
    assert not coming.pending()
    api.service.expect_map(api.fsid, "osd_map", held + 1)
    assert coming.pending(api.fsid)
    api.feed("06")  # the capture's next OSD map
    assert api.service.sync_object(api.fsid, "osd_map")[0] >= held + 1
    assert not coming.pending(api.fsid)


def test_a_read_while_a_map_is_on_its_way_answers_with_that_map(api) -> None:
    api.service.maps_coming.wait_s = LIVENESS_S
    token = api.token()
    path = full(api, "cluster/{fsid}/osd/2")
    held = api.service.sync_object(api.fsid, "osd_map")[0]
    with serving(api.app) as port:
        get(port, path, token)
        before = get(port, path, token)  # kept: the I/O loop would answer the next read at once
        assert orjson.loads(before[2])["in"] is True
        hits = cache(api).hits
        api.service.expect_map(api.fsid, "osd_map", held + 1)
        threading.Timer(0.2, api.feed, ("06",)).start()  # osd.2 marked out, 200 ms later
        status, _, body = get(port, path, token)
    assert status == 200 and orjson.loads(body)["in"] is False
    assert cache(api).hits == hits  # not the kept answer
    assert api.service.maps_coming.waits == 1 and api.service.maps_coming.timeouts == 0


def test_reads_of_other_clusters_and_changes_do_not_wait(api) -> None:
    coming = api.service.maps_coming
    coming.wait_s = LIVENESS_S
    coming.expect("another-fsid", "osd_map", 99)
    with serving(api.app) as port:
        status, _, _ = get(port, full(api, "cluster/{fsid}/osd/2"), api.token())
    assert status == 200 and coming.waits == 0
    coming.expect(api.fsid, "osd_map", 10**6)
    answer = api.call("PATCH", f"cluster/{api.fsid}/osd/2", json={"in": False})
    assert answer.status_code == 202 and coming.waits == 0


def next_osd_map_with_out(api, osd: int) -> dict:
    """The held OSD map, one epoch on, with `osd` marked out (what ceph-mgr would dump next)."""
    epoch, held = api.service.sync_object(api.fsid, "osd_map")
    document = json.loads(json.dumps(held))
    document["epoch"] = epoch + 1
    for row in document["osds"]:
        if row["osd"] == osd:
            row["in"] = 0
    return document


@contextmanager
def announcing(api, documents: dict[str, dict], signed_with: bytes) -> Iterator[tuple[RunningServer, MgrAnnouncements]]:
    """A calamari_notify module that sends `documents` (per kind), signed with `signed_with`, and
    the server's listener on it, connected."""
    def dump(kind: str) -> bytes | None:
        return wire.data_line(signed_with, api.fsid, kind, json.dumps(documents[kind]).encode())

    module = RunningServer(fsid=api.fsid, dump=dump)
    announcements = MgrAnnouncements(api.service, [("127.0.0.1", module.port)])
    api.service.mgr_announcements = announcements  # as the server sets it, for /metrics
    announcements.start()
    try:
        wait_for(lambda: announcements.listener.live())
        yield module, announcements
    finally:
        announcements.stop()
        module.stop()


def metric(api, name: str) -> float:
    answer = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.token()}"})
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def osd_is_in(api, osd: int) -> bool:
    return api.call("GET", f"cluster/{{fsid}}/osd/{osd}").json["in"]


def test_the_server_hears_of_new_maps_from_the_mgr_module(api, caplog) -> None:
    held = api.service.sync_object(api.fsid, "osd_map")[0]
    documents = {"osd_map": {"fsid": api.fsid, "epoch": held + 1}, "fs_map": {"epoch": "not a number"}}
    api.service.maps_coming.wait_s = LIVENESS_S
    # signed with a key the server does not have: announcements only
    with announcing(api, documents, signed_with=b"k") as (module, announcements):
        module.server.notify("osd_map")
        wait_for(lambda: announcements.expected == 1)
        assert api.service.maps_coming.pending(api.fsid)
        module.server.notify("fs_map")  # no readable epoch: logged
        wait_for(lambda: announcements.unreadable == 1)
        assert "without a readable epoch" in caplog.text
        api.feed("06")  # the OSD map awaited arrives from the collector
        # the file system map said to be coming is still awaited: the collector, which cannot use
        # what the module sent either, reads it from the mgr
        assert api.service.maps_coming.pending(api.fsid)
        held = api.service.sync_versions(api.fsid)["fs_map"]
        api.service.maps_coming.arrived(api.fsid, "fs_map", held + 1)
        assert not api.service.maps_coming.pending(api.fsid)


def test_a_map_signed_with_the_key_the_collector_handed_over_is_taken_straight_from_the_module(api) -> None:
    document = next_osd_map_with_out(api, 1)
    api.service.on_mgr_push_key(api.fsid, b"the module's key")
    assert osd_is_in(api, 1)
    with announcing(api, {"osd_map": document}, signed_with=b"the module's key") as (module, announcements):
        module.server.notify("osd_map")
        wait_for(lambda: announcements.taken == 1)
        assert not osd_is_in(api, 1)  # in the model, without the collector
        assert not api.service.maps_coming.pending(api.fsid) and announcements.expected == 0
        assert api.service.sync_versions(api.fsid)["osd_map"] == document["epoch"]
        assert metric(api, "calamari_mgr_maps_taken_total") == 1
        assert metric(api, "calamari_mgr_maps_awaited_total") == 0
        # what the server tells the collector in its answers to heartbeats (its copies may wait)
        assert api.service.takes_mgr_maps(api.fsid) and not api.service.takes_mgr_maps("another-fsid")
    assert not api.service.takes_mgr_maps(api.fsid)  # the module no longer heard
    # the collector's copy of the same map, a moment later, changes nothing: the change is told once
    assert api.service.on_sync_object(api.fsid, "osd_map", document["epoch"], document, datetime.now(UTC)) is False
    messages = [row["message"] for row in api.call("GET", "cluster/{fsid}/event?page_size=1000").json["results"]]
    assert len([m for m in messages if "osd.1" in m and " out" in m]) == 1, messages


@pytest.mark.parametrize("key", [None, b"another key"], ids=["no key yet", "another key"])
def test_a_map_not_signed_with_the_handed_over_key_is_only_waited_for(api, key, caplog) -> None:
    document = next_osd_map_with_out(api, 1)
    if key is not None:
        api.service.on_mgr_push_key(api.fsid, key)
    api.service.maps_coming.wait_s = LIVENESS_S
    with announcing(api, {"osd_map": document}, signed_with=b"the module's key") as (module, announcements):
        module.server.notify("osd_map")
        wait_for(lambda: announcements.expected == 1)
        assert announcements.taken == 0 and api.service.maps_coming.pending(api.fsid)
        assert announcements.unsigned == (key is not None)
        assert not api.service.takes_mgr_maps(api.fsid)  # the collector's copies must not wait
        assert ("signature is not the module's key" in caplog.text) == (key is not None)
        assert metric(api, "calamari_mgr_maps_unusable_total") == (key is not None)
        # not taken: the model's map stays the one the collector sent
        assert api.service.sync_versions(api.fsid)["osd_map"] == document["epoch"] - 1


def test_a_signed_map_the_model_refuses_changes_nothing(api, caplog) -> None:
    document = next_osd_map_with_out(api, 1)
    document["osds"] = "not a list"
    api.service.on_mgr_push_key(api.fsid, b"k")
    before = api.service.sync_versions(api.fsid)["osd_map"]
    with announcing(api, {"osd_map": document}, signed_with=b"k") as (module, announcements):
        module.server.notify("osd_map")
        wait_for(lambda: api.service.rejected == 1)
        assert announcements.taken == 0 and announcements.listener.live()  # the listener goes on
    assert api.service.sync_versions(api.fsid)["osd_map"] == before
    assert "rejected osd_map" in caplog.text


def test_reads_wait_from_when_a_map_is_said_to_be_coming(api) -> None:
    api.service.maps_coming.wait_s = LIVENESS_S
    held = api.service.sync_object(api.fsid, "osd_map")[0]
    api.service.expect_newer_map(api.fsid, "osd_map")  # the module's `coming osd_map`
    assert api.service.maps_coming.pending(api.fsid)
    api.service.expect_map(api.fsid, "osd_map", held + 1)  # then its `data` line: that version
    assert api.service.maps_coming.pending(api.fsid)
    api.feed("06")  # which the collector's copy brings
    assert api.service.sync_versions(api.fsid)["osd_map"] > held
    assert not api.service.maps_coming.pending(api.fsid)


def test_a_map_the_collector_brought_first_is_not_waited_for_again(api) -> None:
    """The collector's copy of a map can reach the server before the module's `coming` line is
    read: the server then waits for the version after it until the module's map says which it is."""
    document = next_osd_map_with_out(api, 1)
    api.service.on_mgr_push_key(api.fsid, b"k")
    api.service.maps_coming.wait_s = LIVENESS_S
    with announcing(api, {"osd_map": document}, signed_with=b"k") as (module, announcements):
        # the collector was quicker
        assert api.service.on_sync_object(api.fsid, "osd_map", document["epoch"], document, datetime.now(UTC))
        module.server.notify("osd_map")
        # (not left waiting for the version after it: far sooner than the deadline)
        wait_for(lambda: not api.service.maps_coming.pending(api.fsid), timeout=5)
        assert announcements.taken == 0 and api.service.maps_coming.timeouts == 0
    # unsigned, the same: the version the module sent is what reads wait for, and it is here
    api.service.mgr_push_keys.clear()
    with announcing(api, {"osd_map": document}, signed_with=b"k") as (module, announcements):
        module.server.notify("osd_map")
        wait_for(lambda: announcements.expected == 1)
        assert not api.service.maps_coming.pending(api.fsid)
