"""`calamari-ctl events archive`: events older than a time move to an export file, the store keeps
a history base at the cut, the server and history queries start from it (a point before it is
refused with where the kept history starts), the archive imports back to the whole history, and
a crash between any two steps loses nothing."""

import os
import shutil
from datetime import timedelta

import orjson
import pytest
from history_fixtures import history_client, record_history

from calamari.adapters.event_export import export_line, parse_line
from calamari.adapters.event_store import EventStore
from calamari.adapters.snapshots import (
    HistoryBaseUnusable,
    encode_aggregates,
    history_bases,
    load_model,
    newest_snapshot,
)
from calamari.domain.projections import ReadModel
from calamari.service import ctl, history_cli
from calamari.service.history import History, HistoryArchivedError
from calamari.service.model import ModelService, ServiceConfig


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, capture_dir):
    """A recorded data dir never archived (copied for each test), its whole export and its model."""
    data_dir = str(tmp_path_factory.mktemp("pristine"))
    rec, _ = record_history(data_dir, capture_dir)
    lines = [export_line(p, e) for p, e in rec.store.read()]
    model, _ = load_model(rec.snapshot_dir, rec.store)
    rec.store.close()
    return rec, lines, _canonical(model)


def _canonical(model):
    return sorted(encode_aggregates(model.aggregates.values()), key=lambda row: str(row[1]["_id"])), model.reflected


@pytest.fixture
def data_dir(pristine, tmp_path):
    rec, _, _ = pristine
    target = tmp_path / "data"
    shutil.copytree(rec.data_dir, target)
    return str(target)


def _ctl(data_dir, *args):
    return ctl.main(["--data-dir", str(data_dir), *args])


def _store(data_dir):
    return EventStore(f"sqlite:///{data_dir}/events.db")


def _snapshots(data_dir):
    return os.path.join(data_dir, "snapshots")


def _cut_at(pristine, step):
    """--before the time of a capture step: every event before that step's first one is archived."""
    rec, lines, _ = pristine
    when = rec.step_times[step]
    cut = max(p for p, e in (parse_line(x) for x in lines) if e.timestamp < when)
    return when.isoformat(), cut


def test_archive_moves_older_events_out_and_the_model_starts_from_the_cut(pristine, data_dir, tmp_path, capsys):
    rec, lines, whole_model = pristine
    before, cut = _cut_at(pristine, 4)
    archive = tmp_path / "2026.jsonl"
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(archive)) == 0
    assert f"the kept history starts at position {cut}" in capsys.readouterr().err
    # the archive holds exactly the older events, as `events export` writes them
    assert archive.read_bytes().splitlines(keepends=True) == lines[:cut]
    store = _store(data_dir)
    assert store.min_position() == cut + 1 and store.max_position() == len(lines)
    assert [export_line(p, e) for p, e in store.read()] == lines[cut:]
    # no snapshot from before the cut is left to be mistaken for a start; the base is there
    assert [p for p, _ in history_bases(_snapshots(data_dir))] == [cut]
    assert all(p >= cut for p in _positions_of_snapshots(data_dir))
    # a (re)started server builds the same model from the base and the kept events, even with
    # no snapshot after the cut
    for position in _positions_of_snapshots(data_dir):
        os.remove(os.path.join(_snapshots(data_dir), f"snapshot-{position:012d}.msgpack"))
    service = ModelService(ServiceConfig(data_dir=data_dir))
    try:
        assert _canonical(service.model) == whole_model
        assert service.restored_position == len(lines)
    finally:
        service.close()
    # new events continue the numbering after the newest one
    assert _store(data_dir).max_position() == len(lines)


def _positions_of_snapshots(data_dir):
    return sorted(int(name[len("snapshot-"):-len(".msgpack")]) for name in os.listdir(_snapshots(data_dir))
                  if name.startswith("snapshot-") and name.endswith(".msgpack"))


