"""What TM and AOS transfer frames share at their end: the OCF and the frame error control field."""

from __future__ import annotations

from protocols.coding.crc import crc16, crc16_ok
from protocols.errors import DecodeError
from protocols.link.channel_config import OCF_LENGTH, PhysicalChannelConfig


def close_frame(config: PhysicalChannelConfig, parts: list[bytes], ocf: bytes | None) -> bytes:
    """Header and data field parts, then the OCF (a zero CLCW unless given) and FECF if configured."""
    if config.ocf:
        parts.append(ocf if ocf is not None else bytes(OCF_LENGTH))
    frame = b"".join(parts)
    if config.fecf:
        frame += crc16(frame).to_bytes(2, "big")
    return frame


def check_length_and_fecf(
    config: PhysicalChannelConfig, frame: bytes | memoryview, check_crc: bool, layer: str
) -> None:
    """DecodeError unless the frame has the channel's length and, when it has one, a good FECF."""
    if len(frame) != config.frame_length:
        raise DecodeError(layer, 0, f"frame is {len(frame)} octets, not {config.frame_length}")
    if check_crc and config.fecf and not crc16_ok(frame):
        raise DecodeError(layer, config.frame_length - 2, "frame error control field does not match")
