"""Per-APID bookkeeping of a pass: packets counted, sequence gaps, on-board time span."""

from __future__ import annotations

from collections import Counter

from groundstation.fault_log import FaultLog
from protocols.packets.apids import apid_name
from protocols.packets.space_packet import SpacePacket, sequence_gap
from protocols.packets.time_code import CUC_PFIELD_4_2, CucTime, tai_seconds_to_utc
from protocols.pus.packets import TM_SECONDARY_HEADER_LENGTH, TM_TIME_OFFSET


class PacketBook:
    """What the station saw of each APID; a gap in the sequence counts is a fault."""

    def __init__(self, faults: FaultLog) -> None:
        self.faults = faults
        self.packets_by_apid: Counter[int] = Counter()
        self.gaps_by_apid: Counter[int] = Counter()
        self.last_count: dict[int, int] = {}
        self.time_span: dict[int, list[float]] = {}  # APID -> [first, last] on-board time (TAI s)

    def follow(self, apid: int, sequence_count: int) -> None:
        """The next packet of ``apid``: a gap since the last one is counted and recorded."""
        previous = self.last_count.get(apid)
        if previous is not None and (gap := sequence_gap(previous, sequence_count)):
            self.gaps_by_apid[apid] += gap
            self.faults.record("packet sequence gap", f"{apid_name(apid)}: {gap} missing")
        self.last_count[apid] = sequence_count

    def note_time(self, apid: int, first: float, last: float) -> None:
        span = self.time_span.get(apid)
        if span is None:
            self.time_span[apid] = [first, last]
        else:
            span[0] = min(span[0], first)
            span[1] = max(span[1], last)

    def note_packet_time(self, apid: int, packet: SpacePacket) -> None:
        """The PUS-C time field when it is there (read before the PEC is checked: any packet's)."""
        data = packet.data
        if not packet.secondary_header_flag or len(data) < TM_SECONDARY_HEADER_LENGTH:
            return
        if data[TM_TIME_OFFSET] != CUC_PFIELD_4_2:
            return
        seconds = CucTime.unpack(data, TM_TIME_OFFSET)[0].seconds
        self.note_time(apid, seconds, seconds)

    def packets_by_name(self) -> dict[str, int]:
        return {apid_name(a): n for a, n in sorted(self.packets_by_apid.items())}

    def gaps_by_name(self) -> dict[str, int]:
        return {apid_name(a): n for a, n in sorted(self.gaps_by_apid.items())}

    def time_span_by_name(self) -> dict[str, list[str]]:
        return {
            apid_name(a): [tai_seconds_to_utc(t).isoformat() for t in span]
            for a, span in sorted(self.time_span.items())
        }
