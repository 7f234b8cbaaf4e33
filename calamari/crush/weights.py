"""CRUSH weights: 16.16 fixed point, as CRUSH stores them, and as crushtool prints them."""

from __future__ import annotations

import struct

WEIGHT_SCALE = 0x10000  # CRUSH weights are 16.16 fixed point


def weight_fixed(weight: float) -> int:
    """A weight as CRUSH stores it (crushtool and the monitor truncate)."""
    return int(weight * WEIGHT_SCALE)


def weight_text(fixed: int) -> str:
    """A stored weight as crushtool prints it."""
    # crushtool converts through a C float: large weights lose their last bits first
    as_float = struct.unpack("f", struct.pack("f", float(fixed)))[0]
    return f"{as_float / WEIGHT_SCALE:.3f}"
