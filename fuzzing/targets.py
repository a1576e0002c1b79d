"""Registry of fuzz targets: one decoder entry point each, driven by a function of ``bytes``.

The contract every target checks for every input: the decoder returns a result or raises
:class:`~protocols.errors.DecodeError`; anything else (another exception, a failed invariant,
a hang past the per-input time limit) is a finding. A target whose ``total`` flag is set must
not even raise ``DecodeError`` (the ground station's ``handle_message``).

Targets are built lazily so that a decoder still being written elsewhere in the tree shows as
*unavailable* (with the import error) instead of breaking the registry; it becomes a target as
soon as its module imports.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fuzzing import seeds as seedlib
from protocols.coding.crc import replace_trailing_crc16
from protocols.errors import DecodeError
from protocols.mdb.mission_db import default_spacecraft_id


class ContractViolation(AssertionError):
    """A decoder returned, but what it returned breaks one of its documented invariants."""


def require(condition: bool, message: str) -> None:
    """Invariant check that survives ``python -O`` (unlike ``assert``)."""
    if not condition:
        raise ContractViolation(message)


@dataclass(frozen=True)
class Target:
    """One decoder entry point under test."""

    name: str
    run: Callable[[bytes], object]
    seeds: list[bytes]
    description: str
    total: bool = False  # True: must not raise at all, not even DecodeError
    max_input: int = 8192  # mutations never grow an input past this
    # applied to half the mutated inputs so that checksums and length fields do not stop every
    # mutation at the first check (structure-aware fuzzing of what lies behind the CRC)
    fixup: Callable[[bytes], bytes] | None = None
    setup_notes: dict = field(default_factory=dict)


class TargetUnavailable(Exception):
    """The decoder's module does not import (not landed yet, or broken)."""


_FACTORIES: dict[str, Callable[[], Target]] = {}


def scratch_directory(prefix: str) -> Path:
    """A temporary directory for targets that write files, removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def register(name: str) -> Callable[[Callable[[], Target]], Callable[[], Target]]:
    def wrap(factory: Callable[[], Target]) -> Callable[[], Target]:
        _FACTORIES[name] = factory
        return factory

    return wrap


def target_names() -> list[str]:
    """Every registered target, available or not."""
    return list(_FACTORIES)


@cache
def load_target(name: str) -> Target:
    """Build a target (imports its decoder); :class:`TargetUnavailable` if that fails."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise TargetUnavailable(f"no fuzz target named {name!r}; known: {', '.join(_FACTORIES)}") from None
    try:
        return factory()
    except ImportError as exc:
        raise TargetUnavailable(f"{name}: {exc}") from exc
    except Exception as exc:  # a decoder still being written may change its API under us
        raise TargetUnavailable(f"{name}: building the target failed: {exc!r}") from exc


def available_targets() -> tuple[dict[str, Target], dict[str, str]]:
    """(targets that load, {name: why not} for those that do not)."""
    ok: dict[str, Target] = {}
    missing: dict[str, str] = {}
    for name in _FACTORIES:
        try:
            ok[name] = load_target(name)
        except TargetUnavailable as exc:
            missing[name] = str(exc)
    return ok, missing


def prepare_input(target: Target, data: bytes) -> bytes:
    """For engines that cannot call the fixup themselves (atheris): apply it to inputs whose first
    octet is even. Fixups never change the first octet, so the rule is stable under replay."""
    if target.fixup is not None and data[:1] and not data[0] & 1:
        return target.fixup(data)
    return data


def fix_space_packet(data: bytes) -> bytes:
    """Make the primary header's length field match the input, then fix the PEC."""
    if len(data) < 8:
        return data
    fixed = data[:4] + (len(data) - 7).to_bytes(2, "big") + data[6:]
    return replace_trailing_crc16(fixed)


def fix_tc_frame(data: bytes) -> bytes:
    """Set the TC frame length field to the input and fix the FECF."""
    if len(data) < 8 or len(data) > 1024:
        return data
    word = (data[2] << 8 | data[3]) & 0xFC00 | (len(data) - 1)
    return replace_trailing_crc16(data[:2] + word.to_bytes(2, "big") + data[4:])


