"""`calamari-ctl events export|import`: lossless JSON lines, export → import answers every history
query the same, and an import checks every line before it writes anything."""

import os
from datetime import UTC, datetime
from uuid import UUID

import orjson
import pytest
from history_fixtures import record_history
from hypothesis import given, settings
from hypothesis import strategies as st

from calamari.adapters.event_export import ExportFormatError, export_line, from_tagged, parse_line, to_tagged
from calamari.adapters.event_store import EventStore, event_record
from calamari.adapters.snapshots import newest_snapshot
from calamari.service import ctl
from calamari.service.history import History


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, capture_dir):
    rec, _ = record_history(str(tmp_path_factory.mktemp("export")), capture_dir)
    return rec


@pytest.fixture(scope="module")
def export_file(recorded, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("files") / "all.jsonl")
    assert ctl.main(["--data-dir", recorded.data_dir, "events", "export", "--output", path]) == 0
    return path


def _ctl(data_dir, *args):
    return ctl.main(["--data-dir", str(data_dir), *args])


plain = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.text(max_size=8),
                  st.floats(allow_nan=False), st.sampled_from([float("inf"), float("-inf")]),
                  st.datetimes(timezones=st.just(UTC)), st.uuids(), st.binary(max_size=8))
values = st.recursive(plain, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers(-5, 5)), inner, max_size=4)), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(values)
def test_tagged_json_is_lossless(value):
    back = from_tagged(orjson.loads(orjson.dumps(to_tagged(value))))
    assert back == value
    assert type(back) is type(value)


def test_every_line_has_the_readable_record_and_the_exact_event(recorded, export_file):
    with open(export_file, "rb") as f:
        lines = f.readlines()
    stored = list(recorded.store.read())
    assert len(lines) == len(stored) == recorded.store.max_position()
    for line, (position, event) in zip(lines, stored, strict=True):
        record = orjson.loads(line)
        assert {k: record[k] for k in event_record(position, event)} == event_record(position, event)
        back_position, back = parse_line(line)
        assert back_position == position and type(back) is type(event) and vars(back) == vars(event)


def test_export_since_until_by_position_and_time(recorded, tmp_path):
    out = tmp_path / "part.jsonl"
    assert _ctl(recorded.data_dir, "events", "export", "--since", "10", "--until", "20", "-o", str(out)) == 0
    assert [parse_line(x)[0] for x in out.read_bytes().splitlines()] == list(range(11, 21))
    when = recorded.step_times[4].isoformat()
    assert _ctl(recorded.data_dir, "events", "export", "--until", when, "-o", str(out)) == 0
    assert len(out.read_bytes().splitlines()) == recorded.step_positions[4]
    assert _ctl(recorded.data_dir, "events", "export", "--since", "20", "--until", "10") == 2
    assert _ctl(recorded.data_dir, "events", "export", "--since", "soon") == 2


def test_export_import_answers_every_history_query_the_same(recorded, export_file, tmp_path):
    target = tmp_path / "restored"  # does not exist yet: import creates it
    assert _ctl(target, "events", "import", export_file, "--snapshot-every", "10") == 0
    assert newest_snapshot(os.path.join(target, "snapshots")) is not None
    original = History(recorded.store, recorded.snapshot_dir)
    restored = History(EventStore(f"sqlite:///{target}/events.db"), os.path.join(target, "snapshots"))
    end = original.end()
    assert restored.end() == end
    for position in range(end + 1):
        for query in (str(position),):
            try:
                expected = original.state(recorded.fsid, query)
            except LookupError:
                with pytest.raises(LookupError):
                    restored.state(recorded.fsid, query)
                continue
            assert restored.state(recorded.fsid, query) == expected
    for when in recorded.step_times:
        assert restored.state(recorded.fsid, when.isoformat()) == original.state(recorded.fsid, when.isoformat())
    for start, stop in ((0, end), (5, 30), (recorded.step_positions[3], recorded.step_positions[7])):
        assert restored.diff(recorded.fsid, str(start), str(stop)) == original.diff(recorded.fsid, str(start), str(stop))
    # the readable `events` command prints the same lines
    assert [event_record(p, e) for p, e in restored.store.read()] == \
        [event_record(p, e) for p, e in original.store.read()]


