"""CCSDS TC transfer frames (CCSDS 232.0-B) with the frame error control field.

Primary header, 5 octets::

    bits  0-1   transfer frame version number   00
    bit   2     bypass flag                     1 = type-B (acceptance checks bypassed)
    bit   3     control command flag            0 = data (type-D), 1 = control (type-C)
    bits  4-5   spare                           00
    bits  6-15  spacecraft id                   10 bits
    bits 16-21  virtual channel id              6 bits
    bits 22-31  frame length                    total octets minus one (at most 1023)
    bits 32-39  frame sequence number           8 bits, per virtual channel

The data field follows, then the FECF: CRC-16/CCITT-FALSE over the whole
frame before it (:mod:`protocols.coding.crc`). paleblue sends type-BD frames (no COP-1
on the uplink) with no segment header: each frame carries whole TC packets.
:data:`TC_FRAME_HEADER` is the declaration; :func:`unpack_header_fast` the
struct fast path a test proves identical.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Flag

from protocols.coding.cltu import decode_cltu, encode_cltu
from protocols.coding.crc import crc16
from protocols.errors import DecodeError

LAYER = "tc-frame"
HEADER_LENGTH = 5
FECF_LENGTH = 2
MAX_FRAME_LENGTH = 1024
MAX_DATA_LENGTH = MAX_FRAME_LENGTH - HEADER_LENGTH - FECF_LENGTH

TC_FRAME_HEADER = BitStruct(
    "version" / BitsInteger(2),
    "bypass" / Flag,
    "control_command" / Flag,
    "spare" / BitsInteger(2),
    "spacecraft_id" / BitsInteger(10),
    "virtual_channel_id" / BitsInteger(6),
    "frame_length" / BitsInteger(10),
    "sequence_number" / BitsInteger(8),
)
_HEADER = struct.Struct(">HHB")


@dataclass(frozen=True, slots=True)
class TcFrame:
    spacecraft_id: int
    virtual_channel_id: int
    sequence_number: int
    data: bytes
    bypass: bool = True
    control_command: bool = False

    def pack(self) -> bytes:
        if not 1 <= len(self.data) <= MAX_DATA_LENGTH:
            raise ValueError(f"TC frame data field holds 1..{MAX_DATA_LENGTH} octets, not {len(self.data)}")
        header = TC_FRAME_HEADER.build(
            {
                "version": 0,
                "bypass": self.bypass,
                "control_command": self.control_command,
                "spare": 0,
                "spacecraft_id": self.spacecraft_id,
                "virtual_channel_id": self.virtual_channel_id,
                "frame_length": HEADER_LENGTH + len(self.data) + FECF_LENGTH - 1,
                "sequence_number": self.sequence_number & 0xFF,
            }
        )
        body = header + self.data
        return body + crc16(body).to_bytes(2, "big")

    @classmethod
    def unpack(cls, data: bytes | memoryview, allow_trailing_fill: bool = True) -> TcFrame:
        """Decode one frame; trailing CLTU fill is ignored unless ``allow_trailing_fill`` is False."""
        h = unpack_header_fast(data)
        if h["version"] != 0:
            raise DecodeError(LAYER, 0, f"transfer frame version {h['version']} is not 0")
        length = h["frame_length"] + 1
        if length < HEADER_LENGTH + FECF_LENGTH + 1:
            raise DecodeError(LAYER, 2, f"frame length {length} leaves no data field")
        if length > len(data) or (not allow_trailing_fill and length != len(data)):
            raise DecodeError(LAYER, 2, f"frame length {length} does not match the {len(data)} octets given")
        if crc16(data[: length - FECF_LENGTH]) != int.from_bytes(data[length - FECF_LENGTH : length], "big"):
            raise DecodeError(LAYER, length - FECF_LENGTH, "frame error control field does not match")
        return cls(
            spacecraft_id=h["spacecraft_id"],
            virtual_channel_id=h["virtual_channel_id"],
            sequence_number=h["sequence_number"],
            data=bytes(data[HEADER_LENGTH : length - FECF_LENGTH]),
            bypass=h["bypass"],
            control_command=h["control_command"],
        )


def unpack_header_fast(data: bytes | memoryview) -> dict[str, int | bool]:
    """The five header octets with struct; identical to :data:`TC_FRAME_HEADER`."""
    if len(data) < HEADER_LENGTH:
        raise DecodeError(LAYER, 0, f"need {HEADER_LENGTH} octets for a TC frame header")
    w0, w1, seq = _HEADER.unpack_from(data)
    return {
        "version": w0 >> 14,
        "bypass": bool((w0 >> 13) & 1),
        "control_command": bool((w0 >> 12) & 1),
        "spare": (w0 >> 10) & 3,
        "spacecraft_id": w0 & 0x3FF,
        "virtual_channel_id": w1 >> 10,
        "frame_length": w1 & 0x3FF,
        "sequence_number": seq,
    }


class TcFrameEncoder:
    """Wraps TC packets into frames of one virtual channel, counting frame sequence numbers."""

    def __init__(self, spacecraft_id: int, virtual_channel_id: int = 0) -> None:
        self.spacecraft_id = spacecraft_id
        self.virtual_channel_id = virtual_channel_id
        self._sequence = 0

    def frame(self, packet: bytes) -> bytes:
        frame = TcFrame(self.spacecraft_id, self.virtual_channel_id, self._sequence, packet)
        self._sequence = (self._sequence + 1) & 0xFF
        return frame.pack()


def check_frame_address(frame: TcFrame, spacecraft_id: int, virtual_channel_id: int | None = None) -> None:
    """Reject a frame meant for another spacecraft or channel, as the on-board receiver does."""
    if frame.spacecraft_id != spacecraft_id:
        raise DecodeError(LAYER, 0, f"spacecraft id {frame.spacecraft_id} is not ours ({spacecraft_id})")
    if virtual_channel_id is not None and frame.virtual_channel_id != virtual_channel_id:
        raise DecodeError(LAYER, 2, f"virtual channel {frame.virtual_channel_id} is not {virtual_channel_id}")


def wrap_for_uplink(packet: bytes, encoder: TcFrameEncoder) -> bytes:
    """Ground side: one TC packet → TC frame → CLTU, ready for the uplink."""
    return encode_cltu(encoder.frame(packet))


def unwrap_uplink(cltu: bytes, spacecraft_id: int, virtual_channel_id: int | None = None) -> TcFrame:
    """Probe side: CLTU → (corrected) frame, FECF and address checked; DecodeError otherwise."""
    frame = TcFrame.unpack(decode_cltu(cltu).data)
    check_frame_address(frame, spacecraft_id, virtual_channel_id)
    return frame
