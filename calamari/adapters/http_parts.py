"""A large answer made of many parts (the OSD list: each OSD's JSON pieces and the pools list of
its CRUSH root), sent as it is: `socket.sendmsg` hands the kernel up to IOV_MAX parts per call,
with no join, no copy into waitress's buffers and no read through a file object.

The application hands such an answer over as a file through `wsgi.file_wrapper` (PEP 3333); a
file with a `parts` attribute (the bytes objects whose concatenation it reads as) is wrapped in a
`PartsBuffer` instead of waitress's own wrapper. waitress puts a file wrapper in the connection's
output buffers as it is, and asks it for chunks to send (`get`, then `skip` by what was sent):
`get` answers with the next parts as a `PartsChunk`, which `GuardedChannel.send` passes to
`sendmsg` (calamari.adapters.http_connections). Any other file is wrapped as waitress would."""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Sequence
from typing import Any

from waitress.buffers import ReadOnlyFileBasedBuffer

# parts per sendmsg call: the kernel takes at most IOV_MAX buffers (1,024 on Linux)
PARTS_PER_SEND = max(16, min(1024, os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024))
MIN_BYTES_PER_SEND = 64 * 1024  # a send size waitress gives below this is raised to it


class PartsChunk(list):  # type: ignore[type-arg]
    """The next parts of a `PartsBuffer` to send (bytes, the first maybe a memoryview), for `sendmsg`."""


class PartsBuffer(ReadOnlyFileBasedBuffer):
    """waitress's output buffer over an answer's parts, kept as they are."""

    def __init__(self, parts: Sequence[bytes], file: Any = None, ends: Sequence[int] | None = None) -> None:
        # not the base's __init__: nothing is read from the file, which is only closed at the end
        self.file = file
        self.block_size = 0
        self._parts = parts
        # the offset after each part (counting 30,000 parts' lengths takes milliseconds: given if known)
        self._ends = ends if ends is not None else list(itertools.accumulate(map(len, parts)))
        self._position = 0  # bytes sent
        self._index = 0  # the part holding the next byte to send
        self._limit = self._ends[-1] if self._ends else 0
        self.remain = self._limit

    def prepare(self, size: int | None = None) -> int:
        if size is not None:  # a Content-Length shorter than the parts: only that much is sent
            self._limit = min(self._limit, self._position + size)
            self.remain = self._limit - self._position
        return int(self.remain)

    def get(self, numbytes: int = -1, skip: bool = False) -> PartsChunk:
        """The parts from where sending is, some `numbytes` bytes of them (waitress's send size: the
        socket's send buffer) and at most PARTS_PER_SEND, for one sendmsg."""
        if self.remain <= 0:
            return PartsChunk()
        budget = self.remain if numbytes < 0 else min(self.remain, max(numbytes, MIN_BYTES_PER_SEND))
        first, ends = self._index, self._ends
        last = min(bisect.bisect_left(ends, self._position + budget, first), first + PARTS_PER_SEND - 1,
                   len(ends) - 1)
        chunk = PartsChunk(self._parts[first:last + 1])
        start_of_first = ends[first] - len(chunk[0])
        if self._position > start_of_first:
            chunk[0] = memoryview(chunk[0])[self._position - start_of_first:]
        if ends[last] > self._limit:
            chunk[-1] = memoryview(chunk[-1])[:len(chunk[-1]) - (ends[last] - self._limit)]
        if skip:
            self.skip(sum(map(len, chunk)))
        return chunk

    def skip(self, numbytes: int, allow_prune: int = 0) -> None:
        if numbytes > self.remain:
            raise ValueError(f"cannot skip {numbytes} bytes of {self.remain}")
        self._position += numbytes
        self.remain -= numbytes
        # the first part not sent in full (parts of no bytes are passed over)
        self._index = bisect.bisect_right(self._ends, self._position, self._index)

    def __iter__(self) -> Any:  # what waitress iterates when it cannot seek: the parts themselves
        return iter(self._parts)

    def close(self) -> None:
        if self.file is not None and hasattr(self.file, "close"):
            self.file.close()
        self.remain = 0


def file_wrapper(file: Any, block_size: int = 32768) -> ReadOnlyFileBasedBuffer:
    """`wsgi.file_wrapper`: a `PartsBuffer` for a file of parts, else waitress's own wrapper."""
    parts = getattr(file, "parts", None)
    if isinstance(parts, list | tuple):
        ends = getattr(file, "ends", None)
        return PartsBuffer(parts, file, ends if isinstance(ends, Sequence) and len(ends) == len(parts) else None)
    return ReadOnlyFileBasedBuffer(file, block_size)
