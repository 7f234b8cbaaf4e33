"""History queries on a recorded history of the real captures: past states equal what the live
projection showed then, times map to positions, diffs summarise what changed and who did it, and
the REST route and the command line answer the same, with clear errors for bad input."""

from datetime import timedelta

import orjson
import pytest
from history_fixtures import PASSWORD_HASH, history_client, record_history

from calamari.adapters.snapshots import newest_snapshot
from calamari.api.history import cluster_history
from calamari.domain.documents import with_live_fields
from calamari.service import ctl
from calamari.service.history import History, HistoryError, parse_point


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    return record_history(str(tmp_path_factory.mktemp("history")), capture_dir)


@pytest.fixture(scope="module")
def history(recorded):
    rec, _ = recorded
    return History(rec.store, rec.snapshot_dir)


@pytest.fixture(scope="module")
def client(recorded):
    rec, view = recorded
    return history_client(rec, view)


def test_state_at_each_capture_time_is_what_the_live_api_showed(recorded, history):
    rec, _ = recorded
    assert newest_snapshot(rec.snapshot_dir) is not None  # snapshots are used, not only replay
    for index, when in enumerate(rec.step_times):
        doc = history.state(rec.fsid, when.isoformat())
        live = rec.live_rows[index]
        # the user events recorded one second after a step are not visible at the step's time
        assert doc["position"] == rec.step_positions[index]
        assert doc["cluster"] == live["cluster"]
        assert doc["health"] == live["cluster"]["health"]
        assert doc["osd"] == live["osd"]
        assert doc["pool"] == live["pool"]
        assert doc["server"] == live["server"]


def test_state_by_position_matches_state_by_time(recorded, history):
    rec, _ = recorded
    by_time = history.state(rec.fsid, rec.step_times[5].isoformat())
    by_position = history.state(rec.fsid, str(rec.step_positions[5]))
    assert {k: v for k, v in by_time.items() if k != "at"} == {k: v for k, v in by_position.items() if k != "at"}
    assert [(o["id"], o["up"]) for o in by_time["osd"]] == [(0, True), (1, True), (2, False)]


def test_time_to_position_is_the_last_event_at_or_before(recorded, history):
    rec, _ = recorded
    times = [(p, e.timestamp) for p, e in rec.store.read()]
    probes = {rec.step_times[0] - timedelta(days=1), rec.step_times[-1] + timedelta(days=1)}
    for _, t in times:
        probes |= {t, t - timedelta(microseconds=1), t + timedelta(milliseconds=500)}
    for probe in sorted(probes):
        expected = max((p for p, t in times if t <= probe), default=0)
        assert history.position_at(probe) == expected, probe


def test_parse_point():
    assert parse_point("42", "at") == 42
    assert parse_point("2026-11-24T15:45:25Z", "at").utcoffset() == timedelta(0)
    assert parse_point("2026-11-24T15:45:25", "at").utcoffset() == timedelta(0)  # naive means UTC
    assert parse_point("2026-11-24T16:45:25+01:00", "at") == parse_point("2026-11-24T15:45:25Z", "at")
    for bad in ("", " ", "-3", "yesterday", "2026-13-01", "1e5", None):
        with pytest.raises(HistoryError):
            parse_point(bad, "at")


def test_diff_summarises_osds_flags_health_pools(recorded, history):
    rec, _ = recorded
    # from just before noout was set (04) to after OSD 2 came back (07)
    doc = history.diff(rec.fsid, rec.step_times[3].isoformat(), rec.step_times[7].isoformat())
    s = doc["summary"]
    osd2 = next(o for o in s["osds"] if o["id"] == 2)
    assert osd2["before"] == "up_in" and osd2["after"] == "up_in"
    assert {"OsdMarkedDown", "OsdMarkedOut", "OsdMarkedUp", "OsdMarkedIn"} <= set(osd2["events"])
    assert [(c["set"], c["unset"]) for c in s["flags"]["changes"]] == [(["noout"], []), ([], ["noout"])]
    assert [(t["from"], t["to"]) for t in s["health"]["transitions"]][:1] == [("HEALTH_OK", "HEALTH_WARN")]
    assert doc["event_count"] == len(doc["events"]) and not doc["truncated"]
    assert all(rec.step_positions[3] < e["position"] <= rec.step_positions[7] for e in doc["events"])

    whole = history.diff(rec.fsid, "0", None)
    pools = whole["summary"]["pools"]
    assert {p["name"] for p in pools["created"]} == {"device_health_metrics", "rbd", "images", "ecpool"}
    assert [(p["id"], p["name"]) for p in pools["deleted"]] == [(3, "photos")]  # renamed before it went
    later = history.diff(rec.fsid, rec.step_times[8].isoformat(), rec.step_times[9].isoformat())
    changed = {p["name"]: p["changes"] for p in later["summary"]["pools"]["changed"]}
    assert changed and all(changes for changes in changed.values())


