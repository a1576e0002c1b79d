"""Peak memory of decoding a recording into an archive and exporting it, against the file's size.

A pass is made with the project's own tools (the flight software's housekeeping and events, one
second of data at a time, between 1024x1024 10-bit images as image packets), recorded as the
station records it. Then, each in its own process, peak RSS (``ru_maxrss``) of:

* baseline: ``paleblue decode REC --no-products`` (the decoder alone, no archive);
* ``paleblue decode REC --no-products --archive DB``;
* ``paleblue archive export DB --format csv`` and ``--format parquet`` (every parameter, aligned).

Run at two sizes: memory that does not grow with the file shows as the same peak.

    .venv/bin/python benchmarks/bench_archive_memory.py [--size-mb 100 1000] [--dir /tmp/x]

The files are made in a temporary directory (or ``--dir``) and deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HK_SECONDS_PER_IMAGE = 200  # housekeeping seconds recorded between two images
PACKETS_PER_MESSAGE = 8

# Runs a command and prints the largest resident set of its process tree (KiB, as Linux counts).
MEASURE = (
    "import resource, subprocess, sys;"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True);"
    "sys.stderr.write(r.stderr[-2000:] if r.returncode else '');"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)


def make_recording(path: Path, size_mb: int) -> dict[str, int]:
    from emulator.flight_software import FlightSoftware
    from emulator.imaging import image_packets
    from groundstation.recorder import RecordingWriter
    from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
    from protocols.image.image_metadata import ImageMetadata
    from protocols.mdb.mission_db import load_mission_db
    from protocols.packets.space_packet import SequenceCounter
    from protocols.packets.time_code import CucTime

    fsw = FlightSoftware(load_mission_db())
    sequence = SequenceCounter()
    pixels = np.random.default_rng(1).integers(0, 1024, (1024, 1024), dtype=np.uint16)
    written = images = seconds = message = 0
    t0 = 2.0e9
    with RecordingWriter(path, scenario="bench-archive") as recording:

        def send(payload: bytes) -> None:
            nonlocal message, written
            envelope = Envelope(Layer.PACKETS, 1, message)
            recording.write("downlink", TOPIC_DOWNLINK, envelope, payload, time.time_ns())
            message += 1
            written += len(payload)

        while written < size_mb * 1_000_000:
            for _ in range(HK_SECONDS_PER_IMAGE):
                send(b"".join(fsw.tick(t0 + seconds)))
                seconds += 1
            images += 1
            _, packets = image_packets(
                images % 65536, pixels, 10, 0.01, datetime(2020, 7, 27, tzinfo=UTC),
                ImageMetadata(scenario="bench"), sequence, CucTime(int(t0) + seconds),
            )  # fmt: skip
            for start in range(0, len(packets), PACKETS_PER_MESSAGE):
                send(b"".join(packets[start : start + PACKETS_PER_MESSAGE]))
    return {"octets": written, "images": images, "hk_seconds": seconds, "messages": message}


def peak_of(*command: str) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU seconds of ``paleblue COMMAND...`` in its own process."""
    started = os.times()
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "paleblue", *command],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ended = os.times()
    kib, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"paleblue {' '.join(command)} failed ({code}): {out.stderr}")
    cpu = (ended.children_user - started.children_user) + (ended.children_system - started.children_system)
    return int(kib) / 1024, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"{'recording':>10} {'samples':>11} | peak MiB (CPU s): {'decode alone':>18} "
          f"{'decode -> archive':>18} {'export csv':>16} {'export parquet':>16} "
          "| archive, csv, parquet MB")  # fmt: skip
    for size in args.size_mb:
        directory = Path(tempfile.mkdtemp(prefix="bench-archive-mem-", dir=args.dir))
        try:
            rec, db = directory / "pass.pbrec", directory / "pass.db"
            made = make_recording(rec, size)
            alone = peak_of("decode", str(rec), "-o", str(directory / "alone"), "--no-products")
            decode = peak_of("decode", str(rec), "-o", str(directory / "out"), "--no-products",
                             "--archive", str(db))  # fmt: skip
            csv = peak_of("archive", "export", str(db), "--format", "csv", "-o", str(directory / "x.csv"))
            parquet = peak_of(
                "archive", "export", str(db), "--format", "parquet", "-o", str(directory / "x.parquet")
            )
            from groundstation.archive import Archive

            with Archive(db) as archive:
                samples = sum(p.samples for p in archive.parameters())
            sizes = [(directory / n).stat().st_size / 1e6 for n in ("pass.db", "x.csv", "x.parquet")]
            print(
                f"{made['octets'] / 1e6:8.0f}MB {samples:11,d} | "
                + " ".join(f"{m:9.0f} ({c:5.1f} s)" for m, c in (alone, decode, csv, parquet))
                + " | " + ", ".join(f"{s:.0f}" for s in sizes),
                flush=True,
            )  # fmt: skip
            print(f"           ({made['images']} images, {made['hk_seconds']:,} s of housekeeping, "
                  f"{made['messages']:,} messages)", flush=True)  # fmt: skip
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
