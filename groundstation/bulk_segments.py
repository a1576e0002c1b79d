"""Image segments placed in bulk: a run of equal-length packets checked and reassembled as arrays.

A raw packet file, or messages joined by :class:`~groundstation.message_batch.MessageBatch`,
arrive as :class:`~protocols.packets.space_packet.PacketRun`. Bulk takes only the packets that the
one-at-a-time path would handle without a fault (camera APID, right PEC, PUS 128,2, the next
sequence count, a segment its image is waiting for); every other packet goes one by one, so
the effects are the same as one packet at a time (tests compare both).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from groundstation.packet_book import PacketBook
from protocols.image.image_transport import (
    IMAGE_SEGMENT_HEADER_LENGTH,
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_SEGMENT,
    ImageReassembler,
    ReassembledImage,
    SegmentColumns,
)
from protocols.packets.apids import Apid
from protocols.packets.space_packet import PacketRun, SpacePacket, sequence_gap
from protocols.pus.packets import PEC_LENGTH, TM_PAYLOAD_OFFSET, TmRunColumns, tm_run_columns

# Image segments placed in bulk are checked this many at a time; after a refusal, up to
# MAX_BACKOFF packets go one by one before bulk is tried again (bounds the cost of hostile runs).
BULK_WINDOW = 512
MAX_BACKOFF = 64


def _next_index(indices: np.ndarray, position: int, count: int) -> int:
    """The first of ``indices`` at or after ``position`` (``count`` when none is)."""
    at = np.searchsorted(indices, position)
    return int(indices[at]) if at < indices.size else count


class BulkSegments:
    """Places the camera's image segments of a run in bulk, books them as one by one would."""

    def __init__(
        self,
        book: PacketBook,
        reassembler: ImageReassembler,
        on_image: Callable[[ReassembledImage], object],
    ) -> None:
        self.book = book
        self.reassembler = reassembler
        self.on_image = on_image

    def handle_run(
        self, run: PacketRun, origin: int | None, one_by_one: Callable[[SpacePacket], None]
    ) -> None:
        """Every packet of ``run``: in bulk where it can, through ``one_by_one`` elsewhere."""
        count = len(run)
        bulk = self.candidates(run)
        if bulk is None:
            for packet in run.packets():
                one_by_one(packet)
            return
        candidates, tm = bulk
        refused, accepted = np.flatnonzero(~candidates), np.flatnonzero(candidates)
        position, backoff = 0, 1
        while position < count:
            stretch_end = _next_index(refused, position, count)
            if stretch_end > position:  # a stretch of candidates starts here
                taken = self.place(run, tm, position, min(stretch_end, position + BULK_WINDOW), origin)
                if taken:
                    position, backoff = position + taken, 1
                    continue
                stop, backoff = min(count, position + backoff), min(2 * backoff, MAX_BACKOFF)
            else:  # not image segments: up to the next candidate, one by one
                stop = _next_index(accepted, position, count)
            for packet in run.packets(position, stop):
                one_by_one(packet)
            position = stop

    @staticmethod
    def candidates(run: PacketRun) -> tuple[np.ndarray, TmRunColumns] | None:
        """Which packets are well-formed image segments (None: none are)."""
        payload_octets = run.packet_length - TM_PAYLOAD_OFFSET - PEC_LENGTH
        if payload_octets <= IMAGE_SEGMENT_HEADER_LENGTH:
            return None
        candidates = run.apids() == Apid.CAMERA
        if not candidates.any():
            return None
        tm = tm_run_columns(run)
        candidates &= tm.valid & (tm.service == SERVICE_IMAGE) & (tm.subtype == SUBTYPE_IMAGE_SEGMENT)
        return (candidates, tm) if candidates.any() else None

    def place(self, run: PacketRun, tm: TmRunColumns, start: int, stop: int, origin: int | None) -> int:
        """Place the leading segments of ``run[start:stop]`` that continue the APID's sequence
        count and that the reassembler takes; book them as one packet at a time would."""
        apid = Apid.CAMERA
        window = PacketRun(run.rows[start:stop])
        counts = window.sequence_counts().astype(np.int64)
        previous = self.book.last_count.get(apid)
        gaps = sequence_gap(counts[:-1], counts[1:])
        follows = np.concatenate(
            ([previous is None or sequence_gap(previous, int(counts[0])) == 0], gaps == 0)
        )
        broken = np.flatnonzero(~follows)
        following = int(broken[0]) if broken.size else len(counts)
        if not following:
            return 0
        payloads = window.rows[:following, TM_PAYLOAD_OFFSET : run.packet_length - PEC_LENGTH]
        flags = window.sequence_flags()[:following].astype(np.int64)
        taken, done = self.reassembler.add_segment_run(flags, SegmentColumns.from_payloads(payloads), origin)
        if not taken:
            return 0
        self.book.packets_by_apid[apid] += taken
        seconds = tm.seconds[start : start + taken]
        self.book.note_time(apid, float(seconds.min()), float(seconds.max()))
        self.book.last_count[apid] = int(counts[taken - 1])
        if done is not None:
            self.on_image(done)
        return taken
