"""Accounts in the model: users, the login guard's lock-outs, and collector keys (a host's CURVE
public key, pending until an admin decides). Whether a change is allowed is the caller's policy
(calamari.service.auth, calamari.domain.collector_key.registration_refusal); this records it."""

from __future__ import annotations

from datetime import datetime

from calamari.domain import ids
from calamari.domain.collector_key import CollectorKey, collector_key_id
from calamari.domain.login_guard import LOGIN_GUARD_ID, LoginGuard
from calamari.domain.model_state import ModelState
from calamari.domain.user import User


def add_user(model: ModelState, username: str, role: str, password_hash: str, email: str, by: str,
             at: datetime) -> User:
    """A new user, or a deleted one reinstated under its name. ValueError if it exists."""
    user = model.users.get(username)
    if user is None:
        return model.create(User, User.UserCreated, ids.user_id(username), at, username=username, role=role,
                            password_hash=password_hash, email=email, by=by)
    if not user.deleted:
        raise ValueError(f"user {username!r} exists")
    model.emit(user, User.UserReinstated, at, role=role, password_hash=password_hash, email=email, by=by)
    return user


def login_address_locked(model: ModelState, address: str, until: float, failures: int, at: datetime) -> None:
    guard = model.aggregates.get(LOGIN_GUARD_ID)
    if guard is None:
        guard = model.create(LoginGuard, LoginGuard.LoginGuardCreated, LOGIN_GUARD_ID, at)
    model.emit(guard, LoginGuard.LoginAddressLocked, at, address=address, until=until, failures=failures)


def register_collector_key(model: ModelState, key_id: str, public_key: str, fingerprint: str, at: datetime,
                           source: str = "") -> CollectorKey:
    """Record a key as pending for host `key_id`. A key seen before for this host (deleted, or its
    pending registration expired) is pending again on its aggregate; one left under another host
    name is deleted there, so that a key is live under one name at a time."""
    mine = None
    for key in model.collector_keys.values():
        if key.public_key != public_key:
            continue
        if key.key_id == key_id:
            mine = key
        elif not key.deleted:
            model.emit(key, CollectorKey.CollectorKeyDeleted, at, by="calamari",
                       reason=f"the key registered again as {key_id}")
    if mine is None:
        return model.create(CollectorKey, CollectorKey.CollectorKeyRegistered, collector_key_id(key_id, public_key),
                            at, key_id=key_id, public_key=public_key, fingerprint=fingerprint, source=source)
    model.emit(mine, CollectorKey.CollectorKeyReregistered, at, public_key=public_key, fingerprint=fingerprint,
               source=source)
    return mine

