"""Keep the allocator from page-faulting every frame: glibc maps each multi-megabyte array (a 4K frame, a face
region's remap maps) fresh from the kernel and returns it on free, so a live loop that makes the same temporaries
every frame pays a page fault per 4 KB of them, every frame (at 4K: 9.6 instead of 5.9 ms for one face's blend,
docs/performance.md). Raising glibc's mmap and trim thresholds keeps freed blocks for reuse."""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit: blocks up to a 4K frame come from the heap
TRIM_THRESHOLD = 256 * 1024 * 1024  # freed heap kept for reuse up to this much


def keep_freed_memory() -> bool:
    """Set the thresholds where the C library is glibc; False (nothing changed) elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False  # not glibc (musl, macOS, Windows): their allocators reuse differently; nothing to do
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
