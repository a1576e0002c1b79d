"""Valid encodings, made by the real builders: seeds for the fuzzer and the stream fuzzer.

The packets are what the probe sends, built by the probe's own code: images by its image
packetizer (:func:`emulator.imaging.image_packets`), housekeeping from the mission database's
layouts packed as the flight software packs them, frames and CADUs by its transmitter
(:class:`emulator.transmitter.Transmitter`). A change to any of them changes the seeds with it,
so the fuzzers start from the bytes the ground really receives.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np

from emulator import imaging
from emulator.transmitter import Transmitter
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.image.image_metadata import (
    BodyTruth,
    BrownDistortion,
    CameraCalibration,
    ImageMetadata,
    PsfTruth,
    SensorTruth,
    StarTruth,
)
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.mdb.mission_db import FieldDef, MissionDatabase, load_mission_db
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime
from protocols.pus.pus_services import Service, Subtype, pack_hk_report, pack_tm

EPOCH = datetime(2020, 7, 23, 4, 41, tzinfo=UTC)  # a capture time for the seed images


@cache
def _mission_db() -> MissionDatabase:
    return load_mission_db()


def image_packets(
    image_id: int = 1,
    width: int = 8,
    height: int = 6,
    bit_depth: int = 12,
    segment_octets: int = 40,
    counter: SequenceCounter | None = None,
    seed: int = 0,
    metadata: Mapping | None = None,
) -> list[bytes]:
    """One small image as the probe sends it: a header packet and its data segment packets.

    The default metadata (:func:`image_metadata`) has what the station reads (scenario, camera,
    bodies, sensor), so that mutations of the msgpack reach its decoder and the measuring and
    product-writing code behind it; ``metadata`` sends another map as it is, hostile ones too.
    """
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 1 << bit_depth, size=(height, width), dtype=np.uint16)
    captured = EPOCH + timedelta(seconds=image_id)
    declared = image_metadata(width, height, bit_depth) if metadata is None else _MapAsIs(metadata)
    _, packets = imaging.image_packets(
        image_id,
        pixels,
        bit_depth,
        0.001,
        captured,
        declared,  # type: ignore[arg-type]
        counter or SequenceCounter(),
        CucTime.from_utc(captured),
        segment_octets,
    )
    return packets


@dataclass(frozen=True)
class _MapAsIs:
    """A metadata map sent as it is (not through :class:`ImageMetadata`): the fuzzers' hostile maps."""

    fields: Mapping

    def to_map(self) -> dict:
        return dict(self.fields)


def image_metadata(width: int = 8, height: int = 6, bit_depth: int = 12) -> ImageMetadata:
    """Metadata of a small image as the probe writes it: scenario, epoch, camera, a body, sensor, a star."""
    return ImageMetadata(
        scenario="fuzz",
        epoch_utc="2020-07-27T12:00:00.000Z",
        camera=CameraCalibration(
            cam_to_icrf_quaternion_wxyz=(1.0, 0.0, 0.0, 0.0),
            width_px=width,
            height_px=height,
            fx_px=40.0,
            fy_px=40.0,
            cx_px=(width - 1) / 2,
            cy_px=(height - 1) / 2,
            distortion=BrownDistortion(k1=-0.05),
        ),
        bodies={
            "earth": BodyTruth(
                centre_px=(width / 2, height / 2), in_frame=True, apparent_radius_px=2.0, range_km=1.2e6
            )
        },
        sensor=SensorTruth(
            band="pan", bit_depth=bit_depth, exposure_s=0.001, psf=PsfTruth("gaussian", 0.8, 0.0)
        ),
        stars=(
            StarTruth(hip=61941, v_mag=2.75, ra_deg=190.4, dec_deg=-1.45, pixel=(1.5, 2.5), expected_e=5.1),
        ),
        stars_in_field=1,
        image_id=1,
    )


