"""The frame report: the declaration and the fast path agree; untrusted bytes raise only DecodeError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.bus.frame_report import (
    FRAME_REPORT,
    Fecf,
    FrameReport,
    ReportFields,
    Sync,
    subject_for,
    unpack_fields,
)
from protocols.errors import DecodeError

station_ids = st.text(st.sampled_from("abcXYZ019_-"), min_size=1, max_size=32)
reports = st.builds(
    FrameReport,
    station_id=station_ids,
    received_ns=st.integers(0, 2**64 - 1),
    spacecraft_id=st.integers(0, 2**16 - 1),
    vcid=st.integers(0, 255),
    frame_count=st.integers(0, 2**32 - 1),
    frame=st.binary(min_size=1, max_size=300),
    count_epoch=st.integers(0, 2**32 - 1),
    rs_corrected=st.integers(0, 2**16 - 1),
    uncorrectable=st.booleans(),
    fecf=st.sampled_from(Fecf),
    sync=st.sampled_from(Sync),
)


@given(reports)
def test_round_trip_matches_the_declaration(report: FrameReport) -> None:
    raw = report.pack()
    assert FrameReport.unpack(raw) == report
    parsed = FRAME_REPORT.parse(raw)
    assert parsed.station_id == report.station_id
    assert (parsed.received_ns, parsed.spacecraft_id, parsed.vcid) == (
        report.received_ns, report.spacecraft_id, report.vcid,
    )  # fmt: skip
    assert (parsed.frame_count, parsed.count_epoch, parsed.rs_corrected) == (
        report.frame_count, report.count_epoch, report.rs_corrected,
    )  # fmt: skip
    flags = parsed.flags
    assert (flags.uncorrectable, flags.fecf, flags.sync) == (report.uncorrectable, report.fecf, report.sync)
    assert parsed.frame == report.frame
    built = FRAME_REPORT.build(
        {**{k: v for k, v in parsed.items() if not k.startswith("_")}, "version": None}
    )
    assert built == raw


@given(st.binary(max_size=80))
def test_garbage_raises_only_decode_error(raw: bytes) -> None:
    try:
        FrameReport.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "frame-report"


@given(reports, st.integers(0, 200), st.integers(0, 255))
def test_damaged_reports_raise_only_decode_error(report: FrameReport, at: int, value: int) -> None:
    raw = bytearray(report.pack())
    raw[at % len(raw)] = value
    with contextlib.suppress(DecodeError):
        FrameReport.unpack(bytes(raw))
    with contextlib.suppress(DecodeError):
        FrameReport.unpack(bytes(raw[: at % len(raw)]))


def test_the_decoder_refuses_what_the_declaration_refuses() -> None:
    good = FrameReport("gds", 1, 245, 1, 7, b"\x01").pack()
    station_end = 2 + 3
    flags_at = station_end + 8 + 2 + 1 + 4 + 4 + 2
    for damage, reason in [
        ({0: 2}, "version"),
        ({2: ord(".")}, "station id"),  # a subject token may not hold a dot
        ({flags_at: 0b0110_0000}, "FECF state 3"),
        ({flags_at: 0b0001_1000}, "sync state 3"),
        ({flags_at: 0b0000_0001}, "reserved"),
    ]:
        raw = bytearray(good)
        for at, value in damage.items():
            raw[at] = value
        with pytest.raises(DecodeError, match=reason):
            FrameReport.unpack(bytes(raw))
    with pytest.raises(DecodeError, match="truncated"):
        FrameReport.unpack(good[:-1])  # a report carries at least one frame octet


def test_message_id_tells_stations_channels_and_wraps_apart() -> None:
    base = FrameReport("gds", 1, 245, 1, 7, b"x", count_epoch=2)
    assert base.message_id == "gds.245.1.2.7"
    same_frame_later = FrameReport("gds", 99, 245, 1, 7, b"y", count_epoch=2, rs_corrected=3)
    assert same_frame_later.message_id == base.message_id  # a retry of the same frame
    others = [
        FrameReport("mad", 1, 245, 1, 7, b"x", count_epoch=2),
        FrameReport("gds", 1, 246, 1, 7, b"x", count_epoch=2),
        FrameReport("gds", 1, 245, 0, 7, b"x", count_epoch=2),
        FrameReport("gds", 1, 245, 1, 7, b"x", count_epoch=3),
        FrameReport("gds", 1, 245, 1, 8, b"x", count_epoch=2),
    ]
    assert len({r.message_id for r in [base, *others]}) == 6
    assert base.subject == subject_for("gds") == "paleblue.frames.gds"


@pytest.mark.parametrize("station", ["", "a.b", "a b", "x" * 33, "é", "a>", "*"])
def test_a_station_id_must_be_one_subject_token(station: str) -> None:
    with pytest.raises(ValueError, match="station id"):
        FrameReport(station, 1, 245, 1, 7, b"x")


def test_quality_says_whether_the_copy_is_good() -> None:
    assert FrameReport("a", 1, 1, 1, 1, b"x").good
    assert FrameReport("a", 1, 1, 1, 1, b"x", fecf=Fecf.NONE).good
    assert not FrameReport("a", 1, 1, 1, 1, b"x", fecf=Fecf.BAD).good
    assert not FrameReport("a", 1, 1, 1, 1, b"x", uncorrectable=True).good


@given(reports)
def test_the_merger_fields_are_the_declared_report(report: FrameReport) -> None:
    raw = report.pack()
    fields = unpack_fields(raw)
    parsed = FRAME_REPORT.parse(raw)
    assert fields[:7] == (
        parsed.station_id, parsed.received_ns, parsed.spacecraft_id, parsed.vcid, parsed.frame_count,
        parsed.count_epoch, parsed.rs_corrected,
    )  # fmt: skip
    assert fields.frame == parsed.frame and fields.good == report.good
    assert fields.report() == report
    assert ReportFields.of(report)[:8] == fields[:8] and ReportFields.of(report).frame == report.frame
    assert unpack_fields(bytearray(raw)) == fields and unpack_fields(memoryview(raw)) == fields


@given(
    st.one_of(st.binary(max_size=80), reports.map(FrameReport.pack)), st.integers(0, 200), st.integers(0, 255)
)
def test_the_fields_refuse_exactly_what_the_report_refuses(raw: bytes, at: int, value: int) -> None:
    damaged = bytearray(raw)
    if damaged:
        damaged[at % len(damaged)] = value
    for data in (raw, bytes(damaged), raw[: at % (len(raw) + 1)]):
        try:
            expected = FrameReport.unpack(data)
        except DecodeError as exc:
            with pytest.raises(DecodeError) as refused:
                unpack_fields(data)
            assert (refused.value.layer, refused.value.offset, str(refused.value)) == (
                exc.layer, exc.offset, str(exc),
            )  # fmt: skip
        else:
            assert unpack_fields(data).report() == expected
            try:
                FRAME_REPORT.parse(data)
            except Exception:
                pytest.fail("the declaration refuses what the fast path takes")
