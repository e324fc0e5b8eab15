"""Progress lines: `say` writes one line; `ProgressLine` reports long loops (cache builds) as
done / total, rate and time left, every few seconds."""

from __future__ import annotations

import sys
import time
from typing import Callable


def say(line: str) -> None:
    """Print ``line`` in one write and flush: worker processes share stdout, where (unbuffered,
    as with ``PYTHONUNBUFFERED``) print's separate write of the newline can let two lines run together."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class ProgressLine:
    """``update(done)`` says ``"  <what>: <done>/<total> <unit>, <rate> <unit>/s, about <s> s left"``
    through ``say`` when ``every`` seconds have passed since the last line, and always at the end."""

    def __init__(self, say: Callable[[str], None], what: str, total: int, unit: str, every: float = 5.0) -> None:
        self.say, self.what, self.total, self.unit, self.every = say, what, total, unit, every
        self.start = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every and done < self.total:
            return
        rate = done / max(now - self.start, 1e-9)
        left = f", about {(self.total - done) / rate:.0f} s left" if done < self.total and rate > 0 else ""
        self.say(f"  {self.what}: {done}/{self.total} {self.unit}, {rate:.1f} {self.unit}/s{left}")
        self.last = now
