"""PUS-C packets and services 1/3/5/8/9/17: bytes equal spacepackets', decoders reject cleanly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ecss.tc import PusTc
from spacepackets.ecss.tm import PusTm

from protocols.coding.crc import crc16
from protocols.errors import DecodeError
from protocols.packets.time_code import CucTime
from protocols.pus.pus_services import (
    LAYER_PEC,
    REQUEST_ID_LENGTH,
    SUBTYPES,
    FailureCode,
    RequestId,
    Service,
    Subtype,
    TimeCorrelation,
    VerificationReport,
    message_name,
    pack_tc,
    pack_tm,
    pack_verification,
    request_id_of,
    unpack_tc,
    unpack_tm,
    unpack_verification,
)

apids = st.integers(0, 0x7FE)
counts = st.integers(0, 0x3FFF)
octets = st.integers(0, 255)
payloads = st.binary(max_size=200)


@given(apids, counts, octets, octets, payloads, st.integers(0, 0xFFFF), st.integers(0, 15))
def test_tc_bytes_and_pec_equal_spacepackets(apid, count, service, subtype, data, source, ack) -> None:
    ours = pack_tc(apid, count, service, subtype, data, source, ack)
    theirs = PusTc(service=service, message_subtype=subtype, apid=apid, seq_count=count, app_data=data,
                   source_id=source, ack_flags=ack).pack()  # fmt: skip
    assert ours == bytes(theirs)
    tc = unpack_tc(ours)
    assert (tc.apid, tc.sequence_count, tc.service, tc.subtype, tc.app_data) == (
        apid,
        count,
        service,
        subtype,
        data,
    )
    assert tc.header.ack_flags == ack and tc.header.source_id == source


@given(apids, counts, octets, octets, payloads, st.integers(0, 0xFFFF), st.floats(0, 2**32 - 2))
def test_tm_bytes_equal_spacepackets_and_decode_there(
    apid, count, service, subtype, data, counter, seconds
) -> None:
    time = CucTime.from_seconds(seconds)
    ours = pack_tm(apid, count, service, subtype, time, data, counter, destination_id=1)
    theirs = PusTm(
        service=service, message_subtype=subtype, timestamp=time.pack(), source_data=data, apid=apid,
        seq_count=count, message_counter=counter, destination_id=1,
    ).pack()  # fmt: skip
    assert ours == bytes(theirs)
    parsed = PusTm.unpack(ours, timestamp_len=7)
    assert parsed.source_data == data and parsed.service == service
    tm = unpack_tm(ours)
    assert tm.app_data == data and tm.time == time.seconds and tm.header.message_counter == counter


def test_pec_is_crc16_ccitt_false_over_the_packet() -> None:
    packet = pack_tc(0x65, 1, 17, 1)
    assert int.from_bytes(packet[-2:], "big") == crc16(packet[:-2])
    assert crc16(b"123456789") == 0x29B1


def test_bad_pec_is_its_own_layer() -> None:
    packet = bytearray(pack_tc(0x65, 1, 17, 1, b"\x01"))
    packet[-3] ^= 0x10
    with pytest.raises(DecodeError) as error:
        unpack_tc(bytes(packet))
    assert error.value.layer == LAYER_PEC and error.value.offset == len(packet) - 2


def test_tm_is_not_a_tc() -> None:
    with pytest.raises(DecodeError):
        unpack_tc(pack_tm(0x64, 0, 17, 2, 1.0))
    with pytest.raises(DecodeError):
        unpack_tm(pack_tc(0x65, 0, 17, 1))


@given(st.binary(max_size=80))
def test_decoders_raise_only_decode_error(data) -> None:
    decoders = [unpack_tc, unpack_tm, TimeCorrelation.unpack]
    decoders += [lambda d, s=s: unpack_verification(s, d) for s in (1, 2, 7, 8)]
    for decode in decoders:
        with contextlib.suppress(DecodeError):  # anything else propagates and fails the test
            decode(data)


@given(apids, counts, st.sampled_from([1, 2, 7, 8]), st.sampled_from(list(FailureCode)))
def test_verification_reports_round_trip_and_name_the_tc(apid, count, subtype, code) -> None:
    tc = pack_tc(apid, count, 8, 1, b"\x00\x01")
    rid = request_id_of(tc)
    assert rid == RequestId(apid, count) and rid.pack() == tc[:REQUEST_ID_LENGTH]
    failure = code if subtype in (2, 8) else None
    report = unpack_verification(subtype, pack_verification(subtype, rid, failure))
    assert report == VerificationReport(subtype, rid, failure)
    assert report.success == (subtype in (1, 7))


def test_failure_report_needs_a_code() -> None:
    with pytest.raises(ValueError):
        pack_verification(Subtype.ACCEPTANCE_FAILURE, RequestId(0x65, 1))


def test_time_correlation_round_trip_and_offset() -> None:
    report = TimeCorrelation(ground_tai=1000.0, onboard_receive=1010.5, onboard_send=1010.5)
    decoded = TimeCorrelation.unpack(report.pack())
    assert decoded == report
    offset, delay = decoded.offset_and_delay(ground_receive_tai=1001.0)
    assert offset == pytest.approx(10.0) and delay == pytest.approx(0.5)


def test_each_service_names_its_own_subtypes() -> None:
    assert message_name(17, 2) == "TEST.PONG"  # once printed as ACCEPTANCE_FAILURE (one enum for all)
    assert message_name(1, 2) == "VERIFICATION.ACCEPTANCE_FAILURE"
    assert message_name(9, 129) == "TIME.TIME_CORRELATION_REPORT"
    assert message_name(17, 99) == "17,99" and message_name(42, 1) == "42,1"
    assert set(SUBTYPES) == set(Service)
    assert (Subtype.PONG, Subtype.PING, Subtype.HK_REPORT) == (2, 1, 25)
    assert SUBTYPES[Service.TEST](Subtype.PONG) is Subtype.PONG