def chunk_sizes(data: bytes) -> tuple[int, bytes]:
    """First octet picks a chunk size (1..256) for stream decoders; the rest is the stream."""
    if not data:
        return 1, b""
    return data[0] + 1, data[1:]


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


# ------------------------------------------------------------------------------- space packets


@register("space-packet")
def _space_packet() -> Target:
    from protocols.packets.space_packet import SpacePacket

    def run(data: bytes) -> object:
        packet, length = SpacePacket.unpack(data)
        require(data[:length] == packet.pack(), "decoded packet does not re-encode to its bytes")
        return packet

    return Target("space-packet", run, seedlib.downlink_packets(1), "SpacePacket.unpack of one packet")


@register("packet-stream")
def _packet_stream() -> Target:
    from protocols.packets.space_packet import MISSION_PACKETS, PacketStreamDecoder, SkippedBytes

    def decode_all(stream: bytes, size: int) -> list:
        decoder = PacketStreamDecoder(check=MISSION_PACKETS)  # as the station and decode cut packets
        out = []
        for chunk in chunks(stream, size):
            out += decoder.feed(chunk)
        return out + list(decoder.close())

    def run(data: bytes) -> object:
        size, stream = chunk_sizes(data)
        units = decode_all(stream, size)
        require(units == decode_all(stream, len(stream) or 1), "output depends on chunking")
        covered = 0
        for unit in units:  # packets and skipped spans tile the stream, in order
            if isinstance(unit, SkippedBytes):
                require(
                    unit.offset == covered and unit.length > 0, f"skip {unit} does not start at {covered}"
                )
                covered += unit.length
            else:
                packed = unit.pack()
                require(stream[covered : covered + len(packed)] == packed, f"packet at {covered} differs")
                covered += len(packed)
        require(covered == len(stream), f"{len(stream) - covered} octets neither decoded nor skipped")
        return units

    stream = b"".join(seedlib.downlink_packets(2))
    return Target(
        "packet-stream",
        run,
        [bytes([n]) + stream for n in (0, 6, 255)],
        "PacketStreamDecoder (mission check) fed in chunks (first octet = chunk size - 1); tiling, chunking",
    )


# ------------------------------------------------------------------------------------ time codes


@register("cuc-time")
def _cuc() -> Target:
    from protocols.packets.time_code import CucTime

    def run(data: bytes) -> object:
        return CucTime.unpack(data)

    return Target(
        "cuc-time",
        run,
        [CucTime(1_280_000_000, 1234).pack(), b"\x2e\x00\x01\x02\x03\x04\x05\x06\x07"],
        "CucTime.unpack (P-field and T-field)",
    )


@register("cds-time")
def _cds() -> Target:
    from protocols.packets.time_code import CDS_PFIELD_MS, CDS_PFIELD_US, CdsTime

    def run(data: bytes) -> object:
        return CdsTime.unpack(data)

    seeds = [bytes([CDS_PFIELD_MS]) + bytes(6), bytes([CDS_PFIELD_US]) + bytes(range(8))]
    return Target("cds-time", run, seeds, "CdsTime.unpack")


# ---------------------------------------------------------------------------------------- PUS-C


@register("pus-tm-header")
def _pus_tm_header() -> Target:
    from protocols.pus.packets import TmSecondaryHeader

    def run(data: bytes) -> object:
        header = TmSecondaryHeader.unpack(data)
        require(header.pack() == data[: len(header.pack())], "TM secondary header does not re-encode")
        return header

    packet = seedlib.downlink_packets(1)[0]
    return Target("pus-tm-header", run, [packet[6:]], "TmSecondaryHeader.unpack")


