"""SDLS at the ground station: the downlink receivers' verification set up, refusals into the fault
log (:func:`attach_security`); the station's own uplink frames, its CFDP replies, secured under their
SA (:class:`UplinkSecurity`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from groundstation.fault_log import FaultLog
from protocols.link.channel_config import PhysicalChannelConfig

if TYPE_CHECKING:  # SDLS is imported by a link that uses it
    from protocols.sdls import SdlsRejected, SecurityContext
    from protocols.sdls.downlink import DownlinkSecurity


def attach_security(
    context: SecurityContext | None,
    channel: PhysicalChannelConfig,
    receivers: Iterable[Any],
    faults: FaultLog,
) -> DownlinkSecurity | None:
    """Frames of the channels an SA of ``context`` covers are verified (and decrypted) by every one of
    ``receivers`` before their packets are cut. A refused frame is counted by reason (in the context,
    and in ``faults`` as ``sdls <reason>``) and logged by the fault log (the first ten of each reason,
    then every thousandth). None without a context (the link as before); ValueError if the SAs cannot
    cover the channel."""
    if context is None:
        return None
    from protocols.sdls.downlink import DownlinkSecurity

    security = DownlinkSecurity(context, channel)

    def refused(vcid: int, exc: SdlsRejected) -> None:
        faults.record(f"sdls {exc.code.label}", f"VC {vcid} frame refused: {exc.reason}")

    for receiver in receivers:
        receiver.set_security(security, refused)
    return security


class UplinkSecurity:
    """SDLS on the station's own uplink frames (its CFDP replies): each frame is secured under the
    operational SA of its TC virtual channel with the next ARSN, and ``save(context)`` runs after each
    one, so a station started again continues above the last ARSN it sent (the probe's window is
    small: the sender cannot jump ahead as the downlink's lease does)."""

    def __init__(
        self,
        context: SecurityContext,
        spacecraft_id: int,
        save: Callable[[SecurityContext], None] | None = None,
    ) -> None:
        self.context = context
        self.spacecraft_id = spacecraft_id
        self._save = save
        self.frames_secured = 0

    def covers(self, vcid: int) -> bool:
        """Whether an operational SA of this context can secure frames of TC virtual channel ``vcid``."""
        return self.context.sending_sa("tc", vcid) is not None

    def frame(self, vcid: int, frame_sequence: int, data: bytes) -> bytes:
        """A secured Type-BD TC frame (FECF included) carrying ``data``; SaManagementError when no SA
        of the channel is operational, ArsnExhausted when its ARSN would wrap."""
        frame = self.context.protect_tc(self.spacecraft_id, vcid, frame_sequence, data)
        self.frames_secured += 1
        if self._save is not None:
            self._save(self.context)
        return frame
