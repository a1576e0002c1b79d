"""Live ingest: a recorded 30-image pass replayed at `--speed max` into `paleblue ground`, products on.

Two recordings of the Tianwen-1 seed with 30 images (made once with `paleblue run --rate 1e9
--record`, kept in ``--dir``): the default channel (TM, RS I=5: CADUs) and bare packets
(``--channel none``). Each is replayed by `paleblue replay --speed max` into `paleblue ground
--expect-images 30` with its products on; the figure is the recording's payload octets over the
ground's time from the replay's start to its exit (wall) and over the ground's own CPU time (user +
sys of its process, its product worker included; start-up included in both).

The raw baseline times the stream from its first message; so does the second figure of the ground:
the replay's own start-up (launch to its first message reaching a SUB that is already connecting, as
the ground is) is measured alone in the same run and taken off the ground's wall time.

Baseline of the same run: raw pyzmq, the same payloads published by an XPUB in this process and
received by a SUB in another (``python -c``), from its first message to its last.

Then the receive path alone, in this process and in CPU time (a figure that a loaded machine
moves little): the same messages through ``GroundStation`` with products off, one message at a
time (``handle_message``, the receive loop before it batched) beside the receive loop's way
(``MessageBatch``, flushed every 256 messages).

    .venv/bin/python benchmarks/bench_ingest.py [--dir DIR] [--repeat 1] [--in-process-only]
        [--ground-arg=--product-processes=0 ...]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from groundstation.recording_reader import RecordingReader

ROOT = Path(__file__).resolve().parents[1]
PALEBLUE = [sys.executable, "-m", "paleblue"]
IMAGES = 30

RAW_RECEIVER = """
import sys, time, resource, zmq
ctx = zmq.Context(); sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.RCVHWM, 0)
sub.setsockopt(zmq.SUBSCRIBE, b""); sub.connect(sys.argv[1]); count = int(sys.argv[2])
print("ready", flush=True)
sub.recv_multipart(); t0 = time.monotonic(); c0 = time.process_time(); octets = 0
for _ in range(count - 1):
    octets += len(sub.recv_multipart(copy=False)[-1])