@register("pus-tc-header")
def _pus_tc_header() -> Target:
    from protocols.pus.packets import TcSecondaryHeader

    def run(data: bytes) -> object:
        return TcSecondaryHeader.unpack(data)

    return Target("pus-tc-header", run, [TcSecondaryHeader(17, 1, 42).pack()], "TcSecondaryHeader.unpack")


@register("pus-tm-packet")
def _pus_tm_packet() -> Target:
    from protocols.packets.space_packet import SpacePacket
    from protocols.pus.packets import unpack_tm_packet

    def run(data: bytes) -> object:
        packet, _ = SpacePacket.unpack(data)
        return unpack_tm_packet(packet)

    return Target(
        "pus-tm-packet",
        run,
        seedlib.downlink_packets(1)[:4],
        "SpacePacket.unpack + unpack_tm_packet (PEC)",
        fixup=fix_space_packet,
    )


@register("pus-services")
def _pus_services() -> Target:
    from protocols.pus import pus_services as ps

    service_decoders: dict[tuple[int, int], Callable[[bytes], object]] = {
        (1, 1): lambda d: ps.unpack_verification(1, d),
        (1, 2): lambda d: ps.unpack_verification(2, d),
        (1, 7): lambda d: ps.unpack_verification(7, d),
        (1, 8): lambda d: ps.unpack_verification(8, d),
        (3, 25): ps.unpack_structure_id,
        (5, 1): ps.unpack_event_id,
        (5, 4): ps.unpack_event_id,
        (8, 1): ps.unpack_function_id,
        (9, 129): ps.TimeCorrelation.unpack,
    }

    def run(data: bytes) -> object:
        if data[:1] and data[0] & 0x10:  # type bit set: a telecommand
            tc = ps.unpack_tc(data)
            decoder = service_decoders.get((tc.service, tc.subtype))
            return decoder(tc.app_data) if decoder else tc
        tm = ps.unpack_tm(data)
        decoder = service_decoders.get((tm.service, tm.subtype))
        return decoder(tm.app_data) if decoder else tm

    rid = ps.RequestId(0x65, 7)
    seeds = [
        ps.pack_tm(0x64, 1, 1, 1, 100.0, ps.pack_verification(1, rid)),
        ps.pack_tm(0x64, 2, 1, 8, 100.0, ps.pack_verification(8, rid, 3)),
        ps.pack_tm(0x64, 3, 3, 25, 100.0, ps.pack_hk_report(1, bytes(12))),
        ps.pack_tm(0x64, 4, 5, 4, 100.0, ps.pack_event(9, b"\x01\x02")),
        ps.pack_tm(0x64, 5, 9, 129, 100.0, ps.TimeCorrelation(1.5, 2.5, 3.5).pack()),
        ps.pack_tc(0x65, 6, 8, 1, ps.pack_function(3, b"\x00\x01")),
        ps.pack_tc(0x65, 7, 17, 1),
    ]
    return Target(
        "pus-services",
        run,
        seeds,
        "unpack_tm / unpack_tc and the service 1/3/5/8/9 decoders",
        fixup=fix_space_packet,
    )


@register("hk-decommutation")
def _hk_decommutation() -> Target:
    from protocols.mdb.mission_db import load_mission_db
    from protocols.pus import pus_services as ps

    mdb = load_mission_db()
    by_structure = {p.structure_id: p for p in mdb.packets}

    def run(data: bytes) -> object:
        tm = ps.unpack_tm(data)
        packet = by_structure.get(ps.unpack_structure_id(tm.app_data))
        if packet is None:
            return None
        raw = packet.layout.unpack_raw(tm.app_data, 2)
        return [f.to_engineering(r) for f, r in zip(packet.layout.values, raw, strict=True)]

    seeds = [  # every layout zero-filled, then the reports the flight software makes
        ps.pack_tm(p.apid, 1, 3, 25, 100.0, ps.pack_hk_report(p.structure_id, bytes(p.layout.length)))
        for p in mdb.packets
    ] + seedlib.housekeeping_packets(len(mdb.packets))
    return Target(
        "hk-decommutation",
        run,
        seeds,
        "3,25 report → mission-database layout → engineering values",
        fixup=fix_space_packet,
    )


