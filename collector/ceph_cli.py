"""The `ceph` CLI as a backend: an argv list, never a shell, one process per command; the last resort
and what takes over a command the other backends fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

from collector.ceph_backend import CephCommandError


def cli_argv(prefix: str, args: dict[str, Any]) -> list[str]:
    """`ceph` CLI words for a JSON command: prefix words, then argument values in the order given
    (the CLI matches positional words against the command signature); true flags become
    `--flag-name`."""
    argv = prefix.split()
    for key, value in args.items():
        if key in ("prefix", "format"):
            continue
        if isinstance(value, bool):
            if value:
                argv.append("--" + key.replace("_", "-"))
        elif isinstance(value, list):
            argv.extend(str(item) for item in value)
        elif value is not None:
            argv.append(str(value))
    return argv



class CliBackend:
    name = "cli"

    def __init__(self, conffile: str, keyring: str | None, name: str, timeout: float) -> None:
        executable = shutil.which("ceph")
        if executable is None:
            raise RuntimeError("neither librados for Python nor the ceph CLI is available")
        self.base = [executable, "--conf", conffile, "--name", name, "--connect-timeout", str(int(timeout))]
        if keyring:
            self.base += ["--keyring", keyring]
        self.timeout = timeout

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        argv = [*self.base, *cli_argv(prefix, args), "--format", "json"]
        with tempfile.TemporaryDirectory(prefix="calamari-input-") as work:
            if inbuf:  # the CLI reads a command's input data from a file (-i)
                input_file = os.path.join(work, "input")
                with open(input_file, "wb") as f:
                    f.write(inbuf)
                argv += ["-i", input_file]
            try:
                done = subprocess.run(argv, capture_output=True, timeout=self.timeout * 2, check=False)
            except subprocess.TimeoutExpired:
                return -110, b"", f"ceph {prefix}: timed out"
        rc = -done.returncode if done.returncode > 0 else done.returncode
        return rc, done.stdout, done.stderr.decode("utf-8", "replace").strip()

    def fsid(self) -> str:
        rc, out, err = self.command("fsid", {}, "mon")
        if rc != 0:
            raise CephCommandError("fsid", rc, err)
        value = json.loads(out)
        return value["fsid"] if isinstance(value, dict) else str(value)

    def close(self) -> None:
        return None
