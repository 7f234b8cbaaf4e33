"""The C allocator's settings for a long-running server that writes large answers (glibc only;
elsewhere nothing is changed).

Why: a 45 MB OSD list or a 16 MB /metrics body is one large buffer. glibc serves such buffers
with mmap and returns them on free, but each free of one raises its mmap threshold (up to 32 MB)
and its trim threshold to twice that, so from then on buffers of that size come from the heap of
the thread that asked, and each of the API's worker threads keeps its own heap (arena) with what
it freed: at 10,000 OSDs reads grew the server's RSS by hundreds of MB that it never gave back.
Fixing both thresholds (which turns their raising off) and capping the arenas keeps large
buffers on mmap, returned to the system when freed, and small ones in a few heaps trimmed as
they shrink."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


@dataclass(frozen=True)
class AllocatorSettings:
    """`mmap_threshold`: buffers from this size on are mapped on their own and returned when
    freed; `trim_threshold`: free memory at a heap's top beyond this is returned; `arena_max`:
    heaps shared by all threads (glibc's default is 8 per core)."""

    mmap_threshold: int = 256 * 1024
    trim_threshold: int = 1024 * 1024
    arena_max: int = 2


def tune_allocator(settings: AllocatorSettings | None = None) -> bool:
    """Apply `settings` to glibc's malloc; call before the worker threads start (arenas already
    made stay). False, changing nothing, where the C library is not glibc."""
    settings = settings or AllocatorSettings()
    libc = _glibc()
    if libc is None:
        return False
    applied = all(libc.mallopt(param, value) == 1 for param, value in (
        (M_MMAP_THRESHOLD, settings.mmap_threshold),
        (M_TRIM_THRESHOLD, settings.trim_threshold),
        (M_ARENA_MAX, settings.arena_max),
    ))
    if not applied:
        log.warning("the C allocator refused a setting of %s", settings)
    return applied


def release_free_memory() -> bool:
    """Return the free memory of every heap to the system (malloc_trim); False without glibc."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc
