"""Camera packets one at a time: decoded once, faults for what does not decode, images handed on."""

from __future__ import annotations

import logging

from groundstation.fault_log import FaultLog
from groundstation.image_packets import ImagePackets
from protocols.image.image_transport import (
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    SUBTYPE_IMAGE_SEGMENT,
    ImageReassembler,
    iter_segments,
    make_image_header,
)
from protocols.packets.space_packet import SpacePacket
from protocols.packets.time_code import CucTime
from protocols.pus.packets import TmPacket, TmSecondaryHeader


def _camera(subtype: int, data: bytes, count: int = 0, flags: int = 3) -> SpacePacket:
    raw = TmPacket(0xC8, count, TmSecondaryHeader(SERVICE_IMAGE, subtype, CucTime(5)), data, flags).pack()
    return SpacePacket.unpack(raw)[0]


def _handler() -> tuple[ImagePackets, list]:
    faults = FaultLog(logging.getLogger("test"))
    images: list = []
    return ImagePackets(ImageReassembler(), faults, images.append), images


def test_an_image_in_packets_comes_out_whole() -> None:
    handler, images = _handler()
    pixels = bytes(range(256)) * 16
    header = make_image_header(1, pixels, 64, 64, 8, 1000, CucTime(5), {"scenario": "t"}, segment_octets=1000)
    handler.handle(_camera(SUBTYPE_IMAGE_HEADER, header.pack()), None)
    for n, (flags, segment) in enumerate(iter_segments(header, pixels), 1):
        handler.handle(_camera(SUBTYPE_IMAGE_SEGMENT, segment.pack(), n, flags), None)
    assert [(i.pixels, i.crc_ok) for i in images] == [(pixels, True)]
    assert handler.faults.counts == {}


def test_a_bad_pec_and_an_unknown_message_are_faults() -> None:
    handler, images = _handler()
    good = _camera(SUBTYPE_IMAGE_SEGMENT, b"\x00" * 20)
    handler.handle(SpacePacket(good.apid, 0, good.data[:-1] + bytes([good.data[-1] ^ 1])), None)
    handler.handle(_camera(99, b""), None)
    assert handler.faults.counts == {"bad camera packet": 1, "unknown camera service": 1} and not images