def test_history_queries_answer_from_the_kept_start_and_refuse_before_it(pristine, data_dir, tmp_path):
    rec, lines, _ = pristine
    original = History(EventStore(f"sqlite:///{rec.data_dir}/events.db"), rec.snapshot_dir)
    before, cut = _cut_at(pristine, 3)
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 0
    kept = History(_store(data_dir), _snapshots(data_dir))
    cut_time = parse_line(lines[cut - 1])[1].timestamp
    assert kept.kept_from().as_dict() == {"position": cut, "time": cut_time.isoformat()}

    def same(doc, expected):
        assert doc.pop("kept_from") == {"position": cut, "time": cut_time.isoformat()}
        assert expected.pop("kept_from") is None
        assert doc == expected

    for position in range(cut, len(lines) + 1):
        same(kept.state(rec.fsid, str(position)), original.state(rec.fsid, str(position)))
    for when in rec.step_times[3:]:
        same(kept.state(rec.fsid, when.isoformat()), original.state(rec.fsid, when.isoformat()))
    # the time of the last archived event is still answerable: the base is the state then
    same(kept.state(rec.fsid, cut_time.isoformat()), original.state(rec.fsid, cut_time.isoformat()))
    same(kept.diff(rec.fsid, str(cut), None), original.diff(rec.fsid, str(cut), None))
    for field, query in (("at", lambda v: kept.state(rec.fsid, v)), ("from", lambda v: kept.diff(rec.fsid, v, None))):
        for too_old in (str(cut - 1), "0", (cut_time - timedelta(microseconds=1)).isoformat()):
            with pytest.raises(HistoryArchivedError) as err:
                query(too_old)
            assert err.value.field == field and err.value.kept_from.position == cut
            assert cut_time.isoformat() in err.value.reason


def test_the_rest_api_says_where_the_kept_history_starts(pristine, data_dir, tmp_path):
    rec, lines, _ = pristine
    before, cut = _cut_at(pristine, 2)
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 0
    store = _store(data_dir)
    model, _ = load_model(_snapshots(data_dir), store)
    view = ReadModel()
    view.rebuild(model)
    rec = type(rec)(data_dir, store, _snapshots(data_dir), rec.fsid, rec.step_times)
    client = history_client(rec, view)
    cut_time = parse_line(lines[cut - 1])[1].timestamp.isoformat()
    url = f"/api/v2/cluster/{rec.fsid}/history"
    answer = client.get(url, query_string={"at": str(cut + 1)})
    assert answer.status_code == 200
    assert answer.json["kept_from"] == {"position": cut, "time": cut_time}
    answer = client.get(url, query_string={"from": str(cut)})
    assert answer.status_code == 200 and answer.json["kept_from"]["position"] == cut
    for query in ({"at": str(cut - 1)}, {"from": "1", "to": str(cut + 1)}, {"at": rec.step_times[0].isoformat()}):
        answer = client.get(url, query_string=query)
        assert answer.status_code == 410
        field = next(iter(query))
        assert answer.json["kept_from"] == {"position": cut, "time": cut_time}
        assert cut_time in answer.json["errors"][field] and answer.json["detail"].startswith(f"invalid {field}")


def test_the_command_line_history_says_where_the_kept_history_starts(pristine, data_dir, tmp_path, capsys):
    rec, lines, _ = pristine
    before, cut = _cut_at(pristine, 3)
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 0
    capsys.readouterr()
    assert _ctl(data_dir, "history", "--at", str(cut - 1)) == 2
    assert "before the kept history, which starts at" in capsys.readouterr().err
    assert _ctl(data_dir, "diff", "--from", "0") == 2
    assert f"(position {cut})" in capsys.readouterr().err
    assert _ctl(data_dir, "history", "--at", str(cut), "--json") == 0
    assert orjson.loads(capsys.readouterr().out)["kept_from"]["position"] == cut
    assert _ctl(data_dir, "events") == 0
    captured = capsys.readouterr()
    assert f"starts after position {cut}" in captured.err
    assert [orjson.loads(x)["position"] for x in captured.out.splitlines()] == list(range(cut + 1, len(lines) + 1))


