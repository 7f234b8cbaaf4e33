"""Ceph through librados in the collector's own process (`mon_command` / `mgr_command` with JSON
commands)."""

from __future__ import annotations

import json
from typing import Any


class RadosBackend:
    name = "librados"

    def __init__(self, conffile: str, keyring: str | None, name: str, timeout: float) -> None:
        import rados  # imported here: the CLI backend must work without the binding

        # mon_command's own timeout argument is ignored by librados: without this a command to a
        # cluster whose monitors are down waits for the conf's (or default) mon op timeout.
        conf = {"rados_mon_op_timeout": str(int(max(1, timeout))), "client_mount_timeout": str(int(max(1, timeout)))}
        if keyring:
            conf["keyring"] = keyring
        self.timeout = timeout
        self.cluster = rados.Rados(conffile=conffile, conf=conf, name=name)
        self.cluster.connect(timeout=int(timeout))

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        payload = json.dumps({"prefix": prefix, **args, "format": "json"})
        if target == "mgr":
            rc, out, err = self.cluster.mgr_command(payload, inbuf, timeout=int(self.timeout))
        else:
            rc, out, err = self.cluster.mon_command(payload, inbuf, timeout=int(self.timeout))
        return rc, out, err

    def fsid(self) -> str:
        return self.cluster.get_fsid()

    def close(self) -> None:
        self.cluster.shutdown()
