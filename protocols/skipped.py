"""Octets a stream decoder passed over: reported, never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SkippedBytes:
    """A span of a stream that held no good unit (packet, record), with the reason."""

    offset: int
    length: int
    reason: str


class SkipTracker:
    """Merges consecutive skipped octets into one report carrying the first reason."""

    def __init__(self) -> None:
        self._start: int | None = None
        self._reason = ""

    def mark(self, offset: int, reason: str) -> None:
        """Octets from ``offset`` on are being skipped (no effect while a span is open)."""
        if self._start is None:
            self._start, self._reason = offset, reason

    def flush(self, end: int) -> SkippedBytes | None:
        """Close the open span at ``end``; the report, or None when nothing was skipped."""
        if self._start is None:
            return None
        skipped = SkippedBytes(self._start, end - self._start, self._reason)
        self._start = None
        return skipped
