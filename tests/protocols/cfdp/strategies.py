"""Hypothesis strategies for CFDP headers and PDU bodies."""

from __future__ import annotations

from hypothesis import strategies as st

from protocols.cfdp.constants import (
    ConditionCode,
    DeliveryCode,
    DirectiveCode,
    FileStatus,
    PromptResponse,
    TlvType,
    TransactionStatus,
    TransmissionMode,
)
from protocols.cfdp.header import PduHeader
from protocols.cfdp.pdu import Ack, Eof, FileData, Finished, KeepAlive, Metadata, Nak, Pdu, Prompt, Tlv


@st.composite
def headers(draw, crc: bool | None = None, large: bool | None = None) -> PduHeader:
    entity_length = draw(st.integers(1, 8))
    sequence_length = draw(st.integers(1, 8))
    return PduHeader(
        source_entity_id=draw(st.integers(0, (1 << 8 * entity_length) - 1)),
        destination_entity_id=draw(st.integers(0, (1 << 8 * entity_length) - 1)),
        transaction_sequence_number=draw(st.integers(0, (1 << 8 * sequence_length) - 1)),
        transmission_mode=draw(st.sampled_from(TransmissionMode)),
        entity_id_length=entity_length,
        sequence_number_length=sequence_length,
        crc_flag=draw(st.booleans()) if crc is None else crc,
        large_file_flag=draw(st.booleans()) if large is None else large,
        segmentation_control=draw(st.booleans()),
    )


def _fss(header: PduHeader):
    return st.integers(0, (1 << (64 if header.large_file_flag else 32)) - 1)


def _tlvs(types=None, max_size: int = 3):
    types = st.integers(0, 255) if types is None else types
    return st.lists(st.builds(Tlv, types, st.binary(max_size=20)), max_size=max_size).map(tuple)


def _entity(header: PduHeader):
    return st.integers(0, (1 << 8 * header.entity_id_length) - 1)


@st.composite
def bodies(draw, header: PduHeader):
    fss = _fss(header)
    errors = st.sampled_from([c for c in ConditionCode if c != ConditionCode.NO_ERROR])
    kind = draw(st.sampled_from(["metadata", "eof", "finished", "ack", "nak", "prompt", "keep", "data"]))
    if kind == "metadata":
        return Metadata(
            draw(fss),
            draw(st.binary(max_size=255)),
            draw(st.binary(max_size=40)),
            draw(st.sampled_from([0, 1, 2, 3, 15])),
            draw(st.booleans()),
            draw(_tlvs()),
        )
    if kind == "eof":
        if draw(st.booleans()):
            return Eof(draw(st.integers(0, 2**32 - 1)), draw(fss))
        return Eof(draw(st.integers(0, 2**32 - 1)), draw(fss), draw(errors), draw(_entity(header)))
    if kind == "finished":
        responses = draw(_tlvs(st.just(TlvType.FILESTORE_RESPONSE), 2))
        condition = draw(st.sampled_from(ConditionCode))
        fault = None if condition == ConditionCode.NO_ERROR or draw(st.booleans()) else draw(_entity(header))
        return Finished(
            condition,
            draw(st.sampled_from(DeliveryCode)),
            draw(st.sampled_from(FileStatus)),
            responses,
            fault,
        )
    if kind == "ack":
        return Ack(
            draw(st.sampled_from([DirectiveCode.EOF, DirectiveCode.FINISHED])),
            draw(st.sampled_from(ConditionCode)),
            draw(st.sampled_from(TransactionStatus)),
        )
    if kind == "nak":
        requests = draw(st.lists(st.tuples(fss, fss), max_size=20).map(tuple))
        return Nak(draw(fss), draw(fss), requests)
    if kind == "prompt":
        return Prompt(draw(st.sampled_from(PromptResponse)))
    if kind == "keep":
        return KeepAlive(draw(fss))
    if draw(st.booleans()):
        return FileData(draw(fss), draw(st.binary(max_size=300)))
    metadata = draw(st.binary(max_size=63))
    return FileData(draw(fss), draw(st.binary(max_size=300)), metadata, draw(st.integers(0, 3)))


@st.composite
def pdus(draw, crc: bool | None = None, large: bool | None = None) -> Pdu:
    header = draw(headers(crc=crc, large=large))
    return Pdu(header, draw(bodies(header)))
