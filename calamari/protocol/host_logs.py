"""Host commands: requests the collector answers itself, about the host it runs on, not by asking
Ceph. They travel as `command` messages with target "host" and come back as `command_result`.

    "log list"  args {"host": str}                                    out [path, ...]
    "log tail"  args {"host": str, "path": str, "lines": int, "max_bytes": int}
                                                                      out {"lines": str, "truncated": bool}

Paths are relative to the collector's log directory, '/'-separated. Both ends validate with the
functions below (pure: no file is touched here); the collector also checks the file itself.
"""

from __future__ import annotations

from typing import Any

LOG_LIST = "log list"
LOG_TAIL = "log tail"
HOST_COMMANDS = frozenset({LOG_LIST, LOG_TAIL})
HOST_TARGET = "host"

MAX_TAIL_LINES = 10_000
# The most a tail may carry: bounds the collector's read, the message and the API answer.
MAX_TAIL_BYTES = 1 << 20
MAX_LOG_PATH_CHARS = 1024
# Bounds of a listing (a log directory with a million files must not make a huge message).
MAX_LOG_FILES = 1000
MAX_LOG_DEPTH = 3


def log_path_problem(path: Any) -> str | None:
    """Why `path` cannot name a log file (None when it may): it must be a relative '/'-separated
    path of plain names, without '..', '.', empty parts, backslashes or control characters."""
    if not isinstance(path, str) or not path:
        return "must be a non-empty string"
    if len(path) > MAX_LOG_PATH_CHARS:
        return f"longer than {MAX_LOG_PATH_CHARS} characters"
    if path.startswith("/"):
        return "must be relative"
    if "\\" in path or any(ord(char) < 32 or ord(char) == 127 for char in path):
        return "has a backslash or a control character"
    parts = path.split("/")
    if len(parts) > MAX_LOG_DEPTH:
        return f"deeper than {MAX_LOG_DEPTH} levels"
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' part"
    return None


def host_command_problem(prefix: str, args: Any) -> str | None:
    """Why a host command cannot be run (None when it is well-formed)."""
    if prefix not in HOST_COMMANDS:
        return f"unknown host command {prefix!r}"
    if not isinstance(args, dict):
        return "args must be a map"
    host = args.get("host")
    if not (isinstance(host, str) and 0 < len(host) <= 255):
        return "host must be a host name"
    if prefix == LOG_TAIL:
        problem = log_path_problem(args.get("path"))
        if problem is not None:
            return f"path {problem}"
        for name, high in (("lines", MAX_TAIL_LINES), ("max_bytes", MAX_TAIL_BYTES)):
            value = args.get(name)
            if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high):
                return f"{name} must be an integer from 1 to {high}"
    return None


def host_result_problem(prefix: str, out: Any) -> str | None:
    """Why the output of a successful host command is malformed (None when it is well-formed)."""
    if prefix == LOG_LIST:
        if not isinstance(out, list) or len(out) > MAX_LOG_FILES:
            return f"log list output must be a list of at most {MAX_LOG_FILES} paths"
        for path in out:
            problem = log_path_problem(path)
            if problem is not None:
                return f"listed path {str(path)[:100]!r} {problem}"
        return None
    if prefix == LOG_TAIL:
        if not (isinstance(out, dict) and isinstance(out.get("lines"), str)
                and isinstance(out.get("truncated", False), bool)):
            return "log tail output must be {lines: str, truncated: bool}"
        # characters, not bytes: a replaced undecodable byte may take more than one byte in UTF-8
        if len(out["lines"]) > MAX_TAIL_BYTES:
            return f"log tail output longer than {MAX_TAIL_BYTES}"
        return None
    return f"unknown host command {prefix!r}"
