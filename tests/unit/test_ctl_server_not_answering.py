"""A server that takes calamari-ctl's request on the control channel but does not answer in time
(busy, hung): the command says so in one line and exits 2, and it does not write the change to
the store behind the running server's back."""

import io
import sys
import threading

import pytest

from calamari.adapters.curve_keys import server_key_dir
from calamari.adapters.event_store import EventStore
from calamari.service import ctl, ctl_data_dir, snapshot_cli
from calamari.service.control import ControlServer, ServerNotAnswering, call_running_server
from calamari.service.model import ModelService, ServiceConfig

COMMANDS = {
    "user add": ["user", "add", "alice", "--role", "operator"],
    "key accept": ["key", "accept", "ceph-1"],
    "key list": ["key", "list"],
    "cluster reset-versions": ["cluster", "reset-versions", "5f6d2c3e-0000-4000-8000-000000000001"],
    "snapshot": ["snapshot"],
}
OPS = ("user_add", "accept", "list", "cluster_reset_versions", "snapshot")


@pytest.fixture
def silent_server(tmp_path, monkeypatch):
    """A data dir with a store, and a running server whose handlers wait until released."""
    ModelService(ServiceConfig(data_dir=str(tmp_path))).close()
    released = threading.Event()

    def wait_then_answer(request):
        released.wait(120)  # longer than any timeout of calamari-ctl; released at the end of the test
        return {"ok": True}

    control = ControlServer(server_key_dir(str(tmp_path)), dict.fromkeys(OPS, wait_then_answer))
    control.start()
    monkeypatch.setattr(ctl_data_dir, "ANSWER_TIMEOUT_S", 0.2)
    monkeypatch.setattr(snapshot_cli, "SNAPSHOT_TIMEOUT_S", 0.2)
    try:
        yield tmp_path
    finally:
        released.set()
        control.stop()


def test_the_client_tells_a_server_that_does_not_answer_from_one_that_does_not_run(silent_server):
    with pytest.raises(ServerNotAnswering, match="did not answer within 0.2 s"):
        call_running_server(server_key_dir(str(silent_server)), {"op": "list"}, timeout=0.2)


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_command_says_so_and_writes_nothing(silent_server, command, monkeypatch, capsys):
    store_url = ServiceConfig(data_dir=str(silent_server)).store_url
    before = EventStore(store_url).max_position()
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-Long-enough-pass-77\n"))
    assert ctl.main(["--data-dir", str(silent_server), *command]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == "calamari-ctl: the running server did not answer within 0.2 s", err
    assert "Traceback" not in err and out == ""
    assert EventStore(store_url).max_position() == before  # not done on the store instead