@register("telemetry-processor")
def _telemetry_processor() -> Target:
    import math

    from groundstation.telemetry import TelemetryProcessor
    from protocols.mdb.mission_db import load_mission_db
    from protocols.pus import pus_services as ps

    mdb = load_mission_db()

    def same(a: object, b: object) -> bool:
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))

    def run(data: bytes) -> object:
        processor = TelemetryProcessor(mdb)
        decoded = processor.process_stream(data)
        try:
            tm = ps.unpack_tm(data)
            fast = processor.decommutate(tm)
        except DecodeError:
            return decoded
        declared = processor.decommutate_declarative(tm)
        require(
            fast.raw.keys() == declared.raw.keys(), "fast and declarative decommutation name different fields"
        )
        for name in fast.raw:
            require(
                same(fast.raw[name], declared.raw[name]), f"{name}: fast and declarative raw values differ"
            )
        return decoded

    seeds = [
        ps.pack_tm(p.apid, 1, 3, 25, 100.0, ps.pack_hk_report(p.structure_id, bytes(range(p.layout.length))))
        for p in mdb.packets
    ]
    return Target(
        "telemetry-processor",
        run,
        seeds,
        "TelemetryProcessor.process_stream; fast vs declarative HK decommutation",
        fixup=fix_space_packet,
    )


# -------------------------------------------------------------------------------- image transport


@register("image-header")
def _image_header() -> Target:
    from protocols.image.image_transport import ImageHeader

    def run(data: bytes) -> object:
        return ImageHeader.unpack(data)

    packet = seedlib.image_packets()[0]
    return Target("image-header", run, [packet[6 + 14 : -2]], "ImageHeader.unpack (fields, msgpack metadata)")


@register("image-metadata")
def _image_metadata() -> Target:
    import msgpack

    from protocols.image.image_metadata import LAYER, ImageMetadata

    def run(data: bytes) -> object:
        try:  # as ImageHeader.unpack reads the map out of the header
            value = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except Exception:
            raise DecodeError(LAYER, 0, "not msgpack") from None
        metadata = ImageMetadata.from_map(value)
        require(ImageMetadata.from_map(metadata.to_map()) == metadata, "metadata does not survive its map")
        return metadata

    seed = msgpack.packb(seedlib.image_metadata().to_map(), use_bin_type=True)
    return Target("image-metadata", run, [seed], "ImageMetadata.from_map of a msgpack map (hostile values)")


@register("image-segment")
def _image_segment() -> Target:
    from protocols.image.image_transport import ImageSegment

    def run(data: bytes) -> object:
        return ImageSegment.unpack(data)

    packet = seedlib.image_packets()[1]
    return Target("image-segment", run, [packet[6 + 14 : -2]], "ImageSegment.unpack")


@register("image-reassembler")
def _image_reassembler() -> Target:
    from protocols.image.image_transport import (
        SUBTYPE_IMAGE_HEADER,
        ImageHeader,
        ImageReassembler,
        ImageSegment,
    )
    from protocols.packets.space_packet import PacketStreamDecoder, SpacePacket
    from protocols.pus.packets import unpack_tm_packet

    def run(data: bytes) -> object:
        reassembler = ImageReassembler(max_in_progress=2, max_orphan_octets=4096)
        decoder = PacketStreamDecoder()
        images = []
        for unit in [*decoder.feed(data), *decoder.close()]:
            if not isinstance(unit, SpacePacket):
                continue
            try:
                header, payload = unpack_tm_packet(unit)
                if header.subtype == SUBTYPE_IMAGE_HEADER:
                    images += reassembler.add_header(ImageHeader.unpack(payload))
                else:
                    done = reassembler.add_segment(unit.sequence_flags, ImageSegment.unpack(payload))
                    images += [done] if done else []
            except DecodeError:
                continue
        images += reassembler.flush()
        for image in images:
            require(len(image.pixels) == image.header.image_octets, "reassembled image has the wrong size")
            require(image.complete == (not image.missing), "complete flag disagrees with missing ranges")
        return images

    seeds = [b"".join(seedlib.image_packets(1)), b"".join(seedlib.image_packets(1)[::-1])]
    return Target("image-reassembler", run, seeds, "packet stream → PUS → image header/segments → reassembly")


