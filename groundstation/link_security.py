"""SDLS on the ground's downlink receivers: verification set up, refusals into the fault log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from groundstation.fault_log import FaultLog
from protocols.link.channel_config import PhysicalChannelConfig
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
    security = DownlinkSecurity(context, channel)

    def refused(vcid: int, exc: SdlsRejected) -> None:
        faults.record(f"sdls {exc.code.label}", f"VC {vcid} frame refused: {exc.reason}")

    for receiver in receivers:
        receiver.set_security(security, refused)
    return security