def test_the_archive_and_an_export_of_the_rest_import_back_to_the_whole_history(pristine, data_dir, tmp_path):
    rec, lines, whole_model = pristine
    first, cut1 = _cut_at(pristine, 2)
    second, cut2 = _cut_at(pristine, 6)
    assert _ctl(data_dir, "events", "archive", "--before", first, "--to", str(tmp_path / "1.jsonl")) == 0
    assert _ctl(data_dir, "events", "archive", "--before", second, "--to", str(tmp_path / "2.jsonl")) == 0
    # the second archive continues the first
    assert [parse_line(x)[0] for x in (tmp_path / "2.jsonl").read_bytes().splitlines()] == list(range(cut1 + 1, cut2 + 1))
    assert [p for p, _ in history_bases(_snapshots(data_dir))] == [cut2]
    assert _ctl(data_dir, "events", "export", "-o", str(tmp_path / "rest.jsonl")) == 0
    restored = tmp_path / "restored"
    assert _ctl(restored, "events", "import", str(tmp_path / "1.jsonl")) == 0
    assert _ctl(restored, "events", "import", "--append", str(tmp_path / "2.jsonl")) == 0
    assert _ctl(restored, "events", "import", "--append", str(tmp_path / "rest.jsonl")) == 0
    store = _store(restored)
    assert [export_line(p, e) for p, e in store.read()] == lines
    assert _canonical(load_model(_snapshots(restored), store)[0]) == whole_model
    assert History(store, _snapshots(restored)).kept_from() is None


class Crash(BaseException):
    """What a kill at that point leaves: nothing after it runs (not an Exception: nothing catches it)."""


@pytest.mark.parametrize("step", ["archive-written", "base-written", "events-removed"])
def test_a_crash_between_the_steps_loses_nothing_and_a_second_run_finishes(pristine, data_dir, tmp_path,
                                                                         monkeypatch, step):
    rec, lines, whole_model = pristine
    before, cut = _cut_at(pristine, 5)

    def crash(reached):
        if reached == step:
            raise Crash(step)
    monkeypatch.setattr(history_cli.ARCHIVE_STEPS, "reached", crash)
    with pytest.raises(Crash):
        _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl"))
    archived = (tmp_path / "a.jsonl").read_bytes().splitlines(keepends=True)
    assert archived == lines[:cut]  # written and complete before anything else happened
    store = _store(data_dir)
    kept = [export_line(p, e) for p, e in store.read()]
    # every event is in the store or (archived and behind a base) in the archive
    assert kept == (lines if step != "events-removed" else lines[cut:])
    assert _canonical(load_model(_snapshots(data_dir), store)[0]) == whole_model
    history = History(store, _snapshots(data_dir))
    assert (history.kept_from() is None) == (step != "events-removed")
    assert history.state(rec.fsid, str(len(lines)))["osd"]
    # run again (to a new file): it finishes, and the history is the same
    monkeypatch.undo()
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "b.jsonl")) == 0
    store = _store(data_dir)
    assert store.min_position() == cut + 1
    assert all(p >= cut for p in _positions_of_snapshots(data_dir))
    assert _canonical(load_model(_snapshots(data_dir), store)[0]) == whole_model
    assert [p for p, _ in history_bases(_snapshots(data_dir))] == [cut]


def test_a_failed_verification_leaves_no_archive_and_removes_nothing(pristine, data_dir, tmp_path, monkeypatch,
                                                                     capsys):
    rec, lines, _ = pristine
    before, _ = _cut_at(pristine, 5)
    real = history_cli._write_events

    def short(store, after, until, out):  # an archive missing its last event (a disk that lost a write)
        return real(store, after, until - 1, out)
    monkeypatch.setattr(history_cli, "_write_events", short)
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 2
    assert "misses events of the store; nothing was removed" in capsys.readouterr().err
    assert not (tmp_path / "a.jsonl").exists()
    assert [export_line(p, e) for p, e in _store(data_dir).read()] == lines
    assert history_bases(_snapshots(data_dir)) == []


@pytest.mark.parametrize("before, message", [
    ("last tuesday", "invalid --before: 'last tuesday' is neither an ISO 8601 time nor an event position"),
    ("", "invalid --before: required"),
    ("-3", "invalid --before: an event position cannot be negative"),
    ("2026-13-01T00:00:00Z", "invalid --before"),
])
def test_bad_dates_get_a_clear_error_and_change_nothing(pristine, data_dir, tmp_path, capsys, before, message):
    _, lines, _ = pristine
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a.jsonl").exists()
    assert _store(data_dir).max_position() == len(lines) and _store(data_dir).min_position() == 1