# ------------------------------------------------------------------------------------- ZeroMQ / station


@register("zmq-envelope")
def _zmq_envelope() -> Target:
    from protocols.capture.zmq_framing import Envelope, Layer

    def run(data: bytes) -> object:
        envelope = Envelope.unpack(data)
        packed = envelope.pack()  # the reserved field is ignored on reception, by design
        require(packed[:2] + packed[4:] == data[:2] + data[4:], "envelope does not re-encode")
        return envelope

    return Target("zmq-envelope", run, [Envelope(Layer.PACKETS, 7, 3).pack()], "Envelope.unpack")


@register("ground-station")
def _ground_station() -> Target:
    from groundstation.station import GroundStation

    out_dir = scratch_directory("paleblue-fuzz-station-")

    def run(data: bytes) -> object:
        station = GroundStation(out_dir)
        for parts in seedlib.decode_parts(data):
            station.handle_message(parts)
        require("internal error" not in station.faults.counts, "handle_message hit an internal error")
        summary = station.finish()
        require("internal error" not in summary["faults"], "finish hit an internal error")
        return summary

    messages = seedlib.envelope_messages(seedlib.group_into_messages(seedlib.downlink_packets(1)))
    incomplete = seedlib.envelope_messages(seedlib.group_into_messages(seedlib.image_packets(2)[:-1]))
    seeds = [
        seedlib.encode_parts(messages),
        seedlib.encode_parts(messages[1:] + messages[:1]),
        seedlib.encode_parts(incomplete),  # flushed by finish(): the partial-image path
    ]
    return Target(
        "ground-station",
        run,
        seeds,
        "GroundStation.handle_message over a message sequence (frame-count octet, u16-prefixed frames)",
        total=True,
        max_input=4096,
        setup_notes={"out_dir": str(out_dir)},
    )


# ------------------------------------------------------------------------------------------ CFDP


@register("cfdp-pdu")
def _cfdp_pdu() -> Target:
    from protocols.cfdp import pdu as cfdp
    from protocols.cfdp.header import PduHeader

    def run(data: bytes) -> object:
        try:
            fast = cfdp.decode_pdu(data)
        except DecodeError as exc:
            fast = exc
        try:
            declared = cfdp.decode_pdu_declared(data)
        except DecodeError as exc:
            declared = exc
        require(
            isinstance(fast, DecodeError) == isinstance(declared, DecodeError),
            f"fast and declared decoders disagree: {fast!r} vs {declared!r}",
        )
        if isinstance(fast, DecodeError):
            raise fast
        require(fast == declared, "fast and declared decoders return different PDUs")
        return fast

    header = PduHeader(1, 2, 3)
    bodies = [
        cfdp.Metadata(1000, b"src.bin", b"dst.bin"),
        cfdp.FileData(0, b"hello world"),
        cfdp.Eof(0x1234, 1000),
        cfdp.Finished(),
        cfdp.Nak(0, 1000, ((0, 10), (20, 30))),
        cfdp.KeepAlive(500),
    ]
    seeds = [cfdp.encode_pdu(cfdp.Pdu(header, body)) for body in bodies]
    return Target("cfdp-pdu", run, seeds, "decode_pdu (fast path) differential against decode_pdu_declared")


# --------------------------------------------------------------------------------- telecommand link


@register("tc-frame")
def _tc_frame() -> Target:
    from protocols.link.tc_frame import TcFrame

    def run(data: bytes) -> object:
        return TcFrame.unpack(data)

    return Target(
        "tc-frame",
        run,
        [TcFrame(default_spacecraft_id(), 0, 1, b"\x18\x65\xc0\x00\x00\x05abcdef").pack()],
        "TcFrame.unpack (FECF)",
        fixup=fix_tc_frame,
    )


