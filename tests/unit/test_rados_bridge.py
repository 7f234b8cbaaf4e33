"""librados through another interpreter (collector/rados_bridge.py): the worker runs here on a
stand-in `rados` module, so that framing, timeouts, a worker's death and its restart are tested
without a cluster."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from collector.rados_bridge import BridgeUnavailable, RadosBridgeBackend, bridge_for, script_interpreter

FAKE_RADOS = textwrap.dedent('''
    """A stand-in for librados's binding: commands answer from their prefix."""
    import json, os, time

    class Error(Exception):
        pass

    class Rados:
        def __init__(self, conffile=None, conf=None, name=None):
            self.conffile, self.conf, self.name = conffile, conf or {}, name

        def connect(self, timeout=0):
            if "unreachable" in self.conffile:
                raise Error("error connecting to the cluster")

        def get_fsid(self):
            return "fake-fsid"

        def _answer(self, target, cmd, inbuf):
            command = json.loads(cmd)
            prefix = command["prefix"]
            if prefix == "hang":
                time.sleep(3600)
            if prefix == "die":
                os._exit(3)
            if prefix == "raise":
                raise Error("the binding failed")
            if prefix == "chatty":
                print("a library's stray output", flush=True)
            if prefix == "big":
                return 0, b"x" * (3 << 20), ""
            if prefix == "bad":
                return -22, b"", "command not known"
            answer = {"target": target, "command": command, "inbuf": inbuf.decode(),
                      "timeout": self.conf.get("rados_mon_op_timeout"), "name": self.name}
            return 0, json.dumps(answer).encode(), "done"

        def mon_command(self, cmd, inbuf, timeout=0):
            return self._answer("mon", cmd, inbuf)

        def mgr_command(self, cmd, inbuf, timeout=0):
            return self._answer("mgr", cmd, inbuf)

        def shutdown(self):
            pass
''')


@pytest.fixture
def fake_rados(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the stand-in `rados`, on the path of the interpreters started from here."""
    (tmp_path / "rados.py").write_text(FAKE_RADOS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def bridge(conffile: str = "/etc/ceph/ceph.conf", timeout: float = 1.0) -> RadosBridgeBackend:
    return RadosBridgeBackend([sys.executable], conffile, None, "client.admin", timeout)


def test_commands_go_through_the_worker_with_their_input_and_target(fake_rados: Path) -> None:
    backend = bridge()
    try:
        assert backend.fsid() == "fake-fsid"
        rc, out, err = backend.command("osd setcrushmap", {"epoch": 7}, "mon", b"compiled\nmap")
        answer = json.loads(out)
        assert (rc, err) == (0, "done")
        assert answer["command"] == {"prefix": "osd setcrushmap", "epoch": 7, "format": "json"}
        assert answer["inbuf"] == "compiled\nmap" and answer["target"] == "mon" and answer["timeout"] == "1"
        assert json.loads(backend.command("pg dump", {}, "mgr")[1])["target"] == "mgr"
        assert backend.command("bad", {}, "mon") == (-22, b"", "command not known")
        rc, out, _ = backend.command("big", {}, "mon")  # larger than any pipe buffer
        assert rc == 0 and out == b"x" * (3 << 20)
        assert backend.command("raise", {}, "mon")[0] < 0  # the binding's exception becomes an rc
        assert backend.starts == 1  # one worker served them all
        assert backend.cpu_seconds() > 0
    finally:
        backend.close()


def test_a_worker_that_does_not_answer_is_killed_and_replaced(fake_rados: Path) -> None:
    backend = bridge(timeout=0.3)
    try:
        first = backend.pid
        rc, out, err = backend.command("hang", {}, "mon")
        assert rc == -110 and out == b"" and "no answer" in err
        rc, out, _ = backend.command("status", {}, "mon")  # a new worker; no stale answer mixed in
        assert rc == 0 and json.loads(out)["command"]["prefix"] == "status"
        assert backend.pid != first and backend.starts == 2
    finally:
        backend.close()


def test_a_worker_that_dies_is_reported_and_replaced(fake_rados: Path) -> None:
    backend = bridge()
    try:
        with pytest.raises(BridgeUnavailable, match="exited"):
            backend.command("die", {}, "mon")
        assert backend.command("status", {}, "mon")[0] == 0
        assert backend.starts == 2
    finally:
        backend.close()


def test_a_worker_that_cannot_connect_is_not_used_and_not_retried_at_once(fake_rados: Path) -> None:
    with pytest.raises(BridgeUnavailable, match="error connecting"):
        bridge("/unreachable/ceph.conf")
    fake_ceph = fake_rados / "ceph"
    fake_ceph.write_text(f"#!{sys.executable}\n")
    assert bridge_for(str(fake_ceph), "/unreachable/ceph.conf", None, "client.admin", 1.0) is None
    # one that started, then lost its worker and cannot start another, waits before trying again
    backend = bridge()
    try:
        backend.settings["conffile"] = "/unreachable/ceph.conf"
        with pytest.raises(BridgeUnavailable, match="exited"):
            backend.command("die", {}, "mon")
        with pytest.raises(BridgeUnavailable, match="error connecting"):
            backend.command("status", {}, "mon")
        assert backend.starts == 2
        with pytest.raises(BridgeUnavailable, match="later"):
            backend.command("status", {}, "mon")
        assert backend.starts == 2  # no third process within RESTART_DELAY_S
    finally:
        backend.close()


def test_output_that_is_not_an_answer_ends_that_worker(fake_rados: Path) -> None:
    backend = bridge()
    try:
        with pytest.raises(BridgeUnavailable, match="stray output"):
            backend.command("chatty", {}, "mon")
        assert backend.command("status", {}, "mon")[0] == 0  # a new worker, in step again
        assert backend.starts == 2
    finally:
        backend.close()


@pytest.mark.parametrize(("first_line", "expected"), [
    ("#! /usr/bin/python3\n", ["/usr/bin/python3"]),
    ("#!/usr/bin/python3.9 -s\n", ["/usr/bin/python3.9", "-s"]),
    ("#!/usr/bin/env python3\n", ["/usr/bin/env", "python3"]),
    ("#!/usr/libexec/platform-python -s\n", ["/usr/libexec/platform-python", "-s"]),
    ("#!/bin/bash\n", None),
    ("#!/usr/bin/env bash\n", None),
    ("#!\n", None),
    ("\x7fELF\x02\x01", None),
])
def test_the_interpreter_of_the_ceph_command_is_found_only_for_python(tmp_path: Path, first_line: str,
                                                                       expected: list[str] | None) -> None:
    script = tmp_path / "ceph"
    script.write_text(first_line + "print('hello')\n")
    assert script_interpreter(str(script)) == expected


def test_a_missing_ceph_command_has_no_interpreter(tmp_path: Path) -> None:
    assert script_interpreter(str(tmp_path / "absent")) is None
