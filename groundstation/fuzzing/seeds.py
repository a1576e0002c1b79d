"""Valid encodings built from the protocol code alone: seeds for the fuzzer and the stream fuzzer.

The ground station may not import the emulator, so the packets are built here with
:mod:`protocols.image_transport` and :mod:`protocols.pus` directly, as the probe would;
housekeeping reports take their layouts from the mission database, as the flight software does.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import cache

from protocols.apids import Apid
from protocols.image_transport import (
    SERVICE_IMAGE,
    SUBTYPE_IMAGE_HEADER,
    SUBTYPE_IMAGE_SEGMENT,
    iter_segments,
    make_image_header,
)
from protocols.mission_db import FieldDef, MissionDatabase, load_mission_db
from protocols.pus import TmSecondaryHeader, pack_tm_packet
from protocols.pus_services import Service, Subtype, pack_hk_report
from protocols.space_packet import SequenceCounter, SequenceFlags
from protocols.time_code import CucTime
from protocols.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer


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
    metadata: dict | None = None,
) -> list[bytes]:
    """One small image as the probe sends it: a header packet and its data segment packets.

    The default metadata has the shapes the station reads (scenario, sensor, bodies), so that
    mutations of the msgpack reach the product-writing code with values of the wrong type.
    """
    counter = counter or SequenceCounter()
    rng = random.Random(seed)
    sample = 1 if bit_depth <= 8 else 2
    pixels = bytes(rng.getrandbits(8) for _ in range(width * height * sample))
    if sample == 2:  # keep samples within the bit depth, as a real camera would
        mask = (1 << (bit_depth - 8)) - 1
        pixels = bytes(b & mask if i % 2 == 0 else b for i, b in enumerate(pixels))
    time = CucTime(1_280_000_000 + image_id, 0x8000)
    truth = (
        metadata
        if metadata is not None
        else {
            "scenario": "fuzz",
            "sensor": {"exposure_s": 0.001},
            "exposure_s": 0.001,
            "bodies": {"earth": {"pixel_centre": [width / 2, height / 2], "radius_px": 2.0}},
        }
    )
    header = make_image_header(image_id, pixels, width, height, bit_depth, 1000, time, truth, segment_octets)
    packets = [_tm(Apid.CAMERA, counter, SUBTYPE_IMAGE_HEADER, header.pack(), time, SERVICE_IMAGE)]
    for flags, segment in iter_segments(header, pixels):
        packets.append(
            _tm(Apid.CAMERA, counter, SUBTYPE_IMAGE_SEGMENT, segment.pack(), time, SERVICE_IMAGE, flags)
        )
    return packets


def housekeeping_packets(
    count: int, counter: SequenceCounter | None = None, seed: int = 0, mdb: MissionDatabase | None = None
) -> list[bytes]:
    """Housekeeping reports (3,25) laid out by the mission database, each structure in turn, with
    random raw values every parameter can hold (enumerations take one of their states)."""
    mdb = mdb or _mission_db()
    counter = counter or SequenceCounter()
    rng = random.Random(seed)
    out = []
    for i in range(count):
        packet = mdb.packets[i % len(mdb.packets)]
        raw = [_random_raw(f, rng) for f in packet.layout.values]
        body = pack_hk_report(packet.structure_id, packet.layout.pack_raw(raw))
        time = CucTime(1_280_000_000 + i, 0)
        out.append(_tm(packet.apid, counter, Subtype.HK_REPORT, body, time, Service.HOUSEKEEPING))
    return out


def _random_raw(f: FieldDef, rng: random.Random) -> int | float:
    if f.kind == "float":
        return rng.uniform(-1e3, 1e3)
    if f.kind == "enum":
        return rng.choice(sorted(f.calibration.values.values()))  # type: ignore[attr-defined]
    low, high = f.raw_range
    return rng.randint(int(low), int(high))


def _tm(
    apid: int,
    counter: SequenceCounter,
    subtype: int,
    payload: bytes,
    time: CucTime,
    service: int,
    flags: int = SequenceFlags.UNSEGMENTED,
) -> bytes:
    header = TmSecondaryHeader(service, subtype, time, message_counter=counter.next(apid + 0x800) & 0xFFFF)
    return pack_tm_packet(apid, counter.next(apid), header, payload, flags)


def downlink_packets(images: int = 2, housekeeping_every: int = 3, seed: int = 0) -> list[bytes]:
    """A short pass: images interleaved with housekeeping, one shared sequence counter."""
    counter = SequenceCounter()
    packets: list[bytes] = []
    for image_id in range(1, images + 1):
        for i, packet in enumerate(image_packets(image_id, counter=counter, seed=seed + image_id)):
            packets.append(packet)
            if housekeeping_every and i % housekeeping_every == 0:
                packets += housekeeping_packets(1, counter, seed=seed + i)
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


def cadu_stream(config, packets: Iterable[bytes], vcid: int = 1, coded: bool = True) -> bytes:
    """Packets packed into frames of one VC (then CADUs if ``coded``) as the transmitter does.

    Built from :mod:`protocols` alone (the emulator's transmitter is out of bounds here);
    ``config`` is a :class:`protocols.channel_config.PhysicalChannelConfig`.
    """
    from protocols import aos_frame, tm_frame
    from protocols.cadu import CaduCodec
    from protocols.channel_config import FrameType
    from protocols.frame_packets import PacketPacker

    frames_module = tm_frame if config.frame_type == FrameType.TM else aos_frame
    packer = PacketPacker(config.packet_zone_length)
    for packet in packets:
        packer.add(packet)
    codec = CaduCodec(config)
    out = bytearray()
    count = 0
    while packer.has_pending():
        fhp, zone = packer.next_zone()
        frame = frames_module.pack_frame(config, vcid, count, count, fhp, zone)
        out += codec.encode(frame) if coded else frame
        count += 1
    return bytes(out)
