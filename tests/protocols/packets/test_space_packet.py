"""Space packet primary header, packets and the stream decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.packets.space_packet import (
    PRIMARY_HEADER,
    SEQUENCE_COUNT_MODULO,
    PacketStreamDecoder,
    PrimaryHeader,
    SequenceCounter,
    SkippedBytes,
    SpacePacket,
    holds_whole_packets,
    peek_header,
    sequence_gap,
    unpack_header_fast,
)

packets = st.builds(
    SpacePacket,
    apid=st.integers(0, 0x7FF),
    sequence_count=st.integers(0, SEQUENCE_COUNT_MODULO - 1),
    data=st.binary(min_size=1, max_size=300),
    packet_type=st.integers(0, 1),
    secondary_header_flag=st.booleans(),
    sequence_flags=st.integers(0, 3),
)


@given(packets)
def test_packet_round_trip(packet: SpacePacket) -> None:
    raw = packet.pack()
    decoded, used = SpacePacket.unpack(raw)
    assert decoded == packet
    assert used == len(raw) == 6 + len(packet.data)


@given(st.binary(min_size=6, max_size=6))
def test_fast_header_path_equals_construct_declaration(raw: bytes) -> None:
    declared = PRIMARY_HEADER.parse(raw)
    fast = unpack_header_fast(raw)
    assert fast.version == declared.version
    assert fast.packet_type == declared.packet_type
    assert fast.secondary_header_flag == declared.secondary_header_flag
    assert fast.apid == declared.apid
    assert fast.sequence_flags == declared.sequence_flags
    assert fast.sequence_count == declared.sequence_count
    assert fast.data_length == declared.data_length
    if fast.version == 0:
        assert PRIMARY_HEADER.build(declared) == fast.pack() == raw


@given(packets, st.integers(0, 3))
def test_peek_header_reads_what_unpack_reads(packet: SpacePacket, offset: int) -> None:
    raw = bytes(offset) + packet.pack()
    header = peek_header(raw, offset)
    assert header is not None and header == packet.header()
    assert peek_header(raw[offset : offset + 5]) is None and peek_header(raw, -1) is None


@given(packets)
def test_spacepackets_reads_our_headers(packet: SpacePacket) -> None:
    from spacepackets.ccsds.spacepacket import SpacePacketHeader

    theirs = SpacePacketHeader.unpack(packet.pack())
    assert theirs.apid == packet.apid
    assert theirs.seq_count == packet.sequence_count
    assert int(theirs.packet_type) == packet.packet_type
    assert theirs.sec_header_flag == packet.secondary_header_flag
    assert int(theirs.seq_flags) == packet.sequence_flags
    assert theirs.data_len == len(packet.data) - 1


@given(st.integers(0, 0x7FF), st.integers(0, SEQUENCE_COUNT_MODULO - 1), st.binary(min_size=1, max_size=64))
def test_we_read_spacepackets_packets(apid: int, count: int, data: bytes) -> None:
    from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader
    from spacepackets.ccsds.spacepacket import SpacePacket as TheirPacket

    header = SpacePacketHeader(
        packet_type=PacketType.TM,
        apid=apid,
        seq_count=count,
        data_len=len(data) - 1,
        sec_header_flag=False,
        seq_flags=SequenceFlags.UNSEGMENTED,
    )
    raw = TheirPacket(header, sec_header=None, user_data=data).pack()
    ours, _ = SpacePacket.unpack(raw)
    assert (ours.apid, ours.sequence_count, ours.data) == (apid, count, data)


@given(st.binary(max_size=20))
def test_decoder_raises_only_decode_error(raw: bytes) -> None:
    try:
        SpacePacket.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "space-packet"


def test_truncated_packet_names_offset() -> None:
    raw = SpacePacket(5, 1, b"abcdef").pack()
    with pytest.raises(DecodeError) as info:
        SpacePacket.unpack(b"xx" + raw[:-1], offset=2)
    assert info.value.offset == 2


def test_sequence_counter_wraps_per_apid() -> None:
    counter = SequenceCounter()
    counts = [counter.next(10) for _ in range(SEQUENCE_COUNT_MODULO + 2)]
    assert counts[-3:] == [SEQUENCE_COUNT_MODULO - 1, 0, 1]
    assert counter.next(11) == 0
    assert sequence_gap(SEQUENCE_COUNT_MODULO - 1, 0) == 0
    assert sequence_gap(SEQUENCE_COUNT_MODULO - 2, 1) == 2


def _decode_in_chunks(stream: bytes, cuts: list[int]) -> list:
    decoder = PacketStreamDecoder()
    out: list = []
    start = 0
    for cut in sorted(set(cuts)):
        out += decoder.feed(stream[start:cut])
        start = cut
    out += decoder.feed(stream[start:])
    out += decoder.close()
    return out


@given(st.lists(packets, min_size=1, max_size=8), st.lists(st.integers(0, 3000), max_size=10))
def test_any_chunking_gives_the_same_packets(items: list[SpacePacket], cuts: list[int]) -> None:
    stream = b"".join(p.pack() for p in items)
    cuts = [c for c in cuts if c <= len(stream)]
    assert _decode_in_chunks(stream, cuts) == items


@given(st.lists(packets, min_size=1, max_size=5), st.binary(min_size=1, max_size=40))
def test_garbage_before_packets_is_reported_not_lost(items: list[SpacePacket], garbage: bytes) -> None:
    garbage = bytes(b | 0xE0 for b in garbage)  # version bits 111: never a plausible header
    stream = garbage + b"".join(p.pack() for p in items)
    out = _decode_in_chunks(stream, [len(stream) // 2])
    skipped = [u for u in out if isinstance(u, SkippedBytes)]
    assert [u for u in out if isinstance(u, SpacePacket)] == items
    assert sum(s.length for s in skipped) == len(garbage)
    assert skipped[0].offset == 0


def test_truncated_tail_is_reported_on_close() -> None:
    raw = SpacePacket(1, 2, b"payload").pack()
    decoder = PacketStreamDecoder()
    assert list(decoder.feed(raw + raw[:5])) == [SpacePacket(1, 2, b"payload")]
    tail = list(decoder.close())
    assert tail == [SkippedBytes(len(raw), 5, "truncated packet at end of stream")]


def test_header_value_object_packet_length() -> None:
    assert PrimaryHeader(apid=1, sequence_count=0, data_length=0).packet_length == 7


@given(st.lists(packets, max_size=6), st.data())
def test_holds_whole_packets_is_what_the_decoder_cuts_cleanly(items: list[SpacePacket], data) -> None:
    """holds_whole_packets answers whether the decoder, on the buffer alone, cuts it whole with
    nothing skipped (what lets the station join such messages): on intact and on damaged buffers."""
    stream = bytearray(b"".join(p.pack() for p in items))
    edit = data.draw(st.sampled_from(["none", "flip", "cut", "append"]))
    if edit == "flip" and stream:
        stream[data.draw(st.integers(0, len(stream) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    elif edit == "cut" and stream:
        del stream[data.draw(st.integers(0, len(stream) - 1)) :]
    elif edit == "append":
        stream += data.draw(st.binary(min_size=1, max_size=8))
    out = _decode_in_chunks(bytes(stream), [])
    clean = not any(isinstance(u, SkippedBytes) for u in out)
    assert holds_whole_packets(bytes(stream)) == clean
    if clean:
        assert b"".join(u.pack() for u in out) == stream
