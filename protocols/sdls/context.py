"""The security associations of one end of a link, with their state: keys, SA states, ARSNs, counts.

:class:`SecurityContext` is what a sender or a receiver holds. A sender asks it to protect a
TC frame (the SA's ARSN is incremented, so every frame has a fresh ARSN and IV); a receiver
asks it to verify one (the stored ARSN moves only once the MAC verifies and the ARSN is in
the window). Every refusal is counted in :attr:`SecurityContext.rejections` by reason before
:class:`~protocols.sdls.reasons.SdlsRejected` is raised.

SA management follows the states of CCSDS 355.1-B-1: UNKEYED --rekey--> KEYED --start-->
OPERATIONAL --stop--> KEYED; only an OPERATIONAL SA protects or accepts frames.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocols.link.tc_frame import HEADER_LENGTH, TcFrame, unpack_header_fast
from protocols.sdls.association import SaKey, SaState, SecurityAssociation
from protocols.sdls.frames import apply_fixed, apply_tc, process_fixed, process_tc
from protocols.sdls.reasons import Reason, SdlsRejected
from protocols.sdls.security import Verified, read_spi


class SaManagementError(ValueError):
    """An SA management request that the SA's state or the key store refuses."""


@dataclass(frozen=True, slots=True)
class SaStatus:
    spi: int
    state: SaState
    key_id: int
    arsn: int


