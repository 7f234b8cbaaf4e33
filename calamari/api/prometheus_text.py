"""The Prometheus text format (0.0.4), written line by line so that /metrics can keep the lines
of what did not change: `Family` writes a metric family's header and sample lines exactly as
prometheus_client's `generate_latest` does (labels sorted by name, values escaped, numbers as Go
prints them); `Sections` keeps the body as parts, each family's text with its gzip (deflate)
bytes, so that compressing a body where some families changed compresses only those."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Sequence

from prometheus_client.utils import floatToGoString

DEFLATE_LEVEL = 1  # the fastest: a scrape waits for it (see calamari.api.compression)
_GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF))  # deflate, no name, no time, unknown OS
_LAST_BLOCK = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def go_float(value: float) -> str:
    """A sample's value as generate_latest writes it (floatToGoString), quicker below 1e6, where
    Go's form and Python's repr of the float agree (above, Go switches to exponents sooner)."""
    kind = type(value)
    if kind is int:
        if -1_000_000 < value < 1_000_000:
            return f"{value}.0"
    elif kind is float and -1e6 < value < 1e6:  # (NaN is not)
        return repr(value)
    return floatToGoString(value)


class Family:
    """One metric family: `line(label values, value)` in the order of `labels` as given, or
    `sample(labels(values), value)` to format the label set once for many samples."""

    def __init__(self, name: str, documentation: str, kind: str, labels: Sequence[str]) -> None:
        self.name = name
        help_text = documentation.replace("\\", "\\\\").replace("\n", "\\n")
        kind = "untyped" if kind == "unknown" else kind  # as generate_latest writes an "unknown" family
        self.header = f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"
        self._order = sorted(range(len(labels)), key=labels.__getitem__)
        self._names = [labels[i] for i in self._order]

    def labels(self, values: Sequence[str]) -> str:
        """`{name="value",...}` sorted by name, as generate_latest writes them ("" for none)."""
        inner = ",".join(f'{label}="{escape_value(values[i])}"' for label, i in zip(self._names, self._order,
                                                                                      strict=True))
        return "{" + inner + "}" if inner else ""

    def sample(self, labels: str, value: float) -> str:
        return f"{self.name}{labels} {go_float(value)}\n"

    def line(self, values: Sequence[str], value: float) -> str:
        return self.sample(self.labels(values), value)

    def text(self, lines: Iterable[str]) -> str:
        return self.header + "".join(lines)


def deflate(data: bytes) -> bytes:
    """Raw deflate of `data` ending on a byte boundary (a sync flush, not the last block): such
    pieces, concatenated, are one valid deflate stream."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class Sections:
    """A body made of named parts, each a list of texts (one per metric family), held only in
    deflated form (a 10,000-OSD body is 16 MB as text, under 1 MB deflated). `put` replaces a
    part's texts when what it is made of changed (a new key); a text equal to the one held (by
    digest) keeps its deflated bytes, so a scrape compresses only the families that changed."""

    def __init__(self) -> None:
        # name -> (key, [Piece, ...])
        self._parts: dict[str, tuple[object, list[Piece]]] = {}
        self.changes = 0  # goes up whenever a text changes: what the ETag is made of
        # the last gzip body made, with `changes` then: scrapes between changes reuse it (the plain
        # body, 16 MB at 10,000 OSDs, is not kept: made again for each client that takes no gzip)
        self._gzip: tuple[int, bytes] | None = None

    def current(self, name: str, key: object) -> bool:
        part = self._parts.get(name)
        return part is not None and part[0] == key

    def put(self, name: str, key: object, texts: Sequence[str]) -> None:
        held = self._parts.get(name, (None, []))[1]
        pieces = []
        for i, text in enumerate(texts):
            data = text.encode()
            digest = hashlib.blake2b(data, digest_size=16).digest()
            pieces.append(held[i] if i < len(held) and held[i].digest == digest else Piece(data, digest))
        if len(pieces) != len(held) or any(new is not old for new, old in zip(pieces, held, strict=False)):
            self.changes += 1
        self._parts[name] = (key, pieces)

    def keep_only(self, names: Iterable[str]) -> None:
        """Keep the parts `names`, in that order (the body's order)."""
        self._parts = {name: self._parts[name] for name in names}

    def _pieces(self) -> list[Piece]:
        return [piece for _, pieces in self._parts.values() for piece in pieces]

    def size(self) -> int:
        """The body's length in bytes, without making it."""
        return sum(piece.size for piece in self._pieces())

    def body(self) -> bytes:
        return b"".join(zlib.decompressobj(-zlib.MAX_WBITS).decompress(piece.deflated) for piece in self._pieces())

    def gzip(self) -> bytes:
        if self._gzip is None or self._gzip[0] != self.changes:
            self._gzip = (self.changes, self._make_gzip())
        return self._gzip[1]

    def _make_gzip(self) -> bytes:
        pieces = self._pieces()
        zeros = bytes(max((piece.size for piece in pieces), default=0))
        crc, size = 0, 0
        for piece in pieces:
            # the CRC of the text so far followed by this one, from the two CRCs: CRC-32 is
            # affine, and running it over as many zero bytes moves a CRC past a text of that length
            crc = zlib.crc32(memoryview(zeros)[:piece.size], crc) ^ piece.zeros_crc ^ piece.crc
            size += piece.size
        return b"".join([_GZIP_HEADER, *(piece.deflated for piece in pieces), _LAST_BLOCK,
                         struct.pack("<II", crc, size & 0xFFFFFFFF)])


class Piece:
    """One family's text as the gzip body needs it: deflated, its CRC-32 and length."""

    __slots__ = ("crc", "deflated", "digest", "size", "zeros_crc")

    def __init__(self, data: bytes, digest: bytes) -> None:
        self.digest = digest
        self.deflated = deflate(data)
        self.crc = zlib.crc32(data)
        self.size = len(data)
        self.zeros_crc = zlib.crc32(bytes(self.size))
