"""CCSDS Space Data Link Security (355.0-B-2) with AES-256-GCM: SAs, headers, frames, keys.

- :mod:`~protocols.sdls.association` security associations and keys;
- :mod:`~protocols.sdls.header` the security header and trailer (construct);
- :mod:`~protocols.sdls.security` ApplySecurity / ProcessSecurity on any frame;
- :mod:`~protocols.sdls.frames` the same on TC and TM/AOS frames;
- :mod:`~protocols.sdls.context` the SAs of one end of the link, with state and counts;
- :mod:`~protocols.sdls.reasons` the typed rejection reasons;
- :mod:`~protocols.sdls.keystore` key and SA files, with their permission checks.
"""

from protocols.sdls.association import SaKey, SaState, SecurityAssociation, ServiceType
from protocols.sdls.context import SaManagementError, SaStatus, SecurityContext
from protocols.sdls.reasons import Reason, SdlsRejected
from protocols.sdls.security import ArsnExhausted, Verified, apply_security, process_security

__all__ = [
    "ArsnExhausted", "Reason", "SaKey", "SaManagementError", "SaState", "SaStatus", "SdlsRejected",
    "SecurityAssociation", "SecurityContext", "ServiceType", "Verified", "apply_security", "process_security",
]  # fmt: skip
