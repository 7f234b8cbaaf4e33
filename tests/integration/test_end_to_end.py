"""End to end against a real Ceph 16.2 cluster: a `calamari-server` process and a `calamari-collector`
process; every change goes through the REST API, is checked with the `ceph` CLI, and the API's view
must then equal the CLI's. Changes made with the CLI behind the service's back must show in the API
and as events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import (
    ApiClient,
    CalamariCollector,
    CalamariServer,
    DevCluster,
    WaitTimeout,
    server_and_collector,
    wait_for,
)

pytestmark = pytest.mark.integration

VIEW_TIMEOUT = 45.0  # the collector polls every 0.5 s; PG states may take a while to settle


@dataclass
class Live:
    cluster: DevCluster
    server: CalamariServer
    collector: CalamariCollector
    api: ApiClient
    fsid: str

    def path(self, tail: str) -> str:
        return f"/cluster/{self.fsid}{tail}"


@pytest.fixture(scope="module")
def live(ceph_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    cluster = DevCluster(ceph_cluster["dir"])
    with server_and_collector(cluster, Path(tmp_path_factory.mktemp("calamari-e2e"))) as (server, collector, api):
        fsid = cluster.fsid()
        wait_for(lambda: len(api.get(f"/cluster/{fsid}/osd")) == 3, 60, "3 OSDs in the API")
        yield Live(cluster, server, collector, api, fsid)


# ------------------------------------------------------------------------------------ views

def cli_view(cluster: DevCluster) -> dict[str, Any]:
    """What the `ceph` CLI says, in the terms the API uses."""
    osd_map = cluster.ceph("osd", "dump")
    health = cluster.ceph("health", "detail")
    pg_stat = cluster.ceph("pg", "stat")
    quorum = cluster.ceph("quorum_status")
    return {
        "osds": {o["osd"]: {"up": bool(o["up"]), "in": bool(o["in"]), "reweight": round(float(o["weight"]), 3)}
                 for o in osd_map["osds"]},
        "pools": {p["pool_name"]: {"id": p["pool"], "size": p["size"], "min_size": p["min_size"],
                                   "pg_num": p["pg_num"], "quota_max_objects": p["quota_max_objects"],
                                   "quota_max_bytes": p["quota_max_bytes"]} for p in osd_map["pools"]},
        "flags": sorted(f for f in osd_map["flags"].split(",") if f),
        "health": {"status": health["status"], "checks": sorted(health["checks"])},
        "pg_by_state": {s["name"]: s["num"] for s in pg_stat["pg_summary"]["num_pg_by_state"]},
        "quorum": sorted(quorum["quorum_names"]),
    }


def api_view(live: Live) -> dict[str, Any]:
    cluster = live.api.get(live.path(""))
    osds = live.api.get(live.path("/osd"))
    pools = live.api.get(live.path("/pool"))
    return {
        "osds": {o["id"]: {"up": o["up"], "in": o["in"], "reweight": round(float(o["reweight"]), 3)} for o in osds},
        "pools": {p["name"]: {"id": p["id"], "size": p["size"], "min_size": p["min_size"], "pg_num": p["pg_num"],
                              "quota_max_objects": p["quota_max_objects"], "quota_max_bytes": p["quota_max_bytes"]}
                  for p in pools},
        "flags": sorted(cluster["flags"]),
        "health": {"status": cluster["health"]["status"], "checks": sorted(cluster["health"]["checks"])},
        "pg_by_state": dict(cluster["pg_by_state"]),
        "quorum": sorted(cluster["quorum"]),
    }


def assert_views_agree(live: Live, timeout: float = VIEW_TIMEOUT) -> dict[str, Any]:
    """Wait until the API shows what the CLI shows (the cluster may still be moving: both are read
    again each round); on timeout the last pair is compared so that the difference is printed."""
    last: list[dict[str, Any]] = [{}, {}]

    def agree() -> bool:
        last[0] = cli_view(live.cluster)
        last[1] = api_view(live)
        return last[0] == last[1]

    try:
        wait_for(agree, timeout, "the API's view to equal the ceph CLI's", interval=0.3)
    except WaitTimeout:
        assert last[1] == last[0]
    return last[0]


def complete_ok(live: Live, request_id: str, timeout: float = 90) -> dict[str, Any]:
    row = live.api.wait_request(request_id, timeout)
    assert row["error"] is False, row
    return row


def pool_id(live: Live, name: str) -> int:
    return next(p["id"] for p in live.api.get(live.path("/pool")) if p["name"] == name)


def cli_pool(live: Live, name: str) -> dict[str, Any] | None:
    return next((p for p in live.cluster.ceph("osd", "dump")["pools"] if p["pool_name"] == name), None)


def event_messages(live: Live, since: datetime) -> list[str]:
    page = live.api.get(live.path(f"/event?since={since.isoformat().replace('+00:00', 'Z')}&page_size=1000"))
    return [e["message"] for e in page["results"]]


def cli_osd(live: Live, osd_id: int) -> dict[str, Any]:
    return next(o for o in live.cluster.ceph("osd", "dump")["osds"] if o["osd"] == osd_id)


# ------------------------------------------------------------------------------------ tests

def test_the_api_shows_what_the_cli_shows(live: Live) -> None:
    view = assert_views_agree(live)
    assert len(view["osds"]) == 3 and view["quorum"] == ["a"]
    detail = live.api.get(live.path(""))
    assert detail["stale"] is False
    wait_for(lambda: live.api.get(live.path(""))["last_contact"] is not None, 30, "a heartbeat to be recorded")


def test_pool_create_patch_rename_delete(live: Live) -> None:
    request_id = live.api.submit("POST", live.path("/pool"), {"name": "e2e-pool", "pg_num": 8,
                                                               "pg_autoscale_mode": "off"})
    complete_ok(live, request_id)
    created = cli_pool(live, "e2e-pool")
    assert created is not None and created["pg_num"] == 8 and created["pg_autoscale_mode"] == "off"
    assert_views_agree(live)

    new_id = pool_id(live, "e2e-pool")
    request_id = live.api.submit("PATCH", live.path(f"/pool/{new_id}"),
                                 {"size": 2, "pg_num": 16, "quota_max_objects": 1000, "quota_max_bytes": 1 << 30})
    complete_ok(live, request_id)
    changed = cli_pool(live, "e2e-pool")
    assert changed is not None
    assert (changed["size"], changed["quota_max_objects"], changed["quota_max_bytes"]) == (2, 1000, 1 << 30)
    assert changed.get("pg_num_target", changed["pg_num"]) == 16
    # Ceph moves pg_num to its target in steps; the views must agree on the way and at the end
    wait_for(lambda: cli_pool(live, "e2e-pool")["pg_num"] == 16, 90, "pg_num to reach 16")
    view = assert_views_agree(live)
    assert view["pools"]["e2e-pool"]["pg_num"] == 16

    request_id = live.api.submit("PATCH", live.path(f"/pool/{new_id}"), {"name": "e2e-renamed"})
    complete_ok(live, request_id)
    assert cli_pool(live, "e2e-pool") is None and cli_pool(live, "e2e-renamed")["pool"] == new_id
    assert_views_agree(live)

    request_id = live.api.submit("DELETE", live.path(f"/pool/{new_id}"))
    complete_ok(live, request_id)
    assert cli_pool(live, "e2e-renamed") is None
    view = assert_views_agree(live)
    assert "e2e-renamed" not in view["pools"]


def test_osd_out_in_and_reweight(live: Live) -> None:
    complete_ok(live, live.api.submit("PATCH", live.path("/osd/1"), {"in": False}))
    assert cli_osd(live, 1)["in"] == 0
    assert assert_views_agree(live)["osds"][1]["in"] is False

    complete_ok(live, live.api.submit("PATCH", live.path("/osd/1"), {"in": True}))
    assert cli_osd(live, 1)["in"] == 1
    assert assert_views_agree(live)["osds"][1]["in"] is True

    complete_ok(live, live.api.submit("PATCH", live.path("/osd/2"), {"reweight": 0.5}))
    assert abs(cli_osd(live, 2)["weight"] - 0.5) < 0.01
    assert assert_views_agree(live)["osds"][2]["reweight"] == pytest.approx(0.5, abs=0.01)

    complete_ok(live, live.api.submit("PATCH", live.path("/osd/2"), {"reweight": 1.0}))
    assert cli_osd(live, 2)["weight"] == pytest.approx(1.0, abs=0.01)
    assert_views_agree(live)


def test_osd_marked_down_through_the_api(live: Live) -> None:
    """With `noup` set (as an operator does to keep a daemon from coming straight back) the OSD
    stays down until the flag is cleared."""
    complete_ok(live, live.api.submit("PATCH", live.path("/osd_config"), {"noup": True}))
    try:
        complete_ok(live, live.api.submit("PATCH", live.path("/osd/0"), {"up": False}))
        assert cli_osd(live, 0)["up"] == 0
        assert assert_views_agree(live)["osds"][0]["up"] is False
    finally:
        complete_ok(live, live.api.submit("PATCH", live.path("/osd_config"), {"noup": False}))
    wait_for(lambda: cli_osd(live, 0)["up"] == 1, 90, "osd.0 to come back up once noup is cleared")
    assert assert_views_agree(live)["osds"][0]["up"] is True


def test_osd_daemon_stopped_and_restarted(live: Live) -> None:
    since = datetime.now(UTC)
    live.cluster.stop_daemon("osd.2")
    try:
        wait_for(lambda: cli_osd(live, 2)["up"] == 0, 60, "the mon to mark osd.2 down")
        view = assert_views_agree(live)
        assert view["osds"][2]["up"] is False
        assert "OSD_DOWN" in view["health"]["checks"] and view["health"]["status"] == "HEALTH_WARN"
        wait_for(lambda: "OSD osd.2 went down" in event_messages(live, since), 30, "an event for osd.2 going down")
    finally:
        live.cluster.start_daemon("osd.2")
    wait_for(lambda: cli_osd(live, 2)["up"] == 1, 60, "osd.2 to come back up")
    view = assert_views_agree(live)
    assert view["osds"][2]["up"] is True and "OSD_DOWN" not in view["health"]["checks"]
    wait_for(lambda: "OSD osd.2 came up" in event_messages(live, since), 30, "an event for osd.2 coming up")


def test_flags_set_and_unset(live: Live) -> None:
    complete_ok(live, live.api.submit("PATCH", live.path("/osd_config"), {"noout": True, "noscrub": True}))
    flags = live.cluster.ceph("osd", "dump")["flags"].split(",")
    assert "noout" in flags and "noscrub" in flags
    view = assert_views_agree(live)
    assert {"noout", "noscrub"} <= set(view["flags"]) and "OSDMAP_FLAGS" in view["health"]["checks"]
    assert live.api.get(live.path("/osd_config"))["noout"] is True

    complete_ok(live, live.api.submit("PATCH", live.path("/osd_config"), {"noout": False, "noscrub": False}))
    flags = live.cluster.ceph("osd", "dump")["flags"].split(",")
    assert "noout" not in flags and "noscrub" not in flags
    view = assert_views_agree(live)
    assert not {"noout", "noscrub"} & set(view["flags"])


def test_scrub_reaches_the_osd(live: Live) -> None:
    def pg_stats() -> list[dict[str, Any]]:
        pgs = live.cluster.ceph("pg", "dump", "pgs")
        return pgs["pg_stats"] if isinstance(pgs, dict) else pgs

    # An OSD scrubs the clean PGs it is primary of: take one whose PGs are all clean. (Earlier
    # tests stop and start OSD daemons; a memstore OSD comes back empty, and the PGs of the
    # test cluster's one-copy pools it led stay unclean for the rest of the session.)
    def clean_primary() -> int | None:
        by_primary: dict[int, list[str]] = {}
        for pg in pg_stats():
            by_primary.setdefault(pg["acting_primary"], []).append(pg["state"])
        return next((osd for osd, states in sorted(by_primary.items())
                     if osd >= 0 and all(state == "active+clean" for state in states)), None)

    [osd_id] = wait_for(lambda: [osd for osd in [clean_primary()] if osd is not None], 120,
                        "an OSD whose PGs are all active+clean")

    def primary_scrub_stamps() -> dict[str, str]:
        return {pg["pgid"]: pg["last_scrub_stamp"] for pg in pg_stats() if pg["acting_primary"] == osd_id}

    before = primary_scrub_stamps()
    complete_ok(live, live.api.submit("POST", live.path(f"/osd/{osd_id}/command/scrub")))
    # the request completes when Ceph accepts the instruction; the OSD then scrubs its PGs
    wait_for(lambda: all(primary_scrub_stamps().get(pg, stamp) != stamp for pg, stamp in before.items()), 90,
             f"every PG of osd.{osd_id} to be scrubbed")
    assert_views_agree(live)


def test_changes_made_with_the_cli_show_in_the_api_and_as_events(live: Live) -> None:
    since = datetime.now(UTC)
    live.cluster.ceph("osd", "pool", "create", "cli-pool", "8")
    live.cluster.ceph("osd", "set", "nodeep-scrub")
    live.cluster.ceph("osd", "out", "0")
    try:
        view = assert_views_agree(live)
        assert "cli-pool" in view["pools"] and "nodeep-scrub" in view["flags"] and view["osds"][0]["in"] is False
        expected = {"Pool 'cli-pool' created", "OSD osd.0 marked out"}
        wait_for(lambda: expected <= set(event_messages(live, since)), 30, f"events {expected}")
        assert any("nodeep-scrub" in m for m in event_messages(live, since))
    finally:
        live.cluster.ceph("osd", "in", "0")
        live.cluster.ceph("osd", "unset", "nodeep-scrub")
        live.cluster.ceph("osd", "pool", "rm", "cli-pool", "cli-pool", "--yes-i-really-really-mean-it")
    view = assert_views_agree(live)
    assert "cli-pool" not in view["pools"] and view["osds"][0]["in"] is True
    wait_for(lambda: "Pool 'cli-pool' deleted" in event_messages(live, since), 30, "an event for the deleted pool")
    # the same history is in the event store, as `calamari-ctl events` prints it
    def pool_events() -> set[str]:
        stored = live.server.stored_events()
        ids = {e["aggregate_id"] for e in stored if e["type"] == "PoolCreated" and "cli-pool" in json.dumps(e["data"])}
        return {e["type"] for e in stored if e["aggregate_id"] in ids}

    wait_for(lambda: {"PoolCreated", "PoolDeleted"} <= pool_events(), 30, "the pool's events in the event store")
