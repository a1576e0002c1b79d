"""Platform packets of a run handed to the telemetry processor together, booked as one by one.

A run of equal-length packets (:class:`~protocols.packets.space_packet.PacketRun`: a packet
stream, messages joined by :class:`~groundstation.message_batch.MessageBatch`, packets cut from
frames) holds the housekeeping reports of one structure back to back. The station books each
platform packet (counted, its time span, its sequence count followed) and hands it to
:class:`~groundstation.telemetry.TelemetryProcessor`; here the packets that continue their APID's
sequence count are booked together and decoded by
:meth:`~groundstation.telemetry.TelemetryProcessor.process_rows` in one call, and a packet after a
sequence gap goes one by one, so the counts, faults, values, alarms and callbacks are those of one
packet at a time (tests compare both).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from groundstation.bulk_segments import BulkSegments
from groundstation.image_packets import ImagePackets
from groundstation.packet_book import PacketBook
from groundstation.telemetry import TelemetryProcessor
from protocols.packets.apids import Apid
from protocols.packets.space_packet import PRIMARY_HEADER_LENGTH, PacketRun, SpacePacket, sequence_gap
from protocols.packets.time_code import CUC_PFIELD_4_2
from protocols.pus.packets import TM_SECONDARY_HEADER_LENGTH, TM_TIME_OFFSET, tm_run_columns


class PlatformBatch:
    """Books and decodes the platform packets of runs; hands the other packets on."""

    def __init__(self, book: PacketBook, telemetry: TelemetryProcessor, camera: ImagePackets) -> None:
        """``camera``: the station's one-by-one image path, whose reassembler takes segments in bulk."""
        self.book = book
        self.telemetry = telemetry
        self.faults = camera.faults
        self.segments = BulkSegments(book, camera.reassembler, camera.on_image)  # the other stretches

    def handle_run(
        self, run: PacketRun, origin: int | None, one_by_one: Callable[[SpacePacket], None]
    ) -> None:
        """Every packet of ``run`` in order: platform stretches here, the others to
        :meth:`BulkSegments.handle_run` (image segments in bulk), a packet after a gap one by one."""
        platform = run.apids() == Apid.PLATFORM
        if not platform.any():
            self.segments.handle_run(run, origin, one_by_one)
            return
        edges = np.flatnonzero(platform[1:] != platform[:-1]) + 1
        for start, stop in zip([0, *edges.tolist()], [*edges.tolist(), len(run)], strict=True):
            offset = run.stream_offset + start * run.packet_length
            stretch = PacketRun(run.rows[start:stop], offset, run.pec_checked)
            if platform[start]:
                self._platform(stretch, one_by_one)
            else:
                self.segments.handle_run(stretch, origin, one_by_one)

    def _platform(self, run: PacketRun, one_by_one: Callable[[SpacePacket], None]) -> None:
        counts = run.sequence_counts().astype(np.int64)
        position = 0
        while position < len(run):
            previous = self.book.last_count.get(Apid.PLATFORM)
            if previous is not None and sequence_gap(previous, int(counts[position])):
                one_by_one(run.packet(position))  # the gap is recorded where one by one records it
                position += 1
                continue
            gaps = np.flatnonzero(sequence_gap(counts[position:-1], counts[position + 1 :]))
            stop = position + 1 + int(gaps[0]) if gaps.size else len(run)
            self._book_and_decode(
                PacketRun(run.rows[position:stop], pec_checked=run.pec_checked), counts[position:stop]
            )
            position = stop

    def _book_and_decode(self, run: PacketRun, counts: np.ndarray) -> None:
        """Packets that follow each other's sequence counts: booked and decoded as one by one would."""
        apid, rows = Apid.PLATFORM, run.rows
        self.book.packets_by_apid[apid] += len(run)
        timed = run.secondary_header_flags() == 1  # PacketBook.note_packet_time's rule, column-wise
        if run.packet_length - PRIMARY_HEADER_LENGTH < TM_SECONDARY_HEADER_LENGTH:
            timed[:] = False
        else:
            timed &= rows[:, PRIMARY_HEADER_LENGTH + TM_TIME_OFFSET] == CUC_PFIELD_4_2
        if timed.any():
            seconds = tm_run_columns(PacketRun(rows, pec_checked=True)).seconds[timed]
            self.book.note_time(apid, float(seconds.min()), float(seconds.max()))
        self.book.last_count[apid] = int(counts[-1])
        for index in self.telemetry.process_rows(rows, time.time(), run.pec_checked):
            self.faults.record("bad platform packet", f"sequence count {int(counts[index])}")
