"""Faults against a real cluster: the monitor stops (the cluster shows as stale with its last known
state and its age, and recovers by itself when the monitor is back), and the server is killed with
SIGKILL in the middle of a burst of requests (after a restart every accepted request is known and
ends complete or failed with a reason)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from calamari.testing.live import ApiClient, ApiError, CalamariCollector, CalamariServer, DevCluster, wait_for

pytestmark = pytest.mark.integration


class Live:
    def __init__(self, cluster: DevCluster, base: Path) -> None:
        self.cluster = cluster
        self.server = CalamariServer(base / "data")
        self.collector = CalamariCollector(self.server.bus, cluster.conf, base / "collector.log", ceph_timeout=3.0)
        self.api: ApiClient | None = None
        self.fsid = cluster.fsid()

    def path(self, tail: str) -> str:
        return f"/cluster/{self.fsid}{tail}"

    @property
    def client(self) -> ApiClient:
        assert self.api is not None
        return self.api


@pytest.fixture(scope="module")
def live(ceph_cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    state = Live(DevCluster(ceph_cluster["dir"]), Path(tmp_path_factory.mktemp("calamari-faults")))
    try:
        state.api = state.server.start()
        state.collector.start()
        wait_for(lambda: len(state.client.get(state.path("/osd"))) == 3, 60, "the cluster's OSDs in the API")
        wait_for(lambda: state.client.get(state.path(""))["last_contact"] is not None, 30, "a heartbeat")
        yield state
    finally:
        state.collector.stop()
        state.server.stop()


def events_since(live: Live, since: datetime) -> list[dict[str, Any]]:
    query = f"/event?since={since.isoformat().replace('+00:00', 'Z')}&page_size=1000"
    return live.client.get(live.path(query))["results"]


def messages_since(live: Live, since: datetime) -> list[str]:
    return [e["message"] for e in events_since(live, since)]


def test_monitor_down_marks_the_cluster_stale_and_it_recovers(live: Live) -> None:
    assert live.client.get(live.path(""))["stale"] is False
    since = datetime.now(UTC)
    live.cluster.stop_daemon("mon.a")
    try:
        stale = wait_for(lambda: (lambda c: c if c["stale"] else None)(live.client.get(live.path(""))), 60,
                         "the cluster to show as stale")
        lost = wait_for(lambda: [e for e in events_since(live, since) if e["message"].startswith("Lost contact")],
                        30, "a contact-lost event")
        assert lost[0]["severity"] == "WARNING" and lost[0]["fsid"] == live.fsid
        # the last known state is still served, unchanged, and its age grows
        assert stale["last_contact"] is not None and stale["quorum"] == ["a"]
        osds = live.client.get(live.path("/osd"))
        assert [o["id"] for o in osds] == [0, 1, 2]
        later = wait_for(lambda: (lambda c: c if c["age_s"] > stale["age_s"] + 1 else None)(
            live.client.get(live.path(""))), 30, "the state's age to grow")
        kept = ("health", "quorum", "pg_by_state", "flags", "pgmap_version", "last_contact", "stale")
        assert {k: later[k] for k in kept} == {k: stale[k] for k in kept}
        assert live.client.get(live.path("/osd")) == osds
        # the collector's host is still in contact: only the cluster is unreachable
        servers = live.client.get("/server")
        assert servers and not any(s["contact_lost"] for s in servers)
    finally:
        live.cluster.start_daemon("mon.a")
    wait_for(lambda: live.client.get(live.path(""))["stale"] is False, 90, "the cluster to be in contact again")
    wait_for(lambda: any(m.startswith("Regained contact") for m in messages_since(live, since)), 30,
             "a contact-regained event")
    recovered = live.client.get(live.path(""))
    assert recovered["age_s"] is not None and recovered["quorum"] == ["a"]
    wait_for(lambda: all(o["up"] for o in live.client.get(live.path("/osd"))), 60, "every OSD up again")


def test_server_killed_during_a_burst_keeps_every_accepted_request(live: Live) -> None:
    names = [f"burst-{i}" for i in range(8)]
    accepted: list[str] = []
    refused: list[str] = []
    enough_accepted = threading.Event()

    def submit_burst() -> None:
        client = ApiClient(live.server.url, timeout=10)
        client.token = live.client.token
        for name in names:
            try:
                accepted.append(client.submit("POST", live.path("/pool"),
                                              {"name": name, "pg_num": 4, "pg_autoscale_mode": "off"}))
            except (ApiError, OSError) as exc:  # the server died under this one
                refused.append(f"{name}: {exc}")
            if len(accepted) >= 3:
                enough_accepted.set()
        enough_accepted.set()

    burst = threading.Thread(target=submit_burst, daemon=True)
    burst.start()
    assert enough_accepted.wait(60), "no request was accepted"
    assert live.server.process is not None
    live.server.process.kill9()
    burst.join(60)
    assert accepted, refused

    live.api = live.server.start()
    try:
        rows = {rid: live.client.wait_request(rid, timeout=120) for rid in accepted}
        for row in rows.values():
            assert row["state"] == "complete", row
            if row["error"]:
                assert row["error_message"], row  # a failure says why
        created = {p["pool_name"] for p in live.cluster.ceph("osd", "dump")["pools"]}
        succeeded = {row["body"]["name"] for row in rows.values() if not row["error"]}
        assert succeeded <= created  # a request that says complete really made its pool
        assert succeeded, rows  # the ones accepted before the kill are carried out after the restart
        wait_for(lambda: succeeded <= {p["name"] for p in live.client.get(live.path("/pool"))}, 60,
                 "the created pools in the API")
    finally:
        for name in names:
            try:
                live.cluster.ceph("osd", "pool", "rm", name, name, "--yes-i-really-really-mean-it")
            except RuntimeError:
                pass  # never created
