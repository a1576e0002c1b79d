"""The ground station's processing chain, independent of sockets: a router.

message (receiver, replay or offline decode) → layer (CADUs or frames:
:mod:`~groundstation.link_receiver`) → space packet → APID → a handler given a value decoded
once: platform :class:`~protocols.pus.packets.TmPacket` to :mod:`~groundstation.telemetry`, camera
packets to :mod:`~groundstation.image_packets` (runs of segments in bulk:
:mod:`~groundstation.bulk_segments`), CFDP PDUs to :mod:`~groundstation.file_reception`.
Images become :mod:`~groundstation.products`, telemetry callbacks :mod:`~groundstation.event_log`
lines, counters a :mod:`~groundstation.pass_summary` that :mod:`~groundstation.pass_report`
renders. Every fault is counted and logged; each octet received ends up in a product, a counter
or a fault record.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from groundstation.captures import CaptureRecord
from groundstation.cfdp_uplink import CfdpUplink
from groundstation.event_log import EventLog
from groundstation.fault_log import FaultLog
from groundstation.file_reception import ImageFileReception
from groundstation.frame_receiver import FrameReceiver, LinkOutput
from groundstation.idle_frames import read_idle_note
from groundstation.image_packets import ImagePackets
from groundstation.link_faults import LinkFaultLog
from groundstation.link_receiver import LinkReceiver
from groundstation.link_runs import MIN_LINK_RUN, link_runs
from groundstation.link_security import UplinkSecurity, attach_security
from groundstation.message_batch import MessageBatch
from groundstation.packet_book import PacketBook
from groundstation.pass_report import parameter_units, render_report
from groundstation.pass_summary import summarize
from groundstation.platform_batch import PlatformBatch
from groundstation.product_worker import Worker
from groundstation.products import ImageProduct, ProductWriter
from groundstation.telemetry import TelemetryProcessor
from protocols.atomic_file import write_atomically
from protocols.capture.zmq_framing import (
    MAX_MESSAGE_OCTETS,
    TOPIC_DOWNLINK,
    Envelope,
    Layer,
    MessageGapCounter,
)
from protocols.errors import DecodeError
from protocols.image.image_transport import ImageHeader, ImageReassembler, ReassembledImage
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import MissionDatabase, load_mission_db
from protocols.packets.apids import Apid, apid_name
from protocols.packets.space_packet import (
    MISSION_PACKETS,
    PacketRun,
    PacketStreamDecoder,
    SkippedBytes,
    SpacePacket,
)
from protocols.pus.packets import TmPacket

if TYPE_CHECKING:
    from protocols.sdls import SecurityContext

__all__ = ["GroundStation", "ImageProduct", "MessageBatch", "render_report"]  # the last three: moved

log = logging.getLogger("paleblue.ground")


class GroundStation:
    """Turns received messages into products, counters and a report."""

    def __init__(
        self,
        out_dir: Path,
        expect_images: int | None = None,
        channel: PhysicalChannelConfig | None = None,
        mdb: MissionDatabase | None = None,
        send_uplink: Callable[[Layer, bytes], None] | None = None,
        round_trip_s: float = 0.2,
        link_rate_bps: float | None = None,
        write_products: bool = True,
        downlink_security: SecurityContext | None = None,
        uplink_security: UplinkSecurity | None = None,  # SDLS on the CFDP replies (ground --keys)
        product_worker: Worker | None = None,  # image products on its thread, off the receive path
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.channel = channel if channel is not None else preset()
        self.link = LinkReceiver(self.channel)
        self.frames = FrameReceiver(self.channel)
        self.mdb = mdb if mdb is not None else load_mission_db()
        self.link_rate_bps = link_rate_bps
        self.faults = FaultLog(log)
        self.link_faults = LinkFaultLog(self.faults)
        self.cfdp_uplink = CfdpUplink(send_uplink, self.mdb.spacecraft_id, self.faults, uplink_security)
        # SDLS on the downlink: frames of the channels an SA covers are verified before their packets
        self.downlink_security = attach_security(downlink_security, self.channel, (self.link, self.frames),
                                                 self.faults)  # fmt: skip
        self.images = ProductWriter(self.out_dir, self.faults, write_products, product_worker)
        self.files = ImageFileReception(self.cfdp_uplink.send, self.out_dir, self._on_file_image,
                                        round_trip_s)  # fmt: skip
        self.events = events = EventLog(self.out_dir)
        self.telemetry = TelemetryProcessor(self.mdb, on_alarm=events.on_alarm, on_event=events.on_event,
                                            on_verification=events.on_verification)  # fmt: skip
        self.expect_images = expect_images
        self.transport = MessageGapCounter()
        self.messages_refused = 0  # refused by ZeroMQ (too long): see transport/connection_guard
        # reassembly faults (refused, unconfirmed or duplicate images) go to the fault log
        self.reassembler = ImageReassembler(on_fault=lambda kind, detail: self.faults.record(kind, detail))
        # the publisher session of the messages being handled (None: a raw file), so that a
        # restarted probe's image 1 is a new image, not a duplicate of the last session's
        self.origin: int | None = None
        self.book = PacketBook(self.faults)
        # Runs of image segments are placed in bulk, with the same effects as one packet at a time
        # (tests compare both); False forces one at a time everywhere.
        self.bulk_segments = True
        # called with each image the reassembler hands over (complete, evicted or flushed), after
        # its products are written: the live feed's image progress (groundstation.archiving)
        self.on_image_reassembled: Callable[[ReassembledImage], None] | None = None
        self.camera = ImagePackets(self.reassembler, self.faults, self._write_image)
        self._runs = PlatformBatch(self.book, self.telemetry, self.camera)  # runs of packets in bulk
        self._packet_file = PacketStreamDecoder(runs=True, check=MISSION_PACKETS)
        self.packet_sink: Callable[[SpacePacket], None] | None = None
        self.octets_received = 0
        # idle frames a recording left out (its idle notes, read back by decode or replay)
        self.idle_frames_not_recorded = 0
        # the recorder's counts while this station records (``recording`` in summary.json)
        self.recording: Callable[[], dict] | None = None
        self.started = time.time()
        self._routes: dict[int, Callable[[SpacePacket], None]] = {
            Apid.CAMERA: lambda packet: self.camera.handle(packet, self.origin),
            Apid.CFDP: lambda packet: self.files.handle(packet.data),
            Apid.PLATFORM: self._handle_platform,
        }

    # -- messages ----------------------------------------------------------------------------
    def handle_message(self, parts: list[bytes]) -> None:
        """One ZeroMQ multipart message; never raises."""
        try:
            self._handle_message(parts)
        except Exception as exc:  # a bug must not take the station down; it is counted and logged
            log.exception("internal error while handling a message")
            self.faults.record("internal error", repr(exc))

    def _handle_message(self, parts: list[bytes]) -> None:
        if len(parts) != 3:
            self.faults.record("malformed message", f"{len(parts)} frames instead of 3")
            return
        topic, envelope_bytes, payload = parts
        self.octets_received += len(payload)
        if topic != TOPIC_DOWNLINK:
            self.faults.record("unknown topic", repr(topic[:16]))
            return
        try:
            envelope = Envelope.unpack(envelope_bytes)
        except DecodeError as exc:
            self.faults.record("bad envelope", str(exc))
            return
        self.record_transport_loss(self.transport.observe(envelope), envelope)
        self.origin = envelope.session
        if envelope.layer == Layer.PACKETS:
            self.handle_packet_stream(payload)
        elif envelope.layer in (Layer.CADUS, Layer.FRAMES):
            if envelope.layer == Layer.CADUS:
                self.files.heard_downlink()
            self._feed_link(envelope.layer, payload)
        elif envelope.layer == Layer.CONTROL and (idle := read_idle_note(payload)) is not None:
            # a recording's note of idle frames it left out: counted, their frame counts followed
            self.idle_frames_not_recorded += idle.frames
            (self.link if idle.layer == Layer.CADUS else self.frames).follow_unrecorded(idle.mc_frame_counts)
        else:
            self.faults.record("unsupported layer", envelope.layer.name)

    def record_refused(self, endpoint: str) -> None:
        """ZeroMQ refused a message from ``endpoint`` (a frame over the size limit) and dropped the
        connection, which the receiver made again; what it still held shows as lost messages."""
        self.messages_refused += 1
        self.faults.record(
            "message refused by ZeroMQ",
            f"{endpoint}: a frame over {MAX_MESSAGE_OCTETS} octets (or broken ZMTP framing); reconnected",
        )

    def record_transport_loss(self, lost: int, envelope: Envelope) -> None:
        """The fault for ``lost`` messages that the envelope's sequence number shows (none for 0)."""
        if lost:
            self.faults.record("messages lost in transport", f"{lost} before sequence {envelope.sequence}")

    def tick(self) -> None:
        """Timers: CFDP retransmission, NAK and inactivity timers, partial images, progress lines."""
        try:
            self.files.poll()
        except Exception as exc:
            log.exception("internal error in the CFDP entity")
            self.faults.record("internal error", repr(exc))

    def feed_stream(self, layer: Layer, chunk: bytes) -> None:
        """A chunk of a raw file (no envelope): the offline decoder's way in. Never raises."""
        try:
            if layer == Layer.PACKETS:
                self._report_packet_units(self._packet_file.feed(chunk))
            elif layer in (Layer.CADUS, Layer.FRAMES):
                self._feed_link(layer, chunk)
            self.octets_received += len(chunk)
        except Exception as exc:
            log.exception("internal error while decoding a stream chunk")
            self.faults.record("internal error", repr(exc))

    # -- link layer --------------------------------------------------------------------------
    def _feed_link(self, layer: Layer, data: bytes) -> None:
        """CADUs through the link receiver (its faults logged too), or bare transfer frames."""
        if layer == Layer.CADUS:
            self.handle_link_outputs(self.link.feed(data))
            self.link_faults.observe(self.link.counters)
        else:
            self.handle_link_outputs(self.frames.feed(data))

    def handle_link_outputs(self, outputs: list[LinkOutput]) -> None:
        """Packets cut from transfer frames; the link receiver has counted every frame fault. Runs
        of equal-length packets (image segments) go in bulk, with the effects of one at a time."""
        bulk = self.bulk_segments and self.packet_sink is None and len(outputs) >= MIN_LINK_RUN
        for unit in link_runs(outputs) if bulk else outputs:
            if isinstance(unit, PacketRun):
                self.handle_packet_run(unit)
                continue
            try:
                packet, _ = SpacePacket.unpack(unit.packet)
            except DecodeError as exc:
                self.faults.record("bad packet from link", str(exc))
                continue
            self.handle_packet(packet)

    # -- packets -----------------------------------------------------------------------------
    def handle_packet_stream(self, payload: bytes) -> None:
        """Whole packets, concatenated; anything that is not a packet is reported as skipped."""
        decoder = PacketStreamDecoder(runs=self.bulk_segments, check=MISSION_PACKETS)
        self._report_packet_units([*decoder.feed(payload), *decoder.close()])

    def _report_packet_units(self, units: Iterable[SpacePacket | SkippedBytes | PacketRun]) -> None:
        for unit in units:
            if isinstance(unit, SpacePacket):
                self.handle_packet(unit)
            elif isinstance(unit, PacketRun):
                self.handle_packet_run(unit)
            else:
                self.faults.record(
                    "bytes skipped in packet stream", f"{unit.length} at {unit.offset}: {unit.reason}"
                )

    def handle_packet_run(self, run: PacketRun) -> None:
        """Packets of one length back to back: image segments, platform TM in bulk, the rest one by one."""
        if self.bulk_segments and self.packet_sink is None:
            self._runs.handle_run(run, self.origin, self.handle_packet)
        else:
            for packet in run.packets():
                self.handle_packet(packet)

    def handle_packet(self, packet: SpacePacket) -> None:
        """One space packet: counted, its sequence and time followed, routed by APID."""
        apid = packet.apid
        self.book.packets_by_apid[apid] += 1
        if self.packet_sink is not None:
            self.packet_sink(packet)
        if apid == Apid.IDLE:
            return
        self.book.note_packet_time(apid, packet)
        self.book.follow(apid, packet.sequence_count)
        route = self._routes.get(apid)
        if route is None:
            self.faults.record("unknown APID", apid_name(apid))
        else:
            route(packet)

    def _handle_platform(self, packet: SpacePacket) -> None:
        """Housekeeping, events and verification: decoded once here, then the typed value routed."""
        telemetry = self.telemetry
        before = telemetry.undecodable_total
        try:
            tm = TmPacket.from_space_packet(packet)
        except DecodeError as exc:
            telemetry.count_undecodable(exc)
        else:
            telemetry.process_tm(tm, time.time())
        if telemetry.undecodable_total > before:
            self.faults.record("bad platform packet", f"sequence count {packet.sequence_count}")

    # -- images ------------------------------------------------------------------------------
    def _write_image(self, image: ReassembledImage) -> None:
        self.images.write(image)
        if self.on_image_reassembled is not None:
            self.on_image_reassembled(image)

    def _on_file_image(self, header: ImageHeader, pixels: bytes, transaction: dict) -> None:
        self.images.write_file_image(header, pixels, transaction, self.link_rate_bps)

    # -- the pass ----------------------------------------------------------------------------
    @property
    def products(self) -> list[ImageProduct]:
        return self.images.listed(wait=True)  # waits for the product worker's queue, if any

    @property
    def captures(self) -> list[CaptureRecord]:
        """The colour captures regrouped so far (their bands, composite or what is missing)."""
        return self.images.captures.records

    @property
    def packets_by_apid(self) -> Counter[int]:
        return self.book.packets_by_apid

    @property
    def images_done(self) -> int:
        return self.images.done

    @property
    def finished(self) -> bool:
        return self.expect_images is not None and self.images_done >= self.expect_images

    def summary(self) -> dict:
        """``summary.json`` as it stands now."""
        return summarize(self).as_dict()

    def finish(self) -> dict:
        """End of pass: flush incomplete images, write summary.json and report.md."""
        try:
            self._flush_everything()
        except Exception as exc:  # whatever happened, the pass still ends with its summary
            log.exception("internal error while flushing at the end of the pass")
            self.faults.record("internal error", repr(exc))
        summary = summarize(self)
        as_dict = summary.as_dict()
        write_atomically(self.out_dir / "summary.json", json.dumps(as_dict, indent=2, default=repr) + "\n")
        report = render_report(summary, parameter_units(self.mdb), self.events.path.exists())
        write_atomically(self.out_dir / "report.md", report)
        return as_dict

    def _flush_everything(self) -> None:
        self._report_packet_units(self._packet_file.close())
        for receiver in (self.link, self.frames):
            report = receiver.close()
            self.handle_link_outputs(report.outputs)
        for image in self.reassembler.flush():
            self._write_image(image)
        self.files.close()  # file transfers still open: their partial images as they stand
        self.images.finish()  # every product listed; a colour capture still missing a band as such
