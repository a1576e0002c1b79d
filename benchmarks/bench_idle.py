"""An idle probe and ground station: CPU time of each process and how fast the recording grows.

    .venv/bin/python benchmarks/bench_idle.py [--seconds 60] [--scenario longjiang2-2019-02-03]
        [--record-idle] [--probe-args "..."] [--ground-args "..."]

Starts ``paleblue probe`` and ``paleblue ground --record FILE`` as two processes on free ports (in
a temporary directory, deleted afterwards), waits until the probe has sent its scenario's images
(its log says the downlink queue is empty) and the ground has written them, then measures an idle
window of ``--seconds``: the CPU time (user + system, from ``/proc/PID/stat``) each process used
in it, as a share of one core, and the octets the recording grew by. The ground is then stopped
with SIGTERM and its ``summary.json`` read for the idle frames it counted. The machine's load
average is printed beside the figures (the CPU time of a process does not depend on the load,
its wall-clock pace may). The baseline is the same measurement of another checkout (``main``
before the change): run this script with ``PYTHONPATH`` set to an export of it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PALEBLUE = [sys.executable, "-m", "paleblue"]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _follow(stream, lines: list[str], seen: threading.Event, marker: str) -> None:
    for line in stream:
        lines.append(line)
        if marker in line:
            seen.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window (default 60)")
    parser.add_argument("--scenario", default="longjiang2-2019-02-03")
    parser.add_argument("--record-idle", action="store_true", help="pass --record-idle to the ground")
    parser.add_argument("--probe-args", default="", help="more probe arguments, one shell-quoted string")
    parser.add_argument("--ground-args", default="", help="more ground arguments, one shell-quoted string")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="paleblue-idle-") as tmp:
        work = Path(tmp)
        downlink = f"tcp://127.0.0.1:{free_port()}"
        uplink = f"tcp://127.0.0.1:{free_port()}"
        recording = work / "idle.rec"
        probe_cmd = [
            *PALEBLUE, "probe", args.scenario, "--seed", "1",
            "--downlink", downlink, "--uplink", uplink, *shlex.split(args.probe_args),
        ]  # fmt: skip
        ground_cmd = [
            *PALEBLUE, "ground", "--downlink", downlink, "-o", str(work / "out"), "--record", str(recording),
            *(["--record-idle"] if args.record_idle else []), *shlex.split(args.ground_args),
        ]  # fmt: skip
        print("probe: ", shlex.join(probe_cmd[2:]))
        print("ground:", shlex.join(ground_cmd[2:]))
        probe = subprocess.Popen(probe_cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        ground = subprocess.Popen(ground_cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, text=True)
        lines: list[str] = []
        drained = threading.Event()
        threading.Thread(
            target=_follow, args=(probe.stderr, lines, drained, "downlink queue empty"), daemon=True
        ).start()
        try:
            deadline = time.monotonic() + 300
            while not drained.wait(0.5):
                if probe.poll() is not None or ground.poll() is not None or time.monotonic() > deadline:
                    print("".join(lines[-20:]), file=sys.stderr)
                    print(
                        "probe or ground ended (or 300 s went by) before the images were sent",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(3.0)  # the last messages reach the ground, products are written
            start = time.monotonic()
            probe_cpu, ground_cpu = cpu_seconds(probe.pid), cpu_seconds(ground.pid)
            size = recording.stat().st_size
            load = os.getloadavg()[0]
            time.sleep(args.seconds)
            wall = time.monotonic() - start
            probe_cpu = cpu_seconds(probe.pid) - probe_cpu
            ground_cpu = cpu_seconds(ground.pid) - ground_cpu
            growth = recording.stat().st_size - size
            load = (load + os.getloadavg()[0]) / 2
        finally:
            for process in (ground, probe):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (ground, probe):
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        summary_path = work / "out" / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        physical = summary.get("link", {}).get("cadu", {}).get("physical", {})
        figures = {
            "idle_window_s": round(wall, 1),
            "probe_cpu_s": round(probe_cpu, 2),
            "probe_cpu_percent_of_a_core": round(100 * probe_cpu / wall, 2),
            "ground_cpu_s": round(ground_cpu, 2),
            "ground_cpu_percent_of_a_core": round(100 * ground_cpu / wall, 2),
            "recording_growth_octets": growth,
            "recording_growth_per_hour_mb": round(growth * 3600 / wall / 1e6, 2),
            "recording_total_octets": recording.stat().st_size if recording.exists() else None,
            "ground_idle_frames": physical.get("idle_frames"),
            "ground_idle_frames_not_recorded": summary.get("recording", {}).get("idle_frames_not_recorded"),
            "load_average_1min": round(load, 2),
        }
    for key, value in figures.items():
        print(f"{key:36} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
