"""History queries build a past model with Python's cyclic collector paused (beside a live model,
its collections were half of a past state's CPU); it resumes after the last query, and stays off
if it was off."""

import gc
import threading
import weakref

import pytest
from history_fixtures import record_history

from calamari.domain.documents import with_live_fields
from calamari.service import history as history_module
from calamari.service.history import History, gc_paused


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    return record_history(str(tmp_path_factory.mktemp("gc")), capture_dir)[0]


@pytest.fixture
def collections():
    """Counts collections started, with a threshold that starts one every few allocations."""
    started = []
    threshold = gc.get_threshold()

    def callback(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.set_threshold(5, 1, 1)
    gc.callbacks.append(callback)
    try:
        yield started
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)


def test_a_past_model_is_built_and_rendered_without_a_collection(recorded, collections, monkeypatch):
    during = []

    def counted(work):
        def run(*args, **kwargs):
            before = len(collections)
            result = work(*args, **kwargs)
            during.append(len(collections) - before)
            return result
        return run

    for name in ("load_model", "cluster_documents"):  # a snapshot loaded, every row rendered
        monkeypatch.setattr(history_module, name, counted(getattr(history_module, name)))
    history = History(recorded.store, recorded.snapshot_dir)
    end = recorded.store.max_position()
    state = history.state(recorded.fsid, str(recorded.step_positions[2]), with_live_fields)
    history = History(recorded.store, recorded.snapshot_dir)
    diff = history.diff(recorded.fsid, "1", str(end))
    assert state["osd"] and diff["event_count"]
    assert len(during) >= 3 and during == [0] * len(during)
    assert gc.isenabled()
    [None for _ in range(100)]  # noqa: B018 (allocations: the collector runs again)
    assert sum(during) < len(collections)


def test_the_collector_resumes_after_the_last_query_and_stays_off_if_it_was():
    assert gc.isenabled()
    entered, release = threading.Event(), threading.Event()

    def long_query():
        with gc_paused():
            entered.set()
            release.wait(10)

    other = threading.Thread(target=long_query)
    other.start()
    entered.wait(10)
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other query still runs
    release.set()
    other.join(10)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class Node:
    """An object that can be in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: object = None


def test_what_a_query_leaves_alive_is_set_aside_from_the_collector(recorded):
    """The kept past model is not walked by the resumed collector (it is none of its garbage)."""
    history = History(recorded.store, recorded.snapshot_dir)
    history.state(recorded.fsid, str(recorded.step_positions[3]), with_live_fields)
    kept = history._kept[1]
    tracked = {id(o) for o in gc.get_objects()}
    assert id(kept) not in tracked and id(kept.aggregates) not in tracked
    assert not any(id(agg) in tracked for agg in kept.aggregates.values())
    assert gc.isenabled()


def test_a_dropped_past_model_is_freed_by_reference_counting(recorded):
    """Set aside, a past model must not rely on the cyclic collector: it holds no cycles."""
    history = History(recorded.store, recorded.snapshot_dir)
    gc.disable()
    try:
        model = history.model_at(recorded.store.max_position())
        watched = [weakref.ref(model), *(weakref.ref(agg) for agg in model.aggregates.values())]
        del model
        assert [ref() for ref in watched] == [None] * len(watched)
    finally:
        gc.enable()


def test_garbage_cycles_set_aside_are_collected_once_enough_accumulate(monkeypatch):
    monkeypatch.setattr(history_module, "SET_ASIDE_GROWTH_LIMIT", 1000)
    monkeypatch.setattr(history_module, "_set_aside_after_collection", None)
    monkeypatch.setattr(history_module, "SET_ASIDE_COUNT_EVERY", 1)
    with gc_paused():
        cycle = Node()
        cycle.other = Node()
        cycle.other.other = cycle
        watched = weakref.ref(cycle)
        del cycle
    gc.collect()
    assert watched() is not None  # set aside with what the query left alive
    with gc_paused():
        alive = [Node() for _ in range(2000)]  # more set aside than the limit: a collection runs
    assert watched() is None
    assert all(isinstance(node, Node) for node in alive)


def test_what_is_set_aside_is_counted_only_every_few_queries(monkeypatch):
    """Counting walks everything set aside: not on every query."""
    counted = []
    monkeypatch.setattr(history_module, "_set_aside_after_collection", None)
    monkeypatch.setattr(history_module.gc, "get_freeze_count", lambda: counted.append(1) or 0)
    for _ in range(3 * history_module.SET_ASIDE_COUNT_EVERY):
        with gc_paused():
            pass
    assert 1 <= len(counted) <= 4
