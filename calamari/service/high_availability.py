"""Several calamari-server processes on one PostgreSQL event store, one active (docs/high-availability.md).

A server starts as a standby: its event writer refuses everything, its model follows the store
by position (`ModelService.follow_store`, woken by the NOTIFY of each append or at the latest every
`follow_interval_s`), and it tries to take the
lease every `acquire_interval_s`. Having taken it, it reads the store to its end (the previous
active can no longer append: the lease check in each append refuses it), starts writing, and
`on_promoted` binds the collector bus and resumes unfinished requests. The active renews the
lease every third of its time; when it cannot (another server took it, or it could not reach
the database before the lease ran out), it stops writing at once and `on_lost` ends the process:
the model may hold changes that will never be stored, so it must not serve on. A supervisor
restarts it, and it comes back as a standby."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("calamari.ha")

ACTIVE, STANDBY, FENCED = "active", "standby", "fenced"
STANDBY_REASON = "this server is a standby; changes go to the active server"
LOST_REASON = "this server lost the active lease; another server is active"


class Lease(Protocol):
    holder: str
    address: str
    ttl_s: float
    epoch: int | None

    def try_acquire(self) -> int | None: ...
    def renew(self) -> bool: ...
    def held_locally(self) -> bool: ...
    def wait_for_appends(self, timeout: float) -> bool: ...
    def release(self) -> None: ...
    def read(self) -> Any: ...
    def close(self) -> None: ...


class HighAvailability:
    """The role of this server among several on one store, and the thread that keeps it."""

    def __init__(self, service: Any, lease: Lease, *, on_promoted: Callable[[], None],
                 on_lost: Callable[[str], None], follow_interval_s: float = 0.1,
                 acquire_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.lease = lease
        self.on_promoted = on_promoted
        self.on_lost = on_lost
        self.follow_interval_s = follow_interval_s
        self.acquire_interval_s = acquire_interval_s
        self.clock = clock
        self.role = STANDBY
        self.epoch: int | None = None
        self.active_address = ""  # the API address of the active server, as its lease row says
        self.promotions = 0
        self.behind = 0  # events stored that this standby's model does not reflect yet
        self.caught_up_at = clock()  # when the followed position last reached the store's end
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="high-availability", daemon=True)
        self._last_error_log = 0.0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Begin as a standby: nothing is written until the lease is taken."""
        self.service.store.fence_with_lease(self.lease.holder)
        self.service.writer.refuse_all(STANDBY_REASON)
        self.service.followed_position = self.service.restored_position
        self._thread.start()

    def halt(self) -> None:
        """Stop following, promoting and renewing (the first step of a stop: no promotion may
        start parts while they are being stopped)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(10)

    def stop(self) -> None:
        """Halt; an active server then gives its lease up, so that a standby takes over at once
        rather than when it expires (call once the parts that write or command have stopped)."""
        self.halt()
        if self.role == ACTIVE:
            try:
                self.service.writer.flush(5.0)
                self.lease.release()
            except Exception as err:  # the lease then expires by itself
                log.warning("could not release the lease: %s", err)
        self.lease.close()

    # ---------------------------------------------------------------- what the API asks

    def is_active(self) -> bool:
        return self.role == ACTIVE and self.lease.held_locally()

    def status(self) -> dict[str, Any]:
        """The role, the lease's epoch, the active server's address and (on a standby) how far
        the model is behind the store, in events and seconds."""
        lag_s = 0.0 if self.behind == 0 else max(0.0, self.clock() - self.caught_up_at)
        return {"role": self.role, "epoch": self.epoch, "active": self.active_address,
                "position": self.service.followed_position if self.role == STANDBY else None,
                "this_server": self.lease.address, "lease_seconds": self.lease.ttl_s,
                "lag": {"events": self.behind if self.role == STANDBY else 0,
                        "seconds": round(lag_s, 3) if self.role == STANDBY else 0.0}}

    def guard(self, send: Callable[..., bool]) -> Callable[..., bool]:
        """`send` (a command to a collector) that sends nothing unless this server certainly
        still holds the lease: a process that was paused past its lease time must not command
        the cluster before it noticed."""
        def guarded(*args: Any, **kwargs: Any) -> bool:
            if not self.is_active():
                return False
            return send(*args, **kwargs)
        return guarded

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        next_acquire = 0.0
        while not self._stop.is_set():
            try:
                if self.role == STANDBY:
                    self.follow()
                    if self.clock() >= next_acquire:
                        next_acquire = self.clock() + self.acquire_interval_s
                        self.try_promote()
                    if self.role == STANDBY:
                        # woken by the next append, or polls at this pace (a missed notification,
                        # a stop)
                        self.lease.wait_for_appends(self.follow_interval_s)
                elif self.role == ACTIVE:
                    self.keep()
                    self._stop.wait(self.lease.ttl_s / 3)
                else:
                    return
            except Exception as err:
                self._log_error(err)
                if self.role == ACTIVE and not self.lease.held_locally():
                    self.lose(f"{LOST_REASON} (the database could not be reached in time: {err})")
                self._stop.wait(min(self.follow_interval_s * 5, 1.0))

    def _log_error(self, err: Exception) -> None:
        now = self.clock()
        if now - self._last_error_log >= 10.0:
            self._last_error_log = now
            log.warning("high availability (%s): %s", self.role, err)

    def follow(self) -> int:
        """Fold what the active stored since the last look; the lag figures follow."""
        applied = 0
        while not self._stop.is_set():
            count = self.service.follow_store()
            applied += count
            if count == 0:
                break
        end = self.service.store.max_position()
        followed = self.service.followed_position or 0
        self.behind = max(0, end - followed)
        if self.behind == 0:
            self.caught_up_at = self.clock()
        return applied

    def try_promote(self) -> bool:
        """Take the lease if it is free; then become the active server."""
        epoch = self.lease.try_acquire()
        if epoch is None:
            holder = self.lease.read()
            self.active_address = holder.address if holder.live else ""  # none while it has run out
            return False
        self.epoch = epoch
        self.service.store.lease_epoch = epoch
        # The previous active can append no more (its epoch is refused), so the store's end is
        # now fixed: fold everything up to it before this server makes anything.
        while self.service.follow_store():
            pass
        with self.service.lock:
            while self.service.follow_store():
                pass
            self.service.followed_position = None
            self.service.writer.allow()
            self.role = ACTIVE
            self.behind = 0
        self.active_address = self.lease.address
        self.promotions += 1
        log.warning("this server is now the active one (lease epoch %d, model at position %d)", epoch,
                    self.service.position())
        try:
            self.on_promoted()
        except Exception as err:  # e.g. the bus's port is taken: this server cannot serve as the active
            log.exception("starting as the active server failed")
            self.lose(f"could not start as the active server: {err}")
            return False
        return True

    def keep(self) -> None:
        """Renew the lease; step down when it was lost."""
        if self.lease.renew():
            if self.lease.epoch != self.epoch:  # it had run out, nobody took it: renewed under a new epoch
                self.epoch = self.lease.epoch
                self.service.store.lease_epoch = self.epoch
            return
        self.lose(LOST_REASON)

    def lose(self, reason: str) -> None:
        """Stop writing now (what waits is dropped; the store refuses an append under way too),
        then tell the process to end."""
        if self.role == FENCED:
            return
        self.role = FENCED
        self.service.writer.refuse_all(reason)
        self.service.store.lease_epoch = None
        log.error("%s: stepping down", reason)
        self.on_lost(reason)
