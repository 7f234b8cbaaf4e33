"""Maps on their way: ceph-mgr's calamari_notify module announces each new OSD and file system
map as ceph-mgr takes it in, milliseconds before the collector has read it and the server has it
from the collector. A read of that cluster meanwhile would answer with what is known to be stale,
so it waits for the map (for at most `wait_s`), as the Ceph Dashboard's reads wait inside ceph-mgr
while it takes a new map in. An announcement is only ever a reason to wait: what the API shows
still comes from the collector, checked as always."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

COMING_WAIT_S = 0.05


class MapsComing:
    """Which versions of which maps each cluster is expecting, until they arrive or `wait_s` has
    passed since they were announced."""

    def __init__(self, wait_s: float = COMING_WAIT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.wait_s = wait_s
        self._clock = clock
        self._changed = threading.Condition(threading.Lock())
        self._coming: dict[str, dict[str, tuple[int, float]]] = {}  # fsid -> name -> (version, deadline)
        self.waits = 0  # reads that waited
        self.timeouts = 0  # announced versions that did not come in time

    def expect(self, fsid: str, name: str, version: int, *, replace: bool = False) -> None:
        """Wait for `version` of map `name` (or a newer one): with `replace`, instead of what was
        expected of that map before, else as well (the newer of the two)."""
        with self._changed:
            maps = self._coming.setdefault(fsid, {})
            held = maps.get(name)
            newest = version if held is None or replace else max(version, held[0])
            maps[name] = (newest, self._clock() + self.wait_s)

    def withdraw(self, fsid: str, name: str) -> None:
        """Map `name` of `fsid` is no longer awaited, whatever version was."""
        with self._changed:
            self._forget(fsid, name)

    def arrived(self, fsid: str, name: str, version: int) -> None:
        """Version `version` of map `name` is in the model (or a newer one): no longer awaited."""
        with self._changed:
            expected = self._coming.get(fsid, {}).get(name)
            if expected is not None and version >= expected[0]:
                self._forget(fsid, name)

    def _forget(self, fsid: str, name: str) -> None:
        """(Under the condition) map `name` of `fsid` no longer awaited; waiting reads look again."""
        maps = self._coming.get(fsid)
        if maps is None or maps.pop(name, None) is None:
            return
        if not maps:
            del self._coming[fsid]
        self._changed.notify_all()

    def pending(self, fsid: str | None = None) -> bool:
        """Whether maps of `fsid` (None: of any cluster) are awaited now; cheap, never waits for
        long (the HTTP server's I/O loop asks)."""
        if not self._coming:
            return False
        now = self._clock()
        with self._changed:
            clusters = self._coming.values() if fsid is None else [self._coming.get(fsid, {})]
            return any(deadline > now for maps in clusters for _, deadline in maps.values())

    def wait(self, fsid: str) -> None:
        """Until the maps `fsid` awaits have arrived, or their deadlines have passed."""
        with self._changed:
            if fsid not in self._coming:
                return
            self.waits += 1
            while True:
                maps = self._coming.get(fsid)
                if not maps:
                    return
                now = self._clock()
                late = [name for name, (_, deadline) in maps.items() if deadline <= now]
                for name in late:
                    del maps[name]
                    self.timeouts += 1
                if not maps:
                    del self._coming[fsid]
                    return
                self._changed.wait(min(deadline for _, deadline in maps.values()) - now)
