"""attach_security: refused downlink frames go to the fault log by reason; none without a context."""

from __future__ import annotations

import logging

from groundstation.fault_log import FaultLog
from groundstation.link_receiver import LinkReceiver
from groundstation.link_security import attach_security
from protocols.link.channel_file import preset
from protocols.sdls import Reason, SdlsRejected, SecurityAssociation, SecurityContext


class Receiver:
    def set_security(self, security, on_rejected) -> None:
        self.security, self.on_rejected = security, on_rejected


def test_refusals_are_faults_by_reason_and_no_context_changes_nothing() -> None:
    faults = FaultLog(logging.getLogger("test"))
    config = preset("tm-rs-i5")
    assert attach_security(None, config, [LinkReceiver(config)], faults) is None
    receivers = [Receiver(), Receiver()]
    context = SecurityContext([SecurityAssociation(10, "tm", 0, 5)], [])
    security = attach_security(context, config, receivers, faults)
    assert security is not None and all(r.security is security for r in receivers)
    receivers[0].on_rejected(0, SdlsRejected(Reason.BAD_MAC, 6, "MAC does not verify"))
    assert faults.as_dict() == {"sdls bad-mac": 1}
