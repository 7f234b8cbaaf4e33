"""The C allocator's settings (calamari/adapters/allocator.py): after a large buffer is freed,
buffers of that size must still be mapped on their own (and so returned to the system when
freed), not kept in the heap of the thread that freed them. Checked in a fresh interpreter, with
glibc's own counters (mallinfo2: bytes in mapped chunks)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

from calamari.adapters.allocator import AllocatorSettings, tune_allocator

PROBE = r"""
import ctypes, ctypes.util, sys
from calamari.adapters.allocator import tune_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    assert tune_allocator()
large, smaller = int(sys.argv[2]), int(sys.argv[3])
libc.free(libc.malloc(large))  # glibc raises its mmap threshold to this size here, unless fixed
before = libc.mallinfo2().hblkhd
block = libc.malloc(smaller)
print(libc.mallinfo2().hblkhd - before >= smaller)
libc.free(block)
"""


def _glibc_with_mallinfo2() -> bool:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallinfo2")
    except OSError:
        return False


needs_glibc = pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc 2.33 or later only")


def _smaller_block_is_mapped(mode: str, large: int, smaller: int) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(large), str(smaller)], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip() == "True"


@needs_glibc
@pytest.mark.parametrize(("large", "smaller"), [(8 << 20, 4 << 20), (30 << 20, 2 << 20), (1 << 20, 512 << 10)])
def test_a_large_block_freed_leaves_later_ones_mapped(large: int, smaller: int) -> None:
    # glibc's default: the threshold rose to `large`, so `smaller` comes from the heap (kept there)
    assert not _smaller_block_is_mapped("default", large, smaller)
    assert _smaller_block_is_mapped("tuned", large, smaller)


@needs_glibc
def test_tuning_reports_success_on_glibc() -> None:
    assert tune_allocator(AllocatorSettings()) is True
