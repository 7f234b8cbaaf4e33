"""The server's own ear on ceph-mgr: it listens to the calamari_notify module (docs/mgr-module.md)
as the collector does, for one thing only, the epoch of each new OSD or file system map as
ceph-mgr takes it in, so that reads of that cluster wait for that map (maps_coming.py) instead of
answering with what is known to be stale. The map itself still comes from the collector, checked
as always: an announcement is never data, so the channel needs no key here, and at worst (a
module that announces maps that never come) makes reads wait `COMING_WAIT_S` each time."""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from collections.abc import Sequence
from typing import Any

from collector.ceph_mgr.calamari_notify.wire import MAP_DUMPS
from collector.mgr_notify import MgrNotifyListener, mgr_map_problem

log = logging.getLogger(__name__)

BAD_LINE_LOG_EVERY_S = 60.0


class MgrAnnouncements:
    """Listens to the modules at `endpoints` (the first that answers) and tells `service` (a
    ModelService) which map versions are on their way."""

    def __init__(self, service: Any, endpoints: Sequence[tuple[str, int]]) -> None:
        self.service = service
        self.listener = MgrNotifyListener(endpoints, None)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._bad_logged_at = -BAD_LINE_LOG_EVERY_S
        self.expected = 0
        self.unreadable = 0

    def start(self) -> None:
        self.listener.start()
        self._thread = threading.Thread(target=self._run, name="mgr-announcements", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.listener.close(timeout)

    def _run(self) -> None:
        fd = self.listener.fileno()
        while not self._stopping.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                self.take()

    def take(self) -> None:
        """Tell the service of the map versions announced since the last call."""
        fsid = self.listener.cluster
        for kind in sorted(self.listener.take()):
            sent = self.listener.take_data(kind)
            if fsid is None or kind not in MAP_DUMPS or sent is None:
                continue  # the module sends only these maps with their announcement
            try:
                document = json.loads(sent.payload)
            except ValueError as exc:
                problem: str | None = f"{type(exc).__name__}: {exc}"
            else:
                problem = mgr_map_problem(document, kind, fsid)  # the collector's own rule
            if problem is not None:
                self._unreadable(kind, problem)
                continue
            self.service.expect_map(fsid, kind, document["epoch"])
            self.expected += 1

    def _unreadable(self, kind: str, problem: str) -> None:
        self.unreadable += 1
        now = time.monotonic()
        if now - self._bad_logged_at >= BAD_LINE_LOG_EVERY_S:
            self._bad_logged_at = now
            log.warning("an announced %s without a readable epoch, or not its cluster's (%s); not waited for "
                        "(%d so far)", kind, problem, self.unreadable)
