"""Interop: our SDLS frames checked by an independent AES-GCM (pycryptodome, not OpenSSL) and back.

The independent side works from the frame bytes and the SA definition alone: its own header
bit layout, its own CRC (binascii), its own GCM. Nothing of protocols.sdls is used on that side.
"""

from __future__ import annotations

import binascii

import pytest
from Crypto.Cipher import AES
from hypothesis import given
from hypothesis import strategies as st

from protocols.sdls import SaKey, SecurityAssociation, SecurityContext, ServiceType
from protocols.sdls.frames import apply_fixed

SECRET = bytes.fromhex("c0ffee" * 10 + "beef")
SCID = 437

SA_CASES = [
    # (service, iv, sn, pl, mac, mask)
    ("authenticated-encryption", 12, 0, 0, 16, "ffffffffff"),
    ("authenticated-encryption", 12, 4, 0, 12, "ffffffff00"),
    ("authentication", 12, 0, 0, 16, "ffffffffff"),
    ("authentication", 16, 2, 1, 8, "3fff03ffff"),
]


def independent_sa(case: tuple) -> dict:
    service, iv, sn, pl, mac, abm = case
    return {
        "spi": 7,
        "service": service,
        "iv": iv,
        "sn": sn,
        "pl": pl,
        "mac": mac,
        "mask": bytes.fromhex(abm),
    }


def ours(d: dict) -> SecurityAssociation:
    return SecurityAssociation(
        spi=d["spi"], link="tc", vcid=0, key_id=1, service=ServiceType(d["service"]), iv_length=d["iv"],
        sn_length=d["sn"], pl_length=d["pl"], mac_length=d["mac"], auth_mask=d["mask"],
    )  # fmt: skip


def crc(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def independent_open(d: dict, frame: bytes) -> tuple[int, bytes]:
    """(ARSN, plaintext) of a secured TC frame, or raises ValueError."""
    assert crc(frame[:-2]) == int.from_bytes(frame[-2:], "big")
    length = ((frame[2] & 0x03) << 8 | frame[3]) + 1
    assert length == len(frame)
    header = frame[:5]
    masked = bytes(a & b for a, b in zip(header, d["mask"], strict=True))
    pos = 5
    spi = int.from_bytes(frame[pos : pos + 2], "big")
    assert spi == d["spi"]
    iv = frame[pos + 2 : pos + 2 + d["iv"]]
    sn = frame[pos + 2 + d["iv"] : pos + 2 + d["iv"] + d["sn"]]
    sec_end = pos + 2 + d["iv"] + d["sn"] + d["pl"]
    security_header = frame[pos:sec_end]
    body, mac = frame[sec_end : -2 - d["mac"]], frame[-2 - d["mac"] : -2]
    cipher = AES.new(SECRET, AES.MODE_GCM, nonce=iv, mac_len=d["mac"])
    if d["service"] == "authenticated-encryption":
        cipher.update(masked + security_header)
        plain = cipher.decrypt_and_verify(body, mac)
    else:
        cipher.update(masked + security_header + body)
        cipher.verify(mac)
        plain = body
    return int.from_bytes(sn or iv, "big"), plain


def independent_seal(d: dict, arsn: int, frame_sequence: int, data: bytes) -> bytes:
    length = 5 + 2 + d["iv"] + d["sn"] + d["pl"] + len(data) + d["mac"] + 2
    word0 = 0 << 14 | 1 << 13 | 0 << 12 | SCID  # version 0, bypass (type-B), data, spacecraft id
    word1 = 0 << 10 | (length - 1)  # VC 0, frame length - 1
    header = word0.to_bytes(2, "big") + word1.to_bytes(2, "big") + bytes([frame_sequence & 0xFF])
    iv = arsn.to_bytes(d["iv"], "big")
    sn = arsn.to_bytes(d["sn"], "big") if d["sn"] else b""
    security_header = d["spi"].to_bytes(2, "big") + iv + sn + bytes(d["pl"])
    masked = bytes(a & b for a, b in zip(header, d["mask"], strict=True))
    cipher = AES.new(SECRET, AES.MODE_GCM, nonce=iv, mac_len=d["mac"])
    if d["service"] == "authenticated-encryption":
        cipher.update(masked + security_header)
        body, mac = cipher.encrypt_and_digest(data)
    else:
        cipher.update(masked + security_header + data)
        body, mac = data, cipher.digest()
    frame = header + security_header + body + mac
    return frame + crc(frame).to_bytes(2, "big")


@pytest.mark.parametrize("case", SA_CASES)
@given(data=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4))
def test_our_frames_open_with_pycryptodome(case: tuple, data: list[bytes]) -> None:
    d = independent_sa(case)
    sender = SecurityContext([ours(d)], [SaKey(1, SECRET)])
    for n, packet in enumerate(data, start=1):
        arsn, plain = independent_open(d, sender.protect_tc(SCID, 0, n, packet))
        assert (arsn, plain) == (n, packet)


@pytest.mark.parametrize("case", SA_CASES)
@given(data=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4))
def test_pycryptodome_frames_accepted_by_our_receiver(case: tuple, data: list[bytes]) -> None:
    d = independent_sa(case)
    receiver = SecurityContext([ours(d)], [SaKey(1, SECRET)])
    for n, packet in enumerate(data, start=1):
        plain, verified = receiver.verify_tc(independent_seal(d, n, n, packet))
        assert plain.data == packet and verified.arsn == n and plain.sequence_number == n
    replay = independent_seal(d, 1, 1, data[0])
    with pytest.raises(ValueError):
        receiver.verify_tc(replay)


def test_tm_frame_opens_with_pycryptodome() -> None:
    sa = SecurityAssociation(9, "tm", 1, 1, ServiceType.AUTHENTICATED_ENCRYPTION)
    header = bytes.fromhex("1b53 0507 1800")
    data = bytes(range(256)) * 4
    frame = apply_fixed(sa, SaKey(1, SECRET), 42, header, data, tail=bytes(4))
    iv = frame[8:20]
    cipher = AES.new(SECRET, AES.MODE_GCM, nonce=iv, mac_len=16)
    cipher.update(header + frame[6:20])
    body_end = len(frame) - 2 - 4 - 16
    assert cipher.decrypt_and_verify(frame[20:body_end], frame[body_end : body_end + 16]) == data
    assert int.from_bytes(iv, "big") == 42
