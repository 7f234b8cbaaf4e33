"""Users and their tokens: argon2 password hashes, random tokens kept only as sha256 hashes, all of
it as events of the User aggregate (so it survives restarts and is in the history).

Tokens are 256-bit random strings, so a fast hash suffices for them; passwords get argon2.
Sessions end after an idle time and after an absolute lifetime (AuthPolicy); failed logins are
slowed down and then locked out per user name and per client address (LoginThrottle)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calamari.domain import password_policy
from calamari.domain.login_guard import LoginGuard, LoginThrottle, ThrottlePolicy
from calamari.domain.user import ADMIN, OPERATOR, READ_ONLY, User, UserError, check_role, check_username
from calamari.service.model import NotPersisted

log = logging.getLogger(__name__)

# What each role may do beyond reading.
CAN_CHANGE_CLUSTER = {ADMIN, OPERATOR}
CAN_ADMINISTER = {ADMIN}
MIN_PASSWORD = password_policy.MIN_PASSWORD_LENGTH
TOKEN_ID_LENGTH = 16  # hex digits of the token hash that name a session in the API


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(digest: str) -> str:
    """The public name of a session: a prefix of its token's hash (which reveals nothing of the token)."""
    return digest[:TOKEN_ID_LENGTH]


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or PasswordHasher()).hash(password)


def check_password(password: str, username: str = "") -> None:
    password_policy.check_password(password, username)


@dataclass(frozen=True)
class AuthPolicy:
    """How long sessions live and how failed logins are throttled."""

    session_idle_s: float = 2 * 3600  # unused for this long, a token stops working
    session_max_s: float = 7 * 24 * 3600  # and in any case this long after login
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)


class UserExists(UserError):
    """The name is taken, also when another request took it a moment ago (answered 409, not 400)."""

    def __init__(self, username: str) -> None:
        super().__init__("username", f"a user named {username!r} exists")


class NoSuchUser(KeyError):
    """The user is not there (any more: another request may have deleted it a moment ago)."""


