"""Space packets and the raw packet stream: round trip, total decoding, chunking, nothing lost.

Without a check (any version-0 header believed, as far as its length says) the decoder can only
promise this much, and the first tests hold it to exactly that:

1. *Prefix*: every packet that lies wholly before the first mutated octet is decoded, unchanged
   and in order, whatever the mutation.
2. *Tiling*: the decoder's output (packets and :class:`SkippedBytes`) covers every octet of the
   stream exactly once, in order: damage is reported, never silently dropped.
3. *In-place damage outside headers*: a same-length mutation that touches no primary header
   leaves the framing intact: every packet comes out with its header, and only the packets
   whose data field was touched differ.
4. *Whole-unit edits*: deleting, duplicating or reordering whole packets yields exactly the
   edited packet sequence.

With :data:`MISSION_PACKETS` (how the ground station and ``paleblue decode`` cut packets) a header
is believed only when the packet it frames is plausible, so the promise reaches past the damage:

5. *Nothing lost, before or after*: every packet that carries a PEC (PUS-C TM) and that the
   mutation did not touch is decoded, in order, and the octets still tile the stream.
6. *Packets without a PEC* (CFDP) are believed on the word of the header after them: one is
   decoded when the mutation touched nothing from the end of the last untouched PEC packet
   before it to the end of the header after it (for the last packet: to the end of the data).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.packets.space_packet import (
    MISSION_PACKETS,
    PRIMARY_HEADER_LENGTH,
    PacketCheck,
    PacketStreamDecoder,
    SkippedBytes,
    SpacePacket,
)
from tests.properties.strategies import (
    SAME_LENGTH,
    mission_packet_lists,
    mutations,
    packet_lists,
    space_packets,
)
from tests.properties.tiling import assert_tiles


def decode_stream(
    stream: bytes, cuts: list[int] | None = None, check: PacketCheck | None = None
) -> list[SpacePacket | SkippedBytes]:
    decoder = PacketStreamDecoder(check=check)
    out: list[SpacePacket | SkippedBytes] = []
    position = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts or []):
        out += decoder.feed(stream[position:cut] if cut >= position else b"")
        position = max(position, cut)
    out += decoder.feed(stream[position:])
    return out + list(decoder.close())


def boundaries(packets: list[SpacePacket]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for p in packets:
        spans.append((start, start + len(p.pack())))
        start = spans[-1][1]
    return spans


@given(space_packets)
def test_any_valid_packet_round_trips(packet: SpacePacket) -> None:
    assert SpacePacket.unpack(packet.pack()) == (packet, len(packet.pack()))


@given(st.binary(max_size=300))
def test_any_bytes_give_a_packet_or_a_decode_error(data: bytes) -> None:
    try:
        packet, length = SpacePacket.unpack(data)
    except DecodeError as exc:
        assert exc.layer == "space-packet" and 0 <= exc.offset <= len(data)
        return
    assert packet.pack() == data[:length]


@given(packet_lists, st.binary(max_size=20), st.lists(st.integers(0, 2000), max_size=12))
def test_any_chunking_gives_the_same_output(packets: list[SpacePacket], tail: bytes, cuts: list[int]) -> None:
    stream = b"".join(p.pack() for p in packets) + tail
    assert decode_stream(stream, cuts) == decode_stream(stream)


@given(st.data(), packet_lists)
def test_after_any_mutation_units_before_it_survive_and_every_octet_is_accounted(
    data: st.DataObject, packets: list[SpacePacket]
) -> None:
    stream = b"".join(p.pack() for p in packets)
    mutated, mutation = data.draw(mutations(stream))
    units = decode_stream(mutated, data.draw(st.lists(st.integers(0, 2000), max_size=6)))
    assert_tiles(mutated, units)
    before = [p for p, (_, end) in zip(packets, boundaries(packets), strict=True) if end <= mutation.offset]
    assert units[: len(before)] == before


@given(st.data(), packet_lists)
def test_in_place_damage_outside_headers_keeps_every_packet(
    data: st.DataObject, packets: list[SpacePacket]
) -> None:
    stream = b"".join(p.pack() for p in packets)
    mutated, mutation = data.draw(mutations(stream, SAME_LENGTH))
    spans = boundaries(packets)
    touched = range(mutation.offset, mutation.offset + mutation.removed)
    if any(start + i in touched for start, _ in spans for i in range(PRIMARY_HEADER_LENGTH)):
        return  # a header was hit: only the prefix and tiling properties hold (tested above)
    units = decode_stream(mutated)
    assert len(units) == len(packets) and not any(isinstance(u, SkippedBytes) for u in units)
    for original, decoded, (start, end) in zip(packets, units, spans, strict=True):
        assert decoded.header() == original.header()
        if not any(start <= i < end for i in touched):
            assert decoded == original


@given(packet_lists, st.data())
def test_whole_packet_edits_yield_exactly_the_edited_sequence(
    packets: list[SpacePacket], data: st.DataObject
) -> None:
    edited = data.draw(st.lists(st.sampled_from(packets), max_size=16))  # deletions, duplicates, reorders
    assert decode_stream(b"".join(p.pack() for p in edited)) == edited


# ------------------------------------------------------------------------------------------------------
# With the mission's check: what the mutation did not touch survives, after the damage too.


def touches(mutation, start: int, stop: int, inclusive_start: bool = False) -> bool:
    """Whether ``mutation`` changed any octet of ``[start, stop)`` (an insertion counts inside the
    span, or at its start when ``inclusive_start``; a truncation counts for all that it cut)."""
    off, end = mutation.offset, mutation.offset + mutation.removed
    if mutation.kind == "truncate":
        return stop > off
    if mutation.removed and start < end and off < stop:
        return True
    return bool(mutation.added) and (start <= off if inclusive_start else start < off) and off < stop


def carries_pec(packet: bytes) -> bool:
    return packet[0] & 0xF8 == 0x08  # the strategy's TM packets, all on PUS APIDs


def promised(packets: list[bytes], mutation) -> list[tuple[int, bytes]]:
    """The packets the decoder promises to decode after ``mutation`` (see the module docstring),
    each with its offset in the mutated stream."""
    spans, start = [], 0
    for packet in packets:
        spans.append((start, start + len(packet)))
        start += len(packet)
    total = start
    out, safe_from = [], 0  # where the last untouched PEC packet before this one ends
    for n, (packet, (start, stop)) in enumerate(zip(packets, spans, strict=True)):
        untouched = not touches(mutation, start, stop)
        moved = start if stop <= mutation.offset else start + mutation.length_delta
        if carries_pec(packet):
            if untouched:
                out.append((moved, packet))
                safe_from = stop
        else:
            # confirmed by the header after it, or by the end of the data (octets appended touch it)
            confirmed_by = min(total, stop + PRIMARY_HEADER_LENGTH) if n + 1 < len(packets) else stop + 1
            if not touches(mutation, safe_from, confirmed_by, inclusive_start=True):
                out.append((moved, packet))
    return out


def decoded_with_offsets(units: list) -> set[tuple[int, bytes]]:
    """Each decoded packet with its offset (the units tile the stream, see assert_tiles)."""
    out, offset = set(), 0
    for unit in units:
        if isinstance(unit, SkippedBytes):
            offset += unit.length
        else:
            out.add((offset, unit.pack()))
            offset += len(unit.pack())
    return out


@given(st.data(), mission_packet_lists())
def test_after_any_mutation_every_untouched_pec_packet_survives_before_and_after(
    data: st.DataObject, packets: list[bytes]
) -> None:
    stream = b"".join(packets)
    mutated, mutation = data.draw(mutations(stream))
    cuts = data.draw(st.lists(st.integers(0, 2000), max_size=6))
    units = decode_stream(mutated, cuts, MISSION_PACKETS)
    assert_tiles(mutated, units)
    lost = [p for p in promised(packets, mutation) if p not in decoded_with_offsets(units)]
    assert not lost, f"{mutation}: untouched packets lost: {lost}"
    assert units == decode_stream(mutated, None, MISSION_PACKETS)  # chunking does not matter


@given(st.data(), mission_packet_lists(with_pec_less=True))
def test_after_any_mutation_packets_without_pec_survive_where_promised(
    data: st.DataObject, packets: list[bytes]
) -> None:
    stream = b"".join(packets)
    mutated, mutation = data.draw(mutations(stream))
    units = decode_stream(mutated, data.draw(st.lists(st.integers(0, 2000), max_size=6)), MISSION_PACKETS)
    assert_tiles(mutated, units)
    lost = [p for p in promised(packets, mutation) if p not in decoded_with_offsets(units)]
    assert not lost, f"{mutation}: untouched packets lost: {lost}"


@given(st.data(), mission_packet_lists(with_pec_less=True))
def test_an_undamaged_mission_stream_decodes_exactly(data: st.DataObject, packets: list[bytes]) -> None:
    cuts = data.draw(st.lists(st.integers(0, 2000), max_size=6))
    units = decode_stream(b"".join(packets), cuts, MISSION_PACKETS)
    assert [u.pack() for u in units] == packets
