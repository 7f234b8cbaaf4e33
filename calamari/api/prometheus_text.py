"""The Prometheus text format (0.0.4), written line by line so that /metrics can keep the lines
of what did not change: `Family` writes a metric family's header and sample lines exactly as
prometheus_client's `generate_latest` does (labels sorted by name, values escaped, numbers as Go
prints them); `Sections` keeps the body as parts, each with its gzip (deflate) bytes, so that
compressing a body where one part changed compresses only that part."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence

from prometheus_client.utils import floatToGoString

DEFLATE_LEVEL = 1  # the fastest: a scrape waits for it (see calamari.api.compression)
_GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF))  # deflate, no name, no time, unknown OS
_LAST_BLOCK = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Family:
    """One metric family: `line(label values, value)` in the order of `labels` as given."""

    def __init__(self, name: str, documentation: str, kind: str, labels: Sequence[str]) -> None:
        self.name = name
        help_text = documentation.replace("\\", "\\\\").replace("\n", "\\n")
        kind = "untyped" if kind == "unknown" else kind  # as generate_latest writes an "unknown" family
        self.header = f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"
        self._order = sorted(range(len(labels)), key=labels.__getitem__)
        self._names = [labels[i] for i in self._order]

    def line(self, values: Sequence[str], value: float, name: str | None = None) -> str:
        inner = ",".join(f'{label}="{escape_value(values[i])}"' for label, i in zip(self._names, self._order,
                                                                                      strict=True))
        labels = "{" + inner + "}" if inner else ""
        return f"{name or self.name}{labels} {floatToGoString(value)}\n"

    def text(self, lines: Iterable[str]) -> str:
        return self.header + "".join(lines)


def deflate(data: bytes) -> bytes:
    """Raw deflate of `data` ending on a byte boundary (a sync flush, not the last block): such
    pieces, concatenated, are one valid deflate stream."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class Sections:
    """A body made of named parts, each replaced when what it is made of changes (`put` with a
    new key). `body()` joins them; `gzip()` joins their deflated forms, compressing only parts
    that changed since it was last asked."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[object, bytes, bytes | None]] = {}  # name -> (key, text, deflated)
        self.changes = 0  # goes up whenever a part changes: what the ETag is made of

    def current(self, name: str, key: object) -> bool:
        part = self._parts.get(name)
        return part is not None and part[0] == key

    def put(self, name: str, key: object, text: str) -> None:
        self._parts[name] = (key, text.encode(), None)
        self.changes += 1

    def keep_only(self, names: Iterable[str]) -> None:
        """Keep the parts `names`, in that order (the body's order)."""
        self._parts = {name: self._parts[name] for name in names}

    def body(self) -> bytes:
        return b"".join(text for _, text, _ in self._parts.values())

    def gzip(self) -> bytes:
        pieces = []
        crc, size = 0, 0
        for name, (key, text, deflated) in self._parts.items():
            if deflated is None:
                deflated = deflate(text)
                self._parts[name] = (key, text, deflated)
            pieces.append(deflated)
            crc = zlib.crc32(text, crc)
            size += len(text)
        return b"".join([_GZIP_HEADER, *pieces, _LAST_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF)])
