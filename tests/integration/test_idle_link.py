"""An idle probe and ground station with ``--record`` are cheap (issue 14, item 6): a short idle
window, the CPU time of each process from /proc, the recording's growth, and the idle frames the
ground counted (its summary, and a decode of the recording)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.integration.conftest import PALEBLUE, Processes, free_endpoint

IDLE_WINDOW_S = 15.0
CPU_LIMIT = 0.05  # of one core
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def test_an_idle_probe_and_ground_are_cheap_and_the_recording_keeps_a_count(
    tmp_path: Path, processes: Processes
) -> None:
    downlink, uplink = free_endpoint(), free_endpoint()
    recording = tmp_path / "idle.rec"
    probe = processes.start(
        "probe", "longjiang2-2019-02-03", "--seed", "1", "--downlink", downlink, "--uplink", uplink,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    ground = processes.start(
        "ground", "--downlink", downlink, "-o", str(tmp_path / "out"), "--record", str(recording),
        stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    drained = threading.Event()

    def follow() -> None:
        for line in probe.stderr:
            if "downlink queue empty" in line:
                drained.set()

    threading.Thread(target=follow, daemon=True).start()
    assert drained.wait(150), "the probe did not send its image within 150 s"
    time.sleep(2.0)  # the last messages reach the ground
    assert probe.poll() is None and ground.poll() is None
    cpu = {p.pid: cpu_seconds(p.pid) for p in (probe, ground)}
    size, start = recording.stat().st_size, time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    wall = time.monotonic() - start
    used = {pid: (cpu_seconds(pid) - before) / wall for pid, before in cpu.items()}
    growth = recording.stat().st_size - size
    ground.send_signal(signal.SIGTERM)
    assert ground.wait(30) == 128 + signal.SIGTERM  # ended by the signal: its files written (issue 15)

    assert used[probe.pid] < CPU_LIMIT, f"idle probe used {100 * used[probe.pid]:.1f} % of a core"
    assert used[ground.pid] < CPU_LIMIT, f"idle ground used {100 * used[ground.pid]:.1f} % of a core"
    # before: about 2,000 idle CADUs a second recorded (2.5 MB/s); now housekeeping and idle notes
    assert growth < 150_000 * IDLE_WINDOW_S / 15, f"the recording grew by {growth} octets while idle"

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    physical = summary["link"]["cadu"]["physical"]
    assert physical["idle_frames"] >= 2 * IDLE_WINDOW_S  # a few idle CADUs a second, counted
    assert physical["mc_frames_missing"] == 0  # the frame times skipped used no frame count
    assert summary["transport"]["messages_lost"] == 0
    noted = summary["recording"]["idle_frames_not_recorded"]
    assert 0 < noted <= physical["idle_frames"]
    assert "not recorded" in (tmp_path / "out" / "report.md").read_text()

    decoded = subprocess.run(
        [*PALEBLUE, "decode", str(recording), "-o", str(tmp_path / "decoded"), "--no-products"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    again = json.loads((tmp_path / "decoded" / "summary.json").read_text())
    assert again["recording"] == {"idle_frames_noted_in_input": noted}
    assert again["transport"]["messages_lost"] == 0
    assert again["link"]["cadu"]["physical"]["mc_frames_missing"] == 0
    assert again["link"]["cadu"]["physical"]["idle_frames"] == physical["idle_frames"] - noted
    assert again["images"][0]["sha256"] == summary["images"][0]["sha256"]
