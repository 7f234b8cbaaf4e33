"""What planning a request gives: a Plan (the Ceph commands to run, the objects they change and
what the map must then show), or RequestRejected with per-field reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RequestRejected(ValueError):
    """A change that must not be sent. `status`: 400 invalid, 404 unknown object, 409 conflict,
    503 the cluster has not told us enough yet."""

    def __init__(self, detail: str, errors: dict[str, str] | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        self.status = status


@dataclass
class Plan:
    kind: str
    headline: str
    targets: list[str]  # objects the request changes (two open requests may not share one)
    commands: list[dict[str, Any]]
    expect: list[dict[str, Any]] = field(default_factory=list)  # empty: done when commands succeed
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return ",".join(self.targets)


def command(prefix: str, **args: Any) -> dict[str, Any]:
    return {"prefix": prefix, "args": args, "target": "mon"}
