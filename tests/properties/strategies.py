"""Hypothesis strategies shared by the cross-layer property suites: valid values of every layer."""

from __future__ import annotations

import random

from hypothesis import strategies as st

from groundstation.fuzzing.mutators import MUTATIONS, Mutation
from protocols.apids import Apid
from protocols.pus import TcSecondaryHeader, TmSecondaryHeader, pack_tm_packet
from protocols.space_packet import SpacePacket
from protocols.time_code import CdsTime, CucTime

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


@st.composite
def mission_packet(draw: st.DrawFn, with_pec_less: bool = False) -> bytes:
    """A packet as the probe sends it: PUS-C TM with a PEC on the platform or camera APID, or
    (``with_pec_less``) a CFDP packet, which carries no secondary header and no PEC."""
    if with_pec_less and draw(st.booleans()):
        return SpacePacket(
            Apid.CFDP,
            draw(sequence_counts),
            draw(st.binary(min_size=1, max_size=60)),
            secondary_header_flag=False,
        ).pack()
    apid = draw(st.sampled_from([Apid.PLATFORM, Apid.CAMERA]))
    return pack_tm_packet(
        apid, draw(sequence_counts), draw(tm_headers), draw(st.binary(max_size=60)), draw(st.integers(0, 3))
    )


def mission_packet_lists(with_pec_less: bool = False) -> st.SearchStrategy[list[bytes]]:
    return st.lists(mission_packet(with_pec_less), min_size=1, max_size=12)


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
