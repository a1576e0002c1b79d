"""On-board TC reception: CLTU → TC frame → SDLS → TC packet, every refusal counted by reason.

Without a security context (or with SAs that do not cover the TC channel) this is the link
as it was: a CLTU's frame or a bare TC packet goes to the flight software. With SDLS required
on the TC virtual channel, nothing reaches the flight software except the data of a TC frame
that verified under an operational SA of its virtual channel (the command channel, or another
TC channel an SA covers, such as VC 1 of the ground station's CFDP replies): a bare packet is
refused as UNAUTHENTICATED, a frame without a known SPI as BAD_SPI, and so on
(:class:`~protocols.sdls.reasons.Reason`). A refusal is never executed; it is counted
(SECURITY_HK) and reported once as a TC_FRAME_REJECTED event.

Frames of the TC virtual channel that pass (after SDLS, when it applies) go through FARM-1
(:mod:`protocols.link.farm`, COP-1): a Type-AD frame only in sequence, a Type-BD frame always, a
Type-BC frame (Unlock, Set V(R)) to the FARM itself. What the FARM discards is not executed and is
returned as :class:`Sequenced`; the FARM's CLCW goes down in every downlink frame's OCF. Each
change of the FARM that the ground should hear of at once (a control command taken, lockout, wait,
the retransmit flag set by a gap or cleared by the expected frame) goes to ``on_farm_status`` as a
:class:`FarmStatus` (the probe sends it as a FARM_STATUS event), at most ``EVENTS_PER_SECOND``
a second together with the rejection events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocols.capture.zmq_framing import Layer
from protocols.coding.cltu import INFO_OCTETS, decode_cltu
from protocols.errors import DecodeError
from protocols.link.farm import Farm1, FarmOutcome, FarmState
from protocols.link.tc_frame import HEADER_LENGTH, TcFrame, check_frame_address, unpack_header_fast
from protocols.sdls import Reason, SaManagementError, SdlsRejected, SecurityContext

log = logging.getLogger("paleblue.probe.tc")


EVENTS_PER_SECOND = 8  # TC_FRAME_REJECTED events at most, so a flood of bad frames cannot flood the downlink


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    spi: int
    detail: str
    evented: bool = True  # False once this second's event budget is spent (still counted)


@dataclass(frozen=True, slots=True)
class Sequenced:
    """A frame that FARM-1 took (a control command) or discarded (out of sequence, lockout, wait):
    nothing to execute. Not a security refusal: counted by the FARM and reported by the CLCW."""

    outcome: FarmOutcome
    sequence_number: int


@dataclass(frozen=True, slots=True)
class FarmStatus:
    """Why the FARM changed (a FARM_CAUSE name) and how it stands now."""

    cause: str
    state: FarmState
    v_r: int
    farm_b_counter: int


class TcReception:
    def __init__(
        self,
        spacecraft_id: int,
        vcid: int,
        security: SecurityContext | None = None,
        on_accept: Callable[[SecurityContext], None] | None = None,
        clock: Callable[[], float] | None = None,
        on_farm_status: Callable[[FarmStatus], None] | None = None,
    ) -> None:
        self.spacecraft_id = spacecraft_id
        self.on_farm_status = on_farm_status
        self.farm_events_suppressed = 0  # FARM changes over the event budget (counted, not evented)
        self.vcid = vcid
        self.security = security
        self._on_accept = on_accept
        self._rejections: Counter[Reason] = security.rejections if security is not None else Counter()
        self.accepted = 0
        self._clock = clock
        self._event_second: int | None = None
        self._events_this_second = 0
        self.farm = Farm1(vcid)

    @property
    def required(self) -> bool:
        return self.security is not None and self.security.channel_protected("tc", self.vcid)

    @property
    def rejections(self) -> Counter[Reason]:
        return self._rejections

    def _event_due(self) -> bool:
        second = int(self._clock()) if self._clock is not None else 0
        if second != self._event_second:
            self._event_second, self._events_this_second = second, 0
        self._events_this_second += 1
        return self._clock is None or self._events_this_second <= EVENTS_PER_SECOND

    def _reject(self, reason: Reason, detail: str, spi: int = 0, counted: bool = False) -> Rejection:
        if not counted:
            self._rejections[reason] += 1
        due = self._event_due()
        if due:
            log.warning("uplink rejected (%s): %s", reason.label, detail)
        return Rejection(reason, spi, detail, due)

    def receive(self, layer: Layer, payload: bytes) -> bytes | Rejection | Sequenced:
        """The TC packet(s) a unit from the uplink carries, or why it was refused."""
        if layer == Layer.PACKETS:
            if self.required:
                return self._reject(Reason.UNAUTHENTICATED, "a bare TC packet: SDLS requires a TC frame")
            self.accepted += 1
            return payload
        if layer != Layer.CLTUS:
            return self._reject(Reason.BAD_FRAME, f"layer {layer.name} is not a TC layer")
        try:
            data = decode_cltu(payload).data
            header = unpack_header_fast(data)
        except DecodeError as exc:
            return self._reject(Reason.BAD_FRAME, str(exc))
        length = int(header["frame_length"]) + 1
        if length > len(data):
            return self._reject(Reason.WRONG_LENGTH, f"frame of {length} octets truncated to {len(data)}")
        if len(data) - length >= INFO_OCTETS:  # more than the last code block's fill
            return self._reject(Reason.WRONG_LENGTH, f"{len(data)} octets carry a frame of {length}")
        if header["spacecraft_id"] != self.spacecraft_id:
            return self._reject(Reason.BAD_FRAME, f"frame for spacecraft {header['spacecraft_id']}")
        vcid = header["virtual_channel_id"]
        if self.required and vcid != self.vcid and not self.security.channel_protected("tc", vcid):
            return self._reject(Reason.UNAUTHENTICATED, f"virtual channel {vcid} has no SA")
        if not self.required:
            try:
                frame = TcFrame.unpack(data)
                check_frame_address(frame, self.spacecraft_id)
            except DecodeError as exc:
                return self._reject(Reason.BAD_FRAME, str(exc))
            self.accepted += 1
            return self._sequence(frame)
        assert self.security is not None
        spi = (
            int.from_bytes(data[HEADER_LENGTH : HEADER_LENGTH + 2], "big")
            if length >= HEADER_LENGTH + 2
            else 0
        )
        try:
            plain, _ = self.security.verify_tc(data[:length])
        except SdlsRejected as exc:
            return self._reject(exc.code, str(exc), spi, counted=True)  # the context counted it
        self.accepted += 1
        if self._on_accept is not None:
            self._on_accept(self.security)
        return self._sequence(plain)

    def _sequence(self, frame: TcFrame) -> bytes | Sequenced:
        """FARM-1 on the TC virtual channel: the frame's data if it goes on board."""
        if frame.virtual_channel_id != self.vcid:
            return frame.data
        farm = self.farm
        if frame.control_command:
            outcome = farm.bc_frame(frame.data)
            if outcome is not FarmOutcome.BAD_CONTROL:
                self._farm_status(outcome.name)
            return Sequenced(outcome, frame.sequence_number)
        if frame.bypass:
            farm.bd_frame()
            return frame.data
        before = (farm.state, farm.retransmit)
        outcome = farm.ad_frame(frame.sequence_number)
        if (farm.state, farm.retransmit) != before:
            if farm.state is not before[0]:
                self._farm_status(farm.state.name)  # LOCKOUT or WAIT
            else:
                self._farm_status("RETRANSMIT" if farm.retransmit else "IN_SEQUENCE")
        if outcome.accepted:
            return frame.data
        log.debug("TC frame N(S)=%d %s (V(R)=%d)", frame.sequence_number, outcome.value, self.farm.v_r)
        return Sequenced(outcome, frame.sequence_number)

    def _farm_status(self, cause: str) -> None:
        if self.on_farm_status is None:
            return
        if not self._event_due():
            self.farm_events_suppressed += 1
            return
        farm = self.farm
        log.info("FARM %s: %s, V(R)=%d", cause, farm.state.name, farm.v_r)
        self.on_farm_status(FarmStatus(cause, farm.state, farm.v_r, farm.farm_b_counter))

    def manage(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """An SDLS_* SA management command (355.1-B-1 style); ValueError if the SA or its state refuses."""
        security = self.security
        if security is None:
            raise SaManagementError("no security associations on board")
        status = security.manage(command, args)
        spi = status.spi
        log.info(
            "SA %d: %s -> %s, key %d, ARSN %d", spi, command, status.state.name, status.key_id, status.arsn
        )
        if self._on_accept is not None:
            self._on_accept(security)
        return {
            "SPI": spi,
            "STATE": status.state.name,
            "KEY_ID": status.key_id,
            "ARSN": status.arsn & 0xFFFFFFFF,
        }

    def status(self) -> dict[str, Any]:
        """SECURITY_HK values, by database name."""
        values: dict[str, Any] = {
            "SDLS_REQUIRED": self.required, "TC_SA_STATE": "NONE", "TC_SA_SPI": 0, "TC_SA_KEY_ID": 0,
            "TC_SA_ARSN": 0, "TC_FRAMES_ACCEPTED": self.accepted & 0xFFFFFFFF,
        }  # fmt: skip
        for reason in Reason:
            values[f"REJ_{reason.name}"] = min(self._rejections[reason], 0xFFFF)
        if self.security is not None:
            spis = sorted(
                s for s, sa in self.security.sas.items() if sa.link == "tc" and sa.vcid == self.vcid
            )
            if spis:
                st = self.security.status(spis[0])
                values.update(TC_SA_STATE=st.state.name, TC_SA_SPI=st.spi, TC_SA_KEY_ID=st.key_id,
                              TC_SA_ARSN=st.arsn & 0xFFFFFFFF)  # fmt: skip
        return values
