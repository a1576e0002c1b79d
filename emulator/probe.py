"""The probe process: flight software, camera and transmitter around one loop.

Order of work: load the scenario, bind the downlink and the uplink (so a busy
endpoint fails at once), capture its first and last images, and wait for a ground
station to subscribe (so start-up order does not matter). Images are rendered and
packetized as the payload channel drains (``FEED_BELOW_OCTETS`` ahead of the link),
so a scenario of any number of images runs in bounded memory; on board, an image
sent is kept as a recipe (its commanded exposure, first sequence count and time
stamp) from which DOWNLINK_IMAGE makes the same packets again. Then, until stopped: take
telecommands from the uplink and hand them to the flight software, keep the
downlink busy — real-time packets first, then image data, then idle frames, at
the link's bit rate (an idle link sends a few idle frames a second and counts the
rest: see :mod:`emulator.space_link`) — and tick the flight software about once a second
(housekeeping, events) after each batch, so housekeeping counts what went out.

A colour camera's capture is one image per band (``render.render_bands``), each with its own
image id and metadata ``capture`` (the capture id shared by the bands, the band's index, the band
list), downlinked like any image by image packets or by CFDP. TAKE_IMAGE and DOWNLINK_IMAGE number
captures; the bands of capture n are images (n - 1)·B + 1 … n·B (:meth:`Probe.band_image_id`), so a
panchromatic camera's capture n is image n. Every image stays on board (the scenario's memory
bound counts band frames: ``emulator.scenario.MAX_SEQUENCE_PIXELS``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import logging
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emulator.attitude import dcm_to_quat
from emulator.downlink import Downlink
from emulator.file_delivery import ImageFileSender
from emulator.flight_software import FlightSoftware, ImageRequest, LinkStatus
from emulator.geometry import compute_geometry, probe_velocity_km_s
from emulator.imaging import image_packets, pixel_bytes
from emulator.link_simulator import LinkConfig, LinkProfile, LinkSimulator, Pass
from emulator.platform_model import ScenarioSnapshot
from emulator.render import RenderedFrame, capture_bands, render_bands, render_scenario
from emulator.scenario import Scenario
from emulator.space_link import (
    DEFAULT_RATE_BPS,
    VC_PAYLOAD,
    VC_REALTIME,
    CaduDownlink,
    PacketDownlink,
    StationFanout,
)
from emulator.station_links import StationLinks
from emulator.station_plan import StationPlan
from emulator.tc_reception import FarmStatus, Rejection, Sequenced, TcReception
from emulator.uplink import Uplink
from protocols.atomic_file import write_atomically
from protocols.capture.zmq_framing import Layer
from protocols.cfdp import TransactionState, TransmissionMode
from protocols.errors import DecodeError
from protocols.image.image_file import Compression, pack_image_file
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_transport import DEFAULT_SEGMENT_OCTETS, ImageHeader
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import MissionDatabase, load_mission_db
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SequenceCounter, SpacePacket, peek_header
from protocols.packets.time_code import CucTime, utc_to_tai_seconds
from protocols.sdls import SecurityContext
from protocols.sdls.downlink import DownlinkSecurity
from protocols.sdls.keystore import LEASE, save_arsn

log = logging.getLogger("paleblue.probe")

TICK_PERIOD_S = 1.0


@dataclass(frozen=True)
class CapturedImage:
    """An image ready to leave: its header, pixel bytes and the packets that carry it."""

    header: ImageHeader
    pixels: bytes
    packets: list[bytes]


@dataclass(frozen=True)
class OnboardImage:
    """What the probe keeps of an image it has packetized: enough to make the same packets again
    (rendering is seeded, so the same image, counts and time stamp give the same bytes)."""

    exposure_s: float | None  # the commanded exposure (None: automatic)
    first_count: int  # the camera APID's sequence count of its header packet
    time: CucTime  # the packets' time stamp


@dataclass
class PendingCapture:
    """A capture (every band) waiting for room on the payload channel; rendered (if not yet) and
    packetized only when the link has drained what went before, so the probe holds a few images,
    not all."""

    capture: int
    exposure_s: float | None = None
    frames: list[RenderedFrame] | None = None  # rendered already, one a band (a commanded capture
    # reports its exposure)
    time: CucTime | None = None  # the packets' time stamp (None: on-board time when packetized)


# The payload channel is topped up to this many octets before each batch of CADUs: two 1024x1024
# 10-bit images, 1.6 s of a 20 Mbit/s link, far more than a batch takes, so the channel never runs
# dry between images (the frames are those of a probe that queued everything at start).
FEED_BELOW_OCTETS = 4 * 1024 * 1024


def packet_count(frame: RenderedFrame, segment_octets: int) -> int:
    """Packets of one image: its header packet and one per segment."""
    octets = frame.pixels.size * (2 if frame.bit_depth > 8 else 1)
    return 1 + -(-octets // segment_octets)


@dataclass
class ProbeOptions:
    downlink: str
    uplink: str | None = None
    seed: int | None = None
    segment_octets: int = DEFAULT_SEGMENT_OCTETS
    exit_after_downlink: bool = False
    channel: PhysicalChannelConfig | None = field(default_factory=preset)  # None: bare packets
    rate_bps: float = DEFAULT_RATE_BPS
    bit_error_rate: float = 0.0
    delivery: str = "packets"  # "packets": PUS service 128 segments; "cfdp": files by CFDP
    cfdp_class: int = 2
    compression: Compression = Compression.NONE  # for CFDP files: CCSDS 121 lossless, or none
    link_profile: LinkProfile | None = None  # simulated deep-space link (light time, loss, passes)
    time_scale: float = 1.0
    subscribers: int = 1  # downlink subscribers to wait for before sending (a station plus taps)
    security: SecurityContext | None = None  # SDLS on the TC uplink (None: unauthenticated, as before)
    security_dir: Path | None = None  # where the accepted ARSNs are kept between runs
    link_tally: Path | None = None  # with a link profile: the simulator's tally is written here at the end
    # SDLS on the downlink's channels (None, or no SA for the channel's frames: in clear, as before);
    # its ARSNs are saved in security_dir (role "probe-downlink") every keystore.LEASE frames
    downlink_security: SecurityContext | None = None
    # several ground stations, each on its own downlink endpoint over its own simulated link
    station_downlinks: tuple[str, ...] = ()
    # each station's link (loss, BER, bursts, light time, passes), as many as station_downlinks;
    # empty: every station's link perfect
    station_links: tuple[LinkConfig, ...] = ()
    drop_log: Path | None = None  # where the units each station lost are written at the end


def json_ready(value: object) -> object:
    """Truth metadata as plain JSON types (numpy scalars and arrays become numbers and lists)."""

    def convert(o: object) -> object:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    return json.loads(json.dumps(value, default=convert))


class Probe:
    def __init__(self, scenario: Scenario, options: ProbeOptions, mdb: MissionDatabase | None = None) -> None:
        self.scenario = scenario
        self.options = options
        self.mdb = mdb or load_mission_db()
        self.sequence = SequenceCounter()
        self._epoch_tai = utc_to_tai_seconds(scenario.epoch_utc)
        self._start_monotonic = time.monotonic()
        # A capture (what TAKE_IMAGE and DOWNLINK_IMAGE number) is one image per band
        # (band_image_id); a panchromatic camera's capture n is image n.
        self.bands = capture_bands(scenario)
        self.captures: dict[int, tuple[int, ...]] = {}  # capture number -> its image ids, once packetized
        self.images: dict[int, OnboardImage] = {}  # packetized, kept (as a recipe) for DOWNLINK_IMAGE
        self._pending: deque[PendingCapture] = deque()  # captured, waiting for room on the link
        self._pending_packets = 0  # packets the waiting captures will make (housekeeping's queue depth)
        self._packets_per_capture = 0  # of the scenario's frames, for those not rendered yet
        self._first_pixel_octets = 0
        self._link: CaduDownlink | PacketDownlink | None = None
        self._files: ImageFileSender | None = None
        self._uplink_sim: LinkSimulator | None = None
        self._uplink_in_flight: list[tuple[float, int, Layer, bytes]] = []
        self._snapshot = self._scenario_snapshot()
        state_dir = options.security_dir
        self.tc_reception = TcReception(
            self.mdb.spacecraft_id, self.mdb.tc_virtual_channel, options.security,
            on_accept=(lambda ctx: save_arsn(state_dir, "probe", ctx)) if state_dir is not None else None,
            clock=time.monotonic, on_farm_status=self._farm_status,
        )  # fmt: skip
        self.fsw = FlightSoftware(
            self.mdb,
            scenario_info=lambda _tai: self._snapshot,
            clock=self.onboard_tai,
            on_take_image=self._take_images,
            link_status=self._link_status,
            on_downlink_image=self._queue_image,
            security_status=self.tc_reception.status,
            sa_management=self.tc_reception.manage,
        )
        self.fsw.platform.quaternion = self._scene_attitude()

    # -- on-board services -----------------------------------------------------------------
    def onboard_tai(self) -> float:
        """On-board time, from the scenario's epoch.

        With transfer frames it is counted by the frame clock (frame times x CADU duration at the
        link rate: CADUs sent, and the frame times an idle link passed without making one), so a
        seeded run produces the same bytes every time; without frames it runs in real time.
        """
        link = self._link
        if link is None and self.options.channel is not None:
            return self._epoch_tai  # the frame clock has not started yet
        if isinstance(link, CaduDownlink):
            frame_s = link.config.cadu_length * 8 / link.rate_bps
            return self._epoch_tai + link.transmitter.frame_times * frame_s
        return self._epoch_tai + (time.monotonic() - self._start_monotonic)

    def _scenario_snapshot(self) -> ScenarioSnapshot:
        geometry = compute_geometry(self.scenario)
        position = tuple(float(x) for x in geometry.probe_position_km)
        velocity = tuple(float(x) for x in probe_velocity_km_s(self.scenario))
        return ScenarioSnapshot(
            position_km=position,  # type: ignore[arg-type]
            velocity_km_s=velocity,  # type: ignore[arg-type]
            earth_distance_km=float(np.linalg.norm(geometry.probe_position_km)),
            moon_distance_km=geometry.body("moon").range_km,
        )

    def _scene_attitude(self) -> np.ndarray:
        """The camera's pointing in the scene as the housekeeping quaternion: inertial to body (the
        body frame is the camera's), so ``quat_to_dcm(q)`` maps ICRF coordinates to camera ones."""
        q = dcm_to_quat(compute_geometry(self.scenario).cam_to_icrf.T)
        return q if q[0] >= 0 else -q

    def _link_status(self) -> LinkStatus:
        if isinstance(self._link, CaduDownlink):
            counters = self._link.transmitter.counters
            queue_depth = self._link.pending_packets() + self._pending_packets
            return LinkStatus(frames_sent=counters.cadus, queue_depth=queue_depth)
        if isinstance(self._link, PacketDownlink):
            queue_depth = self._link.pending_packets() + self._pending_packets
            return LinkStatus(frames_sent=self._link.packets_sent, queue_depth=queue_depth)
        return LinkStatus()

    def band_image_id(self, capture: int, band_index: int) -> int:
        """The image id of band ``band_index`` of capture ``capture`` (both from the start: 1, 0):
        the bands of capture n are images (n - 1)·B + 1 … n·B, B bands a capture."""
        return (capture - 1) * len(self.bands) + band_index + 1

    def _capture(self, capture: int, exposure_s: float | None = None) -> list[RenderedFrame]:
        """Capture ``capture`` (1, 2, …): one frame per band, each band's own exposure."""
        scenario = self.scenario
        if exposure_s is not None:
            scenario = dataclasses.replace(scenario, sensor={**scenario.sensor, "exposure_s": exposure_s})
        index = capture - 1
        seed = self.options.seed
        if index >= scenario.image_count:
            # a commanded image beyond the scenario's sequence: the last geometry, fresh noise
            seed = (scenario.seed if seed is None else seed) + index
            index = scenario.image_count - 1
        if len(self.bands) == 1:
            frames = [render_scenario(scenario, seed=seed, image_index=index)]
        else:
            capture_id = f"{scenario.name}-capture-{capture:03d}"
            bands = render_bands(scenario, seed=seed, image_index=index, capture_id=capture_id)
            frames = list(bands.values())
        for frame in frames:
            frame.expected_electrons = None  # only the counts go on board
        return frames

    def _packetize(
        self,
        capture: int,
        frames: list[RenderedFrame],
        exposure_s: float | None = None,
        now: CucTime | None = None,
    ) -> list[tuple[int, CapturedImage]]:
        """Each band of a fresh capture becomes an image on board, with its own id and packets
        (numbered on from the camera's count), kept as a recipe; returns (image id, packets)."""
        now = CucTime.from_seconds(self.onboard_tai()) if now is None else now
        out = []
        for band_index, frame in enumerate(frames):
            image_id = self.band_image_id(capture, band_index)
            record = OnboardImage(exposure_s, self.sequence.peek(Apid.CAMERA), now)
            image = self._packets_of(image_id, frame, self.sequence, now, capture, len(frames))
            out.append((image_id, image))
            self.images[image_id] = record
        self.captures[capture] = tuple(image_id for image_id, _ in out)
        return out

    def _packets_of(
        self,
        image_id: int,
        frame: RenderedFrame,
        sequence: SequenceCounter,
        now: CucTime,
        capture: int,
        bands: int,
    ) -> CapturedImage:
        pixels = pixel_bytes(frame.pixels, frame.bit_depth)
        metadata = downlink_metadata(frame, self.scenario.name, image_id, pixels)
        header, packets = image_packets(
            image_id,
            frame.pixels,
            frame.bit_depth,
            frame.exposure_s,
            frame.capture_time_utc,
            metadata,
            sequence,
            now,
            self.options.segment_octets,
        )
        band = f" (capture {capture}, band {frame.band})" if bands > 1 else ""
        log.info(
            "image %d captured%s: %dx%d, %d bit, exposure %.3g s, %d packets, crc32 %08x",
            image_id, band, header.width, header.height, header.bit_depth, frame.exposure_s,
            len(packets), header.crc32,
        )  # fmt: skip
        return CapturedImage(header, pixels, packets)

    def _stored(self, capture: int) -> list[tuple[int, CapturedImage]]:
        """A capture packetized before, made again to the byte: same rendering, counts and time
        (rendered once for all its bands)."""
        ids = self.captures[capture]
        records = [self.images[image_id] for image_id in ids]
        frames = self._capture(capture, records[0].exposure_s)
        out = []
        for image_id, record, frame in zip(ids, records, frames, strict=True):
            sequence = SequenceCounter({Apid.CAMERA: record.first_count})
            image = self._packets_of(image_id, frame, sequence, record.time, capture, len(ids))
            out.append((image_id, image))
        return out

    def _take_images(self, request: ImageRequest) -> list[float]:
        """TAKE_IMAGE: capture each image (every band), queue it for downlink, report the exposures
        used (a colour capture's first band's)."""
        exposures = []
        for capture in request.image_ids:
            frames = self._capture(capture, request.exposure_s)
            if self._files is not None:
                for image_id, image in self._packetize(capture, frames, request.exposure_s):
                    self._send_file(image_id, image)
            else:
                self._wait_for_link(PendingCapture(capture, request.exposure_s, frames))
            exposures.append(frames[0].exposure_s)
        return exposures

    def _wait_for_link(self, pending: PendingCapture) -> None:
        if not self._packets_per_capture and pending.frames is not None:
            self._packets_per_capture = self._planned_packets(pending)
        self._pending.append(pending)
        self._pending_packets += self._planned_packets(pending)

    def _planned_packets(self, pending: PendingCapture) -> int:
        if pending.frames is not None:
            return sum(packet_count(frame, self.options.segment_octets) for frame in pending.frames)
        return self._packets_per_capture

    def _feed(self, link: CaduDownlink | PacketDownlink) -> None:
        """Packetize waiting captures while the payload channel holds less than FEED_BELOW_OCTETS."""
        while self._pending and link.payload_octets() < FEED_BELOW_OCTETS:
            pending = self._pending.popleft()
            self._pending_packets -= self._planned_packets(pending)
            capture = pending.capture
            if pending.frames is None and capture in self.captures:
                images = self._stored(capture)  # DOWNLINK_IMAGE of a capture sent before
            else:
                frames = pending.frames or self._capture(capture, pending.exposure_s)
                pending.frames = None
                images = self._packetize(capture, frames, pending.exposure_s, pending.time)
            for _, image in images:
                for packet in image.packets:
                    link.submit(VC_PAYLOAD, packet)

    def _queue_image(self, capture: int) -> None:
        """DOWNLINK_IMAGE of capture ``capture``: every band (and a capture's first downlink when
        images travel as CFDP files)."""
        if capture not in self.captures and not any(p.capture == capture for p in self._pending):
            raise KeyError(f"image {capture} is not on board")
        assert self._link is not None
        if self._files is None:
            self._wait_for_link(PendingCapture(capture))
            return
        for image_id, image in self._stored(capture):
            self._send_file(image_id, image)

    def _send_file(self, image_id: int, image: CapturedImage) -> None:
        """An image as a CFDP file (handed to the file sender whole, as before streaming)."""
        assert self._files is not None
        data = pack_image_file(image.header, image.pixels, self.options.compression)
        if self.options.compression != Compression.NONE:
            log.info(
                "image %d: CCSDS 121 compression %d -> %d octets (ratio %.2f)",
                image_id, len(image.pixels), len(data), len(image.pixels) / len(data),
            )  # fmt: skip
        self._files.put(image_id, data)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> int:
        scenario = self.scenario
        count = scenario.image_count
        # a seeded run is reproducible to the byte, its session number included
        session = None if self.options.seed is None else zlib.crc32(f"paleblue-{self.options.seed}".encode())
        # bind first: a busy or malformed endpoint fails at once, not after the images are rendered
        downlink = Downlink(self.options.downlink, session=session)
        uplink: Uplink | None = None
        self._station_downlinks: list[Downlink] = []
        try:
            for endpoint in self.options.station_downlinks:
                self._station_downlinks.append(Downlink(endpoint, session=session))
            uplink = Uplink(self.options.uplink) if self.options.uplink else None
            files = self.options.delivery == "cfdp"
            # Images as packets: the first and the last captures are rendered now (the link
            # schedule needs the first's size, housekeeping the last's exposure), the others as the
            # link drains. Images as CFDP files are all rendered and handed to the file sender at start.
            rendered = range(1, count + 1) if files else sorted({1, count} if count else ())
            log.info(
                "capturing %d image(s) of %s%s (%d rendered now)", count, scenario.name,
                f", {len(self.bands)} bands each ({', '.join(self.bands)}), one image a band"
                if len(self.bands) > 1 else "",
                len(rendered),
            )  # fmt: skip
            initial = {capture: self._capture(capture) for capture in rendered}
            if stop.is_set():
                return 0
            self.fsw.last_image_id = self.fsw.image_counter = count
            if initial:
                self.fsw.last_exposure_us = round(initial[count][0].exposure_s * 1e6)
                first = initial[1][0]
                self._first_pixel_octets = len(pixel_bytes(first.pixels, first.bit_depth))
                self._packets_per_capture = sum(
                    packet_count(frame, self.options.segment_octets) for frame in initial[1]
                )
            log.info(
                "downlink bound at %s%s; waiting for a ground station",
                self.options.downlink, f", uplink at {self.options.uplink}" if uplink else "",
            )  # fmt: skip
            if self._station_downlinks:  # each station on its own link
                if not all(d.wait_for_subscriber(stop) for d in self._station_downlinks):
                    return 0
            elif not downlink.wait_for_subscriber(stop, count=self.options.subscribers):
                return 0
            # the time stamp of every first capture: on-board time before the link starts
            now = CucTime.from_seconds(self.onboard_tai())
            if files:
                captured = [pair for c, f in initial.items() for pair in self._packetize(c, f, now=now)]
                del initial  # the frames live on as the packets handed to the file sender
                self._link = self._open_link(downlink)
                for image_id, image in captured:
                    self._send_file(image_id, image)
                del captured
            else:
                for capture in range(1, count + 1):
                    self._wait_for_link(PendingCapture(capture, frames=initial.pop(capture, None), time=now))
                self._link = self._open_link(downlink)
            return self._loop(stop, uplink)
        finally:
            self._write_link_tally()
            if uplink is not None:
                uplink.close()
            downlink.close()
            self._close_stations()

    def _close_stations(self) -> None:
        link = self._link
        stations = link.stations if isinstance(link, CaduDownlink) else None
        if stations is not None:
            stations.drain()
        if stations is not None and self.options.drop_log is not None:
            write_atomically(self.options.drop_log, json.dumps(stations.drop_log()) + "\n")
        for station in self._station_downlinks:
            station.close()

    def _write_link_tally(self) -> None:
        """The simulated downlink's counters, for the reconciliation with the ground's count."""
        path = self.options.link_tally
        link = self._link
        if path is None or not isinstance(link, CaduDownlink) or link.simulator is None:
            return
        write_atomically(path, link.simulator.tally().pack())
        log.info("link tally written to %s", path)

    def _open_link(self, downlink: Downlink) -> CaduDownlink | PacketDownlink:
        config = self.options.channel
        options = self.options
        if options.delivery == "cfdp":
            self._files = ImageFileSender(
                lambda packet: self._submit_payload(packet), self.sequence, self._round_trip_s(),
                TransmissionMode.ACKNOWLEDGED if options.cfdp_class == 2 else TransmissionMode.UNACKNOWLEDGED,
            )  # fmt: skip
        if config is None:
            log.info("downlink: bare space packets")
            return PacketDownlink(downlink)
        if options.station_downlinks:
            return self._open_station_links(downlink, config)
        if options.link_profile is not None:
            profile = self._schedule_passes(options.link_profile)
            seed = 0 if options.seed is None else options.seed
            self._uplink_sim = LinkSimulator(profile.uplink, seed + 1)
            log.info(
                "simulated link '%s': %.0f km (one-way %.2f s x %g), %.2f Mbit/s down, %.0f kbit/s up, "
                "loss %.0f %%, BER %g, passes %s",
                profile.name, profile.downlink.range_km, profile.downlink.one_way_light_time_s,
                options.time_scale,
                profile.downlink.data_rate_bps / 1e6, profile.uplink.data_rate_bps / 1e3,
                100 * profile.downlink.loss_probability, profile.downlink.bit_error_rate,
                [(p.start, p.end) for p in profile.downlink.passes] or "always",
            )  # fmt: skip
            return CaduDownlink(
                downlink, config, profile.downlink.data_rate_bps, options.bit_error_rate, options.seed,
                simulator=LinkSimulator(profile.downlink, seed), security=self._downlink_security(config),
            )  # fmt: skip
        log.info(
            "downlink: %s frames of %d octets, RS E=%d I=%d, %.1f Mbit/s%s",
            config.frame_type, config.frame_length, config.rs_e, config.rs_interleave,
            self.options.rate_bps / 1e6,
            f", injecting BER {self.options.bit_error_rate:g}" if self.options.bit_error_rate else "",
        )  # fmt: skip
        return CaduDownlink(
            downlink, config, self.options.rate_bps, self.options.bit_error_rate, self.options.seed,
            security=self._downlink_security(config),
        )  # fmt: skip

    def _downlink_security(self, config: PhysicalChannelConfig) -> DownlinkSecurity | None:
        context, state_dir = self.options.downlink_security, self.options.security_dir
        if context is None:
            return None
        on_save = None
        if state_dir is not None:
            on_save = lambda ctx: save_arsn(state_dir, "probe-downlink", ctx)  # noqa: E731
        security = DownlinkSecurity(context, config, on_save=on_save, save_every=LEASE)
        if security.vcids:
            log.info("downlink: SDLS on %s VCs %s", security.link, security.vcids)
        return security

    def _open_station_links(self, downlink: Downlink, config: PhysicalChannelConfig) -> CaduDownlink:
        """One probe, several stations: each over its own seeded link and socket."""
        options = self.options
        configs = options.station_links or StationPlan.uniform(len(self._station_downlinks), 0.0, 0.0).links
        links = StationLinks(configs, 0 if options.seed is None else options.seed)
        log.info(
            "downlink to %d stations: %s frames, each on its own seeded link",
            links.stations,
            config.frame_type,
        )
        for k, link in enumerate(configs, start=1):
            log.info(
                "station %d: loss %.0f %%, BER %g%s%s", k, 100 * link.loss_probability, link.bit_error_rate,
                ", bursts" if link.burst else "",
                f", passes {[(p.start, p.end) for p in link.passes]}" if link.passes else "",
            )  # fmt: skip
        fanout = StationFanout(self._station_downlinks, links, config)
        return CaduDownlink(downlink, config, options.rate_bps, 0.0, options.seed, stations=fanout)

    def _round_trip_s(self) -> float:
        """Round-trip light time the CFDP timers wait for, on the (scaled) clock the link runs on."""
        profile = self.options.link_profile
        if profile is None:
            return 0.2
        return 2 * profile.downlink.one_way_light_time_s * profile.downlink.time_scale

    def _schedule_passes(self, profile: LinkProfile) -> LinkProfile:
        """For the outage profile: the first pass ends halfway through the first image, the next
        begins after a gap of several round trips (both directions share the schedule)."""
        if profile.name != "outage" or not self._first_pixel_octets:
            return profile
        transfer_s = 8 * 1.2 * self._first_pixel_octets / profile.downlink.data_rate_bps
        end = transfer_s / 2
        gap = max(6.0, 3 * self._round_trip_s())
        passes = (Pass(0.0, end), Pass(end + gap, 1e9))
        return LinkProfile(
            profile.name,
            dataclasses.replace(profile.downlink, passes=passes),
            dataclasses.replace(profile.uplink, passes=passes),
        )

    def _submit_payload(self, packet: bytes) -> None:
        assert self._link is not None
        self._link.submit(VC_PAYLOAD, packet)

    def _receive_uplink(self, uplink: Uplink) -> None:
        """Telecommands and CFDP PDUs from the ground, through the simulated uplink when there is one."""
        arrived = uplink.receive()
        sim = self._uplink_sim
        if sim is None:
            for layer, payload in arrived:
                self._telecommand(layer, payload)
            return
        assert isinstance(self._link, CaduDownlink)
        now = self._link.link_time()
        for layer, payload in arrived:
            for delivery in sim.send(payload, now):
                heapq.heappush(
                    self._uplink_in_flight, (delivery.time, delivery.sequence, layer, delivery.unit)
                )
        while self._uplink_in_flight and self._uplink_in_flight[0][0] <= now:
            _, _, layer, unit = heapq.heappop(self._uplink_in_flight)
            self._telecommand(layer, unit)

    def _serve_files(self, link: CaduDownlink | PacketDownlink, was_in_view: bool) -> bool:
        """Poll the CFDP sender while the payload channel has room; suspend it outside passes."""
        files = self._files
        if files is None:
            return was_in_view
        in_view = not isinstance(link, CaduDownlink) or link.in_view()
        if in_view != was_in_view:
            (files.resume if in_view else files.suspend)()
            log.info(
                "pass %s: CFDP %s", "begins" if in_view else "ends", "resumed" if in_view else "suspended"
            )
        if in_view and link.pending_packets() < 64:
            files.poll(32)
        return in_view

    def _loop(self, stop: threading.Event, uplink: Uplink | None) -> int:
        link = self._link
        assert link is not None
        next_tick = self.onboard_tai()
        drained_reported = False
        in_view = True
        while not stop.is_set():
            if uplink is not None:
                self._receive_uplink(uplink)
            in_view = self._serve_files(link, in_view)
            self._feed(link)
            if not link.send_batch(stop):
                break
            waiting = link.has_pending() or bool(self._pending)
            if not waiting and not self._files_pending() and not drained_reported:
                drained_reported = True
                log.info("downlink queue empty: every queued image has been sent")
                if self.options.exit_after_downlink:
                    break
            elif waiting:
                drained_reported = False
            # after sending (FRAMES_SENT counts what went out) and after the drain check (a
            # housekeeping packet just made is not an image still to send)
            if self.onboard_tai() >= next_tick:
                next_tick += TICK_PERIOD_S
                for packet in self.fsw.tick(self.onboard_tai()):
                    link.submit(VC_REALTIME, packet)
        return 0

    def _files_pending(self) -> bool:
        """A CFDP transaction still running (sending, or waiting for the ground's Finished)."""
        if self._files is None:
            return False
        ended = (TransactionState.COMPLETED, TransactionState.CANCELLED)
        return any(sender.state not in ended for sender in self._files.files.values())

    def _farm_status(self, status: FarmStatus) -> None:
        """FARM-1 changed (COP-1): a FARM_STATUS event, beside the CLCW every frame carries."""
        if self._link is not None:
            event = self.fsw.report_event(
                "FARM_STATUS", status.cause, status.state.name, status.v_r, status.farm_b_counter
            )
            self._link.submit(VC_REALTIME, event)

    def _telecommand(self, layer: Layer, payload: bytes) -> None:
        """One uplinked unit: a CLTU (unwrapped to its TC packet, through SDLS when the SAs require
        it) or a bare TC packet; a refused unit is counted and evented, never executed."""
        assert self._link is not None
        received = self.tc_reception.receive(layer, payload)
        if isinstance(self._link, CaduDownlink):  # the FARM's report, in every frame's OCF from now on
            self._link.transmitter.set_clcw(self.tc_reception.farm.clcw())
        if isinstance(received, Sequenced):
            return
        if isinstance(received, Rejection):
            if received.evented:
                event = self.fsw.report_event("TC_FRAME_REJECTED", received.reason.name, received.spi)
                self._link.submit(VC_REALTIME, event)
            return
        payload = received
        header = peek_header(payload)
        if self._files is not None and len(payload) > 6 and header is not None and header.apid == Apid.CFDP:
            try:
                packet, _ = SpacePacket.unpack(payload)
            except DecodeError as exc:
                log.warning("uplink CFDP packet rejected: %s", exc)
                return
            self._files.handle(packet.data)
            return
        for packet in self.fsw.handle_telecommand(payload):
            self._link.submit(VC_REALTIME, packet)


# The image header travels in one space packet (image_transport.MAX_METADATA_OCTETS): a wide field
# holds thousands of catalogue stars, so the downlinked truth keeps the brightest (about 130 octets
# each) and says how many there were.  The renderer's full list stays with the rendered frame.
DOWNLINK_STARS = 200


def downlink_truth(frame: RenderedFrame, scenario: str, image_id: int, pixels: bytes) -> dict:
    """The frame's truth as plain JSON types, with the brightest ``DOWNLINK_STARS`` stars."""
    stars = frame.truth.get("stars", [])
    return json_ready(
        {
            **frame.truth,
            "stars": stars[:DOWNLINK_STARS],
            "stars_in_field": len(stars),
            "scenario": scenario,
            "image_id": image_id,
            "onboard_pixels_sha256": hashlib.sha256(pixels).hexdigest(),
        }
    )


def downlink_metadata(frame: RenderedFrame, scenario: str, image_id: int, pixels: bytes) -> ImageMetadata:
    """The metadata the image header carries: :func:`downlink_truth` read through the declared
    contract, so the probe cannot send a map the ground would refuse (a renderer value out of
    contract stops here, naming its key)."""
    return ImageMetadata.from_map(downlink_truth(frame, scenario, image_id, pixels))
