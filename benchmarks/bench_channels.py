"""Decode throughput by channel: `paleblue decode` of CADU files of several channels, same packets.

The baseline, measured in the same run on the same packets, is the default TM channel
(tm-rs-i5). Beside it: USLP fixed-length frames (uslp-rs-i5), USLP variable-length frames
(uslp-variable) and two foreign channels given as channel files (AOS, spacecraft 0x2A, 1000-octet
frames, RS E=8 I=8 conventional basis, no FECF, no OCF; and TM behind CCSDS 131.0-B's 64-bit
marker 034776C7272895B0). Each decode runs in its own process, ``--repeat`` times (the best is
kept); each is rated by the CPU time (user + sys) of its process during the decode, so that other
jobs on a shared machine do not count, and by wall-clock time beside it.

    .venv/bin/python benchmarks/bench_channels.py [--size-mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

FOREIGN_TOML = """name = "foreign"
[frame]
type = "aos"
length = 1000
spacecraft_id = 0x2A
fecf = false
ocf = false
[coding]
reed_solomon = { e = 8, interleave = 8, basis = "conventional" }
randomizer = true
"""

MARKER_TOML = """name = "foreign-marker"
[frame]
type = "tm"
length = 1115
spacecraft_id = 0x1B5
[coding]
reed_solomon = { e = 16, interleave = 5 }
asm = "034776C7272895B0"
"""


def make_files(directory: Path, size_mb: float) -> dict[str, tuple[Path, str]]:
    """The same image packets through each channel's transmitter: name -> (CADU file, --channel)."""
    from emulator.imaging import image_packets
    from emulator.transmitter import Transmitter
    from protocols.image.image_metadata import ImageMetadata
    from protocols.link.channel_file import load_channel
    from protocols.packets.space_packet import SequenceCounter
    from protocols.packets.time_code import CucTime

    foreign = directory / "foreign.toml"
    foreign.write_text(FOREIGN_TOML)
    marker = directory / "foreign-marker.toml"
    marker.write_text(MARKER_TOML)
    channels = {
        "tm-rs-i5": "tm-rs-i5",
        "uslp-rs-i5": "uslp-rs-i5",
        "uslp-variable": "uslp-variable",
        "foreign AOS (channel file)": str(foreign),
        "TM, 64-bit ASM (channel file)": str(marker),
    }
    sequence, rng = SequenceCounter(), np.random.default_rng(1)
    pixels = rng.integers(0, 1024, (512, 512), dtype=np.uint16)
    packets: list[bytes] = []
    image_id = 0
    while sum(map(len, packets)) < size_mb * 1_000_000:
        image_id += 1
        _, more = image_packets(
            image_id, pixels, 10, 0.01, datetime(2020, 7, 27, tzinfo=UTC), ImageMetadata(scenario="bench"),
            sequence, CucTime(1_000_000_000 + image_id),
        )  # fmt: skip
        packets += more
    files = {}
    for name, channel in channels.items():
        tx = Transmitter(load_channel(channel).config, {1: 0})
        path = directory / f"{len(files)}.cadu"
        with open(path, "wb") as out:
            for start in range(0, len(packets), 256):
                for packet in packets[start : start + 256]:
                    tx.submit(1, packet)
                out.write(tx.drain())
            out.write(tx.next_cadu())
        files[name] = (path, channel)
    return files


def child(path: Path, channel: str) -> None:
    import logging

    from groundstation.decode import decode_file
    from protocols.link.channel_file import load_channel

    logging.disable(logging.WARNING)
    config = load_channel(channel).config
    started, cpu_started = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        summary = decode_file(path, Path(out), "cadu", config, write_products=False)
    cpu_seconds, seconds = time.process_time() - cpu_started, time.perf_counter() - started
    detail = f"{len(summary['images'])} images, {sum(summary['packets_by_apid'].values())} packets"
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "detail": detail}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="decodes per file; the best is kept")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "CHANNEL"))
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.size_mb)
        print(f"load average {os.getloadavg()[0]:.1f} at the start; best of {max(1, args.repeat)}")
        print(f"{'CADU file, channel':<32}{'MB':>6}{'MB/s CPU':>10}{'x base':>8}{'MB/s wall':>11}  detail")
        base = None
        for name, (path, channel) in files.items():
            runs = [_decode_in_child(path, channel) for _ in range(max(1, args.repeat))]
            cpu, wall = min(r["cpu_seconds"] for r in runs), min(r["seconds"] for r in runs)
            size = path.stat().st_size / 1e6
            rate = size / cpu
            base = base or rate
            figures = f"{size:>6.1f}{rate:>10.1f}{rate / base:>8.2f}{size / wall:>11.1f}"
            print(f"{name:<32}{figures}  {runs[0]['detail']}")


def _decode_in_child(path: Path, channel: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), channel], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
