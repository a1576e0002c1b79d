"""Raw packet streams resynchronize after damage (issue 12, finding 1).

One wrong length field, one flipped version bit, one inserted or one deleted octet used to lose
every packet after it; with :data:`MISSION_PACKETS` the decoder believes a header only when the
packet it frames is plausible, so each damage loses only the packet it hit, and the octets it
slides over are reported as :class:`SkippedBytes`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.packets.apids import Apid
from protocols.packets.space_packet import (
    MIN_RUN_PACKETS,
    MISSION_PACKETS,
    PacketRun,
    PacketStreamDecoder,
    SkippedBytes,
    SpacePacket,
    holds_whole_packets,
)
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmSecondaryHeader, pack_tm_packet
from tests.properties.tiling import assert_tiles


def mission_packets(count: int, seed: int, equal_length: bool = False) -> list[bytes]:
    """PUS-C TM packets (PEC) on the platform and camera APIDs, as the probe sends them."""
    rnd = random.Random(seed)
    packets = []
    for n in range(count):
        apid = Apid.CAMERA if equal_length else rnd.choice([Apid.PLATFORM, Apid.CAMERA])
        payload = rnd.randbytes(40 if equal_length else rnd.randrange(0, 90))
        packets.append(pack_tm_packet(apid, n, TmSecondaryHeader(128, 2, CucTime(1000 + n)), payload))
    return packets


def cfdp_packet(count: int, data: bytes) -> bytes:
    """A CFDP packet: no secondary header, no PEC (confirmed only by the header after it)."""
    return SpacePacket(Apid.CFDP, count, data, secondary_header_flag=False).pack()


def decode(stream: bytes, runs: bool = False, chunk: int | None = None) -> list[SpacePacket | SkippedBytes]:
    decoder = PacketStreamDecoder(runs=runs, check=MISSION_PACKETS)
    units: list = []
    step = chunk or len(stream) or 1
    for start in range(0, len(stream), step):
        units += decoder.feed(stream[start : start + step])
    units += decoder.close()
    out: list[SpacePacket | SkippedBytes] = []
    for unit in units:
        out.extend(unit.packets() if isinstance(unit, PacketRun) else [unit])
    return out


def packets_of(units: list) -> list[bytes]:
    return [u.pack() for u in units if isinstance(u, SpacePacket)]


def skipped_octets(units: list) -> int:
    return sum(u.length for u in units if isinstance(u, SkippedBytes))


def set_length_zero(packet: bytes) -> bytes:
    return packet[:4] + b"\x00\x00" + packet[6:]


def flip_version_bit(packet: bytes) -> bytes:
    return bytes([packet[0] ^ 0x20]) + packet[1:]


def insert_octet(packet: bytes) -> bytes:
    return packet[:10] + b"\x5a" + packet[10:]


def delete_octet(packet: bytes) -> bytes:
    return packet[:10] + packet[11:]


DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "length-0": set_length_zero,
    "version-bit": flip_version_bit,
    "octet-inserted": insert_octet,
    "octet-deleted": delete_octet,
}


@pytest.mark.parametrize("runs", [False, True], ids=["one-at-a-time", "runs"])
@pytest.mark.parametrize("equal_length", [False, True], ids=["mixed-lengths", "image-segments"])
@pytest.mark.parametrize("damage", DAMAGES)
def test_one_damaged_packet_loses_only_that_packet(damage: str, equal_length: bool, runs: bool) -> None:
    packets = mission_packets(3 * MIN_RUN_PACKETS + 1, seed=5, equal_length=equal_length)
    victim = len(packets) // 2
    damaged = DAMAGES[damage](packets[victim])
    stream = b"".join([*packets[:victim], damaged, *packets[victim + 1 :]])
    units = decode(stream, runs=runs)
    assert packets_of(units) == packets[:victim] + packets[victim + 1 :]
    assert skipped_octets(units) == len(damaged)  # exactly the damaged packet, counted
    assert [u.offset for u in units if isinstance(u, SkippedBytes)] == [sum(map(len, packets[:victim]))]
    assert_tiles(stream, units)
    for chunk in (1, 7, 100):
        assert decode(stream, runs=runs, chunk=chunk) == units


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_packet_without_pec_loses_only_itself(damage: str) -> None:
    """CFDP packets carry no PEC; the damaged one goes, its neighbours (with or without PEC) stay."""
    rnd = random.Random(9)
    packets = []
    for n, tm in enumerate(mission_packets(12, seed=2)):
        packets += [tm, cfdp_packet(n, rnd.randbytes(rnd.randrange(20, 60)))]
    victim = 9  # a CFDP packet between two TM packets
    damaged = DAMAGES[damage](packets[victim])
    stream = b"".join([*packets[:victim], damaged, *packets[victim + 1 :]])
    units = decode(stream)
    assert packets_of(units) == packets[:victim] + packets[victim + 1 :]
    assert skipped_octets(units) == len(damaged)
    assert_tiles(stream, units)


def test_a_lengthened_packet_without_pec_cannot_swallow_good_packets() -> None:
    """A CFDP length field made longer lands on a plausible header; the PEC-confirmed packets it
    would swallow refuse it."""
    tm = mission_packets(4, seed=3)
    cfdp = cfdp_packet(0, bytes(30))
    swallowing = len(cfdp) - 7 + len(tm[1]) + len(tm[2])  # data length field covering tm[1], tm[2]
    damaged = cfdp[:4] + swallowing.to_bytes(2, "big") + cfdp[6:]
    stream = b"".join([tm[0], damaged, tm[1], tm[2], tm[3]])
    units = decode(stream)
    assert packets_of(units) == [tm[0], tm[1], tm[2], tm[3]]
    assert skipped_octets(units) == len(damaged)


def test_a_foreign_stream_resynchronizes_on_the_apids_it_has_shown() -> None:
    """Packets of APIDs the mission does not use, without PEC: in step they are believed on the
    word of the next header, and after damage the decoder finds them again by their APID. (Without
    a PEC the damaged packet itself may come out cut short: only the others are promised.)"""
    packets = [
        SpacePacket(0x0A1 if n < 20 else 0x0B2, n, n.to_bytes(4, "big"), secondary_header_flag=False).pack()
        for n in range(40)
    ]
    for victim in (10, 30):
        damaged = set_length_zero(packets[victim])
        stream = b"".join([*packets[:victim], damaged, *packets[victim + 1 :]])
        units = decode(stream)
        untouched = packets[:victim] + packets[victim + 1 :]
        assert [p for p in packets_of(units) if p in untouched] == untouched
        assert skipped_octets(units) > 0
        assert_tiles(stream, units)


def test_garbage_between_packets_is_counted_and_nothing_else_is_lost() -> None:
    packets = mission_packets(40, seed=7)
    garbage = random.Random(1).randbytes(500)
    stream = b"".join([*packets[:20], garbage, *packets[20:]])
    units = decode(stream)
    assert packets_of(units) == packets
    assert skipped_octets(units) == len(garbage)


def test_a_single_unknown_packet_that_fills_its_message_is_still_cut() -> None:
    """In step (a message's start) an unknown APID is believed when the end of the data confirms
    it: the station counts it as an unknown APID, as before."""
    packet = bytes.fromhex("0923c0000000") + b"\x00"
    assert packets_of(decode(packet)) == [packet]


def test_holds_whole_packets_with_the_check_needs_right_pecs() -> None:
    packets = mission_packets(5, seed=1)
    assert holds_whole_packets(b"".join(packets), MISSION_PACKETS)
    bad = bytearray(b"".join(packets))
    bad[20] ^= 1
    assert holds_whole_packets(bytes(bad))  # without the check: only the framing
    assert not holds_whole_packets(bytes(bad), MISSION_PACKETS)
    assert not holds_whole_packets(cfdp_packet(0, b"abc"), MISSION_PACKETS)


@given(st.integers(0, 2**32), st.integers(1, 3), st.lists(st.integers(1, 4000), max_size=3))
def test_runs_cut_exactly_what_one_at_a_time_cuts_in_damaged_streams(
    seed: int, edits: int, cuts: list[int]
) -> None:
    rnd = random.Random(seed)
    stream = bytearray(b"".join(mission_packets(3 * MIN_RUN_PACKETS, seed, equal_length=True)))
    for _ in range(edits):
        at = rnd.randrange(len(stream))
        kind = rnd.randrange(3)
        if kind == 0:
            stream[at] ^= 1 << rnd.randrange(8)
        elif kind == 1:
            stream[at:at] = rnd.randbytes(rnd.randrange(1, 5))
        else:
            del stream[at : at + rnd.randrange(1, 5)]
    data = bytes(stream)

    def chunked(runs: bool) -> list:
        decoder = PacketStreamDecoder(runs=runs, check=MISSION_PACKETS)
        units, start = [], 0
        for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
            units += decoder.feed(data[start:cut])
            start = cut
        units += decoder.close()
        return [p for u in units for p in (u.packets() if isinstance(u, PacketRun) else [u])]

    assert chunked(True) == chunked(False) == decode(data)
