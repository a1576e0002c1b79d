"""Runs of equal-length space packets, held as one 2-D array so whole runs decode column-wise.

A raw packet file or a message of image segments is mostly packets of one length back to back.
Cutting them one at a time costs several Python objects per packet; a run is found with one
numpy comparison over the candidate headers and its header fields are read as columns.

The columns are a fast path of :data:`protocols.space_packet.PRIMARY_HEADER` (same bit
positions as :func:`~protocols.space_packet.unpack_header_fast`), and :meth:`PacketRun.packet`
gives back exactly the :class:`~protocols.space_packet.SpacePacket` that
:class:`~protocols.space_packet.PacketStreamDecoder` yields for the same octets; tests prove both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from protocols.crc import crc16_rows
from protocols.space_packet import PRIMARY_HEADER_LENGTH, SpacePacket

MIN_RUN_PACKETS = 16  # shorter runs are cheaper cut one by one (numpy has a fixed cost per call)


@dataclass(frozen=True)
class PacketRun:
    """``len(rows)`` whole packets of ``rows.shape[1]`` octets each; ``stream_offset`` of the first."""

    rows: np.ndarray  # (packets, packet_length) uint8, owned (a copy, never a view of a buffer)
    stream_offset: int = 0
    pec_checked: bool = False  # every packet is known to end with its right PEC (cut with a check)

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def packet_length(self) -> int:
        return self.rows.shape[1]

    def versions(self) -> np.ndarray:
        return self.rows[:, 0] >> 5

    def packet_types(self) -> np.ndarray:
        return (self.rows[:, 0] >> 4) & 1

    def secondary_header_flags(self) -> np.ndarray:
        return (self.rows[:, 0] >> 3) & 1

    def apids(self) -> np.ndarray:
        return (self.rows[:, 0].astype(np.uint16) & 0x07) << 8 | self.rows[:, 1]

    def sequence_flags(self) -> np.ndarray:
        return self.rows[:, 2] >> 6

    def sequence_counts(self) -> np.ndarray:
        return (self.rows[:, 2].astype(np.uint16) & 0x3F) << 8 | self.rows[:, 3]

    def packet(self, index: int) -> SpacePacket:
        """Packet ``index``, decoded by the one-at-a-time decoder itself."""
        return SpacePacket.unpack(self.rows[index].tobytes())[0]

    def packets(self, start: int = 0, stop: int | None = None) -> Iterator[SpacePacket]:
        for index in range(start, len(self) if stop is None else stop):
            yield self.packet(index)


def run_length_at(
    buffer: bytes | bytearray, position: int, packet_length: int, pec_apids: frozenset[int] | None = None
) -> int:
    """How many packets of ``packet_length`` octets, each with version 0 and that length in its
    header, lie back to back from ``position`` (the first is already known to be one).

    With ``pec_apids``, only packets that a :class:`~protocols.space_packet.PacketCheck` with those
    PEC APIDs confirms on their own count: telemetry, secondary header flag set, an APID of
    ``pec_apids`` and a right PEC (checked in growing windows, so a run cut short costs little).
    """
    available = (len(buffer) - position) // packet_length
    if available < MIN_RUN_PACKETS:
        return min(available, 1)
    view = np.frombuffer(buffer, dtype=np.uint8, count=available * packet_length, offset=position)
    rows = view.reshape(available, packet_length)
    headers = rows[:, :6]
    length_field = packet_length - PRIMARY_HEADER_LENGTH - 1
    if pec_apids is None:
        version_zero = headers[:, 0] >> 5 == 0
    else:  # version 0, telemetry, secondary header flag set, a PEC APID
        first, second = headers[:, 0], headers[:, 1]
        apid_ok = np.zeros(available, dtype=bool)
        for apid in pec_apids:  # a few APIDs: one comparison each beats np.isin
            apid_ok |= (first == (0x08 | apid >> 8)) & (second == apid & 0xFF)
        version_zero = apid_ok
    fits = version_zero & (headers[:, 4] == length_field >> 8) & (headers[:, 5] == length_field & 0xFF)
    misfits = np.flatnonzero(~fits)
    count = int(misfits[0]) if misfits.size else available
    if pec_apids is None:
        return count
    checked, window = 0, 256
    while checked < count:
        stop = min(count, checked + window)
        wrong = np.flatnonzero(crc16_rows(rows[checked:stop]))
        if wrong.size:
            return checked + int(wrong[0])
        checked, window = stop, 4 * window
    return count


def cut_run(
    buffer: bytes | bytearray,
    position: int,
    packet_length: int,
    count: int,
    offset: int,
    pec_checked: bool = False,
) -> PacketRun:
    """Copy ``count`` packets from ``buffer`` (so that the buffer may be resized afterwards)."""
    rows = np.frombuffer(buffer, dtype=np.uint8, count=count * packet_length, offset=position).copy()
    return PacketRun(rows.reshape(count, packet_length), offset, pec_checked)
