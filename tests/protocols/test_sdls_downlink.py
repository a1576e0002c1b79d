"""SDLS on the downlink: the transmitter secures TM/AOS frames, the link receiver verifies them.

Frames go the whole way: packets -> Transmitter (SDLS before RS) -> CADUs -> LinkReceiver ->
packets. Tampered, replayed and unknown frames are refused, counted by reason, and what follows
them is still decoded. The interop tests open our downlink frames with pycryptodome from the frame
bytes and the SA definition alone, and have our receiver accept TM and AOS frames that pycryptodome
sealed on a path of their own.
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
from protocols.sdls.keystore import DOWNLINK_WINDOW

SECRETS = {5: bytes(range(32)), 6: bytes(range(100, 132))}
AE, AUTH = ServiceType.AUTHENTICATED_ENCRYPTION, ServiceType.AUTHENTICATION


def packet(index: int, length: int = 300) -> bytes:
    return SpacePacket(apid=0x20 + index % 5, sequence_count=index, data=bytes([index % 256]) * length).pack()


def sas(link: str, services: dict[int, ServiceType]) -> list[SecurityAssociation]:
    return [
        SecurityAssociation(spi=10 + vcid, link=link, vcid=vcid, key_id=5 + vcid, service=service,
                            window=DOWNLINK_WINDOW)
        for vcid, service in services.items()
    ]  # fmt: skip


def contexts(link: str, services: dict[int, ServiceType]) -> tuple[SecurityContext, SecurityContext]:
    keys = [SaKey(k, s) for k, s in SECRETS.items()]
    return SecurityContext(sas(link, services), keys), SecurityContext(sas(link, services), keys)


def send(config, security: DownlinkSecurity | None, packets: dict[int, list[bytes]]) -> list[bytes]:
    """The frames (not coded) the transmitter makes for ``packets`` per VC."""
    tx = Transmitter(config, {0: 1, 1: 0}, security=security)
    for vcid, items in packets.items():
        for p in items:
            tx.submit(vcid, p)
    frames = []
    while tx.has_pending():
        frames.append(tx.next_frame())
    return frames


def receive(config, security: DownlinkSecurity | None, frames: list[bytes]):
    rx = LinkReceiver(config)
    refused = []
    rx.set_security(security, lambda vcid, exc: refused.append((vcid, exc.code)))
    codec = CaduCodec(config)
    out = rx.feed(codec.encode_many(frames))
    out += rx.close().outputs
    got: dict[int, list[bytes]] = {}
    for o in out:
        got.setdefault(o.vcid, []).append(o.packet)
    return got, refused, rx


def refit_fecf(frame: bytes) -> bytes:
    """What an attacker does after changing a frame: a FECF that matches again."""
    return frame[:-2] + binascii.crc_hqx(frame[:-2], 0xFFFF).to_bytes(2, "big")


@pytest.mark.parametrize("name", ["tm-rs-i5", "aos-rs-i4", "tm-rs-shortened"])
@pytest.mark.parametrize("service", [AE, AUTH])
def test_packets_cross_a_secured_downlink(name: str, service: ServiceType) -> None:
    config = preset(name)
    sender, receiver = contexts(config.frame_type.value, {0: service, 1: service})
    packets = {0: [packet(i, 90) for i in range(20)], 1: [packet(i) for i in range(60)]}
    frames = send(config, DownlinkSecurity(sender, config), packets)
    assert all(len(f) == config.frame_length for f in frames)
    if service is AE:  # the packets are not in clear in any frame
        assert not any(packet(3) in f for f in frames)
    security = DownlinkSecurity(receiver, config)
    got, refused, rx = receive(config, security, frames)
    assert got == packets and refused == []
    assert security.frames_verified == len(frames) == rx.counters.frames_good
    assert security.summary()["frames_rejected"] == 0


def test_unprotected_channel_keeps_working_beside_a_protected_one() -> None:
    config = preset("tm-rs-i5")
    sender, receiver = contexts("tm", {1: AE})  # VC 0 in clear
    packets = {0: [packet(i, 90) for i in range(10)], 1: [packet(i) for i in range(30)]}
    frames = send(config, DownlinkSecurity(sender, config), packets)
    assert any(packet(2, 90) in f for f in frames)  # VC 0 in clear
    got, refused, _ = receive(config, DownlinkSecurity(receiver, config), frames)
    assert got == packets and refused == []


def test_without_security_the_frames_are_as_before() -> None:
    config = preset("tm-rs-i5")
    packets = {0: [packet(i, 90) for i in range(10)], 1: [packet(i) for i in range(30)]}
    assert send(config, None, packets) == send(config, DownlinkSecurity(SecurityContext([]), config), packets)


def test_tampered_replayed_and_unknown_frames_are_refused_and_counted_and_later_data_decoded() -> None:
    config = preset("tm-rs-i5")
    sender, receiver = contexts("tm", {0: AE, 1: AE})
    packets = {1: [packet(i, 1000) for i in range(40)]}
    frames = send(config, DownlinkSecurity(sender, config), packets)
    offset = security_offset(config)
    tampered = bytearray(frames[5])
    tampered[offset + 40] ^= 0x01  # one data bit, FECF refitted: RS and CRC cannot see it
    forged_spi = bytearray(frames[9])
    forged_spi[offset : offset + 2] = (99).to_bytes(2, "big")
    stream = [*frames[:5], refit_fecf(bytes(tampered)), *frames[5:9], refit_fecf(bytes(forged_spi)),
              *frames[9:12], frames[10], *frames[12:]]  # fmt: skip
    security = DownlinkSecurity(receiver, config)
    got, refused, rx = receive(config, security, stream)
    assert [r for _, r in refused] == [Reason.BAD_MAC, Reason.BAD_SPI, Reason.REPLAYED]
    assert security.summary()["rejected_by_reason"] == {"bad-spi": 1, "bad-mac": 1, "replayed": 1}
    assert security.frames_verified == len(frames)
    assert got[1] == packets[1]  # every genuine frame came through: nothing lost
    assert rx.counters.frames_good == len(frames)  # refused frames are not counted good


def test_stopped_sa_refuses_frames_and_the_sender_holds_the_channel() -> None:
    config = preset("tm-rs-i5")
    sender, receiver = contexts("tm", {0: AE, 1: AE})
    frames = send(config, DownlinkSecurity(sender, config), {1: [packet(i) for i in range(8)]})
    receiver.stop(11)
    security = DownlinkSecurity(receiver, config)
    got, refused, _ = receive(config, security, frames)
    assert got == {} and {r for _, r in refused} == {Reason.SA_NOT_OPERATIONAL}
    sender.stop(11)
    tx = Transmitter(config, {0: 1, 1: 0}, security=DownlinkSecurity(sender, config))
    tx.submit(1, packet(1))
    assert tx.next_frame()[:6] != frames[0][:6] and tx.counters.frames[1] == 0  # idle, not in clear
    assert tx.pending_packets(1) == 1


def test_wrong_length_is_refused_and_counted() -> None:
    config = preset("tm-rs-i5")
    sender, receiver = contexts("tm", {1: AE})
    frame = send(config, DownlinkSecurity(sender, config), {1: [packet(1)]})[0]
    security = DownlinkSecurity(receiver, config)
    with pytest.raises(ValueError, match="wrong-length"):
        security.verify(1, frame[: security.offset + 20] + frame[-6:])
    assert receiver.rejections[Reason.WRONG_LENGTH] == 1


def test_sas_of_one_channel_must_share_their_overhead() -> None:
    config = preset("tm-rs-i5")
    odd = [SecurityAssociation(10, "tm", 0, 5), SecurityAssociation(11, "tm", 0, 6, mac_length=8)]
    with pytest.raises(ValueError, match="overhead"):
        DownlinkSecurity(SecurityContext(odd, [SaKey(k, s) for k, s in SECRETS.items()]), config)
    with pytest.raises(ValueError, match="variable-length USLP"):
        DownlinkSecurity(SecurityContext([]), preset("uslp-variable"))


# ------------------------------------------------------------------ interop (pycryptodome)
def independent_open(frame: bytes, sa: dict, secret: bytes) -> tuple[int, int, bytes]:
    """(SPI, ARSN, data field in clear) of a downlink frame, from its bytes and the SA alone:
    TM/AOS primary header 6 octets, no secondary header or insert zone, then SPI 2 | IV 12, data,
    MAC 16, OCF 4, FECF 2 (CRC-16/CCITT over the rest)."""
    assert binascii.crc_hqx(frame[:-2], 0xFFFF) == int.from_bytes(frame[-2:], "big")
    header, spi = frame[:6], int.from_bytes(frame[6:8], "big")
    assert spi == sa["spi"]
    iv = frame[8:20]
    mac_end = len(frame) - 2 - 4
    data, mac = frame[20 : mac_end - 16], frame[mac_end - 16 : mac_end]
    cipher = AES.new(secret, AES.MODE_GCM, nonce=iv, mac_len=16)
    if sa["service"] == "authenticated-encryption":
        cipher.update(header + frame[6:20])
        plain = cipher.decrypt_and_verify(data, mac)
    else:
        cipher.update(header + frame[6:20] + data)
        cipher.verify(mac)
        plain = data
    return spi, int.from_bytes(iv, "big"), plain


@pytest.mark.parametrize("name", ["tm-rs-i5", "aos-rs-i4"])
@pytest.mark.parametrize("service", [AE, AUTH])
def test_downlink_frames_open_with_pycryptodome(name: str, service: ServiceType) -> None:
    config = preset(name)
    sender, _ = contexts(config.frame_type.value, {1: service})
    packets = [packet(i) for i in range(12)]
    frames = send(config, DownlinkSecurity(sender, config), {1: packets})
    sa = sender.sas[11].to_dict()
    stream = b""
    for n, frame in enumerate(frames, start=1):
        spi, arsn, plain = independent_open(frame, sa, SECRETS[6])
        assert (spi, arsn) == (11, n)
        stream += plain[2:] if name.startswith("aos") else plain  # AOS: the M_PDU header is protected too
    joined = b"".join(packets)
    assert stream[: len(joined)] == joined
    tampered = bytearray(frames[0])
    tampered[30] ^= 0x80
    with pytest.raises(ValueError):
        independent_open(refit_fecf(bytes(tampered)), sa, SECRETS[6])


def independent_seal(
    name: str, d: dict, secret: bytes, arsn: int, count: int, zone: bytes, fhp: int
) -> bytes:
    """A secured TM or AOS frame of VC 1 built without our code, from the SA alone: its own primary
    header bits, SPI 2 | IV 12 (the ARSN), the data field (TM) or M_PDU header + zone (AOS) sealed by
    pycryptodome's AES-GCM with the whole primary header and security header as AAD, an idle CLCW,
    and a FECF by binascii."""
    config = preset(name)
    if name.startswith("tm"):  # version 00, SCID 10 bits, VCID 3 bits, OCF flag; MC, VC counts; status
        primary = ((config.spacecraft_id << 4) | (d["vcid"] << 1) | 1).to_bytes(2, "big")
        primary += bytes([count % 256, count % 256]) + ((0b11 << 11) | fhp).to_bytes(2, "big")
        data_header = b""
    else:  # version 01, SCID 8 bits, VCID 6 bits; VC count 24 bits; signalling field
        primary = ((1 << 14) | (config.spacecraft_id << 6) | d["vcid"]).to_bytes(2, "big")
        primary += count.to_bytes(3, "big") + b"\x00"
        data_header = fhp.to_bytes(2, "big")  # M_PDU header: 5 spare bits, first header pointer
    iv = arsn.to_bytes(12, "big")
    security_header = d["spi"].to_bytes(2, "big") + iv
    room = config.frame_length - 6 - 14 - 16 - 4 - 2
    data = (data_header + zone).ljust(room, b"\0")
    cipher = AES.new(secret, AES.MODE_GCM, nonce=iv, mac_len=16)
    if d["service"] == "authenticated-encryption":
        cipher.update(primary + security_header)
        body, mac = cipher.encrypt_and_digest(data)
    else:
        cipher.update(primary + security_header + data)
        body, mac = data, cipher.digest()
    frame = primary + security_header + body + mac + bytes(4)
    return frame + binascii.crc_hqx(frame, 0xFFFF).to_bytes(2, "big")


@pytest.mark.parametrize("name", ["tm-rs-i5", "aos-rs-i4"])
@pytest.mark.parametrize("service", [AE, AUTH])
def test_pycryptodome_downlink_frames_accepted_by_our_receiver(name: str, service: ServiceType) -> None:
    config = preset(name)
    _, receiver = contexts(config.frame_type.value, {1: service})
    d = receiver.sas[11].to_dict()
    packets = [packet(i, 250) for i in range(8)]
    room = config.packet_zone_length - receiver.sas[11].overhead
    fill = room - sum(map(len, packets)) % room
    fill += room if fill < 7 else 0
    idle = SpacePacket(apid=0x7FF, sequence_count=0, data=bytes(fill - 6)).pack()
    stream = b"".join(packets) + idle
    starts = [sum(map(len, packets[:i])) for i in range(len(packets) + 1)]
    frames = []
    for n, position in enumerate(range(0, len(stream), room), start=1):
        first = [start - position for start in starts if position <= start < position + room]
        zone = stream[position : position + room]
        frames.append(independent_seal(name, d, SECRETS[6], n, n - 1, zone, first[0] if first else 0x7FF))
    security = DownlinkSecurity(receiver, config)
    got, refused, rx = receive(config, security, frames)
    assert refused == [] and rx.counters.header_errors == 0
    assert [p for p in got[1] if p[:2] != idle[:2]] == packets
    assert security.frames_verified == len(frames)
    got, refused, _ = receive(config, security, frames[:2])  # the same frames again: replays
    assert refused == [(1, Reason.REPLAYED)] * 2 and got == {}
