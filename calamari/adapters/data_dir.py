"""The data directory: owner-only (0700 directories, 0600 files), as it holds password hashes
(events.db), the server's CURVE secret key and everything the cluster reported.

`secure_data_dir` creates it so and tightens what an older version or an operator left readable
by others, saying so in the log; `check_writable` tells, before a server starts anything, whether
it can write there at all."""

from __future__ import annotations

import errno
import logging
import os
import stat
import uuid

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_NOT_WRITABLE = {
    errno.EROFS: "is on a read-only file system",
    errno.EACCES: "is not writable by this user",
    errno.EPERM: "is not writable by this user",
    errno.ENOSPC: "is on a full disk",
    errno.EDQUOT: "is on a disk whose quota is exhausted",
}


class DataDirError(RuntimeError):
    """The data dir cannot be used; the message says why, in one line."""


def secure_data_dir(path: str) -> tuple[int, int]:
    """Create `path` (0700) if missing, and take group and other permissions off every directory
    and file in it (symbolic links are left alone: what they point to is not ours). Returns how
    many directories and files were tightened; failures (a read-only data dir) are logged."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    tightened = [0, 0]
    failed: list[str] = []

    def tighten(entry: str, is_dir: bool) -> None:
        try:
            mode = os.lstat(entry).st_mode
        except OSError:
            return  # gone meanwhile
        if stat.S_ISLNK(mode) or not mode & 0o077:
            return
        try:
            os.chmod(entry, stat.S_IMODE(mode) & (DIR_MODE if is_dir else FILE_MODE))
            tightened[0 if is_dir else 1] += 1
        except OSError as err:
            failed.append(f"{entry}: {err.strerror}")

    tighten(path, True)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            tighten(os.path.join(root, name), True)
        for name in files:
            tighten(os.path.join(root, name), False)
    if any(tightened):
        log.warning("data dir %s: took group and other permissions off %d directories and %d files "
                    "(they hold password hashes and keys)", path, *tightened)
    if failed:
        log.warning("data dir %s: could not make %d entries owner-only, e.g. %s", path, len(failed), failed[0])
    return tightened[0], tightened[1]


def check_writable(path: str) -> None:
    """DataDirError, naming the reason, unless a file can be created in `path` (created 0700 if
    missing)."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
        probe = os.path.join(path, f".write-test-{uuid.uuid4().hex}")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.remove(probe)
    except OSError as err:
        why = _NOT_WRITABLE.get(err.errno or 0, f"cannot be written ({err.strerror})")
        raise DataDirError(f"the data dir {path} {why}") from None
