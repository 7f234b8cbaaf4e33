"""Users and their tokens: argon2 password hashes, random tokens kept only as sha256 hashes, all of
it as events of the User aggregate (so it survives restarts and is in the history).

Tokens are 256-bit random strings, so a fast hash suffices for them; passwords get argon2."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calamari.domain.user import ADMIN, OPERATOR, READ_ONLY, User, UserError, check_role, check_username

log = logging.getLogger(__name__)

# What each role may do beyond reading.
CAN_CHANGE_CLUSTER = {ADMIN, OPERATOR}
CAN_ADMINISTER = {ADMIN}
MIN_PASSWORD = 8


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or PasswordHasher()).hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError("password", f"must have at least {MIN_PASSWORD} characters")


@dataclass
class Identity:
    username: str
    role: str
    token_hash: str
    kind: str  # "bearer" or "session"
    csrf_hash: str


class AuthService:
    def __init__(self, service: Any, token_ttl_s: float = 7 * 24 * 3600, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.service = service
        self.token_ttl_s = token_ttl_s
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._index: dict[str, str] | None = None  # token hash -> username
        self._index_lock = threading.Lock()
        service.listeners.append(self._on_events)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def _on_events(self, events: list[Any], model: Any) -> None:
        if any(isinstance(e, User.Event) for e in events):
            self._index = None

    def _token_index(self) -> dict[str, str]:
        index = self._index
        if index is None:
            with self.service.lock:
                index = {h: u.username for u in self.service.model.users.values() if not u.deleted
                         for h in u.tokens}
            self._index = index
        return index

    # ---------------------------------------------------------------- users

    def users(self) -> list[User]:
        return [u for u in self.service.model.users.values() if not u.deleted]

    def get(self, username: str) -> User | None:
        user = self.service.model.users.get(username)
        return None if user is None or user.deleted else user

    def add_user(self, username: str, password: str, role: str, by: str, email: str = "") -> User:
        check_username(username)
        check_role(role)
        check_password(password)
        password_hash = self.hasher.hash(password)
        with self.service.lock:
            if self.get(username) is not None:
                raise UserError("username", "a user of this name exists")
            user = self.service.model.add_user(username, role, password_hash, email, by, self._now())
            self.service._commit_durable()
            return user

    def change_user(self, username: str, by: str, role: str | None = None, password: str | None = None,
                    email: str | None = None) -> User:
        if password is not None:
            check_password(password)
        password_hash = self.hasher.hash(password) if password is not None else None
        with self.service.lock:
            user = self.get(username)
            if user is None:
                raise KeyError(username)
            if role is not None and role != ADMIN and user.role == ADMIN and self._admins() == [username]:
                raise UserError("role", "the last admin cannot lose the admin role")
            user.change(self._now(), by, role=role, password_hash=password_hash, email=email)
            self.service.model.user_changed(username)
            self.service._commit_durable()
            return user

    def delete_user(self, username: str, by: str) -> None:
        with self.service.lock:
            user = self.get(username)
            if user is None:
                raise KeyError(username)
            if user.role == ADMIN and self._admins() == [username]:
                raise UserError("username", "the last admin cannot be deleted")
            self.service.model.user_event(username, User.UserDeleted, self._now(), by=by)
            self.service._commit_durable()

    def _admins(self) -> list[str]:
        return [u.username for u in self.users() if u.role == ADMIN]

    # ---------------------------------------------------------------- login and tokens

    def login(self, username: str, password: str, kind: str = "bearer") -> tuple[str, str] | None:
        """(token, csrf token) for good credentials, else None."""
        user = self.get(username)
        if user is None:
            # spend the same time as a real check so names cannot be probed by timing
            try:
                self.hasher.verify(self._dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                pass
            return None
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock()
        with self.service.lock:
            user.prune_expired(now, self._now())
            user.emit(User.UserTokenIssued, self._now(), token_hash=token_hash(token), kind=kind,
                      expires=now + self.token_ttl_s, csrf_hash=token_hash(csrf))
            self.service.model.user_changed(username)
            self.service._commit_durable()
        return token, csrf

    _dummy: str | None = None

    def _dummy_hash(self) -> str:
        if AuthService._dummy is None:
            AuthService._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return AuthService._dummy

    def authenticate(self, token: str) -> Identity | None:
        digest = token_hash(token)
        username = self._token_index().get(digest)
        if username is None:
            return None
        user = self.get(username)
        if user is None:
            return None
        info = user.tokens.get(digest)
        if info is None or info["expires"] <= self.clock():
            return None
        return Identity(user.username, user.role, digest, info["kind"], info["csrf_hash"])

    def csrf_ok(self, identity: Identity, csrf: str | None) -> bool:
        return bool(csrf) and hmac.compare_digest(identity.csrf_hash, token_hash(csrf or ""))

    def logout(self, identity: Identity) -> None:
        with self.service.lock:
            user = self.get(identity.username)
            if user is not None and identity.token_hash in user.tokens:
                user.emit(User.UserTokenRevoked, self._now(), token_hash=identity.token_hash)
                self.service.model.user_changed(identity.username)
                self.service._commit_durable()


ROLES = (ADMIN, OPERATOR, READ_ONLY)
