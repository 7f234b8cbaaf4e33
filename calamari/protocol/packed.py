"""A document held as its msgpack bytes, for large sync objects that are kept between reports but
read seldom (the OSD metadata, the CRUSH map): at 10,000 OSDs the decoded OSD metadata takes
27 MB of dicts and strings, its msgpack form 11 MB, the CRUSH map 10 MB against 1 MB.

`pack` keeps a document packed only when unpacking gives back an equal document of the same
types (msgpack has no tuples, for one): otherwise the document itself is kept, so what a reader
gets is what was handed in."""

from __future__ import annotations

from typing import Any

import msgpack


class PackedDocument:
    """A document's msgpack bytes; `unpack()` gives a new copy of the document each time."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def unpack(self) -> Any:
        return msgpack.unpackb(self.data, raw=False, strict_map_key=False)

    def __repr__(self) -> str:
        return f"PackedDocument({len(self.data)} bytes)"


def pack(document: Any) -> PackedDocument | Any:
    """`document` packed, or `document` itself when msgpack cannot give it back as it is: a tuple,
    a subclass of dict, list, str, int or float (strict types refuse them), an int beyond 64
    bits. (Documents from the bus are what msgpack decoded, so they always pack.)"""
    try:
        return PackedDocument(msgpack.packb(document, use_bin_type=True, strict_types=True))
    except (TypeError, ValueError, OverflowError):
        return document


def unpacked(held: Any) -> Any:
    """What a holder keeps, as a document: unpacked if packed, else as it is."""
    return held.unpack() if isinstance(held, PackedDocument) else held
