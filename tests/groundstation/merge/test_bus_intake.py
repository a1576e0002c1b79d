"""The merger's intake, socket-free: every bus message is a report's fields or refused with its
reason; the merge counts and logs each refusal and goes on."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.merge.bus_intake import (
    INCONSISTENT,
    NOT_A_REPORT,
    UNKNOWN_STATION,
    WRONG_SUBJECT,
    BusIntake,
    Refused,
)
from groundstation.merge.bus_merge import BusMerge, merge_table
from groundstation.station import GroundStation
from protocols.bus.frame_report import FrameReport, unpack_fields
from protocols.link import tm_frame
from protocols.link.channel_file import preset

CONFIG = preset()
SCID = CONFIG.spacecraft_id


def frames(n: int) -> list[bytes]:
    tx = Transmitter(CONFIG, {1: 0})
    for sequence in range(n):  # VC 1 carries two frames of packets for each (never idle)
        tx.submit(1, struct.pack(">HHH", 100, 0xC000 | sequence, 1999) + bytes(2000))
    return [tx.next_frame() for _ in range(n)]


def report_of(station: str, frame: bytes, **changes) -> FrameReport:
    _, scid, vcid, _, count, _ = tm_frame.unpack_routing_fast(frame)
    fields = {"spacecraft_id": scid, "vcid": vcid, "frame_count": count, **changes}
    return FrameReport(station, 1, frame=frame, **fields)


def refusal(intake: BusIntake, subject: str, data: bytes) -> str:
    with pytest.raises(Refused) as refused:
        intake.take(subject, data)
    return refused.value.reason


def test_a_sound_report_is_taken_as_its_fields() -> None:
    (frame,) = frames(1)
    report = report_of("gds", frame)
    fields = BusIntake(CONFIG).take("paleblue.frames.gds", report.pack())
    assert fields == unpack_fields(report.pack()) and fields.report() == report


def test_each_bad_message_is_refused_with_its_reason() -> None:
    frame, other = frames(2)
    intake = BusIntake(CONFIG, ["gds", "cbr"])
    good = report_of("gds", frame)
    assert refusal(intake, "paleblue.frames.gds", b"\x01garbage") == NOT_A_REPORT
    assert refusal(intake, "paleblue.frames.gds", b"") == NOT_A_REPORT
    assert refusal(intake, "paleblue.frames.cbr", good.pack()) == WRONG_SUBJECT
    assert refusal(intake, "paleblue.frames.evil", report_of("evil", frame).pack()) == UNKNOWN_STATION
    inconsistent = [
        report_of("gds", frame, frame_count=7),  # the frame's own count is 0
        report_of("gds", frame, vcid=2),
        report_of("gds", other, frame_count=0),  # another frame's octets under this one's count
        report_of("gds", frame[:-1]),  # not the channel's frame length
        report_of("gds", frame + b"\0"),
        report_of("gds", bytes([frame[0] | 0x40]) + frame[1:]),  # version 1 (AOS) on a TM channel
    ]
    for bad in inconsistent:
        assert refusal(intake, "paleblue.frames.gds", bad.pack()) == INCONSISTENT, bad
    spoofed = bytearray(frame)
    spoofed[0] ^= 0x10  # the frame names another spacecraft than the report does
    assert (
        refusal(intake, "paleblue.frames.gds", report_of("gds", bytes(spoofed), spacecraft_id=SCID).pack())
        == INCONSISTENT
    )
    # a report of another spacecraft passes: the merger counts it as foreign, whatever its frame
    foreign = FrameReport("gds", 1, 99, 1, 0, b"\0\0\0")
    assert intake.take("paleblue.frames.gds", foreign.pack()).spacecraft_id == 99


@given(st.text(max_size=40), st.binary(max_size=1200))
def test_any_message_is_fields_or_refused(subject: str, data: bytes) -> None:
    try:
        BusIntake(CONFIG).take(subject, data)
    except Refused as refused:
        assert refused.reason in (NOT_A_REPORT, WRONG_SUBJECT, UNKNOWN_STATION, INCONSISTENT)


@given(st.integers(0, 2000), st.integers(0, 255))
def test_damaged_sound_reports_are_fields_or_refused(at: int, value: int) -> None:
    (frame,) = frames(1)
    data = bytearray(report_of("gds", frame).pack())
    data[at % len(data)] = value
    try:
        fields = BusIntake(CONFIG).take("paleblue.frames.gds", bytes(data))
    except Refused:
        return
    if fields.spacecraft_id == SCID:  # what passes agrees with its frame
        _, scid, vcid, _, count, _ = tm_frame.unpack_routing_fast(fields.frame)
        assert (scid, vcid, count) == (fields.spacecraft_id, fields.vcid, fields.frame_count)


def test_the_merge_counts_logs_and_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sent = frames(42)
    merge = BusMerge(GroundStation(tmp_path, channel=CONFIG, write_products=False), 8, ["gds", "cbr"])
    caplog.set_level(logging.WARNING, "paleblue.merge")
    junk = [
        ("paleblue.frames.gds", b"\x01junk"),
        ("paleblue.frames.gds", b"\x01junk again"),
        ("paleblue.frames.cbr", report_of("gds", sent[0]).pack()),
        ("paleblue.frames.evil", report_of("evil", sent[0]).pack()),
        ("paleblue.frames.gds", report_of("gds", sent[1], frame_count=9).pack()),
        ("paleblue.frames.gds", report_of("gds", sent[0], spacecraft_id=99).pack()),
    ]
    for k, frame in enumerate(sent):
        merge.handle("paleblue.frames.gds", report_of("gds", frame).pack())
        merge.handle(*junk[k % len(junk)])
        if k % 10 == 0:
            for _ in range(20):  # a flood: cbr sends the same frame again and again
                merge.handle("paleblue.frames.cbr", report_of("cbr", frame).pack())
    _, figures = merge.finish()
    assert figures == json.loads((tmp_path / "merge.json").read_text())
    per_kind = len(sent) // len(junk)
    assert figures["refused"] == {
        NOT_A_REPORT: 2 * per_kind, WRONG_SUBJECT: per_kind, UNKNOWN_STATION: per_kind,
        INCONSISTENT: per_kind,
    }  # fmt: skip
    assert figures["merged"]["foreign_spacecraft"] == per_kind
    assert figures["merged"]["frames_out"] == len(sent) and figures["merged"]["frames_missed"] == 0
    assert figures["stations"]["cbr"]["repeats"] == 5 * 19
    assert figures["messages"] == 2 * len(sent) + 5 * 20
    logged = [r.getMessage() for r in caplog.records]
    for reason in (NOT_A_REPORT, WRONG_SUBJECT, UNKNOWN_STATION, INCONSISTENT):
        assert sum(reason in line for line in logged) == 1  # once per kind: no log flood
    assert any("cbr reported 95 frame(s) again" in line for line in logged)
    assert f"{INCONSISTENT} {per_kind}" in merge_table(figures)
