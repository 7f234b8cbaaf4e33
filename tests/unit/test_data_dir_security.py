"""The data dir holds password hashes and the server's secret key: everything in it is the
server user's alone (0700 directories, 0600 files), including what SQLite, whisper and the
snapshot writer create while the server runs, and what an older version left readable is
tightened at start, with a log line. A data dir or event store the server cannot use stops it
with one line and exit status 2, not a traceback."""

from __future__ import annotations

import logging
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from api_support import FAST_HASHER
from support import tmpfs_mount

from calamari.service import main as server_main
from calamari.service.auth import AuthService
from calamari.service.model import ModelService, ServiceConfig
from calamari.testing.live import BIN, CalamariServer, wait_for


def loose_entries(root: Path) -> list[tuple[str, str]]:
    """Directories and files under `root` (itself included) that others or the group may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append((str(path.relative_to(root)), oct(stat.S_IMODE(mode))))
    return found


def test_a_running_server_keeps_everything_in_its_data_dir_owner_only(tmp_path):
    data = tmp_path / "data"
    server = CalamariServer(data, secure_bus=True,
                            extra=["--simulate", "hosts=1,osds=3", "--snapshot-every-events", "20",
                                   "--snapshot-every-seconds", "1", "--whisper-retention", "1m:1h"])
    with server.running():

        def everything_there() -> bool:
            names = {p.name for p in data.rglob("*")}
            return ("events.db-wal" in names and "events.db-shm" in names and "server.key" in names
                    and any(n.startswith("snapshot-") for n in names) and any(n.endswith(".wsp") for n in names))

        wait_for(everything_there, 90, "the store's WAL, a snapshot, the server key and whisper files")
        assert loose_entries(data) == []


def test_loose_permissions_left_by_an_older_version_are_tightened_at_start(tmp_path, caplog):
    config = ServiceConfig(data_dir=str(tmp_path / "data"))
    ModelService(config).close()
    (tmp_path / "data" / "snapshots").mkdir(exist_ok=True)
    (tmp_path / "data" / "snapshots" / "snapshot-000000000001.msgpack").write_bytes(b"x")
    for path in [tmp_path / "data", *(tmp_path / "data").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    outside = tmp_path / "not-ours"
    outside.write_text("")
    outside.chmod(0o644)
    (tmp_path / "data" / "link").symlink_to(outside)
    assert loose_entries(tmp_path / "data")

    with caplog.at_level(logging.WARNING):
        ModelService(config).close()

    assert loose_entries(tmp_path / "data") == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link's target is not ours to change
    assert "took group and other permissions off" in caplog.text


def test_an_unusable_data_dir_stops_the_server_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status = server_main.main(["--data-dir", str(blocker / "data"), "--api", "127.0.0.1:0",
                               "--bus", "tcp://127.0.0.1:0", "--insecure-bus"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("calamari-server: the data dir") and "Traceback" not in err


def test_a_damaged_event_stops_the_server_with_one_line_naming_it(tmp_path, capsys):
    data = tmp_path / "data"
    ModelService(ServiceConfig(data_dir=str(data))).close()
    service = ModelService(ServiceConfig(data_dir=str(data)))
    AuthService(service, hasher=FAST_HASHER).add_user("someone", "correct-horse-1", "read-only", "test")
    service.close()
    db = sqlite3.connect(data / "events.db")
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 1").fetchone()
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = 1", (state[:-1] + bytes([state[-1] ^ 4]),))
    db.commit()
    db.close()

    status = server_main.main(["--data-dir", str(data), "--api", "127.0.0.1:0", "--bus", "tcp://127.0.0.1:0",
                               "--insecure-bus", "--log-level", "ERROR"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "position 1" in err and "Traceback" not in err


@pytest.fixture
def read_only_mount(tmp_path):
    """A small tmpfs, remounted read-only by the test; skipped where mounting is not allowed."""
    with tmpfs_mount(tmp_path / "mnt", "16m") as mount:
        yield mount


def test_a_read_only_data_dir_stops_the_real_server_with_one_line(read_only_mount):
    data = read_only_mount / "data"
    CalamariServer(data)  # a store with a user, as an installed server has
    (data / "whisper").mkdir()  # and its time series: what a server that ran before leaves
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True, capture_output=True)
    done = subprocess.run([str(BIN / "calamari-server"), "--data-dir", str(data), "--api", "127.0.0.1:0",
                           "--bus", "tcp://127.0.0.1:0", "--insecure-bus"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"calamari-server: the data dir {data} is on a read-only file system"]


def test_calamari_ctl_on_a_read_only_data_dir_says_so_in_one_line(read_only_mount):
    data = read_only_mount / "data"
    CalamariServer(data)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True, capture_output=True)
    done = subprocess.run([str(BIN / "calamari-ctl"), "--data-dir", str(data), "user", "add", "another",
                           "--role", "read-only"], input="correct-horse-1\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calamari-ctl: the ") and "Traceback" not in done.stderr, \
        done.stderr
