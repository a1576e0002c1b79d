"""Recording write and read throughput (MB/s) beside a plain ``read()`` of the same file, and peak memory.

    .venv/bin/python benchmarks/bench_recording.py [--size-mb 200] [--payloads 1279,65536]

For each payload size, a ~``size-mb`` MB recording is written in a temporary
directory (deleted afterwards) through ``RecordingWriter.write`` exactly as the
ground station calls it (default durability: one write per record, fsync at
most once a second), then read back three ways in the same run: the streaming
``RecordingReader`` (every frame CRC-checked and decoded), a plain chunked
``read()`` of the same bytes (the ceiling: just after writing, both come from
the page cache), and a seek to the middle by time through the index. Memory:
the process's resident set before and after reading, and its lifetime peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from groundstation.recorder import RecordingWriter
from groundstation.recording_reader import RecordingReader
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer

MB = 1_000_000
CHUNK = 1 << 20


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write(path: Path, size_bytes: int, payload_size: int) -> tuple[float, int, int]:
    payloads = [os.urandom(payload_size) for _ in range(16)]
    count = size_bytes // (payload_size + 40)
    start_ns = time.time_ns()
    start = time.perf_counter()
    with RecordingWriter(path, scenario="benchmark") as writer:
        for i in range(count):
            envelope = Envelope(Layer.CADUS, 1, i).pack()
            writer.write("downlink", TOPIC_DOWNLINK, envelope, payloads[i & 15], start_ns + i * 1000)
    return time.perf_counter() - start, count, start_ns


def read_recording(path: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    records = payload = 0
    with RecordingReader(path) as reader:
        for unit in reader:
            records += 1
            payload += len(unit.payload)
        assert not reader.skipped, reader.skipped
    return time.perf_counter() - start, records, payload


def plain_read(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    total = 0
    with open(path, "rb") as raw:
        while chunk := raw.read(CHUNK):
            total += len(chunk)
    return time.perf_counter() - start, total


def seek_middle(path: Path, start_ns: int, count: int) -> tuple[float, int]:
    middle = count // 2
    start = time.perf_counter()
    with RecordingReader(path) as reader:
        first = next(iter(reader.units(start_ns + middle * 1000)))
    assert first.sequence == middle
    return time.perf_counter() - start, middle


def run(size_mb: int, payload_size: int, directory: Path) -> None:
    path = directory / f"bench-{payload_size}.pbrec"
    try:
        write_s, count, start_ns = write(path, size_mb * MB, payload_size)
        size = path.stat().st_size
        rss_before = rss_mib()
        read_s, records, _ = read_recording(path)
        rss_after = rss_mib()
        plain_s, plain_bytes = plain_read(path)
        seek_s, _ = seek_middle(path, start_ns, count)
    finally:
        path.unlink(missing_ok=True)
    assert records == count and plain_bytes == size
    print(f"payload {payload_size} B, {count} records, file {size / MB:.0f} MB")
    print(f"  write  RecordingWriter  {size / MB / write_s:8.0f} MB/s  {count / write_s:10.0f} records/s")
    print(f"  read   RecordingReader  {size / MB / read_s:8.0f} MB/s  {count / read_s:10.0f} records/s")
    print(f"  read   plain read()     {size / MB / plain_s:8.0f} MB/s")
    print(f"  seek   middle by time   {seek_s * 1000:8.1f} ms")
    print(f"  memory RSS {rss_before:.0f} MiB before reading, {rss_after:.0f} MiB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--payloads", default="1279,65536", help="payload sizes in octets, comma-separated")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a tmp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-recording-") as directory:
        for payload_size in (int(p) for p in args.payloads.split(",")):
            run(args.size_mb, payload_size, Path(directory))
    print(f"peak RSS of the whole run: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
