"""The simulated cluster log: entries (`ceph log last` format) not yet reported to the server, and
the recent ones that the monitor hosts' ceph.log shows."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from collector.simulator.ceph import ceph_stamp

HISTORY_ENTRIES = 2000  # bounded like a rotated file


class ClusterLog:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seq = 0
        self._pending: list[dict[str, Any]] = []
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY_ENTRIES)

    def record(self, message: str, priority: str = "[INF]", who: str = "mon.a") -> None:
        self._seq += 1
        entry = {
            "name": who,
            "rank": who,
            "addrs": {"addrvec": [{"type": "v2", "addr": "10.0.0.1:3300", "nonce": 0}]},
            "stamp": ceph_stamp(self._clock()),
            "seq": self._seq,
            "channel": "cluster",
            "priority": priority,
            "message": message,
        }
        self._pending.append(entry)
        self._history.append(entry)

    def take_new(self) -> list[dict[str, Any]]:
        """The entries recorded since the previous call."""
        entries, self._pending = self._pending, []
        return entries

    def history(self) -> list[dict[str, Any]]:
        """The most recent entries, oldest first."""
        return list(self._history)