def housekeeping_packets(
    count: int, counter: SequenceCounter | None = None, seed: int = 0, mdb: MissionDatabase | None = None
) -> list[bytes]:
    """Housekeeping reports (3,25) laid out by the mission database, each structure in turn, with
    random raw values every parameter can hold (enumerations take one of their states), packed as
    the flight software packs its reports (the layout's ``pack_raw``, ``pack_hk_report``,
    ``pack_tm``)."""
    mdb = mdb or _mission_db()
    counter = counter or SequenceCounter()
    rng = random.Random(seed)
    out = []
    for i in range(count):
        packet = mdb.packets[i % len(mdb.packets)]
        raw = [_random_raw(f, rng) for f in packet.layout.values]
        body = pack_hk_report(packet.structure_id, packet.layout.pack_raw(raw))
        time = CucTime(1_280_000_000 + i, 0)
        sequence = counter.next(packet.apid)
        service, subtype = Service.HOUSEKEEPING, Subtype.HK_REPORT
        out.append(pack_tm(packet.apid, sequence, service, subtype, time, body, i, mdb.destination_id))
    return out


def _random_raw(f: FieldDef, rng: random.Random) -> int | float:
    if f.kind == "float":
        return rng.uniform(-1e3, 1e3)
    if f.kind == "enum":
        return rng.choice(sorted(f.calibration.values.values()))  # type: ignore[attr-defined]
    low, high = f.raw_range
    return rng.randint(int(low), int(high))


def downlink_packets(images: int = 2, housekeeping_every: int = 3, seed: int = 0) -> list[bytes]:
    """A short pass: images with a housekeeping report after every ``housekeeping_every``-th packet."""
    counter = SequenceCounter()
    pictures = [image_packets(i, counter=counter, seed=seed + i) for i in range(1, images + 1)]
    every = housekeeping_every
    slots = sum(1 for picture in pictures for i in range(len(picture)) if every and i % every == 0)
    housekeeping = iter(housekeeping_packets(slots, counter, seed=seed))
    packets: list[bytes] = []
    for picture in pictures:
        for i, packet in enumerate(picture):
            packets.append(packet)
            if every and i % every == 0:
                packets.append(next(housekeeping))
    return packets


def group_into_messages(packets: Iterable[bytes], per_message: int = 3) -> list[bytes]:
    """Concatenate whole packets into message payloads, ``per_message`` packets each."""
    packets = list(packets)
    return [b"".join(packets[i : i + per_message]) for i in range(0, len(packets), per_message)]


def envelope_messages(
    payloads: Iterable[bytes], session: int = 0x5EED, layer: Layer = Layer.PACKETS
) -> list[list[bytes]]:
    """3-frame ZeroMQ messages (topic, envelope, payload) numbered from 0 in one session."""
    return [[TOPIC_DOWNLINK, Envelope(layer, session, n).pack(), p] for n, p in enumerate(payloads)]


def encode_parts(messages: Iterable[list[bytes]]) -> bytes:
    """Messages as one fuzzable byte string: per message a frame count octet, then u16-prefixed frames."""
    out = bytearray()
    for parts in messages:
        out.append(len(parts) & 0xFF)
        for frame in parts:
            out += len(frame[:0xFFFF]).to_bytes(2, "big") + frame[:0xFFFF]
    return bytes(out)


def decode_parts(data: bytes) -> list[list[bytes]]:
    """Inverse of :func:`encode_parts` that accepts any bytes (a short frame just ends early)."""
    messages: list[list[bytes]] = []
    pos = 0
    while pos < len(data):
        count = data[pos]
        pos += 1
        parts = []
        for _ in range(count):
            if pos >= len(data):
                break
            length = int.from_bytes(data[pos : pos + 2], "big")
            parts.append(bytes(data[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        messages.append(parts)
    return messages


def cadu_stream(
    config: PhysicalChannelConfig, packets: Iterable[bytes], vcid: int = 1, coded: bool = True
) -> bytes:
    """Packets on one virtual channel through the probe's transmitter: CADUs, or bare frames if not
    ``coded``; no idle frames after the last packet."""
    transmitter = Transmitter(config, {vcid: 0})
    for packet in packets:
        transmitter.submit(vcid, packet)
    if coded:
        return transmitter.drain()
    frames = bytearray()
    while transmitter.has_pending():
        frames += transmitter.next_frame()
    return bytes(frames)
