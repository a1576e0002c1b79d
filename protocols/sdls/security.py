"""ApplySecurity and ProcessSecurity (CCSDS 355.0-B-2 §2.3, §4.2) with AES-256-GCM, frame-type free.

Both functions see a frame as ``header`` (the octets before the security header: the primary
header, masked by the SA's authentication bit mask) and ``body`` (security header, frame data
and MAC). What is authenticated:

- authenticated encryption: AAD = masked header + security header; the data is encrypted;
- authentication only (GMAC): AAD = masked header + security header + data; data in clear;
- plaintext: nothing (the security header still carries the SPI and, if any, the ARSN).

The GCM nonce is the IV field. The MAC is the GCM tag, truncated to the SA's MAC length
(its leftmost octets, NIST SP 800-38D §5.2.1.2). The anti-replay check comes after the MAC
verifies, so a forged frame can never move the window; it accepts an ARSN strictly above the
last one accepted and at most ``window`` above it.
"""

from __future__ import annotations

import hmac
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocols.sdls.association import SaKey, SecurityAssociation, ServiceType
from protocols.sdls.header import SecurityHeader
from protocols.sdls.reasons import Reason, SdlsRejected


class ArsnExhausted(RuntimeError):
    """The sender's ARSN would wrap (and reuse an IV): rekey or set the ARSN first."""


def mask(header: bytes | memoryview, auth_mask: bytes) -> bytes:
    """The header as authenticated: its first ``len(auth_mask)`` octets ANDed with the mask, the rest
    (a TM secondary header, an AOS insert zone) as they are."""
    n = len(auth_mask)
    if len(header) < n:
        raise ValueError(f"a {len(header)}-octet header is shorter than the {n}-octet authentication mask")
    head = (int.from_bytes(header[:n], "big") & int.from_bytes(auth_mask, "big")).to_bytes(n, "big")
    return head + bytes(header[n:])


def security_header(sa: SecurityAssociation, arsn: int, pad: int = 0) -> SecurityHeader:
    """The header a sender puts on the frame with ARSN ``arsn`` (also the IV's counter)."""
    if arsn > sa.arsn_max:
        raise ArsnExhausted(f"SA {sa.spi}: ARSN {arsn} does not fit {sa.arsn_length} octets")
    return SecurityHeader(
        sa.spi,
        arsn.to_bytes(sa.iv_length, "big") if sa.iv_length else b"",
        arsn.to_bytes(sa.sn_length, "big") if sa.sn_length else b"",
        pad.to_bytes(sa.pl_length, "big") if sa.pl_length else b"",
    )


def apply_security(
    sa: SecurityAssociation, key: SaKey | None, arsn: int, header: bytes, data: bytes
) -> bytes:
    """Security header + protected data + MAC for a frame whose primary header is ``header``."""
    sec = security_header(sa, arsn).pack()
    if sa.service is ServiceType.PLAINTEXT:
        return sec + data
    if key is None or key.key_id != sa.key_id:
        raise ValueError(f"SA {sa.spi} needs key {sa.key_id}")
    aad = mask(header, sa.auth_mask) + sec
    iv = sec[2 : 2 + sa.iv_length]
    if sa.service is ServiceType.AUTHENTICATED_ENCRYPTION:
        sealed = key.aead.encrypt(iv, data, aad)
        return sec + sealed[: len(data)] + sealed[len(data) : len(data) + sa.mac_length]
    tag = key.aead.encrypt(iv, b"", aad + data)
    return sec + data + tag[: sa.mac_length]


class Verified(NamedTuple):
    spi: int
    arsn: int | None  # None for an SA without anti-replay
    data: bytes


def read_spi(body: bytes | memoryview, offset: int = 0) -> int:
    if len(body) < 2:
        raise SdlsRejected(Reason.WRONG_LENGTH, offset, "no room for a security header")
    return int.from_bytes(body[:2], "big")


def check_window(sa: SecurityAssociation, arsn: int, last: int, offset: int) -> None:
    if arsn <= last:
        raise SdlsRejected(Reason.REPLAYED, offset, f"SPI {sa.spi}: ARSN {arsn} is not above {last}")
    if arsn > last + sa.window:
        raise SdlsRejected(
            Reason.OUT_OF_WINDOW, offset, f"SPI {sa.spi}: ARSN {arsn} is beyond {last} + window {sa.window}"
        )


def process_security(
    sa: SecurityAssociation,
    key: SaKey | None,
    last_arsn: int,
    header: bytes | memoryview,
    body: bytes | memoryview,
    offset: int = 0,
) -> Verified:
    """Verify (and decrypt) ``body``; SdlsRejected with its reason otherwise. Does not keep state:
    the caller stores ``result.arsn`` as the new last ARSN."""
    body = memoryview(body)
    if len(body) < sa.overhead + 1:
        raise SdlsRejected(
            Reason.WRONG_LENGTH, offset, f"{len(body)} octets cannot hold SA {sa.spi}'s {sa.overhead} + data"
        )
    spi = int.from_bytes(body[:2], "big")
    if spi != sa.spi:
        raise SdlsRejected(Reason.BAD_SPI, offset, f"SPI {spi} is not SA {sa.spi}")
    hl, end = sa.header_length, len(body) - sa.mac_length
    iv_end = 2 + sa.iv_length
    sn_end = iv_end + sa.sn_length
    if sa.service is ServiceType.PLAINTEXT:
        payload = bytes(body[hl:end])
    else:
        if key is None or key.key_id != sa.key_id:
            raise SdlsRejected(Reason.SA_NOT_OPERATIONAL, offset, f"SA {sa.spi} has no key {sa.key_id}")
        aad = (header if sa.full_mask else mask(header, sa.auth_mask)) + body[:hl]
        try:
            payload = _verify(sa, key, body[2:iv_end], aad, body[hl:], end - hl)
        except InvalidTag:
            raise SdlsRejected(Reason.BAD_MAC, offset + end, f"SPI {sa.spi}: MAC does not verify") from None
    pad = int.from_bytes(body[sn_end:hl], "big") if sa.pl_length else 0
    if pad and pad >= len(payload):
        raise SdlsRejected(Reason.WRONG_LENGTH, offset + sn_end, f"pad length {pad} leaves no data")
    arsn = None
    if sa.anti_replay:
        arsn = int.from_bytes(body[iv_end:sn_end] if sa.sn_length else body[2:iv_end], "big")
        check_window(sa, arsn, last_arsn, offset + 2)
    return Verified(sa.spi, arsn, payload[: len(payload) - pad] if pad else payload)


def _verify(
    sa: SecurityAssociation, key: SaKey, iv: memoryview, aad: bytes, sealed: memoryview, length: int
) -> bytes:
    """The plaintext of ``sealed`` (``length`` octets of data, then the MAC); InvalidTag if forged."""
    payload, mac = sealed[:length], sealed[length:]
    if sa.service is ServiceType.AUTHENTICATION:
        tag = key.aead.encrypt(iv, b"", aad + payload)
        if not hmac.compare_digest(tag[: sa.mac_length], mac):
            raise InvalidTag
        return bytes(payload)
    if sa.mac_length == 16:
        return key.aead.decrypt(iv, sealed, aad)
    decryptor = Cipher(
        algorithms.AES(key.secret), modes.GCM(bytes(iv), bytes(mac), sa.mac_length)
    ).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(payload) + decryptor.finalize()
