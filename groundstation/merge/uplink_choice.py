"""Which station the uplink goes through now: one at a time, chosen by the operator, by the pass
schedule, or as the station in contact.

* the operator's: ``UplinkChoice(via="s2")``: always that station;
* a pass schedule: ``UplinkChoice(schedule=[(0, "s1"), (600, "s2")])``: from each time (seconds
  since the merge started) that station; before the first entry none;
* the station in contact: ``UplinkChoice(via="auto")``: the station whose frame reached the merger
  last, kept while it is still heard (within ``hold_s``), so that a handover's overlap does not
  make the uplink jump back and forth; none when no station has been heard for ``hold_s``.

Calling the choice gives the station id (or None); :class:`transport.nats_uplink.UplinkRelay`
calls it for each unit it is asked to send.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from protocols.bus.frame_report import valid_station_id

AUTO = "auto"


def parse_schedule(text: str) -> list[tuple[float, str]]:
    """``s1@0,s2@600`` -> [(0.0, "s1"), (600.0, "s2")], in time order; ValueError if malformed."""
    schedule = []
    for item in text.split(","):
        station, at, seconds = item.strip().partition("@")
        if not at or not valid_station_id(station):
            raise ValueError(f"{item!r} is not STATION@SECONDS")
        try:
            start = float(seconds)
        except ValueError:
            raise ValueError(f"{item!r}: {seconds!r} is not a number of seconds") from None
        if not start >= 0:
            raise ValueError(f"{item!r}: the time is negative")
        schedule.append((start, station))
    return sorted(schedule)


class UplinkChoice:
    def __init__(
        self,
        via: str | None = None,
        schedule: Iterable[tuple[float, str]] = (),
        *,
        hold_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.via = via
        self.schedule = sorted(schedule)
        if via is not None and self.schedule:
            raise ValueError("an uplink station or a schedule, not both")
        self.hold_s = hold_s
        self.clock = clock
        self.started = clock()
        self.heard: dict[str, float] = {}  # station -> when its newest frame reached the merger
        self._current: str | None = None

    def __call__(self) -> str | None:
        if self.via is not None and self.via != AUTO:
            return self.via
        now = self.clock()
        if self.schedule:
            elapsed = now - self.started
            chosen = None
            for start, station in self.schedule:
                if start <= elapsed:
                    chosen = station
            return chosen
        if self.via != AUTO:
            return None
        current = self._current
        if current is not None and now - self.heard.get(current, -1e18) <= self.hold_s:
            return current
        latest = max(self.heard.items(), key=lambda item: item[1], default=None)
        self._current = latest[0] if latest is not None and now - latest[1] <= self.hold_s else None
        return self._current
