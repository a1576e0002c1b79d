"""Offline decoding of files, through the same processing chain as the live ground station.

Formats: ``cadu`` (a raw stream of ASM-framed CADUs), ``frames`` (bare transfer
frames of the channel's length), ``packets`` (concatenated space packets, the
interchange format ccsdspy and others read) and ``recording`` (a paleblue
recording). ``auto`` looks at the first octets to choose (:mod:`groundstation.detect`) and
says why in ``summary["input"]["detection"]``; when nothing fits, the summary's input format is
``None`` and nothing is decoded. A recording is decoded with the channel stored in its header
unless a channel is given. Files are read in bounded chunks, so memory stays flat whatever their
size.

``paleblue decode`` exit codes (:data:`EXIT_CODES`): 0 decoded without faults, 1 decoded with
faults (see the summary's ``faults``), 2 usage error (bad option, missing file, a directory, an
impossible channel), 3 nothing recognised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from groundstation.detect import SAMPLE_OCTETS, detect
from groundstation.message_batch import MessageBatch
from groundstation.pass_report import parameter_units, render_report
from groundstation.station import GroundStation
from protocols.atomic_file import write_atomically
from protocols.capture.recording import SYNC_MARKER
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.errors import DecodeError
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import PRESETS, channel_from_dict, channel_to_dict, preset
from protocols.mdb.mission_db import MissionDatabase

if TYPE_CHECKING:
    from protocols.sdls.context import SecurityContext

FORMATS = ("auto", "cadu", "frames", "packets", "recording")
CHUNK_SIZE = 1 << 20
EXIT_DECODED, EXIT_FAULTS, EXIT_USAGE, EXIT_NOTHING_RECOGNISED = 0, 1, 2, 3
EXIT_CODES = {
    EXIT_DECODED: "decoded, no faults",
    EXIT_FAULTS: "decoded with faults (counted in summary.json 'faults')",
    EXIT_USAGE: "usage error",
    EXIT_NOTHING_RECOGNISED: "nothing recognised",
}

DAMAGE_LISTED = 10  # damaged stretches of a recording listed in the summary (all are counted)
SKIPPED_HINT_FRACTION = 0.5  # more of the file skipped than this: the channel is likely wrong
_LAYER_OF_FORMAT = {"cadu": Layer.CADUS, "frames": Layer.FRAMES, "packets": Layer.PACKETS}


def detect_format(head: bytes, channel: PhysicalChannelConfig) -> str:
    """Guess a file's format from its first octets (a recording's marker, an ASM, a frame header)."""
    if head.startswith(SYNC_MARKER):
        return "recording"
    step = channel.cadu_length
    asm = channel.asm
    at = head.find(asm)
    while at >= 0 and at + step + len(asm) <= len(head):
        if head[at + step : at + step + len(asm)] == asm:
            return "cadu"  # two markers one CADU apart, wherever the stream starts
        at = head.find(asm, at + 1)
    n = channel.frame_length
    if len(head) >= 2 * n and head[0] >> 6 == 0 and head[n] >> 6 == 0 and head[:2] == head[n : n + 2]:
        return "frames"  # same version and spacecraft id one frame apart
    return "packets"


def recorded_channel(path: Path) -> tuple[PhysicalChannelConfig | None, str]:
    """The channel a recording's header stores (None if it stores none usable) and a word on it."""
    from groundstation.recording_reader import RecordingReader

    try:
        with RecordingReader(path) as reader:
            config = reader.header.config if reader.header is not None else {}
    except (DecodeError, OSError) as exc:
        return None, f"no channel read from the header ({exc})"
    stored = config.get("channel_config")
    if isinstance(stored, dict):
        try:
            return channel_from_dict(
                stored
            ), f"channel {config.get('channel', '')} from the recording's header"
        except ValueError as exc:
            return None, f"the recording's channel is unusable ({exc})"
    name = config.get("channel")
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name], f"channel {name} from the recording's header"
    return None, "the recording's header names no channel"


def decode_file(
    path: Path,
    out_dir: Path,
    fmt: str = "auto",
    channel: PhysicalChannelConfig | None = None,
    export_packets: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    write_products: bool = True,
    chunk_size: int = CHUNK_SIZE,
    channel_name: str | None = None,
    overrides: Callable[[PhysicalChannelConfig], PhysicalChannelConfig] | None = None,
    attach: Callable[[GroundStation], Any] | None = None,
    mdb: MissionDatabase | None = None,
    stop: Callable[[], bool] | None = None,
    downlink_security: SecurityContext | None = None,
) -> dict:
    """Decode ``path`` into products and ``summary.json`` in ``out_dir``; returns the summary.

    ``attach(station)`` (the archive: ``--archive FILE``) returns services whose ``tick()`` runs
    between chunks and whose ``close()`` runs once the file is done, however it ends.

    ``channel`` None means: the one a recording stores, else the one detected, else the default;
    ``overrides`` (the command line's --scid, --no-fecf, ...) then apply to whichever was chosen.

    ``stop()`` true (an operator's Ctrl-C) ends the decoding at the next chunk: the summary then
    covers what was read, and ``summary["input"]["interrupted"]`` says how far that was.

    ``downlink_security``: the SAs of a downlink recorded with SDLS on (ValueError if they cannot
    cover the channel used, e.g. USLP).
    """
    total = path.stat().st_size
    with open(path, "rb") as stream:
        sample = stream.read(SAMPLE_OCTETS)
    detection = None
    chosen: str | None = fmt
    used = channel
    if fmt == "auto":
        hint = overrides(channel if channel is not None else preset()) if overrides else channel
        detection = detect(sample, len(sample) == total, hint, channel_name)
        chosen = detection.format
        used = detection.channel or channel
    channel_note = ""
    if chosen == "recording" and channel is None:
        used, channel_note = recorded_channel(path)
    used = used if used is not None else preset()
    if overrides is not None:
        used = overrides(used)
    station = GroundStation(
        out_dir, channel=used, mdb=mdb, write_products=write_products, downlink_security=downlink_security
    )
    services = attach(station) if attach is not None else None
    tick = services.tick if services is not None else None
    sink: BinaryIO | None = None
    if export_packets is not None:
        sink = open(export_packets, "wb")  # noqa: SIM115 (closed in finally)
        station.packet_sink = lambda packet: sink.write(packet.pack())  # type: ignore[union-attr]
    stopped_at: dict | None = None
    damage: list[dict] = []
    try:
        if chosen == "recording":
            stopped_at = _decode_recording(path, station, chunk_size, tick, stop, damage, progress)
        elif chosen is not None:
            stopped_at = _decode_stream(
                path, station, _LAYER_OF_FORMAT[chosen], chunk_size, tick, progress, stop
            )
        summary = station.finish()
    finally:
        if sink is not None:
            sink.close()
        if services is not None:
            services.close()
    summary["input"] = _input_of(path, chosen, total, used, detection, channel_note, stopped_at, damage)
    if chosen == "cadu":
        _hint_at_the_channel(summary, sample)
    if damage or "looked_like" in summary["input"]:  # report.md then says it too
        report = render_report(summary, parameter_units(station.mdb), station.events.path.exists())
        write_atomically(out_dir / "report.md", report)
    return summary