def test_diff_names_who_asked_what_and_the_outcome(recorded, history):
    rec, _ = recorded
    doc = history.diff(rec.fsid, "0", None)
    requests = {r["id"]: r for r in doc["summary"]["requests"]}
    create = requests[rec.request_ids["create"]]
    assert (create["username"], create["outcome"], create["body"]) == \
        ("alice", "succeeded", {"name": "images", "pg_num": 16, "size": 2})
    assert [e["type"] for e in create["events"]][0] == "UserRequestSubmitted"
    failed = requests[rec.request_ids["fail"]]
    assert (failed["username"], failed["outcome"], failed["error_message"]) == ("bob", "failed", "osd.7 does not exist")
    submitted = [e for e in doc["events"] if e["type"] == "UserRequestSubmitted"]
    assert {e["by"] for e in submitted} == {"alice", "bob"}


def test_user_and_role_changes_are_in_the_history_without_secrets(recorded, history):
    rec, _ = recorded
    doc = history.diff(rec.fsid, "0", None)
    users = doc["summary"]["users"]
    assert [(u["type"], u["username"], u["by"]) for u in users] == [
        ("UserCreated", "alice", "admin"), ("UserRoleChanged", "alice", "admin"),
        ("UserRoleChanged", "alice", "admin"), ("UserPasswordChanged", "alice", "admin")]
    assert users[1]["data"]["role"] == "operator" and users[2]["data"]["role"] == "admin"
    text = orjson.dumps(doc).decode()
    assert PASSWORD_HASH not in text and "$argon2id" not in text
    assert users[3]["data"]["password_hash"] == "(redacted)"


def test_diff_limit_truncates_the_listing_not_the_summary(recorded, history):
    rec, _ = recorded
    full = history.diff(rec.fsid, "0", None)
    short = history.diff(rec.fsid, "0", None, limit=3)
    assert [e["position"] for e in short["events"]] == [e["position"] for e in full["events"][:3]]
    assert short["truncated"] and short["event_count"] == full["event_count"] > 3
    assert short["summary"] == full["summary"]


# ---------------------------------------------------------------------- REST


def test_api_history_at_and_diff(client, recorded, history):
    rec, _ = recorded
    at = rec.step_times[6].isoformat()
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"at": at})
    assert r.status_code == 200
    assert r.get_json() == orjson.loads(orjson.dumps(history.state(rec.fsid, at, with_live_fields)))
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"from": "10", "to": "40", "limit": "5"})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["from"]["position"], body["to"]["position"], len(body["events"])) == (10, 40, 5)
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"from": "10"})
    assert r.get_json()["to"]["position"] == rec.store.max_position()


@pytest.mark.parametrize("query, field", [
    ({}, "at"),
    ({"at": "yesterday"}, "at"),
    ({"at": "-1"}, "at"),
    ({"at": "99999999"}, "at"),
    ({"at": "1", "from": "1"}, "at"),
    ({"from": "nope"}, "from"),
    ({"from": "5", "to": "soon"}, "to"),
    ({"from": "40", "to": "10"}, "from"),
    ({"from": "1", "limit": "many"}, "limit"),
    ({"from": "1", "limit": "1000000"}, "limit"),
    ({"when": "1"}, "when"),
])
def test_api_bad_input_is_a_400_with_a_reason(client, recorded, query, field):
    rec, _ = recorded
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string=query)
    assert r.status_code == 400
    body = r.get_json()
    assert field in body["errors"] and body["errors"][field] and field in body["detail"]


def test_api_unknown_cluster_is_a_404(client, recorded):
    rec, _ = recorded
    r = client.get("/api/v2/cluster/00000000-0000-0000-0000-000000000000/history", query_string={"at": "1"})
    assert r.status_code == 404
    # known now, but nothing recorded yet at position 0
    r = client.get(f"/api/v2/cluster/{rec.fsid}/history", query_string={"at": "0"})
    assert r.status_code == 404 and "position 0" in r.get_json()["detail"]


def test_the_app_registers_the_history_blueprint():
    from calamari.api import app

    assert "calamari.api.history" in app.BLUEPRINT_MODULES
    assert set(cluster_history._api_doc["query"]) == {"at", "from", "to", "limit", "parts", "osd_fields"}


# ---------------------------------------------------------------------- command line


def test_ctl_history_and_diff_print_the_api_documents(recorded, history, capsys):
    rec, _ = recorded
    base = ["--data-dir", rec.data_dir]
    at = rec.step_times[5].isoformat()
    assert ctl.main([*base, "history", "--at", at, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out) == orjson.loads(orjson.dumps(history.state(rec.fsid, at, with_live_fields)))
    assert ctl.main([*base, "history", "--at", at]) == 0
    text = capsys.readouterr().out
    assert "HEALTH_WARN" in text and "noout" in text
    osd_lines = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit() and "vm" in line]
    assert [(line[0], line[1]) for line in osd_lines] == [("0", "yes"), ("1", "yes"), ("2", "no")]

    args = ["diff", "--from", rec.step_times[3].isoformat(), "--to", rec.step_times[7].isoformat()]
    assert ctl.main([*base, *args, "--json", "--cluster", rec.fsid]) == 0
    assert orjson.loads(capsys.readouterr().out) == orjson.loads(orjson.dumps(
        history.diff(rec.fsid, rec.step_times[3].isoformat(), rec.step_times[7].isoformat())))
    assert ctl.main([*base, "diff", "--from", "0"]) == 0
    text = capsys.readouterr().out
    assert "Creating pool 'images'" in text and "alice" in text and "succeeded" in text
    assert "osd.7 does not exist" in text and "UserRoleChanged" in text


