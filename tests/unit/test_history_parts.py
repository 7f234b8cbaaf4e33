"""A past state asked for in part (`history?at=&parts=&osd_fields=`, what each view of the console
draws) is the whole past state with the rest left out: the same documents, the same counters, at
every point of random histories and of the recorded real one; bad parts or fields are a 400."""

import orjson
import pytest
from history_fixtures import history_client, record_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_history_properties import histories, record

from calamari.domain.documents import OSD_FIELDS, with_live_fields
from calamari.domain.history import STATE_PARTS
from calamari.service.history import History
from calamari.testing.strategies import FSID

part_sets = st.sets(st.sampled_from(STATE_PARTS), min_size=1)
field_lists = st.none() | st.lists(st.sampled_from(OSD_FIELDS), min_size=1, unique=True)


def json_of(value):
    return orjson.loads(orjson.dumps(value))


def trimmed(whole, parts, osd_fields):
    """The whole past state with the lists not asked for left out and each OSD cut to the fields
    asked for, in the documents' order."""
    expected = {k: v for k, v in whole.items() if k not in STATE_PARTS or k in parts}
    if "osd" in parts and osd_fields is not None:
        expected["osd"] = [{f: row[f] for f in OSD_FIELDS if f in osd_fields} for row in whole["osd"]]
    return expected


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    return record_history(str(tmp_path_factory.mktemp("parts")), capture_dir)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.data())
def test_a_state_in_part_is_the_whole_state_trimmed_at_every_point(history, data):
    states, gaps, _ = history
    store, events = record(states, gaps)
    queries = History(store, "/nonexistent")
    for position in range(1, len(events) + 1):
        parts, osd_fields = data.draw(part_sets), data.draw(field_lists)
        whole = queries.state(FSID, str(position), with_live_fields)
        part = queries.live_state(FSID, str(position), parts, osd_fields)
        assert json_of(part) == json_of(trimmed(whole, parts, osd_fields))
        assert list(part) == [k for k in whole if k not in STATE_PARTS or k in parts]  # the same order


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_state_in_part_matches_the_recorded_history(recorded, data):
    """Servers, OSD metadata, CRUSH places and pools of real captures, at random points."""
    rec, _ = recorded
    position = data.draw(st.integers(1, rec.store.max_position()))
    parts, osd_fields = data.draw(part_sets), data.draw(field_lists)
    queries = History(rec.store, rec.snapshot_dir)
    whole = queries.state(rec.fsid, str(position), with_live_fields)
    assert json_of(queries.live_state(rec.fsid, str(position), parts, osd_fields)) == json_of(
        trimmed(whole, parts, osd_fields))


def test_the_whole_state_is_the_default(recorded):
    rec, _ = recorded
    queries = History(rec.store, rec.snapshot_dir)
    at = rec.step_times[4].isoformat()
    whole = queries.state(rec.fsid, at, with_live_fields)
    assert json_of(queries.live_state(rec.fsid, at)) == json_of(whole)
    assert whole["osd"] and whole["server"] and whole["pool"]  # the fixture has something to leave out


def test_api_answers_the_parts_and_fields_asked_for(recorded):
    rec, view = recorded
    client = history_client(rec, view)
    at = rec.step_times[6].isoformat()
    whole = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"at": at}).get_json()
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history",
                   query_string={"at": at, "parts": "osd,pool", "osd_fields": "up,id,crush_host,id"})
    assert r.status_code == 200
    body = r.get_json()
    assert "server" not in body and body["pool"] == whole["pool"] and body["counters"] == whole["counters"]
    assert body["osd"] == [{"id": o["id"], "up": o["up"], "crush_host": o["crush_host"]} for o in whole["osd"]]
    hosts = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"at": at, "parts": "server"}).get_json()
    assert hosts["server"] == whole["server"] and "osd" not in hosts and "pool" not in hosts
    assert hosts["cluster"] == whole["cluster"] and hosts["health"] == whole["health"]


@pytest.mark.parametrize("query, field", [
    ({"parts": "osd,disks"}, "parts"),
    ({"parts": ""}, "parts"),
    ({"parts": " , "}, "parts"),
    ({"osd_fields": "id,colour"}, "osd_fields"),
    ({"osd_fields": ""}, "osd_fields"),
    ({"from": "1", "parts": "osd"}, "parts"),
    ({"from": "1", "osd_fields": "id"}, "osd_fields"),
])
def test_api_bad_parts_or_fields_are_a_400_naming_them(recorded, query, field):
    rec, view = recorded
    client = history_client(rec, view)
    query = {"at": "5", **query} if "from" not in query else query
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string=query)
    assert r.status_code == 400
    body = r.get_json()
    assert field in body["errors"] and body["errors"][field] and field in body["detail"]
