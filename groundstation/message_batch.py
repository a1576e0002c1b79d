"""Downlink messages decoded in batches, with the effects of one message at a time."""

from __future__ import annotations

import logging
from typing import Protocol

from groundstation.fault_log import FaultLog
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError
from protocols.packets.space_packet import MISSION_PACKETS, holds_whole_packets

log = logging.getLogger("paleblue.ground")


class BatchedStation(Protocol):
    """What a batch needs of the station it feeds (:class:`~groundstation.station.GroundStation`)."""

    octets_received: int
    transport: MessageGapCounter
    origin: int | None
    faults: FaultLog

    def handle_message(self, parts: list[bytes]) -> None: ...

    def record_transport_loss(self, lost: int, envelope: Envelope) -> None: ...

    def handle_packet_stream(self, payload: bytes) -> None: ...


class MessageBatch:
    """Downlink messages in order, with the effects of :meth:`GroundStation.handle_message` on each.

    A recording holds a few packets a message, too few for the station's runs of image segments, so
    one at a time it decodes at a seventh of a raw packet file's speed. Consecutive packet-layer
    messages that hold whole packets (:func:`holds_whole_packets`) cut the same packets joined as
    apart, so they are decoded as one stream. Any other message, and any fault (a transport loss,
    or one the caller records: call :meth:`flush` first), first hands on what is pending, so the
    station's counts, fault records and products are the same (tests compare them).
    """

    max_octets = 4 << 20  # pending payload at most: a bound on memory, long enough for runs

    def __init__(self, station: BatchedStation) -> None:
        self.station = station
        self._pending: list[bytes] = []
        self._octets = 0
        self._session: int | None = None  # of the messages pending: a batch holds one session

    def add(self, parts: list[bytes]) -> None:
        station = self.station
        envelope = self._joinable(parts)
        if envelope is None:
            self.flush()
            station.handle_message(parts)
            return
        if envelope.session != self._session:
            self.flush()  # images are known by session: a batch must not mix two
            self._session = envelope.session
        payload = parts[2]
        station.octets_received += len(payload)
        lost = station.transport.observe(envelope)
        if lost:
            self.flush()
            station.record_transport_loss(lost, envelope)
        self._pending.append(payload)
        self._octets += len(payload)
        if self._octets >= self.max_octets:
            self.flush()

    def flush(self) -> None:
        """Decode what is pending; call it before recording a fault of one's own, and at the end."""
        if not self._pending:
            return
        joined = b"".join(self._pending)
        self._pending.clear()
        self._octets = 0
        self.station.origin = self._session
        try:
            self.station.handle_packet_stream(joined)
        except Exception as exc:  # as handle_message: a bug must not take the station down
            log.exception("internal error while handling messages")
            self.station.faults.record("internal error", repr(exc))

    @staticmethod
    def _joinable(parts: list[bytes]) -> Envelope | None:
        if len(parts) != 3 or parts[0] != TOPIC_DOWNLINK:
            return None
        try:
            envelope = Envelope.unpack(parts[1])
        except DecodeError:
            return None
        if envelope.layer != Layer.PACKETS or not holds_whole_packets(parts[2], MISSION_PACKETS):
            return None
        return envelope