@pytest.mark.parametrize("args, message", [
    (["history", "--at", "never"], "invalid --at"),
    (["history", "--at", "123456789"], "beyond the newest"),
    (["history", "--at", "5", "--cluster", "nope"], "no recorded state"),
    (["diff", "--from", "30", "--to", "3"], "invalid --from"),
    (["diff", "--from", "0", "--limit", "-1"], "invalid --limit"),
])
def test_ctl_errors_are_messages_with_exit_code_2(recorded, capsys, args, message):
    rec, _ = recorded
    assert ctl.main(["--data-dir", rec.data_dir, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_older_snapshots_are_kept_spaced_out_for_history(tmp_path, monkeypatch):
    from calamari.adapters import snapshots
    from calamari.domain.model import ClusterModel

    monkeypatch.setattr(snapshots, "HISTORY_SPACING", 100)
    for position in range(30, 1200, 30):  # written every 30 positions, as a quiet server might
        snapshots.write_snapshot(str(tmp_path), position, ClusterModel(), history_keep=4)
    kept = sorted(p for p, _ in snapshots._snapshots(str(tmp_path)))
    newest = [1110, 1140, 1170]
    assert kept[-3:] == newest
    # the newest snapshot of each of the four spans of 100 positions before the newest three
    assert kept[:-3] == [780, 870, 990, 1080]
    older = kept[:-3]
    assert snapshots.newest_snapshot(str(tmp_path), at_most=1000)[0] == max(p for p in older if p <= 1000)


def test_history_snapshots_option_bounds_the_older_snapshots_kept(tmp_path, monkeypatch):
    from calamari.adapters import snapshots
    from calamari.domain.model import ClusterModel
    from calamari.service import main as server_main

    monkeypatch.setattr(snapshots, "HISTORY_SPACING", 100)
    assert server_main.parse_args([]).history_snapshots == snapshots.HISTORY_KEEP
    assert server_main.parse_args(["--history-snapshots", "2"]).history_snapshots == 2
    with pytest.raises(SystemExit):
        server_main.parse_args(["--history-snapshots", "-1"])
    for keep, directory in ((0, tmp_path / "none"), (2, tmp_path / "two")):
        for position in range(100, 1300, 100):
            snapshots.write_snapshot(str(directory), position, ClusterModel(), history_keep=keep)
        kept = sorted(p for p, _ in snapshots._snapshots(str(directory)))
        assert kept == [800, 900][2 - keep:] + [1000, 1100, 1200]


def test_the_service_passes_its_history_snapshot_setting_to_the_writer(tmp_path):
    from calamari.service.model import ModelService, ServiceConfig

    service = ModelService(ServiceConfig(data_dir=str(tmp_path), history_snapshots=7))
    try:
        assert service.snapshots.history_keep == 7
    finally:
        service.close()


def test_through_the_app_with_users_and_a_real_request(tmp_path, capture_dir):
    from api_support import Harness

    api = Harness(str(tmp_path), capture_dir, steps=("00", "01"))
    try:
        path = f"/api/v2/cluster/{api.fsid}/history"
        assert api.client.get(path, query_string={"at": "1"}).status_code == 401
        r = api.call("POST", "cluster/{fsid}/pool", user="oper", json={"name": "images", "pg_num": 16, "size": 2})
        assert r.status_code == 202
        api.answer_all()
        api.feed("02")
        api.service.writer.flush(10)
        end = str(api.service.store.max_position())
        now = api.call("GET", path, user="viewer", query_string={"at": end})
        assert now.status_code == 200
        # the same documents as the live resources, field for field
        for resource in ("osd", "pool", "server"):
            assert now.json[resource] == api.call("GET", "cluster/{fsid}/" + resource, user="viewer").json
        live = api.call("GET", "cluster/{fsid}", user="viewer").json
        # when a collector last confirmed the state is about now, not part of a past state
        for live_only in ("last_contact", "age_s"):
            live.pop(live_only)
        assert now.json["cluster"] == live
        assert "images" in {p["name"] for p in now.json["pool"]}

        diff = api.call("GET", path, user="viewer", query_string={"from": "0"}).json
        (request,) = diff["summary"]["requests"]
        assert (request["username"], request["outcome"], request["body"]["name"]) == ("oper", "succeeded", "images")
        created = [(u["username"], u["by"], u["data"].get("role")) for u in diff["summary"]["users"]
                   if u["type"] == "UserCreated"]
        assert created == [("admin", "test", "admin"), ("oper", "test", "operator"), ("viewer", "test", "read-only")]
        assert "$argon2" not in orjson.dumps(diff).decode()
    finally:
        api.close()
