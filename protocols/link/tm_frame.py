"""TM transfer frame (CCSDS 132.0-B-3): primary header, optional secondary header, OCF, FECF.

Primary header, 6 octets::

    bits  0-1   transfer frame version        00
    bits  2-11  spacecraft id                 10 bits
    bits 12-14  virtual channel id            3 bits
    bit  15     operational control field flag
    bits 16-23  master channel frame count    all VCs, mod 256
    bits 24-31  virtual channel frame count   per VC, mod 256
    bits 32-47  data field status: secondary header flag, sync flag, packet order flag,
                segment length id (11 when sync flag is 0), first header pointer (11 bits)

:data:`PRIMARY_HEADER` (construct) is the declaration; :func:`unpack_header_fast` and
:func:`pack_header_fast` (struct) are the fast paths the tests prove identical to it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Flag

from protocols.errors import DecodeError
from protocols.link.channel_config import FrameType, PhysicalChannelConfig
from protocols.link.frame_trailer import check_length_and_fecf, close_frame
from protocols.link.frame_view import FrameView

LAYER = "tm-frame"
VERSION = 0
HEADER_LENGTH = 6
FHP_NO_PACKET_START = 0x7FF  # no packet header starts in this frame
FHP_IDLE_DATA = 0x7FE  # the data field holds only idle data
IDLE_FILL = 0x55

PRIMARY_HEADER = BitStruct(
    "version" / BitsInteger(2),
    "spacecraft_id" / BitsInteger(10),
    "vcid" / BitsInteger(3),
    "ocf_flag" / Flag,
    "mc_frame_count" / BitsInteger(8),
    "vc_frame_count" / BitsInteger(8),
    "secondary_header_flag" / Flag,
    "sync_flag" / Flag,
    "packet_order_flag" / Flag,
    "segment_length_id" / BitsInteger(2),
    "first_header_pointer" / BitsInteger(11),
)

SECONDARY_HEADER_ID = BitStruct("version" / BitsInteger(2), "length" / BitsInteger(6))

_HEADER = struct.Struct(">HBBH")


@dataclass(frozen=True, slots=True)
class TmHeader:
    spacecraft_id: int
    vcid: int
    mc_frame_count: int
    vc_frame_count: int
    first_header_pointer: int
    ocf_flag: bool = True
    secondary_header_flag: bool = False
    sync_flag: bool = False
    packet_order_flag: bool = False
    segment_length_id: int = 0b11
    version: int = VERSION


def pack_header_fast(h: TmHeader) -> bytes:
    if not 0 <= h.spacecraft_id < 1024 or not 0 <= h.vcid < 8:
        raise ValueError("TM spacecraft id must fit 10 bits and VCID 3 bits")
    if not 0 <= h.first_header_pointer < 2048:
        raise ValueError(f"first header pointer {h.first_header_pointer} does not fit 11 bits")
    word0 = (h.version & 3) << 14 | h.spacecraft_id << 4 | h.vcid << 1 | int(h.ocf_flag)
    status = (
        int(h.secondary_header_flag) << 15
        | int(h.sync_flag) << 14
        | int(h.packet_order_flag) << 13
        | (h.segment_length_id & 3) << 11
        | h.first_header_pointer
    )
    return _HEADER.pack(word0, h.mc_frame_count & 0xFF, h.vc_frame_count & 0xFF, status)


def unpack_header_fast(data: bytes | memoryview, offset: int = 0) -> TmHeader:
    if len(data) - offset < HEADER_LENGTH:
        raise DecodeError(LAYER, offset, "a TM primary header needs 6 octets")
    word0, mc, vc, status = _HEADER.unpack_from(data, offset)
    return TmHeader(
        spacecraft_id=(word0 >> 4) & 0x3FF,
        vcid=(word0 >> 1) & 7,
        mc_frame_count=mc,
        vc_frame_count=vc,
        first_header_pointer=status & 0x7FF,
        ocf_flag=bool(word0 & 1),
        secondary_header_flag=bool(status >> 15),
        sync_flag=bool(status >> 14 & 1),
        packet_order_flag=bool(status >> 13 & 1),
        segment_length_id=(status >> 11) & 3,
        version=word0 >> 14,
    )


def unpack_routing_fast(frame: bytes) -> tuple[int, int, int, int, int, int]:
    """(version, spacecraft id, vcid, MC count, VC count, first header pointer) without objects.

    The receiver's per-frame hot path; tests prove it agrees with :data:`PRIMARY_HEADER`.
    """
    word0, mc, vc, status = _HEADER.unpack_from(frame)
    return word0 >> 14, (word0 >> 4) & 0x3FF, (word0 >> 1) & 7, mc, vc, status & 0x7FF


@dataclass(frozen=True, slots=True)
class TmFrame(FrameView):
    """One decoded TM frame; ``packet_zone`` is the data field after any secondary header."""

    header: TmHeader
    packet_zone: bytes
    secondary_header: bytes = b""  # the secondary header data, after its identification octet
    ocf: bytes | None = None

    @property
    def mc_frame_count(self) -> int:
        return self.header.mc_frame_count

    @property
    def first_header_pointer(self) -> int:
        return self.header.first_header_pointer


def pack_frame(
    config: PhysicalChannelConfig,
    vcid: int,
    mc_frame_count: int,
    vc_frame_count: int,
    first_header_pointer: int,
    packet_zone: bytes,
    ocf: bytes | None = None,
    secondary_header: bytes = b"",
) -> bytes:
    """A whole TM frame of ``config.frame_length`` octets, FECF included when configured."""
    if config.frame_type is not FrameType.TM:
        raise ValueError("pack_frame of tm_frame needs a TM channel configuration")
    if len(packet_zone) != config.packet_zone_length:
        raise ValueError(f"packet zone must be {config.packet_zone_length} octets, not {len(packet_zone)}")
    header = pack_header_fast(
        TmHeader(
            spacecraft_id=config.spacecraft_id,
            vcid=vcid,
            mc_frame_count=mc_frame_count,
            vc_frame_count=vc_frame_count,
            first_header_pointer=first_header_pointer,
            ocf_flag=config.ocf,
            secondary_header_flag=config.secondary_header_length > 0,
        )
    )
    parts = [header]
    if config.secondary_header_length:
        data_length = config.secondary_header_length - 1
        parts.append(bytes([data_length]))  # version 00, length field = octets that follow
        parts.append(secondary_header.ljust(data_length, b"\0")[:data_length])
    parts.append(packet_zone)
    return close_frame(config, parts, ocf)


def idle_frame(
    config: PhysicalChannelConfig, mc_frame_count: int, vc_frame_count: int, ocf: bytes | None = None
) -> bytes:
    """A frame on the idle VC whose data field is only idle data (FHP 0x7FE)."""
    zone = bytes([IDLE_FILL]) * config.packet_zone_length
    return pack_frame(config, config.idle_vcid, mc_frame_count, vc_frame_count, FHP_IDLE_DATA, zone, ocf)


def unpack_frame(config: PhysicalChannelConfig, frame: bytes | memoryview, check_crc: bool = True) -> TmFrame:
    """Decode one TM frame; raises DecodeError for wrong length, version, spacecraft, CRC or FHP."""
    check_length_and_fecf(config, frame, check_crc, LAYER)
    h = unpack_header_fast(frame)
    if h.version != VERSION:
        raise DecodeError(LAYER, 0, f"transfer frame version {h.version} is not 0 (TM)")
    if h.spacecraft_id != config.spacecraft_id:
        raise DecodeError(LAYER, 0, f"spacecraft id {h.spacecraft_id} is not {config.spacecraft_id}")
    if h.ocf_flag != config.ocf:
        raise DecodeError(LAYER, 1, "OCF flag disagrees with the channel configuration")
    if h.secondary_header_flag != (config.secondary_header_length > 0):
        raise DecodeError(LAYER, 4, "secondary header flag disagrees with the channel configuration")
    position = HEADER_LENGTH
    secondary = b""
    if config.secondary_header_length:
        declared = frame[position] & 0x3F
        if frame[position] >> 6 or declared != config.secondary_header_length - 1:
            raise DecodeError(LAYER, position, "secondary header identification disagrees with the channel")
        secondary = bytes(frame[position + 1 : position + config.secondary_header_length])
        position += config.secondary_header_length
    zone_end = position + config.packet_zone_length
    fhp = h.first_header_pointer
    if fhp not in (FHP_NO_PACKET_START, FHP_IDLE_DATA) and fhp >= config.packet_zone_length:
        raise DecodeError(LAYER, 4, f"first header pointer {fhp} lies beyond the packet zone")
    ocf = bytes(frame[zone_end : zone_end + 4]) if config.ocf else None
    return TmFrame(h, bytes(frame[position:zone_end]), secondary, ocf)
