"""SDLS on fixed-length USLP frames (CCSDS 732.1-B-2 with 355.0-B-2): secured by the
transmitter, verified by the link receiver, and checked both ways against an independent path.

The independent side (pycryptodome's AES-GCM, binascii's CRC, its own bit layout of the USLP
primary header) works from the frame bytes and the SA definition alone; nothing of protocols.sdls
or protocols.link is used there. The layout it assumes:

    primary header 7 + VC count (length in the header's last 3 bits) | SPI 2 | IV 12 |
    TFDF header 3 + packet zone (the protected data) | MAC 16 | OCF 4 | FECF 2

AAD: the primary header's first 7 octets ANDed with the SA's mask, the VC count as it is, and the
whole security header; with authentication only, the TFDF too.
"""

from __future__ import annotations

import binascii

import pytest
from Crypto.Cipher import AES

from emulator.transmitter import Transmitter
from groundstation.link_receiver import LinkReceiver
from protocols.coding.cadu import CaduCodec
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SpacePacket
from protocols.sdls import Reason, SaKey, SecurityAssociation, SecurityContext, ServiceType
from protocols.sdls.downlink import DownlinkSecurity, security_offset
from protocols.sdls.keystore import DOWNLINK_WINDOW, downlink_associations

SECRET = bytes(range(7, 39))
AE, AUTH = ServiceType.AUTHENTICATED_ENCRYPTION, ServiceType.AUTHENTICATION
CONFIG = preset("uslp-rs-i5")  # 1115-octet frames, VC count 2 octets, OCF, FECF, RS I=5


def packet(index: int, length: int = 300) -> bytes:
    return SpacePacket(apid=0x30 + index % 3, sequence_count=index, data=bytes([index % 256]) * length).pack()


def sa(service: ServiceType, mask: str = "") -> SecurityAssociation:
    return SecurityAssociation(spi=31, link="uslp", vcid=1, key_id=7, service=service, window=DOWNLINK_WINDOW,
                               auth_mask=bytes.fromhex(mask))  # fmt: skip


def context(service: ServiceType, mask: str = "") -> SecurityContext:
    return SecurityContext([sa(service, mask)], [SaKey(7, SECRET)])


def send(security: DownlinkSecurity | None, packets: list[bytes], config=CONFIG) -> list[bytes]:
    tx = Transmitter(config, {0: 1, 1: 0}, security=security)
    for p in packets:
        tx.submit(1, p)
    frames = []
    while tx.has_pending():
        frames.append(tx.next_frame())
    return frames


def receive(security: DownlinkSecurity | None, frames: list[bytes]):
    rx = LinkReceiver(CONFIG)
    refused: list[Reason] = []
    rx.set_security(security, lambda vcid, exc: refused.append(exc.code))
    out = rx.feed(CaduCodec(CONFIG).encode_many(frames))
    out += rx.close().outputs
    return [o.packet for o in out if o.vcid == 1], refused, rx


def vcid(frame: bytes) -> int:
    return (int.from_bytes(frame[:4], "big") >> 5) & 0x3F


def refit_fecf(frame: bytes) -> bytes:
    return frame[:-2] + binascii.crc_hqx(frame[:-2], 0xFFFF).to_bytes(2, "big")