class SecurityContext:
    def __init__(
        self,
        associations: Iterable[SecurityAssociation],
        keys: Mapping[int, SaKey] | Iterable[SaKey] = (),
        required: bool = True,
    ) -> None:
        self.keys: dict[int, SaKey] = dict(keys) if isinstance(keys, Mapping) else {k.key_id: k for k in keys}
        self.sas: dict[int, SecurityAssociation] = {}
        for sa in associations:
            if sa.spi in self.sas:
                raise ValueError(f"SPI {sa.spi} is defined twice")
            self.sas[sa.spi] = sa
        self.state = {
            spi: SaState.OPERATIONAL if sa.key_id in self.keys or not sa.mac_length else SaState.UNKEYED
            for spi, sa in self.sas.items()
        }
        self.key_ids = {spi: sa.key_id for spi, sa in self.sas.items()}
        self.arsn = dict.fromkeys(self.sas, 0)
        self.required = required
        self.rejections: Counter[Reason] = Counter()
        self.accepted = 0

    # ---------------------------------------------------------------- look-ups
    def association(self, spi: int) -> SecurityAssociation:
        """The SA as it stands now (its key id follows rekeys)."""
        sa = self.sas[spi]
        key_id = self.key_ids[spi]
        if key_id == sa.key_id:
            return sa
        return dataclasses.replace(sa, key_id=key_id)

    def channel_protected(self, link: str, vcid: int) -> bool:
        """True when frames of this channel must go through SDLS (some SA covers it and SDLS is required)."""
        return self.required and any(sa.link == link and sa.vcid == vcid for sa in self.sas.values())

    def sending_sa(self, link: str, vcid: int) -> SecurityAssociation | None:
        """The operational SA (lowest SPI) a sender uses on this channel, or None."""
        for spi in sorted(self.sas):
            sa = self.sas[spi]
            if sa.link == link and sa.vcid == vcid and self.state[spi] is SaState.OPERATIONAL:
                return self.association(spi)
        return None

    def _key(self, sa: SecurityAssociation) -> SaKey | None:
        return self.keys.get(sa.key_id)

    def reject(self, reason: Reason, offset: int, detail: str) -> SdlsRejected:
        """Count a refusal (also one found outside SDLS, e.g. a bare packet) and return its exception."""
        self.rejections[reason] += 1
        return SdlsRejected(reason, offset, detail)

    # ---------------------------------------------------------------- sending
    def _next_arsn(self, spi: int) -> int:
        self.arsn[spi] += 1
        return self.arsn[spi]

    def protect_tc(
        self, spacecraft_id: int, vcid: int, frame_sequence: int, data: bytes, bypass: bool = True,
        control_command: bool = False,
    ) -> bytes:  # fmt: skip
        sa = self.sending_sa("tc", vcid)
        if sa is None:
            raise SaManagementError(f"no operational SA on TC virtual channel {vcid}")
        arsn = self.arsn[sa.spi] + 1
        frame = apply_tc(
            sa, self._key(sa), arsn, spacecraft_id, frame_sequence, data, bypass, control_command
        )
        self.arsn[sa.spi] = arsn
        return frame

    def protect_fixed(
        self, link: str, vcid: int, header: bytes, data: bytes, tail: bytes = b"", fecf: bool = True
    ) -> bytes:
        sa = self.sending_sa(link, vcid)
        if sa is None:
            raise SaManagementError(f"no operational SA on {link} virtual channel {vcid}")
        arsn = self.arsn[sa.spi] + 1
        frame = apply_fixed(sa, self._key(sa), arsn, header, data, tail, fecf)
        self.arsn[sa.spi] = arsn
        return frame

    # ---------------------------------------------------------------- receiving
    def _receiving_sa(
        self, link: str, vcid: int, body: bytes | memoryview, offset: int
    ) -> SecurityAssociation:
        try:
            spi = read_spi(body, offset)
        except SdlsRejected as exc:
            self.rejections[exc.code] += 1
            raise
        sa = self.sas.get(spi)
        if sa is None or sa.link != link or sa.vcid != vcid:
            raise self.reject(
                Reason.BAD_SPI, offset, f"SPI {spi} is not an SA of {link} virtual channel {vcid}"
            )
        if self.state[spi] is not SaState.OPERATIONAL:
            raise self.reject(Reason.SA_NOT_OPERATIONAL, offset, f"SA {spi} is {self.state[spi].name}")
        return self.association(spi)

    def _accept(self, verified: Verified) -> None:
        if verified.arsn is not None:
            self.arsn[verified.spi] = verified.arsn
        self.accepted += 1

    def verify_tc(self, frame: bytes) -> tuple[TcFrame, Verified]:
        """A received TC frame (FECF checked here) verified and decrypted; SdlsRejected otherwise."""
        if len(frame) < HEADER_LENGTH + 2:
            raise self.reject(Reason.WRONG_LENGTH, 0, f"{len(frame)} octets cannot hold a TC frame")
        vcid = int(unpack_header_fast(frame)["virtual_channel_id"])
        length = int(unpack_header_fast(frame)["frame_length"]) + 1
        if length > len(frame):
            raise self.reject(Reason.WRONG_LENGTH, 2, f"frame of {length} octets truncated to {len(frame)}")
        sa = self._receiving_sa("tc", vcid, frame[HEADER_LENGTH:length], HEADER_LENGTH)
        try:
            plain, verified = process_tc(sa, self._key(sa), self.arsn[sa.spi], frame)
        except SdlsRejected as exc:
            self.rejections[exc.code] += 1
            raise
        self._accept(verified)
        return plain, verified

    def verify_fixed(
        self, link: str, vcid: int, frame: bytes | memoryview, header_length: int, tail_length: int = 0,
        fecf: bool = True,
    ) -> Verified:  # fmt: skip
        sa = self._receiving_sa(link, vcid, memoryview(frame)[header_length:], header_length)
        try:
            verified = process_fixed(
                sa, self._key(sa), self.arsn[sa.spi], frame, header_length, tail_length, fecf
            )
        except SdlsRejected as exc:
            self.rejections[exc.code] += 1
            raise
        self._accept(verified)
        return verified

    # ---------------------------------------------------------------- SA management (355.1-B-1)
    def _known(self, spi: int) -> None:
        if spi not in self.sas:
            raise SaManagementError(f"no SA with SPI {spi}")

    def start(self, spi: int) -> None:
        self._known(spi)
        if self.state[spi] is not SaState.KEYED:
            raise SaManagementError(f"SA {spi} is {self.state[spi].name}; only a KEYED SA can start")
        self.state[spi] = SaState.OPERATIONAL

    def stop(self, spi: int) -> None:
        self._known(spi)
        if self.state[spi] is not SaState.OPERATIONAL:
            raise SaManagementError(f"SA {spi} is {self.state[spi].name}; only an OPERATIONAL SA can stop")
        self.state[spi] = SaState.KEYED

    def rekey(self, spi: int, key_id: int, arsn: int = 0) -> None:
        """Give a stopped SA another key of the store (and a fresh ARSN, 0 unless told)."""
        self._known(spi)
        if self.state[spi] is SaState.OPERATIONAL:
            raise SaManagementError(f"SA {spi} is OPERATIONAL; stop it before a rekey")
        if key_id not in self.keys:
            raise SaManagementError(f"no key {key_id} in the key store")
        self.key_ids[spi] = key_id
        self.arsn[spi] = arsn
        self.state[spi] = SaState.KEYED

    def set_arsn(self, spi: int, arsn: int) -> None:
        self._known(spi)
        if not 0 <= arsn <= self.sas[spi].arsn_max:
            raise SaManagementError(f"ARSN {arsn} does not fit SA {spi}")
        self.arsn[spi] = arsn

    def manage(self, command: str, args: Mapping[str, int]) -> SaStatus:
        """One SA management command by its mission-database name (SDLS_START_SA, SDLS_STOP_SA,
        SDLS_REKEY_SA, SDLS_SET_ARSN, SDLS_READ_ARSN); SaManagementError if refused."""
        spi = int(args["SPI"])
        if command == "SDLS_START_SA":
            self.start(spi)
        elif command == "SDLS_STOP_SA":
            self.stop(spi)
        elif command == "SDLS_REKEY_SA":
            self.rekey(spi, int(args["KEY_ID"]), int(args["ARSN"]))
        elif command == "SDLS_SET_ARSN":
            self.set_arsn(spi, int(args["ARSN"]))
        elif command != "SDLS_READ_ARSN":
            raise SaManagementError(f"{command} is not an SA management command")
        return self.status(spi)

    def status(self, spi: int) -> SaStatus:
        self._known(spi)
        return SaStatus(spi, self.state[spi], self.key_ids[spi], self.arsn[spi])