print(octets, time.monotonic() - t0, time.process_time() - c0, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recording(directory: Path, channel: str) -> Path:
    path = directory / f"pass{IMAGES}-{channel}.rec"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import scenario_file

    scenario = scenario_file(directory, IMAGES, 1024)
    out = directory / f"made-{channel}"
    subprocess.run(
        [*PALEBLUE, "run", str(scenario), "--seed", "1", "--rate", "1e9", "--record", str(path),
         "-o", str(out), "--timeout", "900", *(["--channel", "none"] if channel == "none" else [])],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return path


FIRST_MESSAGE = """
import sys, time, zmq
ctx = zmq.Context(); sub = ctx.socket(zmq.SUB); sub.setsockopt(zmq.SUBSCRIBE, b""); sub.connect(sys.argv[1])
print("ready", flush=True)
sub.recv_multipart()
print(time.monotonic(), flush=True)
"""


def replay_start_up(path: Path) -> float:
    """Seconds from launching ``paleblue replay --speed max`` to its first message reaching a SUB that
    was already connecting, as the ground is (CLOCK_MONOTONIC is one clock for all processes)."""
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", FIRST_MESSAGE, f"tcp://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    receiver.stdout.readline()
    launched = time.monotonic()
    replay = subprocess.Popen(
        [*PALEBLUE, "replay", str(path), "--to", f"tcp://127.0.0.1:{port}", "--speed", "max"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first = float(receiver.stdout.readline())
    receiver.wait(30)
    replay.terminate()
    replay.wait(30)
    return first - launched


def payloads(path: Path) -> list[bytes]:
    return [record.payload for record in RecordingReader(path)]


def ingest(
    path: Path, channel: str, directory: Path, ground_args: tuple[str, ...] = ()
) -> tuple[float, float, float]:
    """(octets, wall s, CPU s) of the ground ingesting the recording replayed at max speed."""
    port = free_port()
    out = directory / f"ground-{channel}-{time.monotonic_ns()}"
    ground = subprocess.Popen(
        [*PALEBLUE, "ground", "--downlink", f"tcp://127.0.0.1:{port}", "-o", str(out), "--expect-images",
         str(IMAGES), "--timeout", "600", *(["--channel", "none"] if channel == "none" else []),
         *ground_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.5)  # the ground's start-up, not part of the figure's wall time (its CPU time is)
    started = time.monotonic()
    replay = subprocess.Popen(
        [*PALEBLUE, "replay", str(path), "--to", f"tcp://127.0.0.1:{port}", "--speed", "max"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(ground.pid, 0)
    wall = time.monotonic() - started
    ground.returncode = os.waitstatus_to_exitcode(status)
    replay.terminate()
    replay.wait(30)
    if ground.returncode != 0:
        raise SystemExit(f"ground exited {ground.returncode} on {path}")
    octets = sum(len(p) for p in payloads(path))
    return octets, wall, usage.ru_utime + usage.ru_stime


def raw_zmq(messages: list[bytes]) -> tuple[float, float, float]:
    """(octets, wall s, receiver CPU s): XPUB here, SUB in another process, the same payloads."""
    import zmq

    context = zmq.Context()
    pub = context.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    receiver = subprocess.Popen(
        [sys.executable, "-c", RAW_RECEIVER, f"tcp://127.0.0.1:{port}", str(len(messages))],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert receiver.stdout is not None
    receiver.stdout.readline()
    pub.recv()  # the subscription
    for payload in messages:
        pub.send_multipart([b"tm", b"envelope-16-oct.", payload])
    octets, wall, cpu = (float(x) for x in receiver.stdout.readline().split())
    receiver.wait(30)
    pub.close(linger=0)
    context.term()
    return octets, wall, cpu


def receive_path_cpu(path: Path, joined: bool, directory: Path) -> float:
    """CPU seconds of the station's chain (products off) over the recording's messages."""
    from groundstation.station import GroundStation, MessageBatch
    from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope

    messages = [
        [TOPIC_DOWNLINK, Envelope(r.layer, 1, i).pack(), r.payload]
        for i, r in enumerate(RecordingReader(path))
    ]
    logging.getLogger("paleblue.ground").setLevel(logging.ERROR)  # the pass's alarms, not for this output
    station = GroundStation(directory / f"in-process-{time.monotonic_ns()}", write_products=False)
    start = time.process_time()
    if joined:
        batch = MessageBatch(station)
        for first in range(0, len(messages), 256):  # as the receive loop drains them
            for message in messages[first : first + 256]:
                batch.add(message)
            batch.flush()
    else:
        for message in messages:
            station.handle_message(message)
    seconds = time.process_time() - start
    if len(station.finish()["images"]) != IMAGES:
        raise SystemExit(f"the station did not make {IMAGES} images of {path}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="keep the recordings here (reused)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each figure")
    parser.add_argument("--in-process-only", action="store_true", help="only the receive path in process")
    parser.add_argument(
        "--ground-arg", action="append", default=[], metavar="ARG",
        help="one more argument for `paleblue ground` (repeatable), e.g. --ground-arg=--product-processes=0",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        for channel, label in (("default", "default channel (CADUs)"), ("none", "bare packets")):
            path = recording(directory, channel)
            messages = payloads(path)
            octets = sum(map(len, messages))
            cpu = {
                joined: min(receive_path_cpu(path, joined, Path(tmp)) for _ in range(args.repeat))
                for joined in (False, True)
            }
            print(
                f"{label}: receive path in process, products off, per CPU second: one message at a "
                f"time {octets / cpu[False] / 1e6:.1f} MB/s, as the receive loop batches "
                f"{octets / cpu[True] / 1e6:.1f} MB/s",
                flush=True,
            )
            if args.in_process_only:
                continue
            best_raw = best_ground = (0.0, float("inf"), float("inf"))
            start_up = float("inf")
            for _ in range(args.repeat):
                raw = raw_zmq(messages)
                best_raw = min(best_raw, raw, key=lambda r: r[1])
                got = ingest(path, channel, Path(tmp), tuple(args.ground_arg))
                best_ground = min(best_ground, got, key=lambda r: r[1])
                start_up = min(start_up, replay_start_up(path))
            octets = best_raw[0] + len(messages[0])
            raw_mb_s = octets / best_raw[1] / 1e6
            wall_mb_s, cpu_mb_s = best_ground[0] / best_ground[1] / 1e6, best_ground[0] / best_ground[2] / 1e6
            streaming_mb_s = best_ground[0] / (best_ground[1] - start_up) / 1e6
            print(
                f"{label}: {len(messages)} messages, {best_ground[0] / 1e6:.1f} MB; baseline raw pyzmq "
                f"XPUB->SUB between two processes {raw_mb_s:.0f} MB/s ({octets / best_raw[2] / 1e6:.0f} "
                f"MB/s of receiver CPU); paleblue ground with products {wall_mb_s:.1f} MB/s wall from the "
                f"replay's launch, {streaming_mb_s:.1f} MB/s from its first message (its start-up, "
                f"{start_up:.2f} s, measured alone) = {100 * streaming_mb_s / raw_mb_s:.1f} % of raw "
                f"(target 25 %); {cpu_mb_s:.1f} MB/s of the ground's CPU time",
                flush=True,
            )


if __name__ == "__main__":
    main()
