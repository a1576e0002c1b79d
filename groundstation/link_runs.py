"""Packets cut from transfer frames, grouped into runs of equal length for the bulk image path.

The link receiver hands the station each packet it cut from a message's frames; image segments
come a few a message, all of one length. Consecutive packets of one length (at least
``MIN_LINK_RUN``), each with version 0 and that length in its header, are one
:class:`~protocols.packets.space_packet.PacketRun`: exactly the packets :meth:`SpacePacket.unpack`
would decode one by one, so the station's bulk path gives the same effects (tests compare both).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from groundstation.frame_receiver import LinkOutput
from protocols.packets.space_packet import PRIMARY_HEADER_LENGTH, PacketRun

MIN_LINK_RUN = 4


def link_runs(outputs: Sequence[LinkOutput]) -> Iterator[LinkOutput | PacketRun]:
    """``outputs`` in order: runs of equal-length well-formed packets, the others one by one."""
    start, count = 0, len(outputs)
    while start < count:
        length = len(outputs[start].packet)
        stop = start + 1
        while stop < count and len(outputs[stop].packet) == length:
            stop += 1
        run = _run(outputs[start:stop], length) if stop - start >= MIN_LINK_RUN else None
        if run is None:
            yield from outputs[start:stop]
        else:
            yield run
        start = stop


def _run(group: Sequence[LinkOutput], length: int) -> PacketRun | None:
    if length <= PRIMARY_HEADER_LENGTH:
        return None
    rows = np.frombuffer(b"".join(o.packet for o in group), dtype=np.uint8).reshape(len(group), length)
    version_zero = (rows[:, 0] >> 5) == 0
    length_field = (rows[:, 4].astype(np.int64) << 8 | rows[:, 5]) == length - PRIMARY_HEADER_LENGTH - 1
    if not (version_zero & length_field).all():
        return None
    return PacketRun(rows.copy())
