"""The ground station's processing chain, independent of sockets.

Messages go in (as the receiver, a replay or an offline decode hands them
over); packets are checked and dispatched by APID and PUS service; images are
reassembled and written as products; every fault is counted and logged, and
nothing received is silently dropped: each octet ends up in a product, a
counter or a fault record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from groundstation.fault_log import FaultLog
from groundstation.file_reception import ImageFileReception
from groundstation.link_receiver import FrameReceiver, LinkOutput, LinkReceiver
from groundstation.optical_navigation import measure_bodies
from groundstation.telemetry import Alarm, EventRecord, TelemetryProcessor
from protocols.apids import Apid, apid_name
from protocols.atomic_file import append_line, write_atomically
from protocols.channel_config import PhysicalChannelConfig, preset
from protocols.errors import DecodeError
from protocols.image_metadata import ImageMetadata
from protocols.image_products import missing_pixels, product_stem, write_image_products
from protocols.image_transport import (
    IMAGE_SEGMENT_HEADER_LENGTH,
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    SUBTYPE_IMAGE_SEGMENT,
    ImageHeader,
    ImageReassembler,
    ImageSegment,
    ReassembledImage,
    SegmentColumns,
)
from protocols.mission_db import MissionDatabase, load_mission_db
from protocols.packet_run import PacketRun
from protocols.pus import PEC_LENGTH, TM_PAYLOAD_OFFSET, TmRunColumns, tm_run_columns, unpack_tm_packet
from protocols.pus_services import FailureCode, VerificationReport
from protocols.space_packet import (
    MISSION_PACKETS,
    PacketStreamDecoder,
    PacketType,
    SequenceCounter,
    SkippedBytes,
    SpacePacket,
    holds_whole_packets,
    sequence_gap,
)
from protocols.tc_frame import TcFrameEncoder, wrap_for_uplink
from protocols.time_code import CUC_PFIELD_4_2, tai_seconds_to_utc
from protocols.zmq_framing import MAX_MESSAGE_OCTETS, TOPIC_DOWNLINK, Envelope, Layer, MessageGapCounter

log = logging.getLogger("paleblue.ground")

CFDP_TC_VIRTUAL_CHANNEL = 1  # file-delivery replies ride their own TC virtual channel

# Image segments placed in bulk are checked this many at a time; after a refusal, up to
# _MAX_BACKOFF packets go one by one before bulk is tried again (bounds the cost of hostile runs).
_BULK_WINDOW = 512
_MAX_BACKOFF = 64

# Link counters that mean something went wrong (corrections that succeeded are not faults).
_LINK_FAULT_COUNTERS = ("uncorrectable", "crc_failures", "header_errors", "sync_losses", "bytes_skipped")
_LINK_FAULT_COUNTERS += ("bit_slips",)  # the link receiver re-aligned on a marker inside an octet


@dataclass
class ImageProduct:
    image_id: int
    complete: bool
    crc_ok: bool
    width: int
    height: int
    bit_depth: int
    missing_octets: int
    sha256: str
    files: dict[str, str]
    measurement: dict = field(default_factory=dict)
    onboard_sha256: str | None = None  # what the probe computed at capture, from the metadata
    delivery: dict = field(default_factory=dict)  # how it came: image packets or a CFDP transaction

    @property
    def identical_to_onboard(self) -> bool | None:
        return None if self.onboard_sha256 is None else self.onboard_sha256 == self.sha256


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
    ) -> None:
        self.out_dir = Path(out_dir)
        self.channel = channel if channel is not None else preset()
        self.link = LinkReceiver(self.channel)
        self.frames = FrameReceiver(self.channel)
        self._link_seen: dict[str, int] = {}
        self.mdb = mdb if mdb is not None else load_mission_db()
        self._send_uplink = send_uplink
        self.link_rate_bps = link_rate_bps
        self._uplink_sequence = SequenceCounter()
        self._tc_frames = TcFrameEncoder(self.mdb.spacecraft_id, CFDP_TC_VIRTUAL_CHANNEL)
        self._uplink_count = 0
        self.files = ImageFileReception(self._send_cfdp_pdu, self.out_dir, self._on_file_image, round_trip_s)
        self.telemetry = TelemetryProcessor(
            self.mdb, on_alarm=self._on_alarm, on_event=self._on_event, on_verification=self._on_verification
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.expect_images = expect_images
        self.write_products = write_products  # False: summary only (checksums, counts), no image files
        self.faults = FaultLog(log)
        self.transport = MessageGapCounter()
        # reassembly faults (refused, unconfirmed or duplicate images) go to the fault log
        self.messages_refused = 0  # refused by ZeroMQ (over MAX_MESSAGE_OCTETS): see zmq_guard
        self.reassembler = ImageReassembler(on_fault=lambda kind, detail: self.faults.record(kind, detail))
        # the publisher session of the messages being handled (None: a raw file), so that a
        # restarted probe's image 1 is a new image, not a duplicate of the last session's
        self.origin: int | None = None
        self._stems: set[str] = set()  # product names used: a second image 1 gets its own
        self.packets_by_apid: Counter[int] = Counter()
        self.packet_gaps_by_apid: Counter[int] = Counter()
        self._last_count: dict[int, int] = {}
        self._time_span: dict[int, list[float]] = {}  # APID -> [first, last] on-board time (TAI s)
        # Runs of image segments are placed in bulk, with the same effects as one packet at a time
        # (tests compare both); False forces one at a time everywhere.
        self.bulk_segments = True
        self._packet_file = PacketStreamDecoder(runs=True, check=MISSION_PACKETS)
        self.packet_sink: Callable[[SpacePacket], None] | None = None
        self.octets_received = 0
        self.products: list[ImageProduct] = []
        self.started = time.time()

    # -- input -------------------------------------------------------------------------------
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
        elif envelope.layer == Layer.CADUS:
            self.files.heard_downlink()
            self._handle_link_outputs(self.link.feed(payload))
            self._log_link_faults()
        elif envelope.layer == Layer.FRAMES:
            self._handle_link_outputs(self.frames.feed(payload))
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

    def _send_cfdp_pdu(self, pdu: bytes) -> None:
        """A CFDP reply up the uplink: space packet → TC frame (VC 1) → CLTU."""
        if self._send_uplink is None:
            self.faults.record("CFDP reply with no uplink", f"{len(pdu)} octets not sent")
            return
        packet = SpacePacket(
            Apid.CFDP, self._uplink_sequence.next(Apid.CFDP), pdu,
            packet_type=PacketType.TELECOMMAND, secondary_header_flag=False,
        ).pack()  # fmt: skip
        self._send_uplink(Layer.CLTUS, wrap_for_uplink(packet, self._tc_frames))
        self._uplink_count += 1

    def _on_file_image(self, header: ImageHeader, pixels: bytes, transaction: dict) -> None:
        image = ReassembledImage(header, pixels, [])
        if not image.crc_ok:
            self.faults.record("image CRC mismatch", f"CFDP image {header.image_id}")
        goodput = None
        if transaction["duration_s"] > 0 and transaction["file_octets"]:
            goodput = 8 * transaction["file_octets"] / transaction["duration_s"]
        self._write(
            image,
            {
                "method": "CFDP class 2 file",
                **transaction,
                "goodput_bps": goodput,
                "compression_ratio": (
                    header.image_octets / transaction["file_octets"] if transaction["file_octets"] else None
                ),
                "link_rate_bps": self.link_rate_bps,
                "goodput_fraction_of_link_rate": (
                    goodput / self.link_rate_bps if goodput and self.link_rate_bps else None
                ),
            },
        )

    def _log_link_faults(self) -> None:
        """Turn new link-layer counts into fault records, so link faults are logged too."""
        physical = self.link.counters
        for name in _LINK_FAULT_COUNTERS:
            now = getattr(physical, name)
            before = self._link_seen.get(name, 0)
            if now > before:
                self._link_seen[name] = now
                self.faults.record(f"link: {name.replace('_', ' ')}", f"+{now - before} (total {now})")

    def _handle_link_outputs(self, outputs: list[LinkOutput]) -> None:
        """Packets cut from transfer frames; the link receiver has counted every frame fault."""
        for output in outputs:
            try:
                packet, _ = SpacePacket.unpack(output.packet)
            except DecodeError as exc:
                self.faults.record("bad packet from link", str(exc))
                continue
            self.handle_packet(packet)

    def handle_packet_stream(self, payload: bytes) -> None:
        """Whole packets, concatenated; anything that is not a packet is reported as skipped."""
        decoder = PacketStreamDecoder(runs=self.bulk_segments, check=MISSION_PACKETS)
        self._report_packet_units([*decoder.feed(payload), *decoder.close()])

    def feed_stream(self, layer: Layer, chunk: bytes) -> None:
        """A chunk of a raw file (no envelope): the offline decoder's way in. Never raises."""
        try:
            if layer == Layer.PACKETS:
                self._report_packet_units(self._packet_file.feed(chunk))
            elif layer == Layer.CADUS:
                self._handle_link_outputs(self.link.feed(chunk))
                self._log_link_faults()
            elif layer == Layer.FRAMES:
                self._handle_link_outputs(self.frames.feed(chunk))
            self.octets_received += len(chunk)
        except Exception as exc:
            log.exception("internal error while decoding a stream chunk")
            self.faults.record("internal error", repr(exc))

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
        """Packets of one length back to back: image segments in bulk, anything else one by one.

        Bulk takes only packets that :meth:`handle_packet` would handle without a fault (right
        PEC, next sequence count, a segment its image is waiting for); every other packet goes
        through :meth:`handle_packet`, so the effects are the same as one packet at a time.
        """
        count = len(run)
        bulk = self._bulk_candidates(run) if self.bulk_segments and self.packet_sink is None else None
        if bulk is None:
            for packet in run.packets():
                self.handle_packet(packet)
            return
        candidates, tm = bulk
        refused, accepted = np.flatnonzero(~candidates), np.flatnonzero(candidates)

        def next_index(indices: np.ndarray, position: int) -> int:
            """The first of ``indices`` at or after ``position`` (``count`` when none is)."""
            at = np.searchsorted(indices, position)
            return int(indices[at]) if at < indices.size else count

        position, backoff = 0, 1
        while position < count:
            stretch_end = next_index(refused, position)
            if stretch_end > position:  # a stretch of candidates starts here
                taken = self._place_segments(run, tm, position, min(stretch_end, position + _BULK_WINDOW))
                if taken:
                    position, backoff = position + taken, 1
                    continue
                stop, backoff = min(count, position + backoff), min(2 * backoff, _MAX_BACKOFF)
            else:  # not image segments: up to the next candidate, one by one
                stop = next_index(accepted, position)
            for packet in run.packets(position, stop):
                self.handle_packet(packet)
            position = stop

    def _bulk_candidates(self, run: PacketRun) -> tuple[np.ndarray, TmRunColumns] | None:
        """Which packets are well-formed image segments (None: none are)."""
        payload_octets = run.packet_length - TM_PAYLOAD_OFFSET - PEC_LENGTH
        if payload_octets <= IMAGE_SEGMENT_HEADER_LENGTH:
            return None
        candidates = run.apids() == Apid.CAMERA
        if not candidates.any():
            return None
        tm = tm_run_columns(run)
        candidates &= tm.valid & (tm.service == SERVICE_IMAGE) & (tm.subtype == SUBTYPE_IMAGE_SEGMENT)
        return (candidates, tm) if candidates.any() else None

    def _place_segments(self, run: PacketRun, tm: TmRunColumns, start: int, stop: int) -> int:
        """Place the leading segments of ``run[start:stop]`` that continue the APID's sequence
        count and that the reassembler takes; book them as :meth:`handle_packet` would."""
        apid = Apid.CAMERA
        window = PacketRun(run.rows[start:stop])
        counts = window.sequence_counts().astype(np.int64)
        previous = self._last_count.get(apid)
        gaps = sequence_gap(counts[:-1], counts[1:])
        follows = np.concatenate(
            ([previous is None or sequence_gap(previous, int(counts[0])) == 0], gaps == 0)
        )
        broken = np.flatnonzero(~follows)
        following = int(broken[0]) if broken.size else len(counts)
        if not following:
            return 0
        payloads = window.rows[:following, TM_PAYLOAD_OFFSET : run.packet_length - PEC_LENGTH]
        flags = window.sequence_flags()[:following].astype(np.int64)
        taken, done = self.reassembler.add_segment_run(
            flags, SegmentColumns.from_payloads(payloads), self.origin
        )
        if not taken:
            return 0
        self.packets_by_apid[apid] += taken
        seconds = tm.seconds[start : start + taken]
        first, last = float(seconds.min()), float(seconds.max())
        span = self._time_span.setdefault(apid, [first, last])
        span[0], span[1] = min(span[0], first), max(span[1], last)
        self._last_count[apid] = int(counts[taken - 1])
        if done is not None:
            self._write(done)
        return taken

    def handle_packet(self, packet: SpacePacket) -> None:
        apid = packet.apid
        self.packets_by_apid[apid] += 1
        if self.packet_sink is not None:
            self.packet_sink(packet)
        if apid == Apid.IDLE:
            return
        self._note_time(apid, packet)
        previous = self._last_count.get(apid)
        if previous is not None and (gap := sequence_gap(previous, packet.sequence_count)):
            self.packet_gaps_by_apid[apid] += gap
            self.faults.record("packet sequence gap", f"{apid_name(apid)}: {gap} missing")
        self._last_count[apid] = packet.sequence_count
        if apid == Apid.CAMERA:
            self._handle_camera(packet)
        elif apid == Apid.CFDP:
            self.files.handle(packet.data)
        elif apid == Apid.PLATFORM:
            self._handle_platform(packet)
        else:
            self.faults.record("unknown APID", apid_name(apid))

    def _note_time(self, apid: int, packet: SpacePacket) -> None:
        """First and last on-board time per APID, from the PUS-C time field when it is there."""
        data = packet.data
        if not packet.secondary_header_flag or len(data) < 14 or data[7] != CUC_PFIELD_4_2:
            return
        seconds = int.from_bytes(data[8:12], "big") + int.from_bytes(data[12:14], "big") / 65536.0
        span = self._time_span.get(apid)
        if span is None:
            self._time_span[apid] = [seconds, seconds]
        else:
            span[0] = min(span[0], seconds)
            span[1] = max(span[1], seconds)

    def _handle_platform(self, packet: SpacePacket) -> None:
        """Housekeeping, events and verification, decoded through the mission database."""
        before = sum(self.telemetry.undecodable.values())
        self.telemetry.process(packet.pack(), time.time())
        if sum(self.telemetry.undecodable.values()) > before:
            self.faults.record("bad platform packet", f"sequence count {packet.sequence_count}")

    def _on_alarm(self, alarm: Alarm) -> None:
        line = (
            f"{_tai_iso(alarm.time)} ALARM {alarm.parameter} {alarm.previous} -> {alarm.current} "
            f"(value {alarm.value:g})"
        )
        log.warning(line)
        self._write_log_line(line)

    def _on_event(self, event: EventRecord) -> None:
        values = ", ".join(f"{k}={v}" for k, v in event.values.items())
        line = f"{_tai_iso(event.time)} EVENT {event.severity.upper()} {event.name} {values}".rstrip()
        log.info(line)
        self._write_log_line(line)

    def _on_verification(self, report: VerificationReport, tai: float) -> None:
        if report.success:
            outcome = "ok"
        else:
            code = report.failure_code
            name = FailureCode(code).name if code in FailureCode._value2member_map_ else str(code)
            outcome = f"FAILED {name}"
        rid = report.request_id
        request = f"TC APID {rid.apid} count {rid.sequence_count}"
        line = f"{_tai_iso(tai)} VERIFY {report.stage} {outcome} ({request})"
        if not report.success:
            log.warning(line)
        self._write_log_line(line)

    def _write_log_line(self, line: str) -> None:
        append_line(self.out_dir / "events.log", line)  # one write() a line: whole lines, even if killed

    def _handle_camera(self, packet: SpacePacket) -> None:
        try:
            header, payload = unpack_tm_packet(packet)
            if header.service != SERVICE_IMAGE:
                self.faults.record("unknown camera service", f"{header.service},{header.subtype}")
                return
            if header.subtype == SUBTYPE_IMAGE_HEADER:
                for image in self.reassembler.add_header(ImageHeader.unpack(payload), self.origin):
                    self._write(image)
            elif header.subtype == SUBTYPE_IMAGE_SEGMENT:
                segment = ImageSegment.unpack(payload)
                done = self.reassembler.add_segment(packet.sequence_flags, segment, self.origin)
                for image in self.reassembler.take_evicted():  # made room for the image confirmed
                    self._write(image)
                if done is not None:
                    self._write(done)
            else:
                self.faults.record("unknown camera service", f"{header.service},{header.subtype}")
        except DecodeError as exc:
            self.faults.record("bad camera packet", str(exc))

    # -- products ----------------------------------------------------------------------------
    def _write(self, image: ReassembledImage, delivery: dict | None = None) -> None:
        h = image.header
        dtype = np.dtype(">u2") if h.bit_depth > 8 else np.dtype("u1")
        pixels = (
            np.frombuffer(image.pixels, dtype=dtype)
            .reshape(h.height, h.width)
            .astype(dtype.newbyteorder("="))
        )
        try:
            metadata = ImageMetadata.from_map(h.metadata)
        except DecodeError as exc:  # the pixels are still good: products without the probe's truth
            self.faults.record("bad image metadata", f"image {h.image_id}: {exc.reason}")
            metadata = ImageMetadata()
        stem = self._unique_stem(product_stem(metadata.scenario, h.image_id, partial=not image.complete))
        measurement: dict = {}
        try:
            if self.write_products:
                measurement = measure_bodies(pixels, metadata)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
            self.faults.record("bad image metadata", f"image {h.image_id}: {exc!r}")
        truth = {
            **metadata.to_map(),
            "received": {
                "complete": image.complete,
                "crc32_ok": image.crc_ok,
                "missing_ranges": image.missing,
                "exposure_us": h.exposure_us,
                "capture_time_utc": h.capture_time.to_utc().isoformat(),
                "bit_depth": h.bit_depth,
            },
            "measured": measurement,
        }
        missing = missing_pixels(image.missing, h.width, h.height, h.bit_depth) if image.missing else None
        try:
            files = (
                write_image_products(pixels, h.bit_depth, truth, self.out_dir, stem, missing)
                if self.write_products
                else {}
            )
        except (OSError, ValueError, TypeError) as exc:
            self.faults.record("image products not written", f"image {h.image_id}: {exc!r}")
            files = {}
        product = ImageProduct(
            image_id=h.image_id,
            complete=image.complete,
            crc_ok=image.crc_ok,
            width=h.width,
            height=h.height,
            bit_depth=h.bit_depth,
            missing_octets=sum(end - start for start, end in image.missing),
            sha256=hashlib.sha256(image.pixels).hexdigest(),
            files={k: str(v) for k, v in files.items()},
            measurement=measurement,
            onboard_sha256=metadata.onboard_pixels_sha256,
            delivery=delivery or {"method": "image packets (PUS 128)"},
        )
        self.products.append(product)
        if image.complete and not image.crc_ok:
            self.faults.record("image CRC mismatch", f"image {h.image_id}")
        log.info(
            "image %d %s: %dx%d %d-bit, sha256 %s… → %s",
            h.image_id,
            "complete" if image.complete else f"INCOMPLETE ({product.missing_octets} octets missing)",
            h.width,
            h.height,
            h.bit_depth,
            product.sha256[:12],
            files.get("quicklook"),
        )

    def _unique_stem(self, stem: str) -> str:
        """``stem``, or ``stem-2``, ``-3``… when an image of this pass was already written under it
        (a restarted probe numbers its images from 1 again)."""
        unique, number = stem, 1
        while unique in self._stems:
            number += 1
            unique = f"{stem}-{number}"
        self._stems.add(unique)
        return unique

    @property
    def images_done(self) -> int:
        return len(self.products)

    @property
    def finished(self) -> bool:
        return self.expect_images is not None and self.images_done >= self.expect_images

    # -- summary -----------------------------------------------------------------------------
    def summary(self) -> dict:
        return {
            "elapsed_s": round(time.time() - self.started, 3),
            "octets_received": self.octets_received,
            "transport": {
                "messages_received": self.transport.received,
                "messages_lost": self.transport.lost,
                "sequence_discontinuities": self.transport.discontinuities,
                "sessions": self.transport.sessions,
                "messages_refused": self.messages_refused,
            },
            "link": {
                "channel": _channel_summary(self.channel),
                "cadu": self.link.counters_dict(),
                "frames": {
                    "virtual": {v: c.as_dict() for v, c in sorted(self.frames.vc_counters.items())},
                },
            },
            "packets_by_apid": {apid_name(a): n for a, n in sorted(self.packets_by_apid.items())},
            "packet_sequence_gaps_by_apid": {
                apid_name(a): n for a, n in sorted(self.packet_gaps_by_apid.items())
            },
            "packet_time_span_by_apid": {
                apid_name(a): [tai_seconds_to_utc(t).isoformat() for t in span]
                for a, span in sorted(self._time_span.items())
            },
            "telemetry": {
                "counters": dict(self.telemetry.counters),
                "undecodable": dict(self.telemetry.undecodable),
                "alarms": len(self.telemetry.alarms),
                "events": len(self.telemetry.event_log),
                "latest": {k: _plain(v) for k, v in sorted(self.telemetry.latest.items())},
                "limit_levels": dict(sorted(self.telemetry.limits.levels.items())),
            },
            "cfdp": {**self.files.summary(), "replies_sent": self._uplink_count},
            "image_reassembly": {
                **self.reassembler.counters.as_dict(),
                "rejections": self.reassembler.rejections,
            },
            "faults": self.faults.as_dict(),
            "images": [{**p.__dict__, "identical_to_onboard": p.identical_to_onboard} for p in self.products],
        }

    def finish(self) -> dict:
        """End of pass: flush incomplete images, write summary.json and report.md."""
        try:
            self._flush_everything()
        except Exception as exc:  # whatever happened, the pass still ends with its summary
            log.exception("internal error while flushing at the end of the pass")
            self.faults.record("internal error", repr(exc))
        summary = self.summary()
        write_atomically(self.out_dir / "summary.json", json.dumps(summary, indent=2, default=repr) + "\n")
        write_atomically(self.out_dir / "report.md", render_report(summary))
        return summary

    def _flush_everything(self) -> None:
        self._report_packet_units(self._packet_file.close())
        for receiver in (self.link, self.frames):
            report = receiver.close()
            self._handle_link_outputs(report.outputs)
        for image in self.reassembler.flush():
            self._write(image)


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

    def __init__(self, station: GroundStation) -> None:
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


