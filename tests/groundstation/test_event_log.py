"""events.log: one line an alarm, event or verification report, in UTC."""

from __future__ import annotations

from pathlib import Path

from groundstation.event_log import EventLog, tai_iso
from groundstation.telemetry import Alarm, EventRecord
from protocols.pus.pus_services import RequestId, VerificationReport, VerificationSubtype

T0 = 1_000_000_000.0


def test_each_callback_writes_one_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.on_alarm(Alarm("BATTERY_V", T0, "NOMINAL", "RED", 21.5))
    log.on_event(EventRecord("SAFE_MODE_ENTERED", 7, "high", T0, {"cause": 3}))
    failure = VerificationReport(VerificationSubtype.ACCEPTANCE_FAILURE, RequestId(0x65, 9), 2)
    log.on_verification(failure, T0)
    log.on_verification(VerificationReport(VerificationSubtype.COMPLETION_SUCCESS, RequestId(0x65, 9)), T0)
    lines = (tmp_path / "events.log").read_text().splitlines()
    stamp = tai_iso(T0)
    assert lines == [
        f"{stamp} ALARM BATTERY_V NOMINAL -> RED (value 21.5)",
        f"{stamp} EVENT HIGH SAFE_MODE_ENTERED cause=3",
        f"{stamp} VERIFY acceptance FAILED BAD_ARGUMENT: a command not sent by this ground station "
        "(TC APID 101 count 9; its name is unknown here)",
        f"{stamp} VERIFY completion ok: a command not sent by this ground station "
        "(TC APID 101 count 9; its name is unknown here)",
    ]


def test_a_command_this_ground_sent_is_named_with_its_arguments(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.on_sent("SET_MODE", {"MODE": "SAFE"}, 0x65, 0, T0)
    log.on_sent("PING", {}, 0x65, 1, T0)
    log.on_verification(VerificationReport(VerificationSubtype.ACCEPTANCE_SUCCESS, RequestId(0x65, 0)), T0)
    log.on_verification(VerificationReport(VerificationSubtype.COMPLETION_SUCCESS, RequestId(0x65, 1)), T0)
    lines = (tmp_path / "events.log").read_text().splitlines()
    stamp = tai_iso(T0)
    assert lines == [
        f"{stamp} SENT SET_MODE MODE=SAFE (TC APID 101 count 0)",
        f"{stamp} SENT PING (TC APID 101 count 1)",
        f"{stamp} VERIFY acceptance ok: SET_MODE MODE=SAFE (TC APID 101 count 0)",
        f"{stamp} VERIFY completion ok: PING (TC APID 101 count 1)",
    ]
    assert not any("count 0)" in line and "unknown" in line for line in lines)


def test_a_time_out_of_range_is_written_as_tai_seconds() -> None:
    assert tai_iso(1e300) == f"TAI {1e300:.3f}"
