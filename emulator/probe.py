"""The probe process: captures the scenario's images and downlinks them.

Order of work: load the scenario, render every image of it, bind the downlink
and wait for a ground station to subscribe (so start-up order does not matter),
downlink the images, then keep the on-board clock running until stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from emulator.downlink import Downlink
from emulator.imaging import image_packets
from emulator.render import render_scenario
from emulator.scenario import Scenario
from emulator.space_link import DEFAULT_RATE_BPS, VC_PAYLOAD, CaduDownlink
from protocols.channel_config import PhysicalChannelConfig, preset
from protocols.image_transport import DEFAULT_SEGMENT_OCTETS
from protocols.space_packet import SequenceCounter
from protocols.time_code import CucTime
from protocols.zmq_framing import Layer

log = logging.getLogger("paleblue.probe")


@dataclass
class ProbeOptions:
    downlink: str
    seed: int | None = None
    segment_octets: int = DEFAULT_SEGMENT_OCTETS
    exit_after_downlink: bool = False
    channel: PhysicalChannelConfig | None = field(default_factory=preset)  # None: bare packets
    rate_bps: float = DEFAULT_RATE_BPS
    bit_error_rate: float = 0.0


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
    def __init__(self, scenario: Scenario, options: ProbeOptions) -> None:
        self.scenario = scenario
        self.options = options
        self.sequence = SequenceCounter()
        self._start_monotonic = time.monotonic()
        self.images_downlinked = 0

    def onboard_time(self, epoch) -> CucTime:
        return CucTime.from_utc(epoch + timedelta(seconds=time.monotonic() - self._start_monotonic))

    def run(self, stop: threading.Event) -> int:
        scenario = self.scenario
        count = scenario.image_count
        log.info("rendering %d image(s) of %s", count, scenario.name)
        frames = [render_scenario(scenario, seed=self.options.seed, image_index=i) for i in range(count)]
        downlink = Downlink(self.options.downlink)
        try:
            log.info("downlink bound at %s; waiting for a ground station", self.options.downlink)
            if not downlink.wait_for_subscriber(stop):
                return 0
            if self.options.channel is None:
                return self._downlink_packets(downlink, frames, stop)
            return self._downlink_cadus(downlink, frames, stop)
        finally:
            downlink.close()

    def _image_packets(self, frames: list) -> list[list[bytes]]:
        scenario = self.scenario
        per_image = []
        for image_id, frame in enumerate(frames, start=1):
            truth = json_ready({**frame.truth, "scenario": scenario.name, "image_id": image_id})
            header, packets = image_packets(
                image_id,
                frame.pixels,
                frame.bit_depth,
                frame.exposure_s,
                frame.capture_time_utc,
                truth,
                self.sequence,
                self.onboard_time(frame.capture_time_utc),
                self.options.segment_octets,
            )
            log.info(
                "image %d queued: %dx%d, %d bit, %d packets, crc32 %08x",
                image_id,
                header.width,
                header.height,
                header.bit_depth,
                len(packets),
                header.crc32,
            )
            per_image.append(packets)
        return per_image

    def _downlink_packets(self, downlink: Downlink, frames: list, stop: threading.Event) -> int:
        """Bare space packets, one per message (no transfer frames)."""
        for packets in self._image_packets(frames):
            for packet in packets:
                if not downlink.send(Layer.PACKETS, packet, stop):
                    return 0
            self.images_downlinked += 1
        log.info("all %d image(s) downlinked (%d messages)", len(frames), downlink.sequence)
        if not self.options.exit_after_downlink:
            stop.wait()
        return 0

    def _downlink_cadus(self, downlink: Downlink, frames: list, stop: threading.Event) -> int:
        """Packets in transfer frames in CADUs; idle frames keep the frame clock running."""
        config = self.options.channel
        assert config is not None
        link = CaduDownlink(
            downlink, config, self.options.rate_bps, self.options.bit_error_rate, self.options.seed
        )
        for packets in self._image_packets(frames):
            for packet in packets:
                link.submit(VC_PAYLOAD, packet)
        log.info(
            "downlink: %s frames of %d octets, RS E=%d I=%d, %.1f Mbit/s%s",
            config.frame_type,
            config.frame_length,
            config.rs_e,
            config.rs_interleave,
            self.options.rate_bps / 1e6,
            f", injecting BER {self.options.bit_error_rate:g}" if self.options.bit_error_rate else "",
        )
        reported = False
        while not stop.is_set():
            if not link.send_batch(stop):
                break
            if not reported and not link.has_pending():
                reported = True
                self.images_downlinked = len(frames)
                log.info(
                    "all %d image(s) downlinked: %d CADUs, %d bits flipped by injected errors",
                    len(frames),
                    link.transmitter.counters.cadus,
                    link.bits_flipped,
                )
                if self.options.exit_after_downlink:
                    break
        return 0
