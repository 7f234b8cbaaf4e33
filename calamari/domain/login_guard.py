"""Login throttling: the pure policy that decides when failed logins are slowed down and when a
user name or a client address is locked out, and the aggregate that records address lock-outs in
the event store (user lock-outs are events of the User aggregate).

Failed attempts are counted in memory only: they are frequent, and losing them on a restart merely
restarts the count. Lock-outs are rare and worth an audit record, so they become events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate
from calamari.domain.ids import NAMESPACE

LOGIN_GUARD_ID: UUID = uuid5(NAMESPACE, "login-guard")


@dataclass(frozen=True)
class ThrottlePolicy:
    """After `slow_after` failures within `window_s`, each further attempt must wait twice as long
    as the one before (from 1 s, at most `max_delay_s`); at `lock_after` failures the key is locked
    for `lock_s`."""

    slow_after: int = 3
    lock_after: int = 10
    lock_s: float = 15 * 60
    window_s: float = 15 * 60
    max_delay_s: float = 30


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Failed-login counters by key ("user:NAME", "address:IP"); every method takes the time."""

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._keys: dict[str, _Failures] = {}

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until an attempt for these keys may be made (0: now)."""
        wait = 0.0
        for key in keys:
            state = self._keys.get(key)
            if state is None:
                continue
            if state.locked_until > now:
                wait = max(wait, state.locked_until - now)
                continue
            recent = [t for t in state.times if now - t < self.policy.window_s]
            excess = len(recent) - self.policy.slow_after
            if excess >= 0 and recent:
                delay = min(2.0 ** excess, self.policy.max_delay_s)
                wait = max(wait, recent[-1] + delay - now)
        return max(0.0, wait)

    def failed(self, key: str, now: float) -> int:
        """Count a failure; the number of recent failures if this one locks the key, else 0."""
        state = self._keys.setdefault(key, _Failures())
        state.times = [t for t in state.times if now - t < self.policy.window_s] + [now]
        if len(state.times) >= self.policy.lock_after:
            failures = len(state.times)
            state.times, state.locked_until = [], now + self.policy.lock_s
            return failures
        return 0

    def succeeded(self, key: str) -> None:
        state = self._keys.get(key)
        if state is not None and state.locked_until == 0.0:
            del self._keys[key]

    def restore_lock(self, key: str, until: float, now: float) -> None:
        """Take up a lock recorded before a restart (nothing if it has run out)."""
        if until > now:
            self._keys.setdefault(key, _Failures()).locked_until = until

    def forget_stale(self, now: float) -> None:
        """Drop keys with nothing recent, so random names and addresses do not pile up."""
        for key, state in list(self._keys.items()):
            if state.locked_until <= now and all(now - t >= self.policy.window_s for t in state.times):
                del self._keys[key]


class LoginGuard(CalamariAggregate):
    """The record of client addresses locked out for failed logins (one aggregate for all)."""

    class LoginGuardCreated(Aggregate.Created):
        pass

    def __init__(self) -> None:
        self.locks = 0
        self.locked_addresses: dict[str, float] = {}  # address -> until (epoch seconds)

    class LoginAddressLocked(Aggregate.Event):
        """Too many failed logins from one address (whatever the user names): refused until `until`."""

        address: str
        until: float
        failures: int

        def apply(self, guard: LoginGuard) -> None:
            guard.locks += 1
            # (snapshots written before this field existed lack it)
            locked = guard.__dict__.setdefault("locked_addresses", {})
            # Only locks that may still hold matter; locks last minutes, so a day's margin is ample.
            for address, until in list(locked.items()):
                if until < self.until - 86_400:
                    del locked[address]
            locked[self.address] = self.until

    def address_locked(self, address: str, until: float, failures: int, at: datetime) -> None:
        self.emit(LoginGuard.LoginAddressLocked, at, address=address, until=until, failures=failures)
