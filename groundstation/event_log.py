"""``events.log``: alarms, events and command verification of a pass, one line each, as they come."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groundstation.telemetry import Alarm, EventRecord
from protocols.atomic_file import append_line
from protocols.packets.time_code import tai_seconds_to_utc
from protocols.pus.pus_services import FailureCode, VerificationReport

log = logging.getLogger("paleblue.ground")


def tai_iso(tai: float) -> str:
    """An on-board TAI time as UTC ISO 8601 to the millisecond (``TAI <s>`` when out of range)."""
    try:
        return tai_seconds_to_utc(tai).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError):
        return f"TAI {tai:.3f}"


SENT_REMEMBERED = 10_000  # commands whose name a verification report can still be matched to


def command_text(name: str, arguments: Mapping[str, Any]) -> str:
    """``SET_MODE MODE=SAFE``: a command as an operator would type it."""
    return " ".join([name, *(f"{k}={v}" for k, v in arguments.items())])


class EventLog:
    """The telemetry processor's callbacks, written to ``out_dir/events.log`` and the log.

    Commands this ground sends are told to :meth:`on_sent`, so their verification lines name
    them; a report for a request this ground did not send says so (its name is not known here)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / "events.log"
        self._sent: OrderedDict[tuple[int, int], str] = OrderedDict()

    def on_sent(self, name: str, arguments: Mapping[str, Any], apid: int, count: int, tai: float) -> None:
        """A command went up the uplink: remembered by its request id and logged."""
        text = command_text(name, arguments)
        self._sent[(apid, count)] = text
        while len(self._sent) > SENT_REMEMBERED:
            self._sent.popitem(last=False)
        line = f"{tai_iso(tai)} SENT {text} (TC APID {apid} count {count})"
        log.info(line)
        self.write_line(line)

    def on_alarm(self, alarm: Alarm) -> None:
        line = (
            f"{tai_iso(alarm.time)} ALARM {alarm.parameter} {alarm.previous} -> {alarm.current} "
            f"(value {alarm.value:g})"
        )
        log.warning(line)
        self.write_line(line)

    def on_event(self, event: EventRecord) -> None:
        values = ", ".join(f"{k}={v}" for k, v in event.values.items())
        line = f"{tai_iso(event.time)} EVENT {event.severity.upper()} {event.name} {values}".rstrip()
        log.info(line)
        self.write_line(line)

    def on_verification(self, report: VerificationReport, tai: float) -> None:
        if report.success:
            outcome = "ok"
        else:
            code = report.failure_code
            name = FailureCode(code).name if code in FailureCode._value2member_map_ else str(code)
            outcome = f"FAILED {name}"
        rid = report.request_id
        request = f"TC APID {rid.apid} count {rid.sequence_count}"
        sent = self._sent.get((rid.apid, rid.sequence_count))
        if sent is None:
            what = f"a command not sent by this ground station ({request}; its name is unknown here)"
        else:
            what = f"{sent} ({request})"
        line = f"{tai_iso(tai)} VERIFY {report.stage} {outcome}: {what}"
        if not report.success:
            log.warning(line)
        self.write_line(line)

    def write_line(self, line: str) -> None:
        append_line(self.path, line)  # one write() a line: whole lines, even if killed
