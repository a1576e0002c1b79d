"""PDU encode/decode: round trips, fast path == declaration, hostile bytes raise only DecodeError."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocols.cfdp.constants import ConditionCode, DirectiveCode, PduType
from protocols.cfdp.header import PduHeader, pack_header, pack_header_fast, unpack_header, unpack_header_fast
from protocols.cfdp.pdu import (
    Ack,
    Eof,
    FileData,
    Nak,
    Pdu,
    decode_pdu,
    decode_pdu_declared,
    encode_file_data_fast,
    encode_pdu,
    max_file_data_length,
    max_segment_requests,
)
from protocols.errors import DecodeError
from tests.protocols.cfdp.strategies import headers, pdus


@given(pdus())
def test_every_pdu_round_trips_through_both_decoders(pdu: Pdu) -> None:
    raw = encode_pdu(pdu)
    assert decode_pdu(raw) == pdu
    assert decode_pdu_declared(raw) == pdu


@given(pdus(crc=True, large=True))
def test_large_file_pdus_with_crc_round_trip(pdu: Pdu) -> None:
    raw = encode_pdu(pdu)
    assert raw[0] & 0b11 == 0b11
    assert decode_pdu(raw) == pdu


@given(headers(), st.integers(0, 0xFFFF))
def test_fast_header_paths_match_the_declaration(header: PduHeader, data_field_length: int) -> None:
    raw = pack_header(header, data_field_length)
    assert pack_header_fast(header, data_field_length) == raw
    assert unpack_header_fast(raw) == unpack_header(raw) == (header, data_field_length)


@given(st.binary(max_size=40))
def test_fast_and_declared_decoders_agree_on_any_bytes(raw: bytes) -> None:
    outcomes = []
    for decoder in (decode_pdu, decode_pdu_declared):
        try:
            outcomes.append(decoder(raw))
        except DecodeError as error:
            outcomes.append(("error", error.layer))
    assert outcomes[0] == outcomes[1]


@given(pdus(), st.data())
def test_mutated_pdus_decode_or_raise_decode_error(pdu: Pdu, data: st.DataObject) -> None:
    raw = bytearray(encode_pdu(pdu))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if action == "flip" and raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut" and raw:
            del raw[data.draw(st.integers(0, len(raw) - 1)) :]
        else:
            raw += data.draw(st.binary(min_size=1, max_size=8))
    try:
        decoded = decode_pdu(bytes(raw))
    except DecodeError as error:
        assert error.layer == "cfdp"
        assert 0 <= error.offset <= len(raw)
    else:
        assert isinstance(decoded, Pdu)


@given(pdus(crc=True), st.data())
def test_crc_catches_any_single_bit_flip_in_the_pdu(pdu: Pdu, data: st.DataObject) -> None:
    raw = bytearray(encode_pdu(pdu))
    position = data.draw(st.integers(4, len(raw) - 1))  # past the fixed header (length / CRC flag)
    raw[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(DecodeError):
        decode_pdu(bytes(raw))


@given(headers(), st.integers(0, 2**32 - 1), st.binary(max_size=200))
def test_fast_file_data_encoder_matches_the_declaration(header: PduHeader, offset: int, data: bytes) -> None:
    assert encode_file_data_fast(header, offset, data) == encode_pdu(Pdu(header, FileData(offset, data)))


def test_pdu_header_fields_follow_the_body() -> None:
    header = PduHeader(1, 2, 3)
    assert Pdu(header, FileData(0, b"x")).header.pdu_type == PduType.FILE_DATA
    assert Pdu(header, Nak(0, 0)).header.direction == 1
    assert Pdu(header, Ack(DirectiveCode.EOF)).header.direction == 1
    assert Pdu(header, Ack(DirectiveCode.FINISHED)).header.direction == 0


def test_known_bytes_of_an_eof_pdu() -> None:
    """Hand-checked against 727.0-B-5 figures 5-1 and 5-6."""
    header = PduHeader(
        source_entity_id=1,
        destination_entity_id=2,
        transaction_sequence_number=3,
        entity_id_length=1,
        sequence_number_length=1,
    )
    raw = encode_pdu(Pdu(header, Eof(file_checksum=0xDEADBEEF, file_size=1000)))
    assert raw == bytes(
        [0x20, 0x00, 0x0A, 0x00, 1, 3, 2, 0x04, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0x03, 0xE8]
    )


def test_eof_with_error_carries_a_fault_location_tlv() -> None:
    header = PduHeader(7, 2, 3, entity_id_length=1, sequence_number_length=1)
    raw = encode_pdu(Pdu(header, Eof(0, 10, ConditionCode.FILE_SIZE_ERROR)))
    assert raw[-3:] == bytes([0x06, 0x01, 7])
    assert decode_pdu(raw).body.fault_location == 7


def test_fields_that_do_not_fit_are_refused_when_encoding() -> None:
    with pytest.raises(ValueError):
        encode_pdu(Pdu(PduHeader(1, 2, 3), FileData(2**32, b"")))
    with pytest.raises(ValueError):
        encode_pdu(Pdu(PduHeader(1, 2, 3), FileData(0, bytes(70_000))))
    with pytest.raises(ValueError):
        encode_pdu(Pdu(PduHeader(256, 2, 3, entity_id_length=1), Nak(0, 0)))


@given(headers(), st.integers(64, 4096))
def test_sizing_helpers_give_pdus_that_fit(header: PduHeader, max_pdu_length: int) -> None:
    length = max_file_data_length(header, max_pdu_length)
    assume(length >= 0)
    assert len(encode_file_data_fast(header, 0, bytes(length))) == max_pdu_length
    count = max_segment_requests(header, max_pdu_length)
    assume(count >= 0)
    nak = Pdu(header, Nak(0, 1, tuple((0, 1) for _ in range(count))))
    assert len(encode_pdu(nak)) <= max_pdu_length
    bigger = Pdu(header, Nak(0, 1, tuple((0, 1) for _ in range(count + 1))))
    assert len(encode_pdu(bigger)) > max_pdu_length
