"""AOS transfer frame (CCSDS 732.0-B-4) carrying packets in an M_PDU.

Primary header, 6 octets (no frame header error control, no insert zone here)::

    bits  0-1   transfer frame version        01
    bits  2-9   spacecraft id                 8 bits
    bits 10-15  virtual channel id            6 bits, 63 = idle frames
    bits 16-39  virtual channel frame count   24 bits
    bit  40     replay flag
    bit  41     VC frame count usage flag     (0: the cycle field is not used)
    bits 42-43  spare
    bits 44-47  VC frame count cycle

The data field of a packet VC is an M_PDU: 5 spare bits and an 11-bit first header pointer,
then the packet zone. Declared with construct; :func:`unpack_header_fast` is the struct fast path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Flag

from protocols.errors import DecodeError
from protocols.link.channel_config import MPDU_HEADER_LENGTH, FrameType, PhysicalChannelConfig
from protocols.link.frame_trailer import check_length_and_fecf, close_frame
from protocols.link.frame_view import FrameView

LAYER = "aos-frame"
VERSION = 1
HEADER_LENGTH = 6
FHP_NO_PACKET_START = 0x7FF
FHP_IDLE_DATA = 0x7FE
IDLE_FILL = 0x55

PRIMARY_HEADER = BitStruct(
    "version" / BitsInteger(2),
    "spacecraft_id" / BitsInteger(8),
    "vcid" / BitsInteger(6),
    "vc_frame_count" / BitsInteger(24),
    "replay_flag" / Flag,
    "vc_frame_count_usage_flag" / Flag,
    "spare" / BitsInteger(2),
    "vc_frame_count_cycle" / BitsInteger(4),
)

MPDU_HEADER = BitStruct("spare" / BitsInteger(5), "first_header_pointer" / BitsInteger(11))

_HEADER = struct.Struct(">HHBBH")  # word0, count high 16, count low 8, signalling, M_PDU header


@dataclass(frozen=True, slots=True)
class AosHeader:
    spacecraft_id: int
    vcid: int
    vc_frame_count: int
    replay_flag: bool = False
    vc_frame_count_usage_flag: bool = False
    vc_frame_count_cycle: int = 0
    version: int = VERSION


def pack_header_fast(h: AosHeader) -> bytes:
    if not 0 <= h.spacecraft_id < 256 or not 0 <= h.vcid < 64:
        raise ValueError("AOS spacecraft id must fit 8 bits and VCID 6 bits")
    count = h.vc_frame_count & 0xFFFFFF
    signalling = (
        int(h.replay_flag) << 7 | int(h.vc_frame_count_usage_flag) << 6 | (h.vc_frame_count_cycle & 0xF)
    )
    word0 = (h.version & 3) << 14 | h.spacecraft_id << 6 | h.vcid
    return struct.pack(">HHBB", word0, count >> 8, count & 0xFF, signalling)


def unpack_header_fast(data: bytes | memoryview, offset: int = 0) -> AosHeader:
    if len(data) - offset < HEADER_LENGTH:
        raise DecodeError(LAYER, offset, "an AOS primary header needs 6 octets")
    word0, high, low, signalling = struct.unpack_from(">HHBB", data, offset)
    return AosHeader(
        spacecraft_id=(word0 >> 6) & 0xFF,
        vcid=word0 & 0x3F,
        vc_frame_count=high << 8 | low,
        replay_flag=bool(signalling >> 7),
        vc_frame_count_usage_flag=bool(signalling >> 6 & 1),
        vc_frame_count_cycle=signalling & 0xF,
        version=word0 >> 14,
    )


def unpack_routing_fast(frame: bytes) -> tuple[int, int, int, None, int, int]:
    """(version, spacecraft id, vcid, None, VC count, M_PDU first header pointer) without objects.

    Same shape as the TM routing tuple (AOS has no master channel count); tests prove it agrees
    with :data:`PRIMARY_HEADER` and :data:`MPDU_HEADER`. Frames with an insert zone: :func:`routing_for`.
    """
    word0, high, low, _, mpdu = _HEADER.unpack_from(frame)
    return word0 >> 14, (word0 >> 6) & 0xFF, word0 & 0x3F, None, high << 8 | low, mpdu & 0x7FF


def routing_for(config: PhysicalChannelConfig) -> Callable[[bytes], tuple[int, int, int, None, int, int]]:
    """The routing fast path for this channel: the M_PDU header follows any insert zone."""
    if not config.insert_zone_length:
        return unpack_routing_fast
    at = HEADER_LENGTH + config.insert_zone_length

    def routing(frame: bytes) -> tuple[int, int, int, None, int, int]:
        version, scid, vcid, _, count, _ = unpack_routing_fast(frame)
        return version, scid, vcid, None, count, (frame[at] << 8 | frame[at + 1]) & 0x7FF

    return routing


@dataclass(frozen=True, slots=True)
class AosFrame(FrameView):
    header: AosHeader
    first_header_pointer: int
    packet_zone: bytes
    ocf: bytes | None = None


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
    """A whole AOS frame (M_PDU data field). ``mc_frame_count`` is accepted and ignored."""
    del mc_frame_count, secondary_header
    if config.frame_type is not FrameType.AOS:
        raise ValueError("pack_frame of aos_frame needs an AOS channel configuration")
    if len(packet_zone) != config.packet_zone_length:
        raise ValueError(f"packet zone must be {config.packet_zone_length} octets, not {len(packet_zone)}")
    if not 0 <= first_header_pointer < 2048:
        raise ValueError(f"first header pointer {first_header_pointer} does not fit 11 bits")
    header = pack_header_fast(AosHeader(config.spacecraft_id, vcid, vc_frame_count))
    insert_zone = bytes(config.insert_zone_length)  # the insert zone service is not used: zeros
    parts = [header, insert_zone, first_header_pointer.to_bytes(MPDU_HEADER_LENGTH, "big"), packet_zone]
    return close_frame(config, parts, ocf)


def idle_frame(
    config: PhysicalChannelConfig, mc_frame_count: int, vc_frame_count: int, ocf: bytes | None = None
) -> bytes:
    """An idle frame (VCID 63); its M_PDU header says idle data only."""
    zone = bytes([IDLE_FILL]) * config.packet_zone_length
    return pack_frame(config, config.idle_vcid, mc_frame_count, vc_frame_count, FHP_IDLE_DATA, zone, ocf)


def unpack_frame(
    config: PhysicalChannelConfig, frame: bytes | memoryview, check_crc: bool = True
) -> AosFrame:
    """Decode one AOS frame; raises DecodeError for wrong length, version, spacecraft, CRC or FHP."""
    check_length_and_fecf(config, frame, check_crc, LAYER)
    h = unpack_header_fast(frame)
    if h.version != VERSION:
        raise DecodeError(LAYER, 0, f"transfer frame version {h.version} is not 1 (AOS)")
    if h.spacecraft_id != config.spacecraft_id:
        raise DecodeError(LAYER, 0, f"spacecraft id {h.spacecraft_id} is not {config.spacecraft_id}")
    at = HEADER_LENGTH + config.insert_zone_length
    fhp = int.from_bytes(frame[at : at + 2], "big")
    if fhp >> 11:
        raise DecodeError(LAYER, at, "M_PDU header spare bits are not zero")
    if fhp not in (FHP_NO_PACKET_START, FHP_IDLE_DATA) and fhp >= config.packet_zone_length:
        raise DecodeError(LAYER, at, f"first header pointer {fhp} lies beyond the packet zone")
    start = config.header_length
    end = start + config.packet_zone_length
    ocf = bytes(frame[end : end + 4]) if config.ocf else None
    return AosFrame(h, fhp, bytes(frame[start:end]), ocf)
