"""Counts every fault by kind and logs it without flooding the terminal."""

from __future__ import annotations

import logging
from collections import Counter


class FaultLog:
    """Every fault is counted; the first ``verbose_first`` of each kind are logged, then every
    ``then_every``-th, so a storm of garbage stays visible without drowning the log."""

    def __init__(self, logger: logging.Logger, verbose_first: int = 10, then_every: int = 1000) -> None:
        self._log = logger
        self._first = verbose_first
        self._every = then_every
        self.counts: Counter[str] = Counter()

    def record(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        n = self.counts[kind]
        if n <= self._first or n % self._every == 0:
            self._log.warning("fault #%d of kind '%s'%s", n, kind, f": {detail}" if detail else "")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