class LoginThrottled(Exception):
    """Too many failed logins for this user name or address: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, locked: bool) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after
        self.locked = locked


@dataclass
class Identity:
    username: str
    role: str
    token_hash: str
    kind: str  # "bearer" or "session"
    csrf_hash: str

    @property
    def token_id(self) -> str:
        return token_id(self.token_hash)


class AuthService:
    def __init__(self, service: Any, policy: AuthPolicy | None = None, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.service = service
        self.policy = policy or AuthPolicy()
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._index: dict[str, str] | None = None  # token hash -> username
        self._index_lock = threading.Lock()
        # Last use of each token, in memory only: writing an event per request would flood the
        # store. After a restart the idle time counts from the start.
        self._last_used: dict[str, float] = {}
        self._started = clock()
        self._throttle = LoginThrottle(self.policy.throttle)
        self._throttle_lock = threading.Lock()
        self._restore_locks()
        service.listeners.append(self._on_events)

    def _restore_locks(self) -> None:
        """Lock-outs recorded before a restart still hold (failure counts start again)."""
        now = self.clock()
        with self.service.reading():
            for agg in list(self.service.model.aggregates.values()):
                if isinstance(agg, User) and not agg.deleted:
                    until = getattr(agg, "login_locked_until", 0.0)
                    self._throttle.restore_lock(f"user:{agg.username}", until, now)
                elif isinstance(agg, LoginGuard):
                    for address, until in getattr(agg, "locked_addresses", {}).items():
                        self._throttle.restore_lock(f"address:{address}", until, now)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _on_events(self, events: list[Any], model: Any) -> None:
        if any(isinstance(e, User.Event) for e in events):
            self._index = None
        # Lock-outs stored by another server sharing the store (this one follows it as a
        # standby) hold here too; this server's own are in the throttle already.
        now = self.clock()
        for event in events:
            if isinstance(event, User.UserLoginLocked):
                user = model.aggregates.get(event.originator_id)
                if user is not None:
                    with self._throttle_lock:
                        self._throttle.restore_lock(f"user:{user.username}", event.until, now)
            elif isinstance(event, LoginGuard.LoginAddressLocked):
                with self._throttle_lock:
                    self._throttle.restore_lock(f"address:{event.address}", event.until, now)

    def _token_index(self, wait: bool = True) -> dict[str, str]:
        index = self._index
        if index is None:
            if not wait:
                return {}  # rebuilt by the next caller that may wait for the lock
            with self.service.reading():
                index = {h: u.username for u in self.service.model.users.values() if not u.deleted
                         for h in u.tokens}
                # set under the lock: a login after it clears it again (set outside, a stale
                # index would hide the new token until the next user event)
                self._index = index
        return index

    # ---------------------------------------------------------------- users

    def users(self) -> list[User]:
        # a copy: another thread may add a user meanwhile
        return [u for u in list(self.service.model.users.values()) if not u.deleted]

    def get(self, username: str) -> User | None:
        user = self.service.model.users.get(username)
        return None if user is None or user.deleted else user

    def add_user(self, username: str, password: str, role: str, by: str, email: str = "") -> User:
        check_username(username)
        check_role(role)
        check_password(password, username)
        password_hash = self.hasher.hash(password)
        with self.service.durable() as model:
            if self.get(username) is not None:
                raise UserExists(username)
            return model.add_user(username, role, password_hash, email, by, self._now())

    def change_user(self, username: str, by: str, role: str | None = None, password: str | None = None,
                    email: str | None = None) -> User:
        if password is not None:
            check_password(password, username)
        password_hash = self.hasher.hash(password) if password is not None else None
        with self.service.durable() as model:
            user = self.get(username)
            if user is None:
                raise NoSuchUser(username)
            if role is not None and role != ADMIN and user.role == ADMIN and self._admins() == [username]:
                raise UserError("role", "the last admin cannot lose the admin role")
            user.change(self._now(), by, role=role, password_hash=password_hash, email=email)
            model.user_changed(username)
        return user

    def delete_user(self, username: str, by: str) -> None:
        with self.service.durable() as model:
            user = self.get(username)
            if user is None:
                raise NoSuchUser(username)
            if user.role == ADMIN and self._admins() == [username]:
                raise UserError("username", "the last admin cannot be deleted")
            model.user_event(username, User.UserDeleted, self._now(), by=by)

    def _admins(self) -> list[str]:
        return [u.username for u in self.users() if u.role == ADMIN]

    # ---------------------------------------------------------------- login and tokens

    def login(self, username: str, password: str, address: str = "", kind: str = "bearer") -> tuple[str, str] | None:
        """(token, csrf token) for good credentials, else None; LoginThrottled while this user name
        or address must wait (checked before the password, which costs nothing then)."""
        now = self.clock()
        self._check_throttle(username, address, now)
        user = self.get(username)
        if user is None:
            # spend the same time as a real check so names cannot be probed by timing
            try:
                self.hasher.verify(self._dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                pass
            self._login_failed(username, address, exists=False)
            return None
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            self._login_failed(username, address, exists=True)
            return None
        with self._throttle_lock:
            self._throttle.succeeded(f"user:{username}")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.service.durable() as model:  # NotPersisted: no session, the caller answers 503
            if self.get(username) is not user:  # deleted (or never stored) since the password check
                return None
            ended = self._end_dead_sessions(user, now)
            user.emit(User.UserTokenIssued, self._now(), token_hash=token_hash(token), kind=kind,
                      expires=now + self.policy.session_max_s, csrf_hash=token_hash(csrf))
            model.user_changed(username)
        for digest in ended:
            self._last_used.pop(digest, None)
        return token, csrf

    def _check_throttle(self, username: str, address: str, now: float) -> None:
        keys = [f"user:{username}"] + ([f"address:{address}"] if address else [])
        with self._throttle_lock:
            wait = self._throttle.retry_after(keys, now)
        if wait > 0:
            raise LoginThrottled(wait, locked=wait > self.policy.throttle.max_delay_s)

    def verify_password(self, username: str, password: str, address: str = "") -> bool:
        """Whether `password` is the user's, asked before a change of one's own password. A wrong
        one counts as a failed login (a stolen session must not become a way to guess the
        password), so it is throttled and locked out like logins: LoginThrottled while it must wait."""
        self._check_throttle(username, address, self.clock())
        user = self.get(username)
        if user is None:
            raise NoSuchUser(username)
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            self._login_failed(username, address, exists=True)
            return False
        with self._throttle_lock:
            self._throttle.succeeded(f"user:{username}")
        return True

    def _login_failed(self, username: str, address: str, exists: bool) -> None:
        now = self.clock()
        with self._throttle_lock:
            self._throttle.forget_stale(now)
            user_failures = self._throttle.failed(f"user:{username}", now)
            address_failures = self._throttle.failed(f"address:{address}", now) if address else 0
        until = now + self.policy.throttle.lock_s
        if user_failures:
            log.warning("login locked for %.0f s after %d failures: user %r (last from %s)",
                        self.policy.throttle.lock_s, user_failures, username, address or "?")
        if address_failures:
            log.warning("login locked for %.0f s after %d failures from address %s",
                        self.policy.throttle.lock_s, address_failures, address)
        if not (user_failures and exists) and not address_failures:
            return
        try:
            with self.service.durable() as model:
                if user_failures and exists and self.get(username) is not None:
                    model.user_event(username, User.UserLoginLocked, self._now(), until=until,
                                     failures=user_failures, address=address)
                if address_failures:
                    model.login_address_locked(address, until, address_failures, self._now())
        except NotPersisted as err:
            # The lock holds in memory all the same; only a restart would forget it.
            log.warning("login lock not stored (%s): it holds until this server restarts", err.reason)

    def sessions_used_elsewhere(self, elsewhere: bool) -> None:
        """Whether the sessions are used on another server (this one is a standby of several on
        one store, docs/high-availability.md). A session's last use is known only where it is used:
        a standby applies the idle limit only from the uses it sees itself (the session's end and
        revocations hold as everywhere). Becoming the server where they are used (the active),
        idle times count from now, as after a restart."""
        self._elsewhere = elsewhere
        if not elsewhere:
            self._started = self.clock()

    _elsewhere = False

    def _alive(self, digest: str, info: dict[str, Any], now: float) -> bool:
        last = self._last_used.get(digest)
        if last is None:
            last = now if self._elsewhere else max(info.get("issued", 0.0), self._started)
        return info["expires"] > now and now - last < self.policy.session_idle_s

    def _end_dead_sessions(self, user: User, now: float) -> list[str]:
        """Record the end of sessions that expired (caller holds the service lock); their token
        hashes, whose last use the caller forgets once the ends are stored."""
        ended = [digest for digest, info in user.tokens.items() if not self._alive(digest, info, now)]
        for digest in ended:
            user.emit(User.UserTokenRevoked, self._now(), token_hash=digest)
        return ended

    _dummy: str | None = None

    def _dummy_hash(self) -> str:
        if AuthService._dummy is None:
            AuthService._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return AuthService._dummy

    def authenticate(self, token: str, wait: bool = True) -> Identity | None:
        """The session `token` opens, or None. `wait=False` (the HTTP server's I/O loop): None
        rather than wait for the model's lock, which a rebuild of the token index needs."""
        digest = token_hash(token)
        username = self._token_index(wait).get(digest)
        if username is None:
            return None
        user = self.get(username)
        if user is None:
            return None
        info = user.tokens.get(digest)
        now = self.clock()
        if info is None or not self._alive(digest, info, now):
            return None
        self._last_used[digest] = now
        return Identity(user.username, user.role, digest, info["kind"], info["csrf_hash"])

    def csrf_ok(self, identity: Identity, csrf: str | None) -> bool:
        return bool(csrf) and hmac.compare_digest(identity.csrf_hash, token_hash(csrf or ""))

    def logout(self, identity: Identity) -> None:
        self.revoke_session(identity.username, identity.token_id)

    # ---------------------------------------------------------------- sessions

    def sessions(self, username: str) -> list[dict[str, Any]]:
        """The user's live sessions, oldest first, with their public ids and end times."""
        user = self.get(username)
        if user is None:
            return []
        now = self.clock()
        rows = []
        for digest, info in user.tokens.items():
            if not self._alive(digest, info, now):
                continue
            last = self._last_used.get(digest, max(info.get("issued", 0.0), self._started))
            rows.append({"id": token_id(digest), "kind": info["kind"], "issued": info.get("issued"),
                         "last_used": last, "expires": min(info["expires"], last + self.policy.session_idle_s)})
        return sorted(rows, key=lambda r: (r["issued"] or 0.0, r["id"]))

    def revoke_session(self, username: str, session_id: str) -> bool:
        """End one session of the user, named by its id; False if the user has no such session."""
        with self.service.durable() as model:
            user = self.get(username)
            if user is None or len(session_id) != TOKEN_ID_LENGTH:
                return False
            wanted = session_id.encode()  # as bytes: compare_digest refuses non-ASCII str
            digest = next((d for d in user.tokens if hmac.compare_digest(token_id(d).encode(), wanted)), None)
            if digest is None:
                return False
            user.emit(User.UserTokenRevoked, self._now(), token_hash=digest)
            model.user_changed(username)
        self._last_used.pop(digest, None)
        return True

    def revoke_all(self, username: str, by: str, reason: str = "revoked") -> int:
        """End every session of the user; how many there were."""
        with self.service.durable() as model:
            user = self.get(username)
            if user is None:
                raise NoSuchUser(username)
            count = len(user.tokens)
            if count:
                user.emit(User.UserTokensRevoked, self._now(), by=by, reason=reason)
                model.user_changed(username)
        return count

ROLES = (ADMIN, OPERATOR, READ_ONLY)