# ------------------------------------------------------------------ the independent path
def independent_open(frame: bytes, d: dict, secret: bytes) -> tuple[int, int, bytes]:
    """(SPI, ARSN, TFDF in clear) of a secured fixed-length USLP frame, or ValueError."""
    if binascii.crc_hqx(frame[:-2], 0xFFFF) != int.from_bytes(frame[-2:], "big"):
        raise ValueError("FECF")
    word = int.from_bytes(frame[:4], "big")
    assert word >> 28 == 0b1100 and (int.from_bytes(frame[4:6], "big") + 1) == len(frame)
    count_length = frame[6] & 7
    primary = frame[: 7 + count_length]
    masked = bytes(a & b for a, b in zip(primary[:7], bytes.fromhex(d["auth_mask"]), strict=True))
    pos = len(primary)
    spi = int.from_bytes(frame[pos : pos + 2], "big")
    if spi != d["spi"]:
        raise ValueError("SPI")
    iv = frame[pos + 2 : pos + 2 + d["iv_length"]]
    sec_end = pos + 2 + d["iv_length"]
    mac_end = len(frame) - 2 - 4  # OCF 4, FECF 2
    data, mac = frame[sec_end : mac_end - d["mac_length"]], frame[mac_end - d["mac_length"] : mac_end]
    cipher = AES.new(secret, AES.MODE_GCM, nonce=iv, mac_len=d["mac_length"])
    aad = masked + primary[7:] + frame[pos:sec_end]
    if d["service"] == "authenticated-encryption":
        cipher.update(aad)
        plain = cipher.decrypt_and_verify(data, mac)
    else:
        cipher.update(aad + data)
        cipher.verify(mac)
        plain = data
    return spi, int.from_bytes(iv, "big"), plain


def independent_seal(d: dict, secret: bytes, arsn: int, vc_count: int, zone: bytes, fhp: int) -> bytes:
    """A secured 1115-octet USLP frame of VC 1 built without our code: SCID, VC count of 2 octets,
    OCF, FECF; ``zone`` the packet zone (padded with zeros), ``fhp`` its first header pointer."""
    length = CONFIG.frame_length
    word = 0b1100 << 28 | CONFIG.spacecraft_id << 12 | 0 << 11 | d["vcid"] << 5 | CONFIG.map_id << 1 | 0
    flags = 0 << 7 | 0 << 6 | 1 << 3 | 2  # sequence-controlled, user data, OCF present, count of 2 octets
    primary = (
        word.to_bytes(4, "big")
        + (length - 1).to_bytes(2, "big")
        + bytes([flags])
        + vc_count.to_bytes(2, "big")
    )
    iv = arsn.to_bytes(d["iv_length"], "big")
    security_header = d["spi"].to_bytes(2, "big") + iv
    ocf = bytes(4)
    room = length - len(primary) - len(security_header) - 3 - d["mac_length"] - 4 - 2
    tfdf = bytes([0b000 << 5 | 0]) + fhp.to_bytes(2, "big") + zone.ljust(room, b"\0")
    masked = bytes(a & b for a, b in zip(primary[:7], bytes.fromhex(d["auth_mask"]), strict=True))
    aad = masked + primary[7:] + security_header
    cipher = AES.new(secret, AES.MODE_GCM, nonce=iv, mac_len=d["mac_length"])
    if d["service"] == "authenticated-encryption":
        cipher.update(aad)
        body, mac = cipher.encrypt_and_digest(tfdf)
    else:
        cipher.update(aad + tfdf)
        body, mac = tfdf, cipher.digest()
    frame = primary + security_header + body + mac + ocf
    assert len(frame) + 2 == length
    return frame + binascii.crc_hqx(frame, 0xFFFF).to_bytes(2, "big")


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("service", [AE, AUTH])
def test_packets_cross_a_secured_uslp_downlink(service: ServiceType) -> None:
    packets = [packet(i) for i in range(40)]
    frames = send(DownlinkSecurity(context(service), CONFIG), packets)
    assert all(len(f) == CONFIG.frame_length for f in frames)
    assert security_offset(CONFIG) == 9  # 7 + a 2-octet VC count, no insert zone
    if service is AE:
        assert not any(packet(3) in f for f in frames)
    security = DownlinkSecurity(context(service), CONFIG)
    got, refused, rx = receive(security, frames)
    assert got == packets and refused == []
    assert security.frames_verified == sum(1 for f in frames if vcid(f) == 1)
    assert rx.counters.header_errors == 0


