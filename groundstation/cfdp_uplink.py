"""The ground's CFDP replies (ACK, NAK, Finished) up the uplink: space packet → TC frame → CLTU.

With :class:`~groundstation.link_security.UplinkSecurity` (``ground --keys DIR``), each frame is
secured with SDLS under the SA of ``CFDP_TC_VIRTUAL_CHANNEL`` (SPI 3 of ``keys generate``), as a
probe that requires SDLS takes nothing else; a reply that cannot be secured is a fault (counted),
never sent in clear.
"""

from __future__ import annotations

from collections.abc import Callable

from groundstation.fault_log import FaultLog
from groundstation.link_security import UplinkSecurity
from protocols.capture.zmq_framing import Layer
from protocols.coding.cltu import encode_cltu
from protocols.link.tc_frame import TcFrameEncoder, wrap_for_uplink
from protocols.packets.apids import Apid
from protocols.packets.space_packet import PacketType, SequenceCounter, SpacePacket

CFDP_TC_VIRTUAL_CHANNEL = 1  # file-delivery replies ride their own TC virtual channel


def _not_secured() -> tuple[type[Exception], ...]:
    """What securing a reply may raise (evaluated only when something was raised: the SDLS modules
    load with a secured uplink, not with every station)."""
    from protocols.sdls import ArsnExhausted, SaManagementError

    return (SaManagementError, ArsnExhausted, ValueError)


class CfdpUplink:
    """Sends each PDU it is given as one telecommand packet on ``CFDP_TC_VIRTUAL_CHANNEL``; with no
    uplink, each is a fault (counted, never silently dropped)."""

    def __init__(
        self,
        send_uplink: Callable[[Layer, bytes], None] | None,
        spacecraft_id: int,
        faults: FaultLog,
        security: UplinkSecurity | None = None,
    ) -> None:
        self._send_uplink = send_uplink
        self._faults = faults
        self._sequence = SequenceCounter()
        self._tc_frames = TcFrameEncoder(spacecraft_id, CFDP_TC_VIRTUAL_CHANNEL)
        self.security = security
        self._frame_sequence = 0
        self.sent = 0  # CFDP replies sent

    def send(self, pdu: bytes) -> None:
        if self._send_uplink is None:
            self._faults.record("CFDP reply with no uplink", f"{len(pdu)} octets not sent")
            return
        packet = SpacePacket(
            Apid.CFDP, self._sequence.next(Apid.CFDP), pdu,
            packet_type=PacketType.TELECOMMAND, secondary_header_flag=False,
        ).pack()  # fmt: skip
        if self.security is None:
            cltu = wrap_for_uplink(packet, self._tc_frames)
        else:
            try:
                frame = self.security.frame(CFDP_TC_VIRTUAL_CHANNEL, self._frame_sequence, packet)
            except _not_secured() as exc:
                self._faults.record("CFDP reply not secured", f"{len(pdu)} octets not sent: {exc}")
                return
            self._frame_sequence = (self._frame_sequence + 1) & 0xFF
            cltu = encode_cltu(frame)
        self._send_uplink(Layer.CLTUS, cltu)
        self.sent += 1