def _input_of(
    path: Path,
    chosen: str | None,
    total: int,
    used: PhysicalChannelConfig,
    detection,
    channel_note: str,
    stopped_at: dict | None,
    damage: list[dict],
) -> dict:
    """``summary["input"]``: what was decoded, how it was chosen, and how far it got."""
    described: dict = {"path": str(path), "format": chosen, "octets": total, "channel": channel_to_dict(used)}
    if detection is not None:
        described["detection"] = detection.reason
    if channel_note:
        described["channel_source"] = channel_note
    if stopped_at is not None:
        described["interrupted"] = stopped_at
    if damage:
        described["recording_damage"] = {
            "stretches": len(damage),
            "octets_skipped": sum(d["length"] for d in damage),
            "first": damage[:DAMAGE_LISTED],
        }
    return described


def _hint_at_the_channel(summary: dict, sample: bytes) -> None:
    """Most of a CADU file skipped: the channel is likely wrong, so say what the file looks like
    (``input.looked_like``, every shipped preset tried)."""
    total = summary["input"]["octets"]
    if summary["link"]["cadu"]["physical"]["bytes_skipped"] <= SKIPPED_HINT_FRACTION * total:
        return
    looked = detect(sample, len(sample) == total)
    summary["input"]["looked_like"] = looked.reason if looked.format is not None else None


def _decode_stream(
    path: Path,
    station: GroundStation,
    layer: Layer,
    chunk_size: int,
    tick: Callable[[], None] | None,
    progress: Callable[[int, int], None] | None,
    stop: Callable[[], bool] | None,
) -> dict | None:
    """Feed a CADU, frame or packet file to the station in chunks; how far it got if stopped."""
    total = path.stat().st_size
    with open(path, "rb") as stream:
        done = 0
        while chunk := stream.read(chunk_size):
            if stop is not None and stop():
                return {"octets_read": done}
            station.feed_stream(layer, chunk)
            if tick is not None:
                tick()
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return None


def exit_code(summary: dict) -> int:
    """What ``paleblue decode`` returns for a summary (see :data:`EXIT_CODES`)."""
    if summary["input"]["format"] is None:
        return EXIT_NOTHING_RECOGNISED
    return EXIT_FAULTS if summary["faults"] else EXIT_DECODED


def _decode_recording(
    path: Path,
    station: GroundStation,
    chunk_size: int,
    tick: Callable[[], None] | None = None,
    stop: Callable[[], bool] | None = None,
    damage: list[dict] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict | None:
    """Replay a recording's downlink units into the station exactly as they were received; the
    units read if ``stop()`` ended it early, else None. Each damaged stretch skipped (torn,
    corrupt) is appended to ``damage`` as its offset, length and reason. ``progress(offset,
    file size)`` is told how far into the file it is, every 64 units and at the end."""
    from groundstation.recording_reader import RecordingReader
    from protocols.capture.recording import UnitRecord

    batch = MessageBatch(station)  # a few packets a message: decoded joined, with the same effects

    def skipped(item) -> None:
        batch.flush()  # what came before the skipped bytes is handled before they are recorded
        station.faults.record("recording bytes skipped", f"{item.length} at {item.offset}: {item.reason}")
        if damage is not None:
            damage.append({"offset": item.offset, "length": item.length, "reason": item.reason})

    stopped_at = None
    total = path.stat().st_size
    count = 0
    with RecordingReader(path, chunk_size=chunk_size, on_skip=skipped, salvage=True) as reader:
        for offset, unit in reader.entries():
            if not isinstance(unit, UnitRecord):
                continue
            if stop is not None and stop():
                stopped_at = {"units_read": count}
                break
            count += 1
            if progress is not None and count % 64 == 0:
                progress(offset, total)
            if unit.direction.topic != TOPIC_DOWNLINK:
                continue
            envelope = Envelope(unit.layer, unit.session, unit.sequence).pack()
            batch.add([TOPIC_DOWNLINK, envelope, unit.payload])
            if tick is not None and unit.sequence % 256 == 0:
                batch.flush()
                tick()
    batch.flush()
    if progress is not None and stopped_at is None:
        progress(total, total)
    return stopped_at
