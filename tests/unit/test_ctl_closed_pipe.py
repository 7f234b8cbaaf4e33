"""`calamari-ctl events | head`: when the reader closes the pipe, calamari-ctl stops quietly
(exit 141, as a process killed by SIGPIPE) instead of printing a BrokenPipeError traceback."""

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from calamari.service import ctl
from calamari.service.model import ModelService, ServiceConfig


class ClosedPipe(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def stored_events(data_dir: str, hosts: int) -> None:
    service = ModelService(ServiceConfig(data_dir=data_dir))
    start = datetime(2026, 11, 25, tzinfo=UTC)
    for i in range(hosts):
        service.on_server_facts(None, {"fqdn": f"host{i}.example.net", "hostname": f"host{i}",
                                       "kernel": "x" * 200, "services": []}, start + timedelta(seconds=i))
    service.writer.flush(10)
    service.close()


def test_events_to_a_closed_pipe_exit_141_without_a_traceback(tmp_path, monkeypatch, capsys) -> None:
    stored_events(str(tmp_path), 3)
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(ClosedPipe(), 16)))
    assert ctl.main(["--data-dir", str(tmp_path), "events"]) == 141
    assert capsys.readouterr().err == ""


def test_events_piped_into_head(tmp_path) -> None:
    stored_events(str(tmp_path), 400)  # far more than a pipe buffer of output
    ctl_bin = os.path.join(os.path.dirname(sys.executable), "calamari-ctl")
    proc = subprocess.Popen([ctl_bin, "--data-dir", str(tmp_path), "events"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b'{"position":1,')
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err
