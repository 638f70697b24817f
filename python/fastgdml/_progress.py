"""A dependency-free progress bar on stderr, shown only on a terminal (or when forced)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool = True):
        self.total, self.label, self.done = max(int(total), 1), label, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.start = self._last = time.perf_counter()

    def update(self, k: int = 1) -> None:
        self.done += k
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            eta = (now - self.start) / frac * (1 - frac) if frac > 0 else 0.0
            sys.stderr.write(f"\r{self.label}: [{bar:<30}] {100 * frac:5.1f}%  eta {eta:5.1f}s")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
