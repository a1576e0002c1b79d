"""Hypothesis strategies shared by the cross-layer property suites: valid values of every layer."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from fuzzing.mutators import MUTATIONS, Mutation
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SpacePacket
from protocols.packets.time_code import CdsTime, CucTime
from protocols.pus.packets import TcSecondaryHeader, TmSecondaryHeader, pack_tm_packet

apids = st.integers(0, 0x7FE)  # 0x7FF is idle
sequence_counts = st.integers(0, 0x3FFF)

space_packets = st.builds(
    SpacePacket,
    apid=apids,
    sequence_count=sequence_counts,
    data=st.binary(min_size=1, max_size=80),
    packet_type=st.integers(0, 1),
    secondary_header_flag=st.booleans(),
    sequence_flags=st.integers(0, 3),
)
packet_lists = st.lists(space_packets, min_size=1, max_size=12)

cuc_times = st.builds(CucTime, coarse=st.integers(0, 2**32 - 1), fine=st.integers(0, 2**16 - 1))


@st.composite
def any_cuc_times(draw: st.DrawFn) -> CucTime:
    """CUC at every resolution the P-field can state (1..7 coarse, 0..10 fine octets)."""
    c, f = draw(st.integers(1, 7)), draw(st.integers(0, 10))
    return CucTime(draw(st.integers(0, 2 ** (8 * c) - 1)), draw(st.integers(0, 2 ** (8 * f) - 1)), c, f)


tm_headers = st.builds(
    TmSecondaryHeader,
    service=st.integers(0, 255),
    subtype=st.integers(0, 255),
    time=cuc_times,
    message_counter=st.integers(0, 0xFFFF),
    destination_id=st.integers(0, 0xFFFF),
    time_reference_status=st.integers(0, 15),
)
tc_headers = st.builds(
    TcSecondaryHeader,
    service=st.integers(0, 255),
    subtype=st.integers(0, 255),
    source_id=st.integers(0, 0xFFFF),
    ack_flags=st.integers(0, 15),
)


@st.composite
def pus_tm_packets(draw: st.DrawFn) -> bytes:
    header = draw(tm_headers)
    return pack_tm_packet(draw(apids), draw(sequence_counts), header, draw(st.binary(max_size=64)))


def mission_packet_from_seed(seed: int, with_pec_less: bool = False) -> bytes:
    """A packet as the probe sends it, built from one seed: PUS-C TM with a PEC on the platform or
    camera APID, or (``with_pec_less``) a CFDP packet, which has no secondary header and no PEC.
    Payloads are random, all zeros or one octet repeated (look-alike headers inside the data)."""
    rnd = random.Random(seed)
    size = rnd.randrange(61)
    fill = rnd.randrange(3)
    payload = rnd.randbytes(size) if fill == 0 else bytes([0 if fill == 1 else rnd.randrange(256)]) * size
    count = rnd.randrange(1 << 14)
    if with_pec_less and rnd.randrange(2):
        return SpacePacket(Apid.CFDP, count, payload or b"\x00", secondary_header_flag=False).pack()
    header = TmSecondaryHeader(
        rnd.randrange(256), rnd.randrange(256), CucTime(rnd.randrange(1 << 32), rnd.randrange(1 << 16)),
        rnd.randrange(1 << 16), rnd.randrange(1 << 16), rnd.randrange(16),
    )  # fmt: skip
    apid = rnd.choice([Apid.PLATFORM, Apid.CAMERA])
    return pack_tm_packet(apid, count, header, payload, rnd.randrange(4))


def mission_packet_lists(with_pec_less: bool = False) -> st.SearchStrategy[list[bytes]]:
    """One to twelve mission packets, one draw each (cheap enough for 20,000 examples)."""
    seeds = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12)
    return seeds.map(lambda s: [mission_packet_from_seed(seed, with_pec_less) for seed in s])


SAME_LENGTH = ("bit-flip", "byte-set", "interesting-int", "copy")
ANY_MUTATION = tuple(k for k in MUTATIONS if k != "splice")


@st.composite
def mutations(draw: st.DrawFn, data: bytes, kinds: tuple[str, ...] = ANY_MUTATION) -> tuple[bytes, Mutation]:
    """One mutation of ``data`` (drawn from ``kinds``) and its record; retried until one applies."""
    kind = draw(st.sampled_from(kinds))
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(20):
        buffer = bytearray(data)
        mutation = MUTATIONS[kind](rng, buffer, ())
        if mutation is not None:
            return bytes(buffer), mutation
    return data, Mutation("none", len(data), 0, 0)


def cds_values() -> st.SearchStrategy[CdsTime]:
    return st.builds(
        CdsTime,
        days=st.integers(0, 0xFFFF),
        ms_of_day=st.integers(0, 86_399_999),
        us_of_ms=st.one_of(st.none(), st.integers(0, 999)),
    )


def layout_raw_values(layout) -> st.SearchStrategy[tuple]:
    """Raw values a mission-database layout can carry, field by field (floats of the field's width)."""
    parts = []
    for f in layout.values:
        lo, hi = f.raw_range
        floats = st.floats(allow_nan=False, width=f.bits)
        parts.append(floats if f.kind == "float" else st.integers(int(lo), int(hi)))
    return st.tuples(*parts)
