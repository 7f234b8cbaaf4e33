"""CurveZMQ key pairs on disk: the server's long-term pair in <data-dir>/keys/, each collector's in
its key directory. Keys are Z85 text (40 characters) as ZeroMQ takes them; the secret file is
created with mode 0600 and never rewritten, the public file may be handed to anyone.

Files use ZeroMQ's certificate layout (`public-key = "..."` / `secret-key = "..."` lines), so
zmq.auth.load_certificate and other ZeroMQ tools read them too."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import stat
from dataclasses import dataclass

import zmq
from zmq.utils import z85

log = logging.getLogger(__name__)

SERVER_KEY_NAME = "server"
COLLECTOR_KEY_NAME = "collector"
Z85_KEY_LENGTH = 40


class KeyFileError(ValueError):
    """A key that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class KeyPair:
    public_key: str  # Z85
    secret_key: str  # Z85

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


@dataclass(frozen=True)
class ClientCurveKeys:
    """What a collector needs for CURVE: its own pair and the server's public key."""

    client: KeyPair
    server_public_key: str


def server_key_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "keys")


def public_key_path(directory: str, name: str) -> str:
    return os.path.join(directory, f"{name}.key")


def secret_key_path(directory: str, name: str) -> str:
    return os.path.join(directory, f"{name}.key_secret")


def default_collector_key_dir() -> str:
    """/var/lib/calamari-collector for root (a system service), else ~/.calamari-collector."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/calamari-collector"
    return os.path.join(os.path.expanduser("~"), ".calamari-collector")


def is_z85_key(text: str) -> bool:
    if len(text) != Z85_KEY_LENGTH:
        return False
    try:
        return len(z85.decode(text.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError, KeyError, IndexError):
        return False


def fingerprint(public_key: str) -> str:
    """SHA256 of the 32-byte key, base64 without padding (the form ssh-keygen -l shows)."""
    raw = z85.decode(public_key.encode("ascii"))
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def _certificate(public_key: str, secret_key: str | None) -> str:
    lines = ["#   calamari CURVE " + ("secret key: keep this file private" if secret_key else "public key"),
             "metadata", "curve", f'    public-key = "{public_key}"']
    if secret_key:
        lines.append(f'    secret-key = "{secret_key}"')
    return "\n".join(lines) + "\n"


def _parse(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() in ("public-key", "secret-key"):
            found[name.strip()] = value.strip().strip('"')
    return found


def _write_new(path: str, text: str, mode: int) -> None:
    # O_EXCL with the final mode: the secret is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def new_key_pair() -> KeyPair:
    """A pair kept in memory only (the in-process simulator's, made anew at each start)."""
    public, secret = (k.decode() for k in zmq.curve_keypair())
    return KeyPair(public, secret)


def load_key_pair(directory: str, name: str) -> KeyPair:
    path = secret_key_path(directory, name)
    try:
        with open(path) as f:
            found = _parse(f.read())
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    public, secret = found.get("public-key", ""), found.get("secret-key", "")
    if not (is_z85_key(public) and is_z85_key(secret)):
        raise KeyFileError(f"{path} holds no CURVE key pair (public-key and secret-key, Z85)")
    if zmq.curve_public(secret.encode()).decode() != public:
        raise KeyFileError(f"{path}: the public key does not belong to the secret key")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o): chmod 600 it", path, mode)
    return KeyPair(public, secret)


def load_or_create_key_pair(directory: str, name: str) -> KeyPair:
    """The pair stored as `name` in `directory`, made on first use."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.path.exists(secret_key_path(directory, name)):
        pair = load_key_pair(directory, name)
    else:
        pair = new_key_pair()
        try:
            _write_new(secret_key_path(directory, name), _certificate(pair.public_key, pair.secret_key), 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_key_pair(directory, name)
        log.info("created CURVE key pair %s in %s (%s)", name, directory, pair.fingerprint)
    public_path = public_key_path(directory, name)
    if not os.path.exists(public_path):
        try:
            _write_new(public_path, _certificate(pair.public_key, None), 0o644)
        except FileExistsError:
            pass
    return pair


def read_public_key(source: str) -> str:
    """A public key given as Z85 text or as the path of a key file (either layout, or bare Z85)."""
    text = source.strip()
    if is_z85_key(text):
        return text
    if not os.path.exists(source):
        raise KeyFileError(f"{source!r} is neither a 40-character Z85 public key nor a key file")
    try:
        with open(source) as f:
            content = f.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read {source}: {exc.strerror}") from None
    key = _parse(content).get("public-key", content.strip())
    if not is_z85_key(key):
        raise KeyFileError(f"{source} holds no CURVE public key (public-key = \"<40 Z85 characters>\")")
    return key
