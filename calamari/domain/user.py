"""The user aggregate: an account of the REST API, with its role and its issued tokens.

Pure: password and token hashes are computed by the caller (the domain holds no secrets in clear
and reads no clock). Every event names who made the change (`by`), so the history of users and
roles is an audit trail."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from calamari.domain.base import CalamariAggregate

ADMIN, OPERATOR, READ_ONLY = "admin", "operator", "read-only"
ROLES = (ADMIN, OPERATOR, READ_ONLY)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")
# empty, or one '@' between non-empty parts without spaces or control characters
EMAIL_PATTERN = r"^$|^[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+$"


class UserError(ValueError):
    """A user operation that breaks a rule; `field` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_username(username: str) -> None:
    if not USERNAME_RE.match(username):
        raise UserError("username", "1-150 letters, digits and @.+-_ only")


def check_email(email: str) -> None:
    if len(email) > 254 or not re.match(EMAIL_PATTERN, email):
        raise UserError("email", "empty, or an address like name@example.net (no spaces or control characters)")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}")


class User(CalamariAggregate):
    class UserCreated(Aggregate.Created):
        username: str
        role: str
        password_hash: str
        email: str
        by: str

    def __init__(self, username: str, role: str, password_hash: str, email: str, by: str) -> None:
        self.username = username
        self.role = role
        self.password_hash = password_hash
        self.email = email
        self.deleted = False
        # sha256 of each live token -> {"kind", "expires", "csrf_hash"}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.login_locked_until = 0.0  # epoch seconds; see UserLoginLocked

    class UserReinstated(Aggregate.Event):
        """A deleted user's name was given to a new account (ids derive from the name)."""

        role: str
        password_hash: str
        email: str
        by: str

        def apply(self, user: User) -> None:
            user.role, user.password_hash, user.email = self.role, self.password_hash, self.email
            user.deleted, user.tokens = False, {}

    class UserRoleChanged(Aggregate.Event):
        role: str
        previous: str
        by: str

        def apply(self, user: User) -> None:
            user.role = self.role

    class UserPasswordChanged(Aggregate.Event):
        """Changing the password also revokes every token issued before."""

        password_hash: str
        by: str

        def apply(self, user: User) -> None:
            user.password_hash, user.tokens = self.password_hash, {}

    class UserEmailChanged(Aggregate.Event):
        email: str
        by: str

        def apply(self, user: User) -> None:
            user.email = self.email

    class UserDeleted(Aggregate.Event):
        by: str

        def apply(self, user: User) -> None:
            user.deleted, user.tokens = True, {}

    class UserTokenIssued(Aggregate.Event):
        """A login: only the hash of the token is kept."""

        token_hash: str
        kind: str
        expires: float
        csrf_hash: str

        def apply(self, user: User) -> None:
            user.tokens = {**user.tokens, self.token_hash: {"kind": self.kind, "expires": self.expires,
                                                             "csrf_hash": self.csrf_hash,
                                                             "issued": self.timestamp.timestamp()}}

    class UserTokenRevoked(Aggregate.Event):
        token_hash: str

        def apply(self, user: User) -> None:
            tokens = dict(user.tokens)
            tokens.pop(self.token_hash, None)
            user.tokens = tokens

    class UserTokensRevoked(Aggregate.Event):
        """Every session of the user ended at once (an admin changed their role, or they or an admin
        asked for it)."""

        by: str
        reason: str

        def apply(self, user: User) -> None:
            user.tokens = {}

    class UserLoginLocked(Aggregate.Event):
        """Too many failed logins: further attempts are refused until `until` (seconds since the
        epoch). Kept by the login throttle; a restarted server takes the lock up again from here."""

        until: float
        failures: int
        address: str

        def apply(self, user: User) -> None:
            user.login_locked_until = self.until

    # ---------------------------------------------------------------- commands (pure)

    def change(self, at: datetime, by: str, role: str | None = None, password_hash: str | None = None,
               email: str | None = None) -> None:
        if self.deleted:
            raise UserError("username", "no such user")
        if role is not None and role != self.role:
            check_role(role)
            self.emit(User.UserRoleChanged, at, role=role, previous=self.role, by=by)
            if self.tokens:  # sessions opened under the old role end with it
                self.emit(User.UserTokensRevoked, at, by=by, reason="role changed")
        if password_hash is not None:
            self.emit(User.UserPasswordChanged, at, password_hash=password_hash, by=by)
        if email is not None and email != self.email:
            self.emit(User.UserEmailChanged, at, email=email, by=by)

    def prune_expired(self, now: float, at: datetime) -> None:
        for token_hash, token in list(self.tokens.items()):
            if token["expires"] <= now:
                self.emit(User.UserTokenRevoked, at, token_hash=token_hash)
