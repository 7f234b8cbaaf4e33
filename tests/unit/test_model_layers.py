"""How the cluster model is put together: the state (`model_state`) at the bottom, the modules of
each job above it, `ClusterModel` (`model`) on top, gathering them; every sync object has its
handler; and the diffing the modules do, seen through ClusterModel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_import_graph import ROOT, import_graph, module_files, reachable

from calamari.domain.ingest.sync_object import HANDLERS
from calamari.domain.model import SYNC_OBJECTS, ClusterModel
from calamari.testing.strategies import FSID, ClusterState, OsdState, PoolState, osd_map

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
JOB_MODULES = ("calamari.domain.contact", "calamari.domain.forgetting", "calamari.domain.accounts",
               "calamari.domain.request_lifecycle")
STATE_MODULES = ("calamari.domain.model_state", "calamari.domain.sync_versions")


def model_modules() -> dict[str, Path]:
    """The modules the cluster model is made of."""
    return {name: path for name, path in module_files().items()
            if name in ("calamari.domain.model", *STATE_MODULES, *JOB_MODULES)
            or name.startswith("calamari.domain.ingest")}


def test_the_job_modules_reach_the_state_never_the_model() -> None:
    graph = import_graph()
    modules = model_modules()
    assert "calamari.domain.ingest.osd_map" in modules and "calamari.domain.contact" in modules
    for name in modules:
        if name == "calamari.domain.model":
            continue
        assert "calamari.domain.model" not in reachable(graph, name), f"{name} reaches calamari.domain.model"
    for name in STATE_MODULES:
        jobs = sorted(m for m in reachable(graph, name) if m in modules and m not in STATE_MODULES)
        assert not jobs, f"{name} imports {jobs}: the state is below every job"


def test_each_module_of_the_model_holds_at_most_400_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in model_modules().items()}
    assert len(sizes) >= 10
    too_long = {name: lines for name, lines in sizes.items() if lines > 400}
    assert not too_long, f"over 400 lines: {too_long} (in {ROOT})"


def test_every_sync_object_has_its_handler() -> None:
    assert set(HANDLERS) == SYNC_OBJECTS


def test_osds_and_pools_a_map_no_longer_lists_go_once_and_come_back() -> None:
    """An OSD or pool missing from a map is removed (deleted) once, also when as many others are
    listed in its place; a map listing the same ids again removes nothing more."""
    model = ClusterModel()
    state = ClusterState(osds={0: OsdState(), 1: OsdState(), 2: OsdState()},
                         pools={1: PoolState("rbd"), 2: PoolState("images")}, next_pool_id=3)

    def send(epoch: int) -> list[tuple[str, int]]:
        assert model.ingest(FSID, "osd_map", epoch, osd_map(state, epoch), T0 + timedelta(seconds=epoch))
        return [(type(e).__name__, getattr(e, "epoch", 0)) for e in model.drain()]

    send(10)
    del state.osds[2], state.pools[2]
    state.osds[3], state.pools[3] = OsdState(), PoolState("logs")  # the same counts, other ids
    events = send(11)
    assert ("OsdRemoved", 11) in events and ("PoolDeleted", 11) in events
    assert ("OsdAdded", 11) in events and ("PoolCreated", 11) in events
    assert model.osds[FSID][2].removed and model.pools[FSID][2].deleted
    state.osds[0].up = False
    assert send(12) == [("OsdMarkedDown", 12)]
    state.osds[2], state.pools[2] = OsdState(), PoolState("images")
    events = send(13)
    assert ("OsdReadded", 13) in events and ("PoolReappeared", 13) in events
    assert not model.osds[FSID][2].removed and not model.pools[FSID][2].deleted
