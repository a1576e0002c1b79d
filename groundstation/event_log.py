"""``events.log``: alarms, events and command verification of a pass, one line each, as they come."""

from __future__ import annotations

import logging
from pathlib import Path

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


class EventLog:
    """The telemetry processor's callbacks, written to ``out_dir/events.log`` and the log."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / "events.log"

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
        line = f"{tai_iso(tai)} VERIFY {report.stage} {outcome} ({request})"
        if not report.success:
            log.warning(line)
        self.write_line(line)

    def write_line(self, line: str) -> None:
        append_line(self.path, line)  # one write() a line: whole lines, even if killed
