"""Offline decoding throughput: `paleblue decode` of a raw packet file and of a recording.

Baselines measured in the same run on the same files: ccsdspy reading the packet file
(VariableLength, the reader that applies to a file of mixed packet sizes) and a plain read
of the file. Each decoder runs in its own process so its peak memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_decode.py [--size-mb 200] [--cpu-time] [--repeat 3] [--dir DIR]
        [--startup-only] [--startup-against TREE]

``--cpu-time`` rates each reader by the CPU seconds (user + sys) of its own process, from the
reader's first import to its last octet, instead of wall-clock seconds: on a machine shared with
other work only CPU time means anything. ``--repeat N`` keeps each reader's best of N runs (the
readers alternate, so every baseline is measured in the same minutes as ours). ``--dir DIR``
keeps the generated files there and reuses them in later runs.

Then start-up, whole processes from launch to exit (median of 9, wall clock and CPU): ``paleblue
decode`` of an empty file beside the interpreter alone, ``import numpy`` and ``import ccsdspy``
(``--startup-only``; ``--startup-against TREE`` adds the same command run from an export of
another commit).
"""

from __future__ import annotations

import argparse
import json
import os
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
    from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
    from protocols.image.image_metadata import ImageMetadata
    from protocols.packets.space_packet import SequenceCounter
    from protocols.packets.time_code import CucTime

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
    started, cpu_started = time.perf_counter(), time.process_time()
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
    cpu_seconds = time.process_time() - cpu_started  # user + sys of this process
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_mb, "detail": detail}))


def child_environment() -> dict[str, str]:
    """Readers import from compiled bytecode, as after ``pip install`` (which compiles every
    module): a PYTHONDONTWRITEBYTECODE in the environment would make each of our readers compile
    some 60 modules from source on every start (0.1 s of CPU), while ccsdspy's installed modules
    come with their bytecode."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_up() -> None:
    """Import every reader once, untimed, so that later starts find their bytecode cached."""
    code = "import groundstation.decode, ccsdspy"
    subprocess.run([sys.executable, "-c", code], env=child_environment(), capture_output=True, check=True)


def run_child(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        capture_output=True,
        text=True,
        env=child_environment(),
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    parser.add_argument("--cpu-time", action="store_true", help="rate readers by CPU time of their process")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each reader")
    parser.add_argument("--dir", type=Path, help="keep the generated files here (reused when present)")
    parser.add_argument("--packets-only", action="store_true", help="skip the recording's readers")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    parser.add_argument(
        "--startup-against", type=Path, metavar="TREE",
        help="also time the start-up of the code in TREE (an export of another commit)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        if args.startup_only:
            startup(directory, against=args.startup_against)
            return
        raw, rec = directory / "pass.bin", directory / "pass.pbrec"
        if not (raw.exists() and rec.exists()):
            raw, rec = make_files(directory, args.size_mb)
        measure(raw, rec, args.cpu_time, max(1, args.repeat), args.packets_only)
        startup(directory, against=args.startup_against)


def measure(raw: Path, rec: Path, cpu_time: bool, repeat: int, packets_only: bool = False) -> None:
    size = {raw: raw.stat().st_size, rec: rec.stat().st_size}
    megabytes = f"packets {size[raw] / 1e6:.0f} MB, recording {size[rec] / 1e6:.0f} MB"
    clock = "cpu_seconds" if cpu_time else "seconds"
    print(f"files: {megabytes} (an image pass of 1024x1024 10-bit frames)")
    print(f"rated by {'CPU time (user + sys) of each reader process' if cpu_time else 'wall-clock time'}"
          f", best of {repeat}; load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    rows = [
        ("plain read of the packet file", "read", raw),
        ("paleblue decode, packet file", "paleblue-packets", raw),
        ("ccsdspy VariableLength, same file", "ccsdspy", raw),
        ("plain read of the recording", "read", rec),
        ("paleblue decode, recording", "paleblue-recording", rec),
    ]
    if packets_only:
        rows = rows[:3]
    results: dict[tuple[str, Path], dict] = {}
    warm_up()
    for _ in range(repeat):  # alternate the readers, so each baseline shares the minutes of ours
        for _label, kind, path in rows:
            r = run_child(kind, path)
            best = results.get((kind, path))
            if best is None or r[clock] < best[clock]:
                results[kind, path] = r
    print(f"{'reader':<34}{'MB/s':>9}{'peak MB':>9}  detail")
    for label, kind, path in rows:
        r = results[kind, path]
        print(f"{label:<34}{size[path] / 1e6 / r[clock]:>9.1f}{r['peak_mb']:>9.0f}  {r['detail']}")
    ours = results["paleblue-packets", raw][clock]
    theirs = results["ccsdspy", raw][clock]
    print(f"paleblue decode vs ccsdspy on the packet file: x{theirs / ours:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def startup(directory: Path, runs: int = 9, against: Path | None = None) -> None:
    """Whole-process start-up: `paleblue decode` of an empty file and its baselines, alternated;
    ``against``: the same command run from another tree (an export of an earlier commit, through
    PYTHONPATH) as one more row. Every process starts in ``directory``, so that ``-m`` finds no
    package in the working directory and PYTHONPATH decides."""
    empty = directory / "empty.bin"
    empty.write_bytes(b"")
    python, out = [sys.executable], str(directory / "empty-out")
    decode = [*python, "-m", "paleblue", "decode", str(empty), "-o", out, "--no-products"]
    commands = {
        "python -c pass (the interpreter alone)": ([*python, "-c", "pass"], None),
        "python -c 'import numpy'": ([*python, "-c", "import numpy"], None),
        "python -c 'import ccsdspy'": ([*python, "-c", "import ccsdspy"], None),
        "paleblue decode EMPTY --no-products": (decode, None),
    }
    if against is not None:
        commands[f"the same, from {against}"] = (decode, str(against))
    wall: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for run in range(runs + 1):  # the first round writes the bytecode of a tree run the first time
        for label, (command, path) in commands.items():
            env = child_environment() | ({"PYTHONPATH": path} if path else {})
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            usage = os.wait4(process.pid, 0)[2]
            if run:
                wall[label].append(time.perf_counter() - started)
                cpu[label].append(usage.ru_utime + usage.ru_stime)
    print(f"start-up, launch to exit, median of {runs} (target for paleblue decode: 0.1 s)")
    for label in commands:
        middle = runs // 2
        print(f"  {label:<40}{sorted(wall[label])[middle] * 1000:>7.0f} ms wall"
              f"{sorted(cpu[label])[middle] * 1000:>7.0f} ms CPU")  # fmt: skip


if __name__ == "__main__":
    main()