@pytest.mark.parametrize("service", [AE, AUTH])
@pytest.mark.parametrize("mask", ["", "fffffffe00ffff"])  # every bit; or without VC id low bit and length
def test_our_uslp_frames_open_with_pycryptodome(service: ServiceType, mask: str) -> None:
    ours = sa(service, mask)
    d = ours.to_dict()
    packets = [packet(i) for i in range(12)]
    frames = [f for f in send(DownlinkSecurity(context(service, mask), CONFIG), packets) if vcid(f) == 1]
    stream = b""
    for n, frame in enumerate(frames, start=1):
        spi, arsn, tfdf = independent_open(frame, d, SECRET)
        assert (spi, arsn) == (31, n)
        assert tfdf[0] == 0  # construction rule 000, UPID 0 (space packets), in clear only after opening
        fhp = int.from_bytes(tfdf[1:3], "big")
        assert fhp == 0xFFFF or fhp < len(tfdf) - 3
        stream += tfdf[3:]
    joined = b"".join(packets)
    assert stream[: len(joined)] == joined
    tampered = bytearray(frames[0])
    tampered[40] ^= 0x01
    with pytest.raises(ValueError):
        independent_open(refit_fecf(bytes(tampered)), d, SECRET)
    header_flip = bytearray(frames[0])
    header_flip[7] ^= 0x01  # the VC frame count: authenticated in full
    with pytest.raises(ValueError):
        independent_open(refit_fecf(bytes(header_flip)), d, SECRET)


@pytest.mark.parametrize("service", [AE, AUTH])
def test_pycryptodome_uslp_frames_accepted_by_our_receiver(service: ServiceType) -> None:
    d = sa(service).to_dict()
    packets = [packet(i, 500) for i in range(6)]
    room = CONFIG.packet_zone_length - sa(service).overhead
    fill = room - sum(map(len, packets)) % room
    fill += room if fill < 7 else 0
    idle = SpacePacket(apid=0x7FF, sequence_count=0, data=bytes(fill - 6)).pack()  # to the last frame's end
    stream = b"".join(packets) + idle
    starts = [sum(map(len, packets[:i])) for i in range(len(packets) + 1)]
    frames = []
    for n, position in enumerate(range(0, len(stream), room), start=1):
        first = [start - position for start in starts if position <= start < position + room]
        fhp = first[0] if first else 0xFFFF
        frames.append(independent_seal(d, SECRET, n, n - 1, stream[position : position + room], fhp))
    security = DownlinkSecurity(context(service), CONFIG)
    got, refused, _ = receive(security, frames)
    assert refused == [] and [g for g in got if g[:2] != idle[:2]] == packets
    assert security.frames_verified == len(frames)
    # the same frames again: every one a replay, nothing delivered twice
    got, refused, _ = receive(security, frames[:3])
    assert got == [] and refused == [Reason.REPLAYED] * 3


def test_tampered_unknown_and_replayed_uslp_frames_are_refused_by_reason() -> None:
    frames = [
        f for f in send(DownlinkSecurity(context(AE), CONFIG), [packet(i) for i in range(9)]) if vcid(f) == 1
    ]
    receiver = context(AE)
    security = DownlinkSecurity(receiver, CONFIG)
    flipped = bytearray(frames[1])
    flipped[100] ^= 0x80
    unknown = bytearray(frames[2])
    unknown[9:11] = (99).to_bytes(2, "big")
    sequence = [frames[0], refit_fecf(bytes(flipped)), refit_fecf(bytes(unknown)), frames[0], *frames[1:]]
    _, refused, rx = receive(security, sequence)
    assert refused == [Reason.BAD_MAC, Reason.BAD_SPI, Reason.REPLAYED]
    assert receiver.rejections == {Reason.BAD_MAC: 1, Reason.BAD_SPI: 1, Reason.REPLAYED: 1}
    assert security.frames_verified == len(frames)
    assert rx.counters.header_errors == 0


def test_variable_length_uslp_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="variable-length USLP frames are not secured"):
        DownlinkSecurity(context(AE), preset("uslp-variable"))


def test_keys_generate_covers_uslp_channels_with_keys_of_their_own() -> None:
    sas = [s for s in downlink_associations(AE) if s.link == "uslp"]
    assert [(s.spi, s.vcid) for s in sas] == [(30, 0), (31, 1)]
    keys = [s.key_id for s in downlink_associations(AE)]
    assert len(keys) == len(set(keys))
