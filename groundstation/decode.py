"""Offline decoding of files, through the same processing chain as the live ground station.

Formats: ``cadu`` (a raw stream of ASM-framed CADUs), ``frames`` (bare transfer
frames of the channel's length), ``packets`` (concatenated space packets, the
interchange format ccsdspy and others read) and ``recording`` (a paleblue
recording). ``auto`` looks at the first octets to choose. Files are read in
bounded chunks, so memory stays flat whatever their size.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from groundstation.station import GroundStation, MessageBatch
from protocols.channel_config import ASM, PhysicalChannelConfig, preset
from protocols.recording import SYNC_MARKER
from protocols.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer

FORMATS = ("auto", "cadu", "frames", "packets", "recording")
CHUNK_SIZE = 1 << 20

_LAYER_OF_FORMAT = {"cadu": Layer.CADUS, "frames": Layer.FRAMES, "packets": Layer.PACKETS}


def detect_format(head: bytes, channel: PhysicalChannelConfig) -> str:
    """Guess a file's format from its first octets (a recording's marker, an ASM, a frame header)."""
    if head.startswith(SYNC_MARKER):
        return "recording"
    step = channel.cadu_length
    at = head.find(ASM)
    while at >= 0 and at + step + len(ASM) <= len(head):
        if head[at + step : at + step + len(ASM)] == ASM:
            return "cadu"  # two markers one CADU apart, wherever the stream starts
        at = head.find(ASM, at + 1)
    n = channel.frame_length
    if len(head) >= 2 * n and head[0] >> 6 == 0 and head[n] >> 6 == 0 and head[:2] == head[n : n + 2]:
        return "frames"  # same version and spacecraft id one frame apart
    return "packets"


def decode_file(
    path: Path,
    out_dir: Path,
    fmt: str = "auto",
    channel: PhysicalChannelConfig | None = None,
    export_packets: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    write_products: bool = True,
    chunk_size: int = CHUNK_SIZE,
) -> dict:
    """Decode ``path`` into products and ``summary.json`` in ``out_dir``; returns the summary."""
    channel = channel if channel is not None else preset()
    station = GroundStation(out_dir, channel=channel, write_products=write_products)
    total = path.stat().st_size
    sink: BinaryIO | None = None
    if export_packets is not None:
        sink = open(export_packets, "wb")  # noqa: SIM115 (closed in finally)
        station.packet_sink = lambda packet: sink.write(packet.pack())  # type: ignore[union-attr]
    try:
        with open(path, "rb") as stream:
            head = stream.read(4 * channel.cadu_length)
            stream.seek(0)
            chosen = detect_format(head, channel) if fmt == "auto" else fmt
            if chosen == "recording":
                _decode_recording(path, station, chunk_size)
            else:
                done = 0
                while chunk := stream.read(chunk_size):
                    station.feed_stream(_LAYER_OF_FORMAT[chosen], chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        summary = station.finish()
    finally:
        if sink is not None:
            sink.close()
    summary["input"] = {"path": str(path), "format": chosen, "octets": total}
    return summary


def _decode_recording(path: Path, station: GroundStation, chunk_size: int) -> None:
    """Replay a recording's downlink units into the station exactly as they were received."""
    from groundstation.recording_reader import RecordingReader

    batch = MessageBatch(station)  # a few packets a message: decoded joined, with the same effects

    def skipped(item) -> None:
        batch.flush()  # what came before the skipped bytes is handled before they are recorded
        station.faults.record("recording bytes skipped", f"{item.length} at {item.offset}: {item.reason}")

    with RecordingReader(path, chunk_size=chunk_size, on_skip=skipped, salvage=True) as reader:
        for unit in reader:
            if unit.direction.topic != TOPIC_DOWNLINK:
                continue
            envelope = Envelope(unit.layer, unit.session, unit.sequence).pack()
            batch.add([TOPIC_DOWNLINK, envelope, unit.payload])
    batch.flush()


def print_table(summary: dict, out=sys.stdout) -> None:
    """The human view of a decode: per virtual channel and per APID."""
    physical = summary["link"]["cadu"]["physical"]
    print(
        f"input: {summary['input']['path']} ({summary['input']['format']}, "
        f"{summary['input']['octets']} octets)",
        file=out,
    )
    if physical["cadus"]:
        print(
            f"CADUs {physical['cadus']}: good {physical['frames_good']}, "
            f"corrected {physical['frames_corrected']} "
            f"({physical['symbols_corrected']} symbols), uncorrectable {physical['uncorrectable']}, "
            f"CRC failures {physical['crc_failures']}, sync losses {physical['sync_losses']}, "
            f"skipped {physical['bytes_skipped']} octets",
            file=out,
        )
    virtual = summary["link"]["cadu"]["virtual"] or summary["link"]["frames"]["virtual"]
    if virtual:
        print(f"{'VC':>4} {'frames':>8} {'missing':>8} {'packets':>8} {'lost':>6}", file=out)
        for vcid, c in virtual.items():
            print(
                f"{vcid:>4} {c.get('frames', 0):>8} {c.get('frames_missing', 0):>8} "
                f"{c.get('packets', 0):>8} {c.get('packets_lost', 0):>6}",
                file=out,
            )
    gaps = summary["packet_sequence_gaps_by_apid"]
    spans = summary["packet_time_span_by_apid"]
    print(f"{'APID':<12} {'packets':>8} {'gaps':>6}  first .. last on-board time", file=out)
    for name, count in summary["packets_by_apid"].items():
        first, last = spans.get(name, ["", ""])
        print(f"{name:<12} {count:>8} {gaps.get(name, 0):>6}  {first} .. {last}", file=out)
    images = summary["images"]
    for p in images:
        state = "complete" if p["complete"] else f"incomplete ({p['missing_octets']} octets missing)"
        print(
            f"image {p['image_id']}: {p['width']}x{p['height']} {state}, "
            f"CRC {'ok' if p['crc_ok'] else 'bad'}",
            file=out,
        )
    if summary["faults"]:
        print("faults: " + ", ".join(f"{k} {v}" for k, v in summary["faults"].items()), file=out)
