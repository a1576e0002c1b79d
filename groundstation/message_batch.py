"""Downlink messages decoded in batches, with the effects of one message at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError
from protocols.packets.space_packet import MISSION_PACKETS, holds_whole_packets

if TYPE_CHECKING:  # the station's parts, named for the protocol only
    from groundstation.fault_log import FaultLog
    from groundstation.file_reception import ImageFileReception
    from groundstation.frame_receiver import LinkOutput
    from groundstation.link_faults import LinkFaultLog
    from groundstation.link_receiver import LinkReceiver

log = logging.getLogger("paleblue.ground")


class BatchedStation(Protocol):
    """What a batch needs of the station it feeds (:class:`~groundstation.station.GroundStation`)."""

    octets_received: int
    transport: MessageGapCounter
    origin: int | None
    faults: FaultLog
    link: LinkReceiver
    link_faults: LinkFaultLog
    files: ImageFileReception

    def handle_message(self, parts: list[bytes]) -> None: ...

    def record_transport_loss(self, lost: int, envelope: Envelope) -> None: ...

    def handle_packet_stream(self, payload: bytes) -> None: ...

    def handle_link_outputs(self, outputs: list[LinkOutput]) -> None: ...


class MessageBatch:
    """Downlink messages in order, with the effects of :meth:`GroundStation.handle_message` on each.

    A recording holds a few packets a message, too few for the station's runs of image segments, so
    one at a time it decodes at a seventh of a raw packet file's speed. Consecutive packet-layer
    messages that hold whole packets (:func:`holds_whole_packets`) cut the same packets joined as
    apart, so they are decoded as one stream. Consecutive CADU messages go through the link
    receiver one by one as before (its counters and link fault records per message), and the
    packets it cuts from them are handed to the station together, so runs of image segments and
    of housekeeping span many messages. Any other message, and any fault (a transport loss, or one
    the caller records: call :meth:`flush` first), first hands on what is pending, so the station's
    counts, fault records (of each kind) and products are the same (tests compare them); only the
    fault records of packets cut from CADUs come after the link's of the messages joined with theirs.
    """

    max_octets = 4 << 20  # pending payload at most: a bound on memory, long enough for runs

    def __init__(self, station: BatchedStation) -> None:
        self.station = station
        self._pending: list[bytes] = []
        self._outputs: list[LinkOutput] = []  # packets the link receiver cut from pending CADUs
        self._octets = 0
        self._session: int | None = None  # of the messages pending: a batch holds one session
        self._layer: Layer | None = None  # and one layer

    def add(self, parts: list[bytes]) -> None:
        station = self.station
        envelope = self._joinable(parts)
        if envelope is None:
            self.flush()
            station.handle_message(parts)
            return
        if envelope.session != self._session or envelope.layer != self._layer:
            self.flush()  # images are known by session: a batch must not mix two
            self._session, self._layer = envelope.session, envelope.layer
        payload = parts[2]
        station.octets_received += len(payload)
        lost = station.transport.observe(envelope)
        if lost:
            self.flush()
            station.record_transport_loss(lost, envelope)
        if envelope.layer == Layer.CADUS:
            self._guarded(lambda: self._outputs.extend(self._through_link(payload)))
        else:
            self._pending.append(payload)
        self._octets += len(payload)
        if self._octets >= self.max_octets:
            self.flush()

    def flush(self) -> None:
        """Decode what is pending; call it before recording a fault of one's own, and at the end."""
        self._octets = 0
        if self._outputs:
            outputs, self._outputs = self._outputs, []
            self.station.origin = self._session
            self._guarded(lambda: self.station.handle_link_outputs(outputs))
        if not self._pending:
            return
        joined = b"".join(self._pending)
        self._pending.clear()
        self.station.origin = self._session
        self._guarded(lambda: self.station.handle_packet_stream(joined))

    def _through_link(self, payload: bytes) -> list[LinkOutput]:
        """What :meth:`GroundStation.handle_message` does with CADUs, but for handling the packets."""
        station = self.station
        station.files.heard_downlink()
        outputs = station.link.feed(payload)
        station.link_faults.observe(station.link.counters)
        return outputs

    def _guarded(self, work: Callable[[], object]) -> None:
        try:
            work()
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
        if envelope.layer == Layer.CADUS:
            return envelope
        if envelope.layer != Layer.PACKETS or not holds_whole_packets(parts[2], MISSION_PACKETS):
            return None
        return envelope
