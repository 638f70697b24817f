"""How much memory this process may still allocate, for budgets checked before large allocations.

A file is untrusted: its sizes are checked against this budget before anything is read, decompressed or derived
from it, so a small crafted file ends in an error naming the memory it would need instead of swapping the machine
or dying in the allocator.
"""
from __future__ import annotations

import os
import resource


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _address_space_left() -> int:
    """Room left under an address-space limit (ulimit -v, RLIMIT_AS); unlimited: a huge number."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ValueError, OSError):
        return 1 << 62
    if soft == resource.RLIM_INFINITY:
        return 1 << 62
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(0, soft - used)


def available_bytes() -> int:
    """Memory available to this process now: the kernel's MemAvailable, capped by an address-space limit."""
    return min(_meminfo_available(), _address_space_left())


def file_budget() -> int:
    """Bytes that reading one file and deriving its arrays may take: 80% of :func:`available_bytes`."""
    return int(0.8 * available_bytes())


def gib(nbytes: float) -> str:
    """A byte count for messages: '3.2 GiB'."""
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**27 else f"{nbytes / 2**20:.1f} MiB"
