"""Raw space-packet files written by other tools decode with the counts and gaps those tools see."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundstation.decode import decode_file
from protocols.packets.apids import apid_name
from protocols.packets.space_packet import SEQUENCE_COUNT_MODULO


def _ccsdspy_packets(directory: Path, apid: int, count: int) -> bytes:
    """Packets written by ccsdspy's own encoder (it numbers them from 0)."""
    import ccsdspy
    from ccsdspy import PacketField

    definition = ccsdspy.FixedLength([PacketField(name="VALUE", data_type="uint", bit_length=32)])
    path = directory / f"ccsdspy-{apid}-{count}.bin"
    definition.to_file(str(path), 0, apid, 0, 3, {"VALUE": np.arange(count, dtype=np.uint32)})
    return path.read_bytes()


def _spacepackets_packets(apid: int, counts: list[int]) -> bytes:
    from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacket, SpacePacketHeader

    out = b""
    for count in counts:
        header = SpacePacketHeader(
            packet_type=PacketType.TM, apid=apid, seq_count=count, data_len=3, sec_header_flag=False,
            seq_flags=SequenceFlags.UNSEGMENTED,
        )  # fmt: skip
        out += SpacePacket(header, sec_header=None, user_data=count.to_bytes(4, "big")).pack()
    return out


def _their_view(raw: bytes) -> tuple[dict[int, int], dict[int, int]]:
    """Per-APID counts and sequence gaps as ccsdspy reads the file."""
    import ccsdspy.utils

    headers = ccsdspy.utils.read_primary_headers(io.BytesIO(raw))
    apids = np.asarray(headers["CCSDS_APID"])
    counts = np.asarray(headers["CCSDS_SEQUENCE_COUNT"])
    per_apid, gaps = {}, {}
    for apid in np.unique(apids):
        sequence = counts[apids == apid].astype(np.int64)
        per_apid[int(apid)] = len(sequence)
        steps = (np.diff(sequence) - 1) % SEQUENCE_COUNT_MODULO
        if steps.sum():
            gaps[int(apid)] = int(steps.sum())
    return per_apid, gaps


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(1, 60),
    st.lists(st.integers(0, SEQUENCE_COUNT_MODULO - 1), min_size=1, max_size=40, unique=True),
)
def test_counts_and_gaps_match_ccsdspy(tmp_path: Path, n: int, counts: list[int]) -> None:
    raw = _ccsdspy_packets(tmp_path, 0x0A1, n) + _spacepackets_packets(0x0B2, sorted(counts))
    source = tmp_path / "foreign.bin"
    source.write_bytes(raw)
    summary = decode_file(source, tmp_path / "out", "packets")
    theirs_count, theirs_gaps = _their_view(raw)
    assert summary["packets_by_apid"] == {apid_name(a): c for a, c in sorted(theirs_count.items())}
    assert summary["packet_sequence_gaps_by_apid"] == {
        apid_name(a): g for a, g in sorted(theirs_gaps.items())
    }
    assert summary["faults"].get("bytes skipped in packet stream") is None  # every octet was a packet
