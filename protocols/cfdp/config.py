"""Entity configuration; every timeout is scaled from the round-trip light time."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.cfdp.constants import ChecksumType


@dataclass(frozen=True, slots=True)
class TimerPolicy:
    """ACK/NAK/check timers wait one round trip plus a margin; inactivity and keep-alive are multiples."""

    round_trip_light_time: float = 2.6  # seconds (Earth-Moon and back)
    processing_margin: float = 1.0  # queueing, serialisation and turnaround on top of light time
    ack_limit: int = 5
    nak_limit: int = 8
    check_limit: int = 3  # class 1: timer expiries to wait for late data after EOF
    inactivity_round_trips: float = 20.0
    keep_alive_round_trips: float | None = 4.0  # receiver sends Keep Alive this often; None: never
    keep_alive_discrepancy_limit: int | None = None  # sender cancels when the receiver lags more

    @property
    def round_trip(self) -> float:
        return self.round_trip_light_time + self.processing_margin

    @property
    def ack_interval(self) -> float:
        return self.round_trip

    @property
    def nak_interval(self) -> float:
        return self.round_trip

    @property
    def check_interval(self) -> float:
        return self.round_trip

    @property
    def inactivity_interval(self) -> float:
        return self.inactivity_round_trips * self.round_trip

    @property
    def keep_alive_interval(self) -> float | None:
        return None if self.keep_alive_round_trips is None else self.keep_alive_round_trips * self.round_trip


@dataclass(frozen=True, slots=True)
class EntityConfig:
    local_entity_id: int
    entity_id_length: int = 2
    sequence_number_length: int = 2
    max_pdu_length: int = 1024  # whole PDU, header and CRC included
    crc: bool = False
    checksum_type: ChecksumType = ChecksumType.CRC32
    immediate_nak: bool = False  # receiver NAKs each new gap at once instead of waiting for EOF
    max_file_size: int = 64 << 20  # free space: larger declared files are refused
    max_early_data: int = 1 << 20  # file data held per transaction before its size is known
    timers: TimerPolicy = field(default_factory=TimerPolicy)


PROBE_ENTITY_ID = 1
GROUND_ENTITY_ID = 2


def image_delivery_config(
    local_entity_id: int, round_trip_s: float, max_pdu_length: int = 1024
) -> EntityConfig:
    """paleblue's image delivery, one definition for both ends so they agree: PDU CRC on (bit
    errors may get past the frame layer), CRC-32 file checksums, timers from the light time."""
    return EntityConfig(
        local_entity_id=local_entity_id,
        max_pdu_length=max_pdu_length,
        crc=True,
        timers=TimerPolicy(round_trip_light_time=round_trip_s),
    )