def _tai_iso(tai: float) -> str:
    try:
        return tai_seconds_to_utc(tai).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError):
        return f"TAI {tai:.3f}"


def _plain(value: object) -> object:
    """Engineering values as JSON types (enumerations arrive as strings, numbers as numbers)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _channel_summary(config: PhysicalChannelConfig) -> dict:
    return {
        "frame_type": str(config.frame_type),
        "frame_length": config.frame_length,
        "rs_e": config.rs_e,
        "rs_interleave": config.rs_interleave,
        "dual_basis": config.dual_basis,
        "randomizer": config.randomizer,
        "cadu_length": config.cadu_length,
    }


def render_report(summary: dict) -> str:
    """A short human report of a pass."""
    lines = ["# paleblue ground station report", ""]
    t = summary["transport"]
    lines.append(
        f"Received {t['messages_received']} messages ({summary['octets_received']} octets), "
        f"{t['messages_lost']} lost in transport, in {summary['elapsed_s']} s."
    )
    lines += [
        "",
        "## Images",
        "",
        "| id | size | complete | CRC | sha256 | quick-look |",
        "|---|---|---|---|---|---|",
    ]
    for p in summary["images"]:
        lines.append(
            f"| {p['image_id']} | {p['width']}x{p['height']} {p['bit_depth']}-bit | {p['complete']} | "
            f"{'ok' if p['crc_ok'] else 'FAIL'} | `{p['sha256'][:16]}` | "
            f"{Path(p['files'].get('quicklook', '')).name} |"
        )
    lines += ["", "## Optical navigation (measured against truth, pixels)", ""]
    for p in summary["images"]:
        for body, m in sorted(p["measurement"].items()):
            if "error_px" in m:
                line = (
                    f"- image {p['image_id']} {body}: centroid ({m['u']:.2f}, {m['v']:.2f}), "
                    f"error {m['error_px']:.2f} px, lit pixels {m['lit_pixels']}"
                )
                if "limb" in m:
                    limb, truth_radius = m["limb"], m["truth_radius_px"]
                    line += (
                        f"; lit-limb centre ({limb['u']:.2f}, {limb['v']:.2f}), "
                        f"error {limb['error_px']:.2f} px, radius {limb['radius_px']:.2f} px "
                        f"(truth {truth_radius:.2f}) from {limb['points']} limb points"
                    )
                if "horizon" in m:
                    horizon = m["horizon"]
                    line += (
                        f"; horizon-fix centre ({horizon['u']:.2f}, {horizon['v']:.2f}), "
                        f"error {horizon['error_px']:.2f} px"
                    )
                    if "range_km" in horizon:
                        line += f", range {horizon['range_km']:,.0f} km"
                        if "range_error_percent" in horizon:
                            line += f" ({horizon['range_error_percent']:+.2f} % from truth)"
                lines.append(line)
    physical = summary["link"]["cadu"]["physical"]
    if physical["cadus"]:
        channel = summary["link"]["channel"]
        lines += [
            "",
            "## Space link",
            "",
            f"{channel['frame_type'].upper()} frames of {channel['frame_length']} octets, "
            f"RS E={channel['rs_e']} I={channel['rs_interleave']}: "
            f"{physical['cadus']} CADUs, {physical['frames_good']} frames good, "
            f"{physical['frames_corrected']} corrected ({physical['symbols_corrected']} symbols), "
            f"{physical['uncorrectable']} uncorrectable, {physical['crc_failures']} CRC failures, "
            f"{physical['sync_losses']} sync losses, {physical['idle_frames']} idle frames.",
        ]
    telemetry = summary["telemetry"]
    if telemetry["latest"]:
        lines += [
            "",
            "## Housekeeping (latest engineering values; limit level 0 nominal, 1 yellow, 2 red)",
            "",
            f"{telemetry['counters'].get('housekeeping', 0)} housekeeping reports, "
            f"{telemetry['events']} events, {telemetry['alarms']} alarm transitions (see events.log).",
            "",
        ]
        levels = telemetry["limit_levels"]
        lines += [
            f"- {name}: {value}" + (f" (limit level {levels[name]})" if levels.get(name) else "")
            for name, value in telemetry["latest"].items()
        ]
    lines += ["", "## Packets by APID", ""]
    lines += [f"- {k}: {v}" for k, v in summary["packets_by_apid"].items()]
    lines += ["", "## Faults", ""]
    lines += [f"- {k}: {v}" for k, v in summary["faults"].items()] or ["- none"]
    return "\n".join(lines) + "\n"
