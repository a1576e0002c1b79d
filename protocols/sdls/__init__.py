"""CCSDS Space Data Link Security (355.0-B-2) with AES-256-GCM: SAs, headers, frames, keys.

- :mod:`~protocols.sdls.association` security associations and keys;
- :mod:`~protocols.sdls.header` the security header and trailer (construct);
- :mod:`~protocols.sdls.security` ApplySecurity / ProcessSecurity on any frame;
- :mod:`~protocols.sdls.frames` the same on TC and TM/AOS frames;
- :mod:`~protocols.sdls.context` the SAs of one end of the link, with state and counts;
- :mod:`~protocols.sdls.reasons` the typed rejection reasons;
- :mod:`~protocols.sdls.keystore` key and SA files, with their permission checks.

The names below are loaded from their modules on first use (PEP 562): a link without SDLS never
imports the cipher library (a station's or ``paleblue decode``'s start-up: 15 ms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocols.sdls.association import SaKey, SaState, SecurityAssociation, ServiceType
    from protocols.sdls.context import SaManagementError, SaStatus, SecurityContext
    from protocols.sdls.reasons import Reason, SdlsRejected
    from protocols.sdls.security import ArsnExhausted, Verified, apply_security, process_security

_MODULE_OF = {
    **dict.fromkeys(("SaKey", "SaState", "SecurityAssociation", "ServiceType"), "association"),
    **dict.fromkeys(("SaManagementError", "SaStatus", "SecurityContext"), "context"),
    **dict.fromkeys(("Reason", "SdlsRejected"), "reasons"),
    **dict.fromkeys(("ArsnExhausted", "Verified", "apply_security", "process_security"), "security"),
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ArsnExhausted", "Reason", "SaKey", "SaManagementError", "SaState", "SaStatus", "SdlsRejected",
    "SecurityAssociation", "SecurityContext", "ServiceType", "Verified", "apply_security", "process_security",
]  # fmt: skip
