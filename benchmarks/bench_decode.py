"""Offline decoding throughput: `paleblue decode` of a raw packet file and of a recording.

Baselines measured in the same run on the same files: ccsdspy reading the packet file
(VariableLength, the reader that applies to a file of mixed packet sizes) and a plain read
of the file. Each decoder runs in its own process so its peak memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_decode.py [--size-mb 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

PACKETS_PER_MESSAGE = 8


def make_files(directory: Path, size_mb: int) -> tuple[Path, Path]:
    """A pass of 1024x1024 10-bit images as image packets: raw file and recording."""
    from emulator.imaging import image_packets
    from groundstation.recorder import RecordingWriter
    from protocols.image_metadata import ImageMetadata
    from protocols.space_packet import SequenceCounter
    from protocols.time_code import CucTime
    from protocols.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer

    raw_path, rec_path = directory / "pass.bin", directory / "pass.pbrec"
    sequence, rng = SequenceCounter(), np.random.default_rng(1)
    pixels = rng.integers(0, 1024, (1024, 1024), dtype=np.uint16)
    written, image_id, message = 0, 0, 0
    with open(raw_path, "wb") as raw, RecordingWriter(rec_path, scenario="bench") as recording:
        while written < size_mb * 1_000_000:
            image_id += 1
            _, packets = image_packets(
                image_id, pixels, 10, 0.01, datetime(2020, 7, 27, tzinfo=UTC),
                ImageMetadata(scenario="bench"),
                sequence, CucTime(1_000_000_000 + image_id),
            )  # fmt: skip
            for start in range(0, len(packets), PACKETS_PER_MESSAGE):
                payload = b"".join(packets[start : start + PACKETS_PER_MESSAGE])
                raw.write(payload)
                envelope = Envelope(Layer.PACKETS, 1, message)
                recording.write("downlink", TOPIC_DOWNLINK, envelope, payload, time.time_ns())
                message += 1
                written += len(payload)
    return raw_path, rec_path


def child(kind: str, path: Path) -> None:
    """Run one reader in this process and print its time and peak memory."""
    import logging

    logging.disable(logging.WARNING)
    started = time.perf_counter()
    if kind in ("paleblue-packets", "paleblue-recording"):
        from groundstation.decode import decode_file

        fmt = "packets" if kind == "paleblue-packets" else "recording"
        with tempfile.TemporaryDirectory() as out:
            summary = decode_file(path, Path(out), fmt, write_products=False)
        detail = f"{len(summary['images'])} images, {sum(summary['packets_by_apid'].values())} packets"
    elif kind == "ccsdspy":
        import ccsdspy
        from ccsdspy import PacketArray

        definition = ccsdspy.VariableLength([PacketArray(name="DATA", data_type="uint", bit_length=8,
                                                         array_shape="expand")])  # fmt: skip
        result = definition.load(str(path), include_primary_header=True)
        detail = f"{len(result['DATA'])} packets"
    else:
        with open(path, "rb") as stream:
            total = 0
            while chunk := stream.read(1 << 20):
                total += len(chunk)
        detail = f"{total} octets"
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "detail": detail}))


def run_child(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw, rec = make_files(Path(tmp), args.size_mb)
        size = {raw: raw.stat().st_size, rec: rec.stat().st_size}
        megabytes = f"packets {size[raw] / 1e6:.0f} MB, recording {size[rec] / 1e6:.0f} MB"
        print(f"files: {megabytes} (an image pass of 1024x1024 10-bit frames)")
        print(f"{'reader':<34}{'MB/s':>9}{'peak MB':>9}  detail")
        rows = [
            ("plain read of the packet file", "read", raw),
            ("paleblue decode, packet file", "paleblue-packets", raw),
            ("ccsdspy VariableLength, same file", "ccsdspy", raw),
            ("plain read of the recording", "read", rec),
            ("paleblue decode, recording", "paleblue-recording", rec),
        ]
        results = {}
        for label, kind, path in rows:
            r = run_child(kind, path)
            results[kind, path] = r
            print(f"{label:<34}{size[path] / 1e6 / r['seconds']:>9.1f}{r['peak_mb']:>9.0f}  {r['detail']}")
        ours = results["paleblue-packets", raw]["seconds"]
        theirs = results["ccsdspy", raw]["seconds"]
        print(f"paleblue decode vs ccsdspy on the packet file: x{theirs / ours:.2f}")


if __name__ == "__main__":
    main()
