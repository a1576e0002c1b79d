"""Alarm states per parameter, as ISA-18.2 defines them (and Yamcs and Open MCT show them).

A limit violation makes a parameter's alarm *unacknowledged*; an operator acknowledges it
(*acknowledged*, until the value returns to nominal, then *normal*). A return to nominal before
acknowledgement leaves it *returned-unacknowledged* until acknowledged. *Shelved* hides an
alarm for a time; it comes back with its state when the time runs out. *Clear* resets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Alarm:
    parameter: str
    level: str = "NOMINAL"
    acknowledged: bool = True
    value: float | None = None
    tai: float | None = None
    shelved_until: float | None = None  # the clock's time
    triggers: int = 0


class AlarmError(KeyError):
    """No such alarm."""


class AlarmBook:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._alarms: dict[str, _Alarm] = {}

    def update(self, parameter: str, level: str, value: float | None, tai: float | None) -> None:
        """A limit state change from the station (``level``: NOMINAL, YELLOW or RED)."""
        alarm = self._alarms.setdefault(parameter, _Alarm(parameter))
        if level != "NOMINAL" and alarm.level == "NOMINAL":
            alarm.triggers += 1
            alarm.acknowledged = False
        elif level != "NOMINAL" and _rank(level) > _rank(alarm.level):
            alarm.acknowledged = False  # worse than what was acknowledged
        alarm.level, alarm.value, alarm.tai = level, value, tai

    def state(self, parameter: str) -> str:
        alarm = self._get(parameter)
        if alarm.shelved_until is not None:
            if self._clock() < alarm.shelved_until:
                return "shelved"
            alarm.shelved_until = None
        if alarm.level == "NOMINAL":
            return "normal" if alarm.acknowledged else "returned-unacknowledged"
        return "acknowledged" if alarm.acknowledged else "unacknowledged"

    def acknowledge(self, parameter: str) -> None:
        self._get(parameter).acknowledged = True

    def shelve(self, parameter: str, seconds: float) -> None:
        self._get(parameter).shelved_until = self._clock() + seconds

    def clear(self, parameter: str) -> None:
        alarm = self._get(parameter)
        alarm.acknowledged, alarm.shelved_until = True, None
        alarm.level = "NOMINAL"

    def alarms(self) -> list[dict]:
        return [
            {
                "parameter": a.parameter,
                "state": self.state(a.parameter),
                "level": a.level,
                "value": a.value,
                "tai": a.tai,
                "shelved_until_unix": a.shelved_until,
                "triggers": a.triggers,
            }
            for a in sorted(self._alarms.values(), key=lambda a: a.parameter)
        ]

    def _get(self, parameter: str) -> _Alarm:
        alarm = self._alarms.get(parameter)
        if alarm is None:
            raise AlarmError(parameter)
        return alarm


def _rank(level: str) -> int:
    return ("NOMINAL", "YELLOW", "RED").index(level)
