"""The channels' secrets (webhook HMAC keys, SMTP passwords, Alertmanager tokens), by channel id,
in one JSON file of the data dir, owner-only (0600) like the key files. The event store and the
snapshots only say whether a channel has one. Written atomically (temp file, fsync, rename), so a
crash leaves the old file or the new one."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading

from calamari.adapters.data_dir import DIR_MODE, FILE_MODE

log = logging.getLogger(__name__)

SECRETS_FILE = "notification-secrets.json"


class SecretStore:
    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, SECRETS_FILE)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            # the reason only: the file's content is secret
            log.error("cannot read %s (%s): channels with a secret cannot send", self.path, type(err).__name__)
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(data, dict) else {}

    def get(self, channel_id: str) -> str | None:
        with self._lock:
            return self._read().get(channel_id)

    def put(self, channel_id: str, secret: str | None) -> str | None:
        """Set (or with None remove) a channel's secret; returns the one it replaces, so that a
        change that is then not stored can put it back."""
        with self._lock:
            secrets = self._read()
            previous = secrets.get(channel_id)
            if secret is None:
                if previous is None:
                    return None
                secrets.pop(channel_id)
            else:
                secrets[channel_id] = secret
            self._write(secrets)
            return previous

    def _write(self, secrets: dict[str, str]) -> None:
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(secrets, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