def test_existing_events_command_is_unchanged(recorded, capsys):
    assert _ctl(recorded.data_dir, "events", "--since", "3") == 0
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["position"] for r in lines] == list(range(4, recorded.store.max_position() + 1))
    assert set(lines[0]) == {"position", "type", "aggregate", "aggregate_id", "aggregate_version", "time", "data"}


def test_import_refuses_a_data_dir_with_events_and_appends_only_when_told(export_file, tmp_path, capsys):
    lines = open(export_file, "rb").readlines()
    head, tail = tmp_path / "head.jsonl", tmp_path / "tail.jsonl"
    head.write_bytes(b"".join(lines[:30]))
    tail.write_bytes(b"".join(lines[30:]))
    target = tmp_path / "dir"
    assert _ctl(target, "events", "import", str(head)) == 0
    assert _ctl(target, "events", "import", str(tail)) == 2
    assert "already has 30 events" in capsys.readouterr().err
    store = EventStore(f"sqlite:///{target}/events.db")
    assert store.max_position() == 30
    assert _ctl(target, "events", "import", str(head), "--append") == 2  # does not continue them
    assert "expected 31" in capsys.readouterr().err
    assert _ctl(target, "events", "import", str(tail), "--append") == 0
    assert store.max_position() == len(lines)
    assert [export_line(p, e) for p, e in store.read()] == lines


def _corrupt(lines, index, change):
    record = orjson.loads(lines[index])
    change(record)
    return [*lines[:index], orjson.dumps(record) + b"\n", *lines[index + 1:]]


@pytest.mark.parametrize("name, mutate, message", [
    ("not json", lambda ls: [*ls[:40], b"{oops\n", *ls[41:]], ":41: not JSON"),
    ("gap", lambda ls: ls[:20] + ls[21:], ":21: position 22, expected 21"),
    ("partial export", lambda ls: ls[5:], ":1: position 6, expected 1"),
    ("foreign topic", lambda ls: _corrupt(ls, 7, lambda r: r.update(topic="os:system")), "not a calamari event"),
    ("unknown class", lambda ls: _corrupt(ls, 7, lambda r: r.update(topic="calamari.domain.osd:Osd.Nope")),
     "unknown topic"),
    ("bad uuid", lambda ls: _corrupt(ls, 9, lambda r: r["state"].update(originator_id={"$uuid": "x"})), "bad $uuid"),
    ("untagged id", lambda ls: _corrupt(ls, 9, lambda r: r["state"].update(originator_id="x")), "tagged UUID"),
    ("version skip", lambda ls: _corrupt(ls, 50, lambda r: r["state"].update(originator_version=99)),
     "does not follow"),
    ("missing field", lambda ls: _corrupt(ls, 3, lambda r: r.pop("state")), "missing state"),
    ("empty", lambda ls: [], "no events"),
])
def test_import_validates_every_line_before_writing_anything(export_file, tmp_path, capsys, name, mutate, message):
    lines = open(export_file, "rb").readlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(mutate(lines)))
    target = tmp_path / "target"
    assert _ctl(target, "events", "import", str(bad)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    db = target / "events.db"
    assert not db.exists() or EventStore(f"sqlite:///{db}").max_position() == 0
    assert newest_snapshot(str(target / "snapshots")) is None


def test_parse_line_rejects_what_is_not_an_event():
    good = export_line(1, _sample_event())
    assert parse_line(good)[0] == 1
    for line, reason in ((b"[]", "not a JSON object"), (b"{}", "missing"),
                         (good.replace(b'"position":1', b'"position":0'), "positive integer")):
        with pytest.raises(ExportFormatError, match=reason):
            parse_line(line)


def _sample_event():
    from calamari.domain.cluster import Cluster

    cluster = Cluster._create(Cluster.ClusterDiscovered, id=UUID(int=1), timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                              fsid="f", name="ceph")
    return cluster.pending_events[0]
