"""The Prometheus text format (0.0.4), written line by line so that /metrics can keep the lines
of what did not change: `Family` writes a metric family's header and sample lines exactly as
prometheus_client's `generate_latest` does (labels sorted by name, values escaped, numbers as Go
prints them); `Sections` keeps the body as parts, each family's text with its gzip (deflate)
bytes, so that compressing a body where some families changed compresses only those."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client.utils import floatToGoString

DEFLATE_LEVEL = 1  # the fastest: a scrape waits for it (see calamari.api.compression)
_GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF))  # deflate, no name, no time, unknown OS
_LAST_BLOCK = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def go_float(value: float) -> str:
    """A sample's value as generate_latest writes it (floatToGoString), quicker for small ints."""
    if type(value) is int and -1_000_000 < value < 1_000_000:  # below 1e6 Go keeps the plain form
        return f"{value}.0"
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
    """A body made of named parts, each a list of texts (one per metric family). `put` replaces
    a part's texts when what it is made of changed (a new key); texts equal to the ones held keep
    their deflated form, so `gzip()` compresses only the families whose text changed."""

    def __init__(self) -> None:
        # name -> (key, [[text, deflated or None], ...])
        self._parts: dict[str, tuple[object, list[list[Any]]]] = {}
        self.changes = 0  # goes up whenever a text changes: what the ETag is made of

    def current(self, name: str, key: object) -> bool:
        part = self._parts.get(name)
        return part is not None and part[0] == key

    def put(self, name: str, key: object, texts: Sequence[str]) -> None:
        held = self._parts.get(name, (None, []))[1]
        pieces = []
        for i, text in enumerate(texts):
            data = text.encode()
            if i < len(held) and held[i][0] == data:
                pieces.append(held[i])
            else:
                pieces.append([data, None])
        if len(pieces) != len(held) or any(new is not old for new, old in zip(pieces, held, strict=False)):
            self.changes += 1
        self._parts[name] = (key, pieces)

    def keep_only(self, names: Iterable[str]) -> None:
        """Keep the parts `names`, in that order (the body's order)."""
        self._parts = {name: self._parts[name] for name in names}

    def body(self) -> bytes:
        return b"".join(piece[0] for _, pieces in self._parts.values() for piece in pieces)

    def gzip(self) -> bytes:
        out = [_GZIP_HEADER]
        crc, size = 0, 0
        for _, pieces in self._parts.values():
            for piece in pieces:
                if piece[1] is None:
                    piece[1] = deflate(piece[0])
                out.append(piece[1])
                crc = zlib.crc32(piece[0], crc)
                size += len(piece[0])
        out += (_LAST_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(out)
