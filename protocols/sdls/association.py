"""Security associations (CCSDS 355.0-B-2 §3.4.2 and §4.2.2): what protects one virtual channel.

A :class:`SecurityAssociation` is the static, shareable part (no key): SPI, the channel it
applies to, the key it uses (by id), the service, the lengths of each security-header field
and of the MAC, the anti-replay window and the authentication bit mask over the frame's
primary header. :class:`SaKey` holds a key; its ``repr`` never shows the secret.

Field lengths (octets), as the SA defines them:

    security header  SPI 2 | IV iv_length | sequence number sn_length | pad length pl_length
    security trailer MAC mac_length

ARSN: when ``sn_length`` is 0 the IV is the anti-replay sequence number (an incrementing
big-endian counter), as Yamcs, F Prime and CryptoLib do for AES-GCM. When ``sn_length`` > 0
the ARSN travels in the sequence-number field and the IV still counts with it, so an IV is
never used twice under one key (the sender refuses to wrap; rekey or set the ARSN first).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SPI_LENGTH = 2
KEY_LENGTH = 32  # AES-256
# primary header octets the mask covers; USLP (732.1-B-2): the 7 octets before the VC frame count,
# which (with any insert zone) is then authenticated in full, as a TM secondary header is
HEADER_LENGTHS = {"tc": 5, "tm": 6, "aos": 6, "uslp": 7}


class ServiceType(Enum):
    PLAINTEXT = "plaintext"  # clear mode: security header only, no MAC (development use)
    AUTHENTICATION = "authentication"  # GMAC over masked header, security header and data
    AUTHENTICATED_ENCRYPTION = "authenticated-encryption"  # AES-GCM: data encrypted, all authenticated


class SaState(IntEnum):
    """SA states of CCSDS 355.1-B-1 (the 'none' state is an SA that does not exist)."""

    UNKEYED = 1
    KEYED = 2
    OPERATIONAL = 3


@dataclass(frozen=True)
class SecurityAssociation:
    spi: int
    link: str  # "tc", "tm", "aos" or "uslp" (fixed-length USLP frames)
    vcid: int
    key_id: int
    service: ServiceType = ServiceType.AUTHENTICATED_ENCRYPTION
    iv_length: int = 12
    sn_length: int = 0
    pl_length: int = 0
    mac_length: int = 16
    window: int = 16
    auth_mask: bytes = b""  # over the primary header; empty means every bit authenticated
    header_length: int = field(init=False, repr=False, compare=False)
    overhead: int = field(init=False, repr=False, compare=False)
    arsn_length: int = field(init=False, repr=False, compare=False)
    arsn_max: int = field(init=False, repr=False, compare=False)
    full_mask: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.link not in HEADER_LENGTHS:
            raise ValueError(
                f"SA {self.spi}: link must be one of {sorted(HEADER_LENGTHS)}, not {self.link!r}"
            )
        if not 1 <= self.spi <= 0xFFFE:
            raise ValueError(f"SPI {self.spi} is outside 1..65534 (0 and 65535 are reserved)")
        if not self.auth_mask:
            object.__setattr__(self, "auth_mask", b"\xff" * HEADER_LENGTHS[self.link])
        if len(self.auth_mask) != HEADER_LENGTHS[self.link]:
            raise ValueError(
                f"SA {self.spi}: authentication mask has {len(self.auth_mask)} octets, "
                f"the {self.link} primary header {HEADER_LENGTHS[self.link]}"
            )
        if not 0 <= self.sn_length <= 8 or not 0 <= self.pl_length <= 2 or self.window < 1:
            raise ValueError(f"SA {self.spi}: sequence number 0..8 octets, pad length 0..2, window >= 1")
        if self.service is ServiceType.PLAINTEXT:
            if self.iv_length or self.mac_length:
                raise ValueError(f"SA {self.spi}: a plaintext SA has no IV and no MAC")
        else:
            if not 12 <= self.iv_length <= 16:
                raise ValueError(f"SA {self.spi}: AES-GCM IV length must be 12..16 octets")
            if not 8 <= self.mac_length <= 16:
                raise ValueError(f"SA {self.spi}: AES-GCM MAC length must be 8..16 octets")
        # derived once: they are read for every frame
        header_length = SPI_LENGTH + self.iv_length + self.sn_length + self.pl_length
        arsn_length = self.sn_length or self.iv_length
        derived = {
            "header_length": header_length,  # octets of the security header
            "overhead": header_length + self.mac_length,  # security header + trailer
            "arsn_length": arsn_length,  # the ARSN's octets: its own field, or else the IV
            "arsn_max": (1 << (8 * arsn_length)) - 1 if arsn_length else 0,
            "full_mask": self.auth_mask == b"\xff" * len(self.auth_mask),  # header into the AAD as it is
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def trailer_length(self) -> int:
        return self.mac_length

    @property
    def anti_replay(self) -> bool:
        return self.arsn_length > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "spi": self.spi, "link": self.link, "vcid": self.vcid, "key_id": self.key_id,
            "service": self.service.value, "iv_length": self.iv_length, "sn_length": self.sn_length,
            "pl_length": self.pl_length, "mac_length": self.mac_length, "window": self.window,
            "auth_mask": self.auth_mask.hex(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> SecurityAssociation:
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown SA field(s): {', '.join(sorted(unknown))}")
        args = dict(d)
        args["service"] = ServiceType(args.get("service", ServiceType.AUTHENTICATED_ENCRYPTION.value))
        args["auth_mask"] = bytes.fromhex(str(args.get("auth_mask", "")))
        return cls(**args)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SaKey:
    """One AES-256 key; the cipher object is made once (it is most of a short frame's cost)."""

    key_id: int
    secret: bytes = field(repr=False)
    aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_LENGTH:
            raise ValueError(f"key {self.key_id}: AES-256 needs {KEY_LENGTH} octets, not {len(self.secret)}")
        object.__setattr__(self, "aead", AESGCM(self.secret))

    def __repr__(self) -> str:
        return f"SaKey(key_id={self.key_id}, secret=<hidden>)"
