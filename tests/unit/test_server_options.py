"""calamari-server refuses a bad option with a reason, before it starts anything."""

import os

import pytest

from calamari.service import main as server_main


def test_a_bad_whisper_retention_is_refused_before_anything_starts(tmp_path, capsys):
    rc = server_main.main(["--data-dir", str(tmp_path), "--whisper-retention", "every:now",
                           "--api", "127.0.0.1:1", "--bus", "tcp://127.0.0.1:1", "--insecure-bus"])
    assert rc == 2
    assert "--whisper-retention" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "events.db")  # no store was opened


def test_the_retention_option_reaches_new_whisper_files():
    args = server_main.parse_args(["--whisper-retention", "1m:1d,1h:90d"])
    assert args.whisper_retention == "1m:1d,1h:90d"
    assert server_main.parse_args([]).whisper_retention == "1m:1d,5m:30d,1h:1y"


def test_mgr_notify_endpoints_or_none_and_a_bad_one_refused(tmp_path, capsys):
    assert server_main.parse_args([]).mgr_notify == []
    assert server_main.parse_args(["--mgr-notify", "none"]).mgr_notify == []
    from collector.ceph_mgr.calamari_notify.wire import DEFAULT_PORT

    assert server_main.parse_args(["--mgr-notify", "mgr1:7412,[::1]"]).mgr_notify == [("mgr1", 7412), ("::1", DEFAULT_PORT)]
    with pytest.raises(SystemExit) as exited:
        server_main.main(["--data-dir", str(tmp_path), "--mgr-notify", "mgr1:notaport",
                          "--api", "127.0.0.1:1", "--bus", "tcp://127.0.0.1:1", "--insecure-bus"])
    assert exited.value.code == 2
    assert "--mgr-notify: not a TCP port: 'notaport'" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "events.db")
