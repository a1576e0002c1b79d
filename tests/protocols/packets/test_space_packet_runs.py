"""Packet runs: the column-wise fast paths equal the one-packet-at-a-time declarations."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from protocols.coding.crc import crc16_reference, crc16_rows
from protocols.errors import DecodeError
from protocols.image.image_transport import (
    IMAGE_SEGMENT_HEADER_LENGTH,
    ImageSegment,
    SegmentColumns,
    segment_flags,
    segment_flags_of,
)
from protocols.packets.space_packet import (
    MIN_RUN_PACKETS,
    PRIMARY_HEADER,
    PacketRun,
    PacketStreamDecoder,
    SkippedBytes,
    SpacePacket,
    run_length_at,
)
from protocols.packets.time_code import CucTime
from protocols.pus.packets import (
    TM_PAYLOAD_OFFSET,
    TmSecondaryHeader,
    pack_tm_packet,
    tm_run_columns,
    unpack_tm_packet,
)


def _expand(units: list) -> list[SpacePacket | SkippedBytes]:
    out: list[SpacePacket | SkippedBytes] = []
    for unit in units:
        out.extend(unit.packets() if isinstance(unit, PacketRun) else [unit])
    return out


def _decode(stream: bytes, cuts: list[int], runs: bool) -> list:
    decoder = PacketStreamDecoder(runs=runs)
    units, start = [], 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        units += decoder.feed(stream[start:cut])
        start = cut
    return units + list(decoder.close())


@st.composite
def runs_of_packets(draw: st.DrawFn) -> bytes:
    """Stretches of equal-length packets (some long enough to be runs), odd packets and garbage."""
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["run", "run", "odd", "garbage"]))
        if kind == "garbage":
            parts.append(draw(st.binary(min_size=1, max_size=30)))
            continue
        length = draw(st.integers(1, 40))
        count = draw(st.integers(MIN_RUN_PACKETS - 2, 3 * MIN_RUN_PACKETS)) if kind == "run" else 1
        rnd = random.Random(draw(st.integers(0, 2**32)))
        for _ in range(count):
            packet = SpacePacket(rnd.randrange(0x7FF), rnd.randrange(1 << 14), rnd.randbytes(length),
                                 rnd.randrange(2), bool(rnd.randrange(2)), rnd.randrange(4))  # fmt: skip
            parts.append(packet.pack())
    return b"".join(parts)


@given(runs_of_packets(), st.lists(st.integers(0, 3000), max_size=6))
def test_a_decoder_with_runs_yields_exactly_the_packets_of_a_plain_one(
    stream: bytes, cuts: list[int]
) -> None:
    with_runs = _decode(stream, cuts, runs=True)
    assert _expand(with_runs) == _decode(stream, cuts, runs=False)
    for run in (u for u in with_runs if isinstance(u, PacketRun)):
        assert len(run) >= MIN_RUN_PACKETS
        assert stream[run.stream_offset : run.stream_offset + run.rows.size] == run.rows.tobytes()


@given(st.lists(st.binary(min_size=6, max_size=6), min_size=1, max_size=40))
def test_header_columns_equal_the_construct_declaration(headers: list[bytes]) -> None:
    run = PacketRun(np.frombuffer(b"".join(headers), dtype=np.uint8).reshape(len(headers), 6))
    declared = [PRIMARY_HEADER.parse(h) for h in headers]
    assert run.versions().tolist() == [d.version for d in declared]
    assert run.packet_types().tolist() == [d.packet_type for d in declared]
    assert run.secondary_header_flags().tolist() == [int(d.secondary_header_flag) for d in declared]
    assert run.apids().tolist() == [d.apid for d in declared]
    assert run.sequence_flags().tolist() == [d.sequence_flags for d in declared]
    assert run.sequence_counts().tolist() == [d.sequence_count for d in declared]


def test_run_length_stops_at_the_first_header_that_differs() -> None:
    packets = [SpacePacket(5, i, bytes(10)).pack() for i in range(MIN_RUN_PACKETS + 5)]  # 16 octets each
    packets[MIN_RUN_PACKETS + 2] = SpacePacket(5, 0, bytes(11)).pack()[:16]  # its length field says 17
    stream = bytearray(b"".join(packets))
    assert run_length_at(stream, 0, 16) == MIN_RUN_PACKETS + 2
    stream[16] |= 0x20  # version 1: not a packet any more
    assert run_length_at(stream, 32, 16) == MIN_RUN_PACKETS
    assert run_length_at(stream, 0, 16) == 1
    assert run_length_at(stream[: 16 * 3], 32, 16) == 1  # too few for a run


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8).map(  # both sides of NARROW_ROW
    lambda rows: [r.ljust(max(map(len, rows)), b"\0") for r in rows]))  # fmt: skip
def test_row_crcs_equal_the_reference_crc(rows: list[bytes]) -> None:
    width = len(rows[0])
    array = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), width)
    assert crc16_rows(array).tolist() == [crc16_reference(r) for r in rows]


@st.composite
def damaged_tm_packets(draw: st.DrawFn) -> list[bytes]:
    """Equal-length PUS-C TM packets, some with one octet changed anywhere."""
    payload_length = draw(st.integers(0, 30))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    packets = []
    for i in range(draw(st.integers(1, 12))):
        header = TmSecondaryHeader(rnd.randrange(256), rnd.randrange(256), CucTime(rnd.randrange(2**32),
                                   rnd.randrange(2**16)), rnd.randrange(2**16))  # fmt: skip
        packet = bytearray(pack_tm_packet(rnd.randrange(0x7FF), i, header, rnd.randbytes(payload_length)))
        if draw(st.booleans()):
            packet[rnd.choice([1, 2, 3, *range(6, len(packet))])] ^= rnd.randrange(1, 256)  # still a packet
        if draw(st.booleans()):
            packet[0] ^= 0x08  # the secondary header flag
        packets.append(bytes(packet))
    return packets


@given(damaged_tm_packets())
def test_tm_columns_accept_exactly_what_unpack_tm_packet_accepts(packets: list[bytes]) -> None:
    run = PacketRun(np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(len(packets), -1))
    columns = tm_run_columns(run)
    for i, raw in enumerate(packets):
        packet, _ = SpacePacket.unpack(raw)
        try:
            header, payload = unpack_tm_packet(packet)
        except DecodeError:
            assert not columns.valid[i]
            continue
        assert columns.valid[i]
        assert (columns.service[i], columns.subtype[i]) == (header.service, header.subtype)
        assert columns.seconds[i] == header.time.coarse + header.time.fine / 65536.0
        assert raw[TM_PAYLOAD_OFFSET:-2] == payload


@given(st.lists(st.binary(min_size=IMAGE_SEGMENT_HEADER_LENGTH + 1, max_size=IMAGE_SEGMENT_HEADER_LENGTH + 1)
                .map(lambda b: b + b"\x07" * 5), min_size=1, max_size=10))  # fmt: skip
def test_segment_columns_equal_image_segment_unpack(payloads: list[bytes]) -> None:
    columns = SegmentColumns.from_payloads(
        np.frombuffer(b"".join(payloads), np.uint8).reshape(len(payloads), -1)
    )
    for i, payload in enumerate(payloads):
        segment = ImageSegment.unpack(payload)
        assert (columns.image_id[i], columns.segment_index[i], columns.offset[i]) == (
            segment.image_id, segment.segment_index, segment.offset,
        )  # fmt: skip
        assert columns.data[i].tobytes() == segment.data


@given(st.integers(1, 50))
def test_segment_flags_of_equals_segment_flags(count: int) -> None:
    indices = np.arange(count)
    assert segment_flags_of(indices, count).tolist() == [int(segment_flags(i, count)) for i in range(count)]
