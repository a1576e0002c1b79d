"""Kill -9 one station mid-pass and restart it: nothing the surviving stations received is lost,
nothing is counted twice, and the restarted station is taken back in (its own count starts again)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import PALEBLUE, SCENARIO
from transport.nats_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(280)]

IDLE_VCID = 7


def test_a_station_killed_and_restarted_mid_pass(tmp_path: Path, nats_server) -> None:
    endpoints = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    started: list[subprocess.Popen] = []
    probe_log = tmp_path / "probe.log"

    def start(*args: str, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        process = subprocess.Popen([*PALEBLUE, *args], **kwargs)
        started.append(process)
        return process

    def ground(k: int, out: str) -> subprocess.Popen:
        return start(
            "ground", "--downlink", endpoints[k], "-o", str(tmp_path / out), "--station-id", f"s{k + 1}",
            "--bus", nats_server.url, "--timeout", "120", stdout=subprocess.DEVNULL,
        )  # fmt: skip

    try:
        grounds = [ground(k, f"s{k + 1}") for k in range(3)]
        merger = start(
            "merge", "--bus", nats_server.url, "-o", str(tmp_path / "merged"), "--idle-exit", "4",
            "--timeout", "150", stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        start(
            "probe", SCENARIO, "--station-downlinks", ",".join(endpoints), "--station-loss", "0.1",
            "--station-ber", "1e-5", "--seed", "17", "--drop-log", str(tmp_path / "drops.json"),
            "--uplink", f"tcp://127.0.0.1:{free_port()}", "--rate", "1e6", "--exit-after-downlink",
            stderr=probe_log.open("w"),
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "downlink to 3 stations" not in probe_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(5.0)  # the image takes ~17 s at 1 Mbit/s: kill s1 a third of the way in
        grounds[0].send_signal(signal.SIGKILL)  # kill -9 mid-pass
        grounds[0].wait(10)
        time.sleep(1.0)
        grounds[0] = ground(0, "s1-again")  # restarted: a new process, a new own count
        merger.wait(200)
        figures = json.loads((tmp_path / "merged" / "merge.json").read_text())
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    drops = json.loads((tmp_path / "drops.json").read_text())
    data = [{(e[1], e[2], e[0]) for e in lost if e[1] != IDLE_VCID} for lost in drops["stations"]]
    merged = figures["merged"]
    # nothing the surviving stations (s2, s3) received is lost: the merge misses at most what both lost
    assert merged["frames_missed"] <= len(data[1] & data[2])
    assert merged["window_exceeded"] == 0
    assert figures["missing_by_station"]["s2"] == len(data[1])
    assert figures["missing_by_station"]["s3"] == len(data[2])
    again = json.loads((tmp_path / "s1-again" / "bus.json").read_text())
    assert again["stored"] > 0  # the restarted station was taken back in
    s1 = figures["stations"]["s1"]
    assert s1["reports"] > again["stored"]  # the killed process had published part of the pass
    assert figures["missing_by_station"]["s1"] > len(data[0])  # and s1 missed frames while it was down
    # nothing counted twice: every report is a released frame, a copy, or a late copy
    total = sum(t["reports"] for t in figures["stations"].values())
    assert total == merged["frames_out"] + merged["duplicates"] + merged["late_duplicates"]
    summary = json.loads((tmp_path / "merged" / "summary.json").read_text())
    (image,) = summary["images"]
    assert image["complete"] == (merged["frames_missed"] == 0)