@register("sdls-tc")
def _sdls_tc() -> Target:
    from protocols.sdls import Reason, SaKey, SecurityAssociation, SecurityContext, ServiceType

    key = SaKey(1, bytes(range(32)))
    sas = [
        SecurityAssociation(1, "tc", 0, 1, ServiceType.AUTHENTICATED_ENCRYPTION),
        SecurityAssociation(2, "tc", 1, 1, ServiceType.AUTHENTICATION, sn_length=4, pl_length=1, mac_length=8,
                            auth_mask=bytes.fromhex("ffffffff00")),
    ]  # fmt: skip
    sender = SecurityContext(sas, [key])
    seeds = [
        sender.protect_tc(default_spacecraft_id(), vc, 0, b"\x18\x65\xc0\x00\x00\x05abcdef") for vc in (0, 1)
    ]

    def run(data: bytes) -> object:
        receiver = SecurityContext(sas, [key])  # fresh ARSNs: every input is judged on its own
        try:
            return receiver.verify_tc(data)
        finally:
            require(sum(receiver.rejections.values()) + receiver.accepted == 1, "each frame counted once")
            require(all(r in Reason for r in receiver.rejections), "rejections carry a typed reason")

    return Target(
        "sdls-tc", run, seeds, "SecurityContext.verify_tc (SDLS AES-GCM on TC frames)", fixup=fix_tc_frame
    )


@register("sdls-tm")
def _sdls_tm() -> Target:
    from protocols.sdls import SaKey, SecurityAssociation
    from protocols.sdls.frames import apply_fixed, process_fixed

    key = SaKey(1, bytes(range(32)))
    sa = SecurityAssociation(10, "tm", 0, 1)
    seed = apply_fixed(sa, key, 1, bytes.fromhex("1b5100001800"), bytes(range(200)), tail=bytes(4))

    def run(data: bytes) -> object:
        return process_fixed(sa, key, 0, data, 6, 4)

    return Target("sdls-tm", run, [seed], "process_fixed (SDLS AES-GCM on a TM frame with OCF)",
                  fixup=replace_trailing_crc16)  # fmt: skip


