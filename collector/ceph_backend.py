"""What the CephSource asks of a way to reach Ceph (librados, the bridge, the CLI), and the error of
a command Ceph refused."""

from __future__ import annotations

from typing import Any, Protocol


class CephBackend(Protocol):
    name: str

    def command(self, prefix: str, args: dict[str, Any], target: str, inbuf: bytes = b"") -> tuple[int, bytes, str]:
        """(rc, output, error text) of one JSON command; raises when the backend itself fails."""

    def fsid(self) -> str: ...

    def close(self) -> None: ...


class CephCommandError(RuntimeError):
    def __init__(self, prefix: str, rc: int, err: str) -> None:
        super().__init__(f"{prefix}: rc={rc} {err}")
        self.rc = rc
        self.err = err
