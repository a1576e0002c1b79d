"""Link-layer counters that mean something went wrong, turned into fault records as they grow
(corrections that succeeded are not faults)."""

from __future__ import annotations

from groundstation.fault_log import FaultLog

LINK_FAULT_COUNTERS = (
    "uncorrectable", "crc_failures", "header_errors", "sync_losses", "bytes_skipped",
    "bit_slips",  # the link receiver re-aligned on a marker inside an octet
)  # fmt: skip


class LinkFaultLog:
    """Records ``link: <counter>`` with the increase since the last look, so link faults are logged."""

    def __init__(self, faults: FaultLog) -> None:
        self._faults = faults
        self._seen: dict[str, int] = {}

    def observe(self, counters: object) -> None:
        for name in LINK_FAULT_COUNTERS:
            now = getattr(counters, name)
            before = self._seen.get(name, 0)
            if now > before:
                self._seen[name] = now
                self._faults.record(f"link: {name.replace('_', ' ')}", f"+{now - before} (total {now})")
