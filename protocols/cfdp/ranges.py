"""Sets of half-open byte ranges: what a receiver holds, what a sender must resend."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator


class RangeSet:
    """Disjoint, sorted ``[start, end)`` ranges; touching ranges merge. Operations are O(log n + k)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._covered = 0

    def add(self, start: int, end: int) -> int:
        """Cover ``[start, end)``; returns how many octets were not covered before."""
        if end <= start:
            return 0
        first = bisect_left(self._ends, start)
        last = bisect_right(self._starts, end)
        if first == last:
            self._starts.insert(first, start)
            self._ends.insert(first, end)
            self._covered += end - start
            return end - start
        new_start = min(start, self._starts[first])
        new_end = max(end, self._ends[last - 1])
        before = sum(self._ends[k] - self._starts[k] for k in range(first, last))
        self._starts[first:last] = [new_start]
        self._ends[first:last] = [new_end]
        added = (new_end - new_start) - before
        self._covered += added
        return added

    def remove(self, start: int, end: int) -> None:
        if end <= start:
            return
        first = bisect_right(self._ends, start)
        last = bisect_left(self._starts, end)
        if first >= last:
            return
        pieces_s, pieces_e = [], []
        if self._starts[first] < start:
            pieces_s.append(self._starts[first])
            pieces_e.append(start)
        if self._ends[last - 1] > end:
            pieces_s.append(end)
            pieces_e.append(self._ends[last - 1])
        removed = sum(min(self._ends[k], end) - max(self._starts[k], start) for k in range(first, last))
        self._starts[first:last] = pieces_s
        self._ends[first:last] = pieces_e
        self._covered -= removed

    def pop_front(self, max_length: int) -> tuple[int, int] | None:
        """Take up to ``max_length`` octets off the lowest range."""
        if not self._starts:
            return None
        start = self._starts[0]
        end = min(self._ends[0], start + max_length)
        self.remove(start, end)
        return start, end

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` not covered, in order."""
        missing = []
        cursor = start
        index = bisect_right(self._ends, start)
        while cursor < end and index < len(self._starts):
            s, e = self._starts[index], self._ends[index]
            if s >= end:
                break
            if s > cursor:
                missing.append((cursor, s))
            cursor = max(cursor, e)
            index += 1
        if cursor < end:
            missing.append((cursor, end))
        return missing

    def contains(self, start: int, end: int) -> bool:
        return not self.gaps(start, end)

    @property
    def covered(self) -> int:
        return self._covered

    @property
    def contiguous_end(self) -> int:
        """End of the run that starts at offset 0 (0 when offset 0 is missing)."""
        return self._ends[0] if self._starts and self._starts[0] == 0 else 0

    @property
    def highest_end(self) -> int:
        return self._ends[-1] if self._ends else 0

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __bool__(self) -> bool:
        return bool(self._starts)
