"""`calamari-ctl` against a data dir whose server is running: the server makes the change itself
(a running server does not read what other processes append), so nothing is lost."""

import io
import sys

from calamari.adapters.curve_keys import server_key_dir
from calamari.adapters.snapshots import newest_snapshot
from calamari.bootstrap import build_services
from calamari.service import ctl
from calamari.service.auth import AuthService
from calamari.service.control import ControlServer, snapshot_handler, user_handlers
from calamari.service.model import ModelService, ServiceConfig
from tests.unit.api_support import FAST_HASHER, feed_step, step


def test_user_add_and_snapshot_go_through_the_running_server(tmp_path, capture_dir, monkeypatch, capsys):
    config = ServiceConfig(data_dir=str(tmp_path), snapshot_every_events=10**9)
    service = ModelService(config)
    auth = AuthService(service, hasher=FAST_HASHER)
    build_services(service, auth=auth)
    control = ControlServer(server_key_dir(str(tmp_path)), {**snapshot_handler(service), **user_handlers(auth)})
    control.start()
    try:
        feed_step(service, step(capture_dir, "00"))
        monkeypatch.setattr(sys, "stdin", io.StringIO("a-Long-enough-pass-77\n"))
        assert ctl.main(["--data-dir", str(tmp_path), "user", "add", "alice", "--role", "operator"]) == 0
        # the running server knows her at once, and can log her in
        assert auth.get("alice") is not None and auth.get("alice").role == "operator"
        monkeypatch.setattr(sys, "stdin", io.StringIO("a-Long-enough-pass-77\n"))
        assert ctl.main(["--data-dir", str(tmp_path), "user", "add", "alice", "--role", "admin"]) == 1
        assert "exists" in capsys.readouterr().err

        assert ctl.main(["--data-dir", str(tmp_path), "snapshot"]) == 0
        assert "running server" in capsys.readouterr().out
        service.writer.flush(10)
        assert newest_snapshot(config.snapshot_dir)[0] == service.store.max_position()
    finally:
        control.stop()
        service.close()

    # and after a restart she is still there: her events went through the server's own writer
    again = ModelService(config)
    try:
        assert again.model.users["alice"].role == "operator"
    finally:
        again.close()


def test_user_add_writes_the_store_when_no_server_runs(tmp_path, monkeypatch):
    ModelService(ServiceConfig(data_dir=str(tmp_path))).close()
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-Long-enough-pass-77\n"))
    assert ctl.main(["--data-dir", str(tmp_path), "user", "add", "bob", "--role", "read-only"]) == 0
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert service.model.users["bob"].role == "read-only"
    finally:
        service.close()


def test_user_add_refuses_a_malformed_email_before_anything_is_written(tmp_path, monkeypatch, capsys):
    ModelService(ServiceConfig(data_dir=str(tmp_path))).close()
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-Long-enough-pass-77\n"))
    assert ctl.main(["--data-dir", str(tmp_path), "user", "add", "carol", "--email", "carol at example"]) == 2
    assert "email" in capsys.readouterr().err
    service = ModelService(ServiceConfig(data_dir=str(tmp_path)))
    try:
        assert "carol" not in service.model.users
    finally:
        service.close()
