"""`make run` again on the same data dir: `calamari-server --simulate SPEC` simulates the cluster anew
(same fsid, map versions from the start); the model must follow that new run, not refuse every map
as older than the previous run's and show the old cluster frozen."""

from __future__ import annotations

from pathlib import Path

from calamari.testing.live import CalamariServer, wait_for

SPEC = "hosts=1,osds=3,pools=1,pgs=32,seed=11,churn=0"


def pool_names(api: object, fsid: str) -> set[str]:
    return {p["name"] for p in api.get(f"/cluster/{fsid}/pool")}  # type: ignore[attr-defined]


def test_a_restarted_simulation_is_followed_not_refused_as_older(tmp_path: Path) -> None:
    server = CalamariServer(tmp_path / "data", extra=["--simulate", SPEC])
    with server.running() as api:
        fsid = wait_for(lambda: api.get("/cluster")[0]["id"], 30, "the simulated cluster")
        simulated = wait_for(lambda: pool_names(api, fsid), 30, "the simulated pools")
        api.wait_request(api.submit("POST", f"/cluster/{fsid}/pool", {"name": "first-run-only", "pg_num": 8}))
        assert "first-run-only" in pool_names(api, fsid)
    with server.running() as api:  # the same data dir: the simulation starts over, without that pool
        assert api.get("/cluster")[0]["id"] == fsid
        wait_for(lambda: pool_names(api, fsid) == simulated, 30, "the model to show the new run's pools")
        reset = [e for e in server.stored_events() if e["type"] == "SyncVersionsReset"]
        assert len(reset) == 1  # the second start only: the first found no earlier run