def test_an_existing_file_an_early_date_and_a_late_one(pristine, data_dir, tmp_path, capsys):
    rec, lines, _ = pristine
    existing = tmp_path / "there.jsonl"
    existing.write_bytes(b"keep me\n")
    assert _ctl(data_dir, "events", "archive", "--before", "2100-01-01", "--to", str(existing)) == 2
    assert "exists" in capsys.readouterr().err and existing.read_bytes() == b"keep me\n"
    early = (rec.step_times[0] - timedelta(days=1)).isoformat()
    assert _ctl(data_dir, "events", "archive", "--before", early, "--to", str(tmp_path / "a.jsonl")) == 0
    assert "nothing to archive" in capsys.readouterr().err and not (tmp_path / "a.jsonl").exists()
    # a date after every event: all but the newest one, which numbers what comes next
    assert _ctl(data_dir, "events", "archive", "--before", "2100-01-01", "--to", str(tmp_path / "b.jsonl")) == 0
    store = _store(data_dir)
    assert store.min_position() == store.max_position() == len(lines)
    assert len((tmp_path / "b.jsonl").read_bytes().splitlines()) == len(lines) - 1


def test_a_running_server_is_not_archived_under(pristine, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(history_cli, "ask_running_server", lambda args, request, timeout=None: {"ok": False})
    assert _ctl(data_dir, "events", "archive", "--before", "2100-01-01", "--to", str(tmp_path / "a.jsonl")) == 2
    assert "the server is running on this data dir: stop it first" in capsys.readouterr().err
    assert _store(data_dir).min_position() == 1


def test_a_damaged_base_stops_the_start_instead_of_losing_the_archived_past(pristine, data_dir, tmp_path):
    before, cut = _cut_at(pristine, 4)
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "a.jsonl")) == 0
    for position in _positions_of_snapshots(data_dir):  # only the base can start the model
        os.remove(os.path.join(_snapshots(data_dir), f"snapshot-{position:012d}.msgpack"))
    (_, path), = history_bases(_snapshots(data_dir))
    data = bytearray(open(path, "rb").read())
    data[-5] ^= 0x40
    open(path, "wb").write(bytes(data))
    with pytest.raises(HistoryBaseUnusable, match="cannot be loaded"):
        load_model(_snapshots(data_dir), _store(data_dir))
    assert newest_snapshot(_snapshots(data_dir)) is None


KILLED_AT = """
import os, sys
from calamari.service import ctl, history_cli
step = sys.argv[1]
history_cli.ARCHIVE_STEPS.reached = lambda reached: os.kill(os.getpid(), 9) if reached == step else None
ctl.main(sys.argv[2:])
"""


@pytest.mark.parametrize("step", ["archive-written", "base-written", "events-removed"])
def test_a_kill_9_between_the_steps_loses_nothing(pristine, data_dir, tmp_path, step):
    """As above, with the process killed outright (no clean-up runs, nothing more is flushed)."""
    import subprocess
    import sys

    rec, lines, whole_model = pristine
    before, cut = _cut_at(pristine, 5)
    done = subprocess.run([sys.executable, "-c", KILLED_AT, step, "--data-dir", data_dir, "events", "archive",
                           "--before", before, "--to", str(tmp_path / "a.jsonl")], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert (tmp_path / "a.jsonl").read_bytes().splitlines(keepends=True) == lines[:cut]
    store = _store(data_dir)
    assert [export_line(p, e) for p, e in store.read()] == (lines if step != "events-removed" else lines[cut:])
    assert _canonical(load_model(_snapshots(data_dir), store)[0]) == whole_model
    assert _ctl(data_dir, "events", "archive", "--before", before, "--to", str(tmp_path / "b.jsonl")) == 0
    assert _canonical(load_model(_snapshots(data_dir), _store(data_dir))[0]) == whole_model
    assert _store(data_dir).min_position() == cut + 1
