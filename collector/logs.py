"""The host's Ceph log files, for the server's `log list` and `log tail` host commands.

Only regular files under the log directory are ever read: a path is refused when it is not a
plain relative path (calamari.protocol.host_logs), when following it leaves the directory (a
symlink pointing out), or when it is not a regular file (a directory, a FIFO, a device). The file
is opened component by component with O_NOFOLLOW from the resolved path, so a symlink swapped in
after the check is refused too. A tail reads blocks from the end, never more than its byte cap.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from calamari.protocol.host_logs import (
    LOG_LIST,
    LOG_TAIL,
    MAX_LOG_DEPTH,
    MAX_LOG_FILES,
    host_command_problem,
    log_path_problem,
)

log = logging.getLogger("calamari.collector.logs")

DEFAULT_LOG_DIR = "/var/log/ceph"
# Rotated, compressed logs: their tail is not text.
COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2", ".zst", ".lz4")
TAIL_BLOCK_BYTES = 64 * 1024


class LogNotFound(LookupError):
    """The path names no log file this host may show (missing, unsafe, or not a regular file)."""


class HostLogs(Protocol):
    """The log files of one host."""

    def list(self) -> list[str]:
        """Paths of the host's log files, relative to its log directory, sorted."""

    def tail(self, path: str, lines: int, max_bytes: int) -> tuple[str, bool]:
        """The last `lines` lines of a listed file, at most `max_bytes` bytes of it, and whether
        the byte cap cut lines off. Raises LogNotFound."""


def tail_bytes(file: BinaryIO, size: int, lines: int, max_bytes: int) -> tuple[bytes, bool]:
    """The last `lines` lines of the first `size` bytes of `file` (each with its newline; the last
    may lack one), reading backwards in blocks. At most `max_bytes`: when the lines are longer,
    the partial first line is dropped (unless it is the only one) and the bool says so."""
    end = size
    # A final newline ends the last line; it does not start an empty one.
    wanted_newlines = lines + 1 if size > 0 and _byte_at(file, size - 1) == b"\n" else lines
    chunks: list[bytes] = []
    read = 0
    newlines = 0
    while end > 0 and read < max_bytes:
        length = min(TAIL_BLOCK_BYTES, end, max_bytes - read)
        file.seek(end - length)
        block = file.read(length)
        if len(block) != length:
            break  # the file shrank under us (truncated): keep what was read
        end -= length
        read += length
        chunks.append(block)
        newlines += block.count(b"\n")
        if newlines >= wanted_newlines:
            break
    data = b"".join(reversed(chunks))
    if newlines >= wanted_newlines:
        # cut just after the newline that precedes the wanted lines
        cut = len(data)
        for _ in range(wanted_newlines):
            cut = data.rindex(b"\n", 0, cut)
        return data[cut + 1 :], False
    if end == 0 or read < max_bytes:
        return data, False  # the whole file, fewer lines than asked
    # The byte cap came first: drop the partial line at the front if a whole one follows.
    first_newline = data.find(b"\n")
    if 0 <= first_newline < len(data) - 1:
        data = data[first_newline + 1 :]
    return data, True


def _byte_at(file: BinaryIO, offset: int) -> bytes:
    file.seek(offset)
    return file.read(1)


def decode_log(data: bytes) -> str:
    # Logs are UTF-8 text in practice; a stray byte must not make the tail unreadable.
    return data.decode("utf-8", errors="replace")


