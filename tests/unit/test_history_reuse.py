"""History queries reuse the last past model for a later point a few events on (a cursor stepped
forward, "what changed since then"): the answers are those of a model built afresh from a
snapshot, and no snapshot is loaded for them."""

import weakref

import orjson
import pytest
from history_fixtures import record_history

from calamari.domain.documents import with_live_fields
from calamari.service import history as history_module
from calamari.service.history import History


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    return record_history(str(tmp_path_factory.mktemp("reuse")), capture_dir)


def fresh(rec):
    return History(rec.store, rec.snapshot_dir)


def same(a, b):
    return orjson.loads(orjson.dumps(a)) == orjson.loads(orjson.dumps(b))


def test_states_stepping_forward_reuse_the_model_and_answer_as_afresh(recorded, monkeypatch):
    rec, _ = recorded
    end = rec.store.max_position()
    history = fresh(rec)
    loads = []
    real = history_module.load_model
    monkeypatch.setattr(history_module, "load_model", lambda *a, **k: loads.append(k.get("until")) or real(*a, **k))
    start = rec.step_positions[1]
    positions = list(range(start, end + 1, 3))
    for position in positions:
        state = history.state(rec.fsid, str(position), with_live_fields)
        assert same(state, fresh(rec).state(rec.fsid, str(position), with_live_fields)), position
    # the fresh Histories loaded one model each; the stepping one only its first
    assert history.models_built == 1
    assert len(loads) == 1 + len(positions)


def test_a_diff_from_the_point_just_shown_reuses_its_model(recorded):
    rec, _ = recorded
    history = fresh(rec)
    first, last = rec.step_positions[2], rec.store.max_position()
    history.state(rec.fsid, str(first), with_live_fields)
    diff = history.diff(rec.fsid, str(first), str(last))
    assert history.models_built == 1
    assert same(diff, fresh(rec).diff(rec.fsid, str(first), str(last)))
    # and a state after the diff's end... or before it: built afresh when it cannot be reused
    assert same(history.state(rec.fsid, str(first), with_live_fields),
                fresh(rec).state(rec.fsid, str(first), with_live_fields))
    assert history.models_built == 2


def test_a_point_too_far_on_builds_from_a_snapshot(recorded, monkeypatch):
    rec, _ = recorded
    history = fresh(rec)
    monkeypatch.setattr(history_module, "REUSE_WITHIN", 2)
    a, b = rec.step_positions[1], rec.step_positions[1] + 10
    history.state(rec.fsid, str(a), with_live_fields)
    assert same(history.state(rec.fsid, str(b), with_live_fields), fresh(rec).state(rec.fsid, str(b), with_live_fields))
    assert history.models_built == 2


def test_a_kept_model_of_no_use_is_dropped_before_another_is_built(recorded, monkeypatch):
    """At most one past model at a time besides the live one: the kept one is freed first."""
    rec, _ = recorded
    history = fresh(rec)
    later, earlier = rec.step_positions[4], rec.step_positions[1]
    history.state(rec.fsid, str(later), with_live_fields)
    watched = weakref.ref(history._kept[1])
    alive_while_building = []
    real = history_module.load_model
    monkeypatch.setattr(history_module, "load_model",
                        lambda *a, **k: alive_while_building.append(watched() is not None) or real(*a, **k))
    state = history.state(rec.fsid, str(earlier), with_live_fields)  # before it: not reusable
    assert alive_while_building == [False]
    assert same(state, fresh(rec).state(rec.fsid, str(earlier), with_live_fields))
