"""The nothing-lost check shared by the packet-stream tests: decoded units tile the stream."""

from __future__ import annotations

from protocols.packets.space_packet import SkippedBytes, SpacePacket


def assert_tiles(stream: bytes, units: list[SpacePacket | SkippedBytes]) -> None:
    """Each packet's octets where it stands, each skip at its offset, nothing left over: no octet
    both decoded and skipped, none dropped silently."""
    covered = 0
    for unit in units:
        if isinstance(unit, SkippedBytes):
            assert unit.offset == covered and unit.length > 0
            covered += unit.length
        else:
            packed = unit.pack()
            assert stream[covered : covered + len(packed)] == packed
            covered += len(packed)
    assert covered == len(stream)
