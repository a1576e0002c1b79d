"""The camera APID's packets one at a time: PUS 128,1 image headers and 128,2 image segments.

Each packet is decoded once (:meth:`protocols.pus.packets.TmPacket.from_space_packet`, PEC checked) and
its typed value handed to the reassembler; the images it completes or evicts go on as products.
Runs of segments take the bulk path (:mod:`groundstation.bulk_segments`) to the same effect.
"""

from __future__ import annotations

from collections.abc import Callable

from groundstation.fault_log import FaultLog
from protocols.errors import DecodeError
from protocols.image.image_transport import (
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    SUBTYPE_IMAGE_SEGMENT,
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    ReassembledImage,
)
from protocols.packets.space_packet import SpacePacket
from protocols.pus.packets import TmPacket


class ImagePackets:
    """Camera packets to the reassembler; a packet that does not decode is a fault, never a crash."""

    def __init__(
        self, reassembler: ImageReassembler, faults: FaultLog, on_image: Callable[[ReassembledImage], object]
    ) -> None:
        self.reassembler = reassembler
        self.faults = faults
        self.on_image = on_image

    def handle(self, packet: SpacePacket, origin: int | None) -> None:
        try:
            done = self._reassemble(TmPacket.from_space_packet(packet), origin)
        except DecodeError as exc:
            self.faults.record("bad camera packet", str(exc))
            return
        for image in done:
            self.on_image(image)

    def _reassemble(self, tm: TmPacket, origin: int | None) -> list[ReassembledImage]:
        """The images ``tm`` completes, or flushes to make room (none for an unknown message)."""
        reassembler = self.reassembler
        if tm.service == SERVICE_IMAGE and tm.subtype == SUBTYPE_IMAGE_HEADER:
            return reassembler.add_header(ImageHeader.unpack(tm.app_data), origin)
        if tm.service == SERVICE_IMAGE and tm.subtype == SUBTYPE_IMAGE_SEGMENT:
            done = reassembler.add_segment(tm.sequence_flags, ImageSegment.unpack(tm.app_data), origin)
            return [*reassembler.take_evicted(), *([done] if done is not None else [])]
        self.faults.record("unknown camera service", f"{tm.service},{tm.subtype}")
        return []
