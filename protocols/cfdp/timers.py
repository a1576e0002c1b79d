"""Countdown timers read from an injected clock, so that tests and suspended passes can stop time."""

from __future__ import annotations


class Countdown:
    """Expires ``duration`` seconds after :meth:`start`; :meth:`freeze` keeps the remaining time."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self._deadline: float | None = None
        self._remaining_when_frozen: float | None = None

    def start(self, now: float, duration: float | None = None) -> None:
        self._deadline = now + (self.duration if duration is None else duration)
        self._remaining_when_frozen = None

    def stop(self) -> None:
        self._deadline = None
        self._remaining_when_frozen = None

    @property
    def running(self) -> bool:
        return self._deadline is not None or self._remaining_when_frozen is not None

    @property
    def frozen(self) -> bool:
        return self._remaining_when_frozen is not None

    def expired(self, now: float) -> bool:
        return self._deadline is not None and now >= self._deadline

    def freeze(self, now: float) -> None:
        if self._deadline is not None:
            self._remaining_when_frozen = max(0.0, self._deadline - now)
            self._deadline = None

    def thaw(self, now: float) -> None:
        if self._remaining_when_frozen is not None:
            self._deadline = now + self._remaining_when_frozen
            self._remaining_when_frozen = None
