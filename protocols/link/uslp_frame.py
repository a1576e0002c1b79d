"""USLP transfer frame (CCSDS 732.1-B-2, Unified Space Data Link Protocol) carrying space packets.

Primary header, 7 octets plus a VC frame count of 0..7 octets (bit 0 is the most significant)::

    bits  0-3   transfer frame version number     1100
    bits  4-19  spacecraft id                     16 bits
    bit  20     source-or-destination identifier  0: the spacecraft id is the frame's source
    bits 21-26  virtual channel id                6 bits, 63 = only idle data (OID) frames
    bits 27-30  MAP id                            4 bits
    bit  31     end of frame primary header flag  1: a truncated 4-octet header (not used here)
    bits 32-47  frame length                      total octets - 1
    bit  48     bypass / sequence control flag    0: sequence-controlled QoS
    bit  49     protocol control command flag     0: user data
    bits 50-51  reserve spares                    00
    bit  52     OCF flag                          an operational control field ends the frame
    bits 53-55  VC frame count length             octets of the count that follows (1..7 here)
    bits 56-    VC frame count                    8 x length bits

Then an optional insert zone (fixed length, a managed parameter), the transfer frame data field
(TFDF), the OCF (4 octets) if flagged and the FECF (CRC-16, 2 octets) if configured. The TFDF
header is one octet, TFDZ construction rule (3 bits) and USLP protocol identifier (5 bits), then
for rules '000', '001' and '010' a 16-bit first header / last valid octet pointer:

* fixed-length frames use rule '000' (packets spanning frames): the pointer is the offset of the
  first packet header in the data zone, 0xFFFF when none starts there;
* variable-length frames use rule '111' (no segmentation): the data zone is one whole packet;
* OID frames (VCID 63) carry UPID 0b11111 (idle data) and an idle fill pattern.

Field layouts were checked against Yamcs' ``UslpFrameDecoder`` and spacepackets' ``uslp`` module
(and its PyPI package, which the tests decode our frames with). Declared with construct
(:data:`PRIMARY_HEADER`, :data:`TFDF_HEADER`); :func:`pack_header_fast`, :func:`unpack_header_fast`
and :func:`routing_for` are the struct fast paths that tests prove identical.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Flag, If, Int16ub, Struct, this

from protocols.coding.crc import crc16_ok
from protocols.errors import DecodeError
from protocols.link.channel_config import (
    OCF_LENGTH,
    USLP_PRIMARY_HEADER_LENGTH,
    FrameType,
    PhysicalChannelConfig,
)
from protocols.link.frame_trailer import close_frame
from protocols.link.frame_view import FrameView

LAYER = "uslp-frame"
VERSION = 0b1100
RULE_PACKETS_SPANNING = 0b000  # TFDZ construction rule: packets spanning frames, with an FHP
RULE_NO_SEGMENTATION = 0b111  # one whole packet in a variable-length frame
UPID_SPACE_PACKETS = 0b00000  # SANA "USLP Protocol Identifier": space packets / encapsulation packets
UPID_IDLE = 0b11111  # idle data
FHP_NO_PACKET_START = 0xFFFF
IDLE_FILL = 0x55

# The routing tuple speaks the packet extractor's language (11-bit TM/AOS style pointers).
ROUTING_NO_PACKET_START = 0x7FF
ROUTING_IDLE_DATA = 0x7FE

PRIMARY_HEADER = BitStruct(
    "version" / BitsInteger(4),
    "spacecraft_id" / BitsInteger(16),
    "source_destination" / Flag,
    "vcid" / BitsInteger(6),
    "map_id" / BitsInteger(4),
    "end_of_primary_header" / Flag,
    "frame_length_field" / BitsInteger(16),
    "bypass_flag" / Flag,
    "protocol_control_flag" / Flag,
    "spare" / BitsInteger(2),
    "ocf_flag" / Flag,
    "vc_count_length" / BitsInteger(3),
    "vc_frame_count" / If(this.vc_count_length > 0, BitsInteger(8 * this.vc_count_length)),
)

TFDF_HEADER = Struct(
    "flags" / BitStruct("construction_rule" / BitsInteger(3), "upid" / BitsInteger(5)),
    "pointer" / If(this.flags.construction_rule <= 0b010, Int16ub),
)

_FIXED = struct.Struct(">IHB")  # identification word, frame length field, flags + count length


@dataclass(frozen=True, slots=True)
class UslpHeader:
    """A non-truncated primary header. ``frame_length`` is the whole frame in octets (the field on
    the wire holds one less)."""

    spacecraft_id: int
    vcid: int
    frame_length: int
    vc_frame_count: int
    vc_count_length: int = 1
    map_id: int = 0
    ocf_flag: bool = False
    source_destination: bool = False
    bypass_flag: bool = False
    protocol_control_flag: bool = False
    end_of_primary_header: bool = False
    version: int = VERSION

    @property
    def length(self) -> int:
        return USLP_PRIMARY_HEADER_LENGTH + self.vc_count_length


def pack_header_fast(h: UslpHeader) -> bytes:
    if not 0 <= h.spacecraft_id < 1 << 16 or not 0 <= h.vcid < 64 or not 0 <= h.map_id < 16:
        raise ValueError("USLP spacecraft id must fit 16 bits, VCID 6 bits and MAP id 4 bits")
    if not 0 <= h.vc_count_length <= 7 or not 0 <= h.vc_frame_count < 1 << (8 * h.vc_count_length):
        raise ValueError(f"VC frame count {h.vc_frame_count} does not fit {h.vc_count_length} octets")
    if not 1 <= h.frame_length <= 1 << 16:
        raise ValueError(f"USLP frame length {h.frame_length} is outside 1..65536")
    word = (
        (h.version & 0xF) << 28
        | h.spacecraft_id << 12
        | int(h.source_destination) << 11
        | h.vcid << 5
        | h.map_id << 1
        | int(h.end_of_primary_header)
    )
    flags = (
        int(h.bypass_flag) << 7 | int(h.protocol_control_flag) << 6 | int(h.ocf_flag) << 3 | h.vc_count_length
    )
    count = h.vc_frame_count.to_bytes(h.vc_count_length, "big")
    return _FIXED.pack(word, h.frame_length - 1, flags) + count


def unpack_header_fast(data: bytes | memoryview, offset: int = 0) -> UslpHeader:
    """The non-truncated primary header at ``offset``; DecodeError if it is short or truncated."""
    if len(data) - offset < USLP_PRIMARY_HEADER_LENGTH:
        raise DecodeError(LAYER, offset, "a USLP primary header needs at least 7 octets")
    word, length_field, flags = _FIXED.unpack_from(data, offset)
    if word & 1:
        raise DecodeError(LAYER, offset + 3, "truncated primary header (end-of-header flag set)")
    count_length = flags & 7
    end = offset + USLP_PRIMARY_HEADER_LENGTH + count_length
    if len(data) < end:
        raise DecodeError(LAYER, offset + 6, f"VC frame count of {count_length} octets runs past the data")
    return UslpHeader(
        spacecraft_id=(word >> 12) & 0xFFFF,
        vcid=(word >> 5) & 0x3F,
        frame_length=length_field + 1,
        vc_frame_count=int.from_bytes(data[end - count_length : end], "big"),
        vc_count_length=count_length,
        map_id=(word >> 1) & 0xF,
        ocf_flag=bool(flags >> 3 & 1),
        source_destination=bool(word >> 11 & 1),
        bypass_flag=bool(flags >> 7),
        protocol_control_flag=bool(flags >> 6 & 1),
        end_of_primary_header=False,
        version=word >> 28,
    )


@dataclass(frozen=True, slots=True)
class UslpFrame(FrameView):
    header: UslpHeader
    construction_rule: int
    upid: int
    first_header_pointer: int | None  # rule '000' only; 0xFFFF: no packet starts here
    packet_zone: bytes
    insert_zone: bytes = b""
    ocf: bytes | None = None


def _check_config(config: PhysicalChannelConfig) -> None:
    if config.frame_type is not FrameType.USLP:
        raise ValueError("uslp_frame needs a USLP channel configuration")


def _tfdf_offset(config: PhysicalChannelConfig) -> int:
    return USLP_PRIMARY_HEADER_LENGTH + config.vc_count_length + config.insert_zone_length


def _assemble(
    config: PhysicalChannelConfig,
    vcid: int,
    vc_frame_count: int,
    tfdf: bytes,
    ocf: bytes | None,
    insert_zone: bytes,
) -> bytes:
    if len(insert_zone) > config.insert_zone_length:
        raise ValueError(f"insert zone is {config.insert_zone_length} octets, not {len(insert_zone)}")
    length = _tfdf_offset(config) + len(tfdf) + config.trailer_length
    header = pack_header_fast(
        UslpHeader(
            spacecraft_id=config.spacecraft_id,
            vcid=vcid,
            frame_length=length,
            vc_frame_count=vc_frame_count % config.vc_count_modulo,
            vc_count_length=config.vc_count_length,
            map_id=config.map_id,
            ocf_flag=config.ocf,
        )
    )
    return close_frame(config, [header, insert_zone.ljust(config.insert_zone_length, b"\0"), tfdf], ocf)


def pack_frame(
    config: PhysicalChannelConfig,
    vcid: int,
    mc_frame_count: int,
    vc_frame_count: int,
    first_header_pointer: int,
    packet_zone: bytes,
    ocf: bytes | None = None,
    secondary_header: bytes = b"",
    insert_zone: bytes = b"",
) -> bytes:
    """A whole USLP frame (same signature as the TM and AOS modules; ``mc_frame_count`` is ignored).

    Fixed length: ``packet_zone`` is exactly the zone, ``first_header_pointer`` in the 11-bit
    convention of :mod:`protocols.link.frame_packets` (0x7FF: no packet starts) or a zone offset.
    Variable length: ``packet_zone`` is one whole packet and the pointer is ignored.
    """
    del mc_frame_count, secondary_header
    _check_config(config)
    if config.variable_length:
        if not 0 < len(packet_zone) <= config.packet_zone_length:
            raise ValueError(
                f"a packet of {len(packet_zone)} octets does not fit {config.packet_zone_length}"
            )
        tfdf = bytes([RULE_NO_SEGMENTATION << 5 | UPID_SPACE_PACKETS]) + packet_zone
        return _assemble(config, vcid, vc_frame_count, tfdf, ocf, insert_zone)
    if len(packet_zone) != config.packet_zone_length:
        raise ValueError(f"packet zone must be {config.packet_zone_length} octets, not {len(packet_zone)}")
    if first_header_pointer == ROUTING_NO_PACKET_START:
        first_header_pointer = FHP_NO_PACKET_START
    elif not 0 <= first_header_pointer < len(packet_zone):
        raise ValueError(f"first header pointer {first_header_pointer} lies outside the packet zone")
    tfdf = bytes([RULE_PACKETS_SPANNING << 5 | UPID_SPACE_PACKETS]) + first_header_pointer.to_bytes(2, "big")
    return _assemble(config, vcid, vc_frame_count, tfdf + packet_zone, ocf, insert_zone)


def idle_frame(
    config: PhysicalChannelConfig, mc_frame_count: int, vc_frame_count: int, ocf: bytes | None = None
) -> bytes:
    """An Only Idle Data frame on VCID 63: UPID idle data, fill pattern, no packet starts."""
    del mc_frame_count
    _check_config(config)
    if config.variable_length:
        tfdf = bytes([RULE_NO_SEGMENTATION << 5 | UPID_IDLE]) + bytes([IDLE_FILL]) * 8
    else:
        zone = bytes([IDLE_FILL]) * config.packet_zone_length
        tfdf = bytes([RULE_PACKETS_SPANNING << 5 | UPID_IDLE]) + FHP_NO_PACKET_START.to_bytes(2, "big") + zone
    return _assemble(config, config.idle_vcid, vc_frame_count, tfdf, ocf, b"")


def frame_length_of(config: PhysicalChannelConfig, head: bytes | memoryview) -> int:
    """Whole frame length from the first 6 octets of a frame (fixed frames: the configured one)."""
    if not config.variable_length:
        return config.frame_length
    if len(head) < 6:
        raise DecodeError(LAYER, 0, "need 6 octets to read a USLP frame length")
    return (head[4] << 8 | head[5]) + 1


def min_frame_length(config: PhysicalChannelConfig) -> int:
    """The shortest frame this channel can carry (variable length: one minimal 7-octet packet)."""
    if not config.variable_length:
        return config.frame_length
    return config.header_length + 7 + config.trailer_length


def unpack_frame(
    config: PhysicalChannelConfig, frame: bytes | memoryview, check_crc: bool = True
) -> UslpFrame:
    """Decode one USLP frame; DecodeError for wrong length, version, spacecraft, flags, CRC or TFDF."""
    _check_config(config)
    n = len(frame)
    if config.variable_length:
        if not min_frame_length(config) <= n <= config.frame_length:
            raise DecodeError(
                LAYER, 0, f"frame is {n} octets, outside {min_frame_length(config)}..{config.frame_length}"
            )
    elif n != config.frame_length:
        raise DecodeError(LAYER, 0, f"frame is {n} octets, not {config.frame_length}")
    if check_crc and config.fecf and not crc16_ok(frame):
        raise DecodeError(LAYER, n - 2, "frame error control field does not match")
    h = unpack_header_fast(frame)
    if h.version != VERSION:
        raise DecodeError(LAYER, 0, f"transfer frame version {h.version} is not 12 (USLP)")
    if h.spacecraft_id != config.spacecraft_id:
        raise DecodeError(LAYER, 0, f"spacecraft id {h.spacecraft_id} is not {config.spacecraft_id}")
    if h.frame_length != n:
        raise DecodeError(LAYER, 4, f"frame length field says {h.frame_length} octets, the frame has {n}")
    if h.ocf_flag != config.ocf:
        raise DecodeError(LAYER, 6, "OCF flag disagrees with the channel configuration")
    if h.vc_count_length != config.vc_count_length:
        raise DecodeError(LAYER, 6, f"VC count length {h.vc_count_length} is not {config.vc_count_length}")
    position = h.length
    insert_zone = bytes(frame[position : position + config.insert_zone_length])
    position += config.insert_zone_length
    rule, upid = frame[position] >> 5, frame[position] & 0x1F
    expected_rule = RULE_NO_SEGMENTATION if config.variable_length else RULE_PACKETS_SPANNING
    if rule != expected_rule:
        raise DecodeError(LAYER, position, f"TFDZ construction rule {rule:03b} is not {expected_rule:03b}")
    if upid not in (UPID_SPACE_PACKETS, UPID_IDLE):
        raise DecodeError(LAYER, position, f"USLP protocol identifier {upid} is neither packets nor idle")
    zone_end = n - config.trailer_length
    pointer = None
    position += 1
    if rule == RULE_PACKETS_SPANNING:
        pointer = frame[position] << 8 | frame[position + 1]
        position += 2
        if pointer != FHP_NO_PACKET_START and pointer >= zone_end - position:
            raise DecodeError(LAYER, position - 2, f"first header pointer {pointer} lies beyond the zone")
    ocf = bytes(frame[zone_end : zone_end + OCF_LENGTH]) if config.ocf else None
    return UslpFrame(h, rule, upid, pointer, bytes(frame[position:zone_end]), insert_zone, ocf)


def routing_for(config: PhysicalChannelConfig) -> Callable[[bytes], tuple[int, int, int, None, int, int]]:
    """(version, spacecraft id, vcid, None, VC count, pointer) without objects, for this channel.

    The pointer speaks :mod:`protocols.link.frame_packets`' language: the FHP, 0x7FF when no packet starts,
    0x7FE for idle data, 0 for a whole packet (variable length). Tests prove it agrees with
    :func:`unpack_frame` on every frame that decodes.
    """
    _check_config(config)
    count_length = config.vc_count_length
    tfdf = _tfdf_offset(config)
    variable = config.variable_length

    def routing(frame: bytes) -> tuple[int, int, int, None, int, int]:
        word = frame[0] << 24 | frame[1] << 16 | frame[2] << 8 | frame[3]
        count = int.from_bytes(frame[7 : 7 + count_length], "big")
        if frame[tfdf] & 0x1F == UPID_IDLE:
            pointer = ROUTING_IDLE_DATA
        elif variable:
            pointer = 0
        else:
            pointer = frame[tfdf + 1] << 8 | frame[tfdf + 2]
            if pointer == FHP_NO_PACKET_START:
                pointer = ROUTING_NO_PACKET_START
        return word >> 28, (word >> 12) & 0xFFFF, (word >> 5) & 0x3F, None, count, pointer

    return routing


def flags_ok(config: PhysicalChannelConfig, frame: bytes) -> bool:
    """Header flags, length field and TFDF header as this channel sends them (the receiver's check)."""
    if len(frame) < config.header_length or frame[3] & 1:
        return False
    if frame[6] & 0x0F != (int(config.ocf) << 3 | config.vc_count_length):
        return False
    if (frame[4] << 8 | frame[5]) + 1 != len(frame):
        return False
    tfdf = frame[_tfdf_offset(config)]
    rule = RULE_NO_SEGMENTATION if config.variable_length else RULE_PACKETS_SPANNING
    if tfdf >> 5 != rule or (tfdf & 0x1F) not in (UPID_SPACE_PACKETS, UPID_IDLE):
        return False
    if config.variable_length:
        return True
    pointer = frame[_tfdf_offset(config) + 1] << 8 | frame[_tfdf_offset(config) + 2]
    return pointer == FHP_NO_PACKET_START or pointer < config.packet_zone_length
