"""Operator-grade command line (issue 15): Ctrl-C and SIGTERM in `render` are one line and exit
130/143 with whole files; `run` whose probe dies at start ends at once with the probe's error."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.integration.conftest import PALEBLUE


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_render_interrupted_prints_one_line_and_leaves_whole_files(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*PALEBLUE, "render", "--all", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()  # the first scenario is written: mid-work, handlers set
        assert first, process.stderr.read()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == status, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"paleblue: render: interrupted by {signum.name}; "), lines[0]
    written = [first, *stdout.splitlines()]
    assert f"{len([w for w in written if w.strip()])} of 11 scenario(s) written whole" in lines[0]
    assert not (out / "contact-sheet.png").exists()  # stopped before the end
    for png in out.glob("*.png"):
        with Image.open(png) as image:
            image.load()  # every file there is whole


def test_run_whose_probe_dies_at_start_ends_at_once_with_its_error(tmp_path: Path) -> None:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        endpoint = f"tcp://127.0.0.1:{busy.getsockname()[1]}"
        process = subprocess.Popen(
            [*PALEBLUE, "run", "-o", str(tmp_path / "out"), "--downlink", endpoint, "--timeout", "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        died_at = None
        lines = []
        try:
            for line in process.stderr:
                lines.append(line.rstrip())
                if died_at is None and line.startswith("paleblue: probe:"):
                    died_at = time.monotonic()
            process.wait(timeout=30)
            ended_at = time.monotonic()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert died_at is not None, lines
    assert ended_at - died_at < 5.0, lines  # before: the ground's full --timeout, then "faults: none"
    assert process.returncode == 1, lines
    assert "Address already in use" in lines[-1] and lines[-1].startswith("run: the probe exited early"), (
        lines
    )
    assert not any("Traceback" in line for line in lines), lines


def _large_cadu_file(path: Path) -> Path:
    """About 36 MB of CADUs (a few seconds to decode): one generated stretch, repeated."""
    from emulator.transmitter import Transmitter
    from protocols.link.channel_file import preset
    from tests.groundstation.test_decode import _packets

    packets = _packets()
    tx = Transmitter(preset(), {1: 0})
    stretch = bytearray()
    while len(stretch) < 3_000_000:
        for packet in packets:
            tx.submit(1, packet)
        stretch += tx.drain()
    path.write_bytes(bytes(stretch) * 12)
    return path


def _interrupt_when(process: subprocess.Popen, ready, signum: signal.Signals) -> tuple[str, str]:
    """Send ``signum`` once ``ready()`` (the command is mid-work, its handlers set); its output."""
    try:
        deadline = time.monotonic() + 30
        while not ready() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert process.poll() is None, process.communicate()
        process.send_signal(signum)
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_decode_interrupted_writes_the_summary_of_what_was_read(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    source = _large_cadu_file(tmp_path / "large.cadu")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*PALEBLUE, "decode", str(source), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = _interrupt_when(process, out.exists, signum)  # the station made it: decoding
    assert process.returncode == status, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"paleblue: decode: interrupted by {signum.name}; summary of what was read ")
    summary = json.loads((out / "summary.json").read_text())
    read = summary["input"]["interrupted"]["octets_read"]
    assert 0 <= read < source.stat().st_size
    assert f"{read:,} octets read" in lines[0]
    assert summary["input"]["format"] == "cadu"


def test_cmd_wait_interrupted_is_one_line(tmp_path: Path) -> None:
    ports = []
    for _ in range(2):
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as free:
            free.bind(("127.0.0.1", 0))
            ports.append(free.getsockname()[1])
    process = subprocess.Popen(
        [*PALEBLUE, "cmd", "PING", "--wait", "--timeout", "60",
         "--uplink", f"tcp://127.0.0.1:{ports[0]}", "--downlink", f"tcp://127.0.0.1:{ports[1]}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    started = time.monotonic()
    _, stderr = _interrupt_when(process, lambda: time.monotonic() - started > 2.0, signal.SIGINT)
    assert process.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("paleblue: cmd: PING: interrupted by SIGINT"), lines[0]


# ------------------------------------------------------------- Ctrl-C during a CFDP file transfer

SLOW_CFDP = ["--delivery", "cfdp", "--rate", "300000", "--seed", "1"]  # a 2 MB image: about a minute


def _partial_written(out: Path):
    return lambda: any(out.glob("*-partial.png"))


def _check_open_transfer(out: Path) -> dict:
    """summary.json lists the one open transfer; its partial image hatches exactly the octets the
    summary says are missing (written at the interrupt, not a second earlier); report.md lists it."""
    from protocols.image.image_products import HATCH_LEVELS, HATCH_PERIOD, missing_pixels
    from tests.integration.conftest import SCENARIO

    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == []
    [transfer] = summary["cfdp"]["open"]
    size, received = transfer["file_octets"], transfer["octets_received"]
    assert 0 < received < size and transfer["missing_octets"] == size - received
    assert transfer["percent_received"] == round(100 * received / size, 1)
    assert 0 < transfer["missing_range_count"] == len(transfer["missing_ranges"])
    assert sum(b - a for a, b in transfer["missing_ranges"]) == size - received
    with Image.open(out / transfer["partial_image"]) as image:
        quicklook = np.asarray(image)
    height, width = quicklook.shape
    start = size - width * height * 2  # 10-bit samples: two octets each, after the file's header
    missing = missing_pixels(
        [(a - start, b - start) for a, b in transfer["missing_ranges"]], width, height, 10
    )
    assert missing.any() and not missing.all()
    rows, cols = np.indices(missing.shape)
    dark, light = HATCH_LEVELS
    hatch = np.where((rows + cols) % HATCH_PERIOD < HATCH_PERIOD // 2, dark, light)
    assert (quicklook[missing] == hatch[missing]).all()  # what is missing now is hatched ...
    assert (quicklook[~missing] != hatch[~missing]).any()  # ... and what arrived is the sky
    transaction = "/".join(str(n) for n in transfer["transaction"])
    report = (out / "report.md").read_text()
    assert "## File transfers still open at the end of the pass (CFDP)" in report
    assert f"- transaction {transaction} " in report and f"{received:,} of {size:,} octets" in report
    assert f"partial image {SCENARIO}-001-partial.png" in report
    return transfer


@pytest.mark.slow
def test_ground_interrupted_mid_cfdp_transfer_writes_the_partial_image_and_the_open_transfer(
    tmp_path: Path, processes
) -> None:
    from tests.integration.conftest import SCENARIO, free_endpoint

    out = tmp_path / "out"
    downlink, uplink = free_endpoint(), free_endpoint()
    ground = processes.start(
        "ground", "--downlink", downlink, "--uplink", uplink, "-o", str(out), "--expect-images", "1",
        "--timeout", "120", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    processes.start(
        "probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, *SLOW_CFDP,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, stderr = _interrupt_when(ground, _partial_written(out), signal.SIGINT)
    assert ground.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    last = stderr.splitlines()[-1]
    assert last.startswith(
        f"paleblue: ground: interrupted by SIGINT; summary.json and report.md written to {out}"
    )
    transfer = _check_open_transfer(out)
    assert f"1 file transfer(s) still open: transaction {transfer['transaction'][0]}/" in last


@pytest.mark.slow
def test_run_interrupted_mid_cfdp_transfer_stops_both_and_lists_the_open_transfer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*PALEBLUE, "run", "-o", str(out), "--timeout", "120", *SLOW_CFDP],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = _interrupt_when(process, _partial_written(out), signal.SIGINT)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("run: interrupted by SIGINT; probe and ground station stopped")
    assert "paleblue: ground: interrupted by SIGTERM" in stderr  # run stopped its station cleanly
    transfer = _check_open_transfer(out)
    assert stdout.startswith("run: interrupted after ")
    assert f"  open transfer: transaction {transfer['transaction'][0]}/" in stdout
