"""The collector agent's supervision: if its loop fails, it is logged, restarted on a new socket
after a back-off, and the next heartbeat tells the server why.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("calamari.collector")

MAX_RESTART_DELAY_S = 30.0  # the back-off between restarts of a failing loop grows up to this
RESTART_RESET_S = 60.0  # a loop that ran this long before failing starts the back-off afresh


class Supervised:
    """Restarts the agent's loop (`_serve`, of `collector.agent.Collector`) when it fails."""

    def run(self) -> None:
        """Serve until stop(). A failure of the loop is logged and the loop restarted on a new
        socket after a back-off (0.5 s, doubling up to MAX_RESTART_DELAY_S); the next heartbeat
        tells the server why."""
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._serve()
                return
            except Exception as exc:
                failures = 1 if time.monotonic() - started > RESTART_RESET_S else failures + 1
                delay = min(MAX_RESTART_DELAY_S, 0.5 * 2 ** (failures - 1))
                self.counters["restarts"] += 1
                self.last_failure = f"{type(exc).__name__}: {exc}"[:500]
                self._restart_notice = f"the collector restarted after an error: {self.last_failure}"
                log.exception("the collector loop failed; restarting it in %.1f s", delay)
                # the new socket is a new session for the server: hello again, full objects again
                self._sent.clear()
                self._hello_acked = False
                if self._stopping.wait(delay):
                    return