@register("sdls-uslp")
def _sdls_uslp() -> Target:
    from protocols.link import uslp_frame
    from protocols.link.channel_file import preset
    from protocols.sdls import Reason, SaKey, SecurityAssociation, SecurityContext
    from protocols.sdls.downlink import DownlinkSecurity

    config = preset("uslp-rs-i5")  # fixed-length USLP frames, 2-octet VC count, OCF, FECF
    key = SaKey(1, bytes(range(32)))
    sa = SecurityAssociation(31, "uslp", 1, 1, window=1 << 24)
    sender = DownlinkSecurity(SecurityContext([sa], [key]), config)
    zone = bytes(range(256)) * (config.packet_zone_length // 256 + 1)
    frame = uslp_frame.pack_frame(config, 1, 0, 0, 0, zone[: config.packet_zone_length], bytes(4))
    seed = sender.protect(1, frame)

    def run(data: bytes) -> object:
        receiver = DownlinkSecurity(SecurityContext([sa], [key]), config)  # fresh ARSNs for every input
        try:
            return receiver.verify(1, data)
        finally:
            rejections = receiver.context.rejections
            require(sum(rejections.values()) + receiver.frames_verified == 1, "each frame counted once")
            require(all(r in Reason for r in rejections), "rejections carry a typed reason")

    about = "DownlinkSecurity.verify (SDLS AES-GCM on a fixed-length USLP frame)"
    return Target("sdls-uslp", run, [seed], about, fixup=replace_trailing_crc16)


@register("cltu")
def _cltu() -> Target:
    from protocols.coding.cltu import decode_cltu, encode_cltu

    def run(data: bytes) -> object:
        return decode_cltu(data)

    return Target(
        "cltu",
        run,
        [encode_cltu(b"telecommand frame bytes"), b"\x55" + encode_cltu(b"x")],
        "decode_cltu (BCH single-bit correction, tail detection)",
    )


# ------------------------------------------------------------------------------- telemetry link layer


def _small_channel(frame_type: str):
    from protocols.link.channel_config import FrameType, PhysicalChannelConfig

    spacecraft = default_spacecraft_id()
    if frame_type == "aos":
        spacecraft &= 0xFF  # AOS has an 8-bit spacecraft id
    return PhysicalChannelConfig(
        frame_type=FrameType(frame_type), spacecraft_id=spacecraft, frame_length=200, rs_e=16, rs_interleave=1
    )


@register("tm-frame")
def _tm_frame() -> Target:
    from protocols.link import tm_frame

    config = _small_channel("tm")

    def run(data: bytes) -> object:
        return tm_frame.unpack_frame(config, data)

    zone = b"".join(seedlib.downlink_packets(1))[: config.packet_zone_length]
    seeds = [tm_frame.pack_frame(config, 1, 5, 5, 0, zone), tm_frame.idle_frame(config, 6, 0)]
    return Target(
        "tm-frame", run, seeds, "tm_frame.unpack_frame (header, FHP, OCF, FECF)", fixup=replace_trailing_crc16
    )


@register("aos-frame")
def _aos_frame() -> Target:
    from protocols.link import aos_frame

    config = _small_channel("aos")

    def run(data: bytes) -> object:
        return aos_frame.unpack_frame(config, data)

    zone = b"".join(seedlib.downlink_packets(1))[: config.packet_zone_length]
    seeds = [aos_frame.pack_frame(config, 1, 5, 5, 0, zone), aos_frame.idle_frame(config, 6, 0)]
    return Target("aos-frame", run, seeds, "aos_frame.unpack_frame", fixup=replace_trailing_crc16)


@register("uslp-frame")
def _uslp_frame() -> Target:
    from protocols.link import uslp_frame
    from protocols.link.channel_config import FrameType, PhysicalChannelConfig

    fixed = PhysicalChannelConfig(
        frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=200, rs_e=16, rs_interleave=1,
        insert_zone_length=2, vc_count_length=2,
    )  # fmt: skip
    variable = PhysicalChannelConfig(
        frame_type=FrameType.USLP, spacecraft_id=0xC0DE, frame_length=600, rs_e=0, variable_length=True
    )

    def run(data: bytes) -> object:
        try:
            return uslp_frame.unpack_frame(fixed, data)
        except DecodeError:
            return uslp_frame.unpack_frame(variable, data)

    packets = seedlib.downlink_packets(1)
    zone = b"".join(packets)[: fixed.packet_zone_length]
    seeds = [
        uslp_frame.pack_frame(fixed, 1, 5, 5, 0, zone),
        uslp_frame.idle_frame(fixed, 6, 0),
        uslp_frame.pack_frame(variable, 1, 0, 7, 0, min(packets, key=len)),
        uslp_frame.idle_frame(variable, 0, 3),
    ]
    return Target(
        "uslp-frame",
        run,
        seeds,
        "uslp_frame.unpack_frame (fixed and variable, TFDF)",
        fixup=replace_trailing_crc16,
    )


@register("cadu")
def _cadu() -> Target:
    from protocols.coding.cadu import CaduCodec
    from protocols.link import tm_frame

    config = _small_channel("tm")
    codec = CaduCodec(config)

    def run(data: bytes) -> object:
        return codec.decode(data)

    zone = b"".join(seedlib.downlink_packets(1))[: config.packet_zone_length]
    seeds = [codec.encode(tm_frame.pack_frame(config, 1, 5, 5, 0, zone))]
    return Target("cadu", run, seeds, "CaduCodec.decode (ASM, derandomize, RS E=16 I=1)")


@register("reed-solomon")
def _reed_solomon() -> Target:
    from protocols.coding.reed_solomon import CcsdsReedSolomon

    codec = CcsdsReedSolomon(8, 2, 100)

    def run(data: bytes) -> object:
        result = codec.decode(data)
        require(codec.encode(result.frame) == codec.encode(data[:100]) or result.ok, "decoded but not ok")
        return result

    frame = bytes(range(100))
    damaged = bytearray(codec.encode(frame))
    damaged[3] ^= 0xFF
    return Target(
        "reed-solomon", run, [codec.encode(frame), bytes(damaged)], "CcsdsReedSolomon(E=8, I=2).decode"
    )


@register("link-receiver")
def _link_receiver() -> Target:
    from groundstation.link_receiver import LinkReceiver
    from protocols.packets.space_packet import SpacePacket

    config = _small_channel("tm")

    def decode_all(stream: bytes, size: int) -> list[bytes]:
        receiver = LinkReceiver(config)
        out = []
        for chunk in chunks(stream, size):
            out += [o.packet for o in receiver.feed(chunk)]
        return out + [o.packet for o in receiver.close().outputs]

    def run(data: bytes) -> object:
        size, stream = chunk_sizes(data)
        packets = decode_all(stream, size)
        for packet in packets:
            _, length = SpacePacket.unpack(packet)
            require(length == len(packet), "link receiver emitted bytes that are not one whole packet")
        require(packets == decode_all(stream, len(stream) or 1), "link receiver output depends on chunking")
        return packets

    stream = seedlib.cadu_stream(config, seedlib.downlink_packets(1))
    return Target(
        "link-receiver",
        run,
        [b"\x00" + stream, b"\x3f" + stream, b"\xff" + stream[7:]],
        "LinkReceiver (frame sync, RS, FECF, VC packet extraction) fed in chunks; chunking invariant",
        max_input=4096,
    )


@register("frame-receiver")
def _frame_receiver() -> Target:
    from groundstation.frame_receiver import FrameReceiver

    config = _small_channel("aos")

    def run(data: bytes) -> object:
        size, stream = chunk_sizes(data)
        receiver = FrameReceiver(config)
        out = []
        for chunk in chunks(stream, size):
            out += receiver.feed(chunk)
        return out, receiver.close()

    stream = seedlib.cadu_stream(config, seedlib.downlink_packets(1), coded=False)
    return Target(
        "frame-receiver",
        run,
        [b"\x10" + stream],
        "FrameReceiver (uncoded AOS frames) in chunks",
        max_input=4096,
    )


# ----------------------------------------------------------------------------------------- recording


@register("recording")
def _recording() -> Target:
    from protocols.capture import recording as rec
    from protocols.capture.zmq_framing import Layer

    def run(data: bytes) -> object:
        size, stream = chunk_sizes(data)
        decoder = rec.RecordingDecoder()
        entries = []
        for chunk in chunks(stream, size):
            entries += decoder.feed(chunk)
        return entries + decoder.close()

    frames = rec.encode_record(rec.RecordingHeader("0.1.0", "fuzz"))
    for n, payload in enumerate(seedlib.group_into_messages(seedlib.downlink_packets(1))):
        body = rec.encode_unit_body(1000 + n, rec.Direction.DOWNLINK, Layer.PACKETS, 7, n, payload)
        frames += rec.frame_body(body) + body
    return Target("recording", run, [b"\x00" + frames, b"\x10" + frames], "RecordingDecoder fed in chunks")


@register("recording-reader")
def _recording_reader() -> Target:
    from groundstation.recording_reader import RecordingReader

    work = scratch_directory("paleblue-fuzz-recording-")
    path = work / "input.pbr"

    def run(data: bytes) -> object:
        path.write_bytes(data[1:])
        with RecordingReader(path, chunk_size=64, salvage=bool(data[:1] and data[0] & 1)) as reader:
            return list(reader.units()), reader.index()

    seed = load_target("recording").seeds[0][1:]
    return Target(
        "recording-reader",
        run,
        [b"\x00" + seed, b"\x01" + seed],
        "RecordingReader over a file",
        setup_notes={"work": str(work)},
    )