class LogDirectory:
    """The regular files under one directory (at most MAX_LOG_DEPTH levels down)."""

    def __init__(self, root: str) -> None:
        self.configured = root
        self.root = os.path.realpath(root)

    def list(self) -> list[str]:
        found: list[str] = []
        self._walk(self.root, "", 1, found)
        found.sort()
        if len(found) > MAX_LOG_FILES:
            log.warning("%s holds more than %d log files; listing the first", self.root, MAX_LOG_FILES)
            del found[MAX_LOG_FILES:]
        return found

    def _walk(self, directory: str, prefix: str, depth: int, found: list[str]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            if depth == 1:
                log.warning("cannot list the log directory %s: %s", directory, exc.strerror)
            return
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            if len(found) > MAX_LOG_FILES or log_path_problem(relative) is not None:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_LOG_DEPTH:
                        self._walk(entry.path, f"{relative}/", depth + 1, found)
                elif not entry.name.endswith(COMPRESSED_SUFFIXES) and self._resolve(relative) is not None:
                    found.append(relative)
            except OSError:
                continue  # vanished while listing (rotated)

    def _resolve(self, relative: str) -> str | None:
        """The resolved path of a regular file inside the directory; None otherwise."""
        real = os.path.realpath(os.path.join(self.root, relative))
        if real == self.root or os.path.commonpath([real, self.root]) != self.root:
            return None
        try:
            if not stat.S_ISREG(os.stat(real, follow_symlinks=False).st_mode):
                return None
        except OSError:
            return None
        inside = os.path.relpath(real, self.root)
        return inside if log_path_problem(inside.replace(os.sep, "/")) is None else None

    def _open(self, path: str) -> int:
        """A read-only descriptor of the regular file `path` names. Raises LogNotFound."""
        problem = log_path_problem(path)
        if problem is not None:
            raise LogNotFound(f"{path[:200]!r}: {problem}")
        if path.endswith(COMPRESSED_SUFFIXES):
            raise LogNotFound(f"{path!r} is compressed")
        inside = self._resolve(path)
        if inside is None:
            raise LogNotFound(f"{path!r} is not a regular file in the log directory")
        parts = inside.split(os.sep)
        flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise LogNotFound(f"cannot open the log directory: {exc.strerror}") from None
        try:
            for part in parts[:-1]:
                next_fd = os.open(part, flags_dir, dir_fd=fd)
                os.close(fd)
                fd = next_fd
            # O_NONBLOCK: a FIFO swapped in must not block the collector (fstat refuses it next)
            file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            raise LogNotFound(f"{path!r}: {exc.strerror}") from None
        finally:
            os.close(fd)
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            os.close(file_fd)
            raise LogNotFound(f"{path!r} is not a regular file")
        return file_fd

    def tail(self, path: str, lines: int, max_bytes: int) -> tuple[str, bool]:
        fd = self._open(path)
        with os.fdopen(fd, "rb", buffering=0) as file:
            size = os.fstat(file.fileno()).st_size
            data, truncated = tail_bytes(file, size, lines, max_bytes)
        return decode_log(data), truncated


class TextLogs:
    """Log files held in memory (the simulator's hosts): path -> text."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def list(self) -> list[str]:
        return sorted(self.files)[:MAX_LOG_FILES]

    def tail(self, path: str, lines: int, max_bytes: int) -> tuple[str, bool]:
        text = self.files.get(path) if log_path_problem(path) is None else None
        if text is None:
            raise LogNotFound(f"{path[:200]!r} is not a log file of this host")
        data = text.encode()
        tail, truncated = tail_bytes(io.BytesIO(data), len(data), lines, max_bytes)
        return decode_log(tail), truncated


def default_log_dir(ceph_conf: str | None) -> str:
    """Where Ceph writes its logs per `ceph_conf`: the directory of its `log file` (or `log_file`)
    setting in [global] (else in a daemon section), when it names one without metavariables;
    otherwise /var/log/ceph."""
    if not ceph_conf:
        return DEFAULT_LOG_DIR
    try:
        with open(ceph_conf, encoding="utf-8", errors="replace") as conf:
            settings = _conf_settings(conf.read())
    except OSError as exc:
        log.warning("cannot read %s for its log file setting (%s); logs from %s", ceph_conf, exc.strerror,
                    DEFAULT_LOG_DIR)
        return DEFAULT_LOG_DIR
    for section in ("global", "mon", "osd", "mgr", "mds"):
        value = settings.get((section, "log file"), "")
        directory = os.path.dirname(value)
        if os.path.isabs(value) and directory and "$" not in directory:
            return directory
    return DEFAULT_LOG_DIR


def _conf_settings(text: str) -> dict[tuple[str, str], str]:
    """(section, option) -> value of a ceph.conf, options spelled with spaces ("log_file" and
    "log file" are the same in Ceph). Ceph's format is looser than configparser's: keys may be
    indented, comments start with # or ;, and the last of repeated keys wins."""
    settings: dict[tuple[str, str], str] = {}
    section = "global"
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and "]" in line:
            section = line[1 : line.index("]")].strip().lower()
            continue
        key, equals, value = line.partition("=")
        if not equals:
            continue
        for marker in ("#", ";"):
            value = value.split(marker, 1)[0]
        option = " ".join(key.replace("_", " ").lower().split())
        settings[(section, option)] = value.strip().strip('"')
    return settings


HostLogsLookup = Callable[[str], HostLogs | None]


def run_host_command(host_logs: HostLogsLookup, prefix: str, args: dict[str, Any]) -> tuple[int, Any, str]:
    """Answer a host command as (rc, out, err), like a Ceph command: -EINVAL for a malformed one,
    -EHOSTUNREACH for a host this collector does not speak for, -ENOENT for a path it may not show."""
    problem = host_command_problem(prefix, args)
    if problem is not None:
        return -errno.EINVAL, "", problem
    logs = host_logs(args["host"])
    if logs is None:
        return -errno.EHOSTUNREACH, "", f"this collector has no logs of host {args['host']!r}"
    if prefix == LOG_LIST:
        return 0, logs.list(), ""
    assert prefix == LOG_TAIL
    try:
        text, truncated = logs.tail(args["path"], args["lines"], args["max_bytes"])
    except LogNotFound as exc:
        return -errno.ENOENT, "", str(exc)
    except OSError as exc:
        return -errno.EIO, "", f"reading {args['path']!r} failed: {exc.strerror}"
    return 0, {"lines": text, "truncated": truncated}, ""
