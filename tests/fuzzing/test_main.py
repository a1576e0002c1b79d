"""The fuzzers' command line: listing, a short campaign, an interrupted one that still reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


def test_command_line_lists_targets_and_runs_a_short_campaign(tmp_path: Path, capsys) -> None:
    from fuzzing.__main__ import main

    assert main(["list"], prog="paleblue fuzz") == 0
    assert "space-packet" in capsys.readouterr().out
    argv = [
        "decoders",
        "--target",
        "cuc-time",
        "--seconds",
        "0.5",
        "--out",
        str(tmp_path),
        "--engine",
        "builtin",
    ]
    assert main(argv) == 0
    assert (tmp_path / "report.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_campaign_writes_its_report(tmp_path: Path, signum: int, status: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fuzzing",
            "decoders",
            "--seconds",
            "120",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()  # the first target's progress line: the campaign is under way
        assert first.startswith("[1/"), first
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == status, err
    assert "Traceback" not in err and "interrupted" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] and report["not_reached"]
    assert "interrupted" in out


def _stream_interrupted(argv: list[str], ready, signum: int) -> tuple[subprocess.CompletedProcess, dict]:
    """``paleblue fuzz stream ARGV`` sent ``signum`` once ``ready()`` (mid-campaign); its outputs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "paleblue", "fuzz", "stream", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        time.sleep(0.5)  # messages are flowing
        process.send_signal(signum)
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), json.loads(out)


@pytest.mark.slow
def test_an_interrupted_local_stream_campaign_counts_every_message_and_checks_the_station(
    tmp_path: Path,
) -> None:
    log = tmp_path / "mutations.jsonl"
    argv = ["--local", "--seconds", "120", "--out", str(tmp_path)]
    result, printed = _stream_interrupted(
        argv, lambda: log.exists() and log.stat().st_size > 0, signal.SIGINT
    )
    assert result.returncode == 130, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("paleblue fuzz stream: interrupted by SIGINT; "), lines[0]
    report = json.loads((tmp_path / "stream_fuzz.json").read_text())
    assert printed == report
    assert report["interrupted"] and report["messages_sent"] > 0
    assert f"{report['messages_sent']} messages sent" in lines[0]
    # the station's own summary accounts for every message sent before the signal
    assert report["checked"] and report["ok"] is True and report["discrepancies"] == [], report
    summary = json.loads((tmp_path / "station" / "summary.json").read_text())
    assert summary["transport"]["messages_received"] == report["expected"]["messages_received"] > 0


def _count_messages(endpoint: str, received: list[int], done: threading.Event) -> None:
    import zmq

    socket = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"tm")
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        while not done.is_set():
            if socket.poll(50):
                socket.recv_multipart()
                received[0] += 1
    finally:
        socket.close()


@pytest.mark.slow
def test_an_interrupted_stream_campaign_to_any_station_reports_every_message_it_sent(tmp_path: Path) -> None:
    from fuzzing.stream_fuzz import free_endpoint

    endpoint = free_endpoint()
    received, done = [0], threading.Event()
    collector = threading.Thread(target=_count_messages, args=(endpoint, received, done))
    collector.start()
    try:
        argv = ["--to", endpoint, "--seconds", "120", "--out", str(tmp_path)]
        result, printed = _stream_interrupted(argv, lambda: received[0] > 0, signal.SIGTERM)
        report = printed
        deadline = time.monotonic() + 30  # the last queued messages still arrive
        while received[0] < report["expected"]["messages_delivered"] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        collector.join(30)
    assert result.returncode == 143, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("paleblue fuzz stream: interrupted by SIGTERM; "), lines[0]
    assert "NOT CHECKED" in lines[0]  # it cannot see this station's counters, and says so
    assert json.loads((tmp_path / "stream_fuzz.json").read_text()) == report
    assert report["interrupted"] and report["ok"] is None
    expected = report["expected"]
    assert report["messages_sent"] == expected["messages_delivered"] + expected["messages_filtered"]
    assert received[0] == expected["messages_delivered"] > 0  # every message sent is counted


@pytest.mark.slow
def test_fuzz_decoders_seconds_20_bounds_the_whole_campaign_and_shows_progress(tmp_path: Path) -> None:
    """The issue's own case: `--seconds 20` ran about 9 minutes, silent (20 s for each target)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "paleblue", "fuzz", "decoders", "--seconds", "20", "--engine", "builtin",
         "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = process.stderr.readline()
        first_after = time.monotonic() - started
        rest = process.communicate(timeout=120)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    elapsed = time.monotonic() - started
    assert process.returncode == 0, rest
    targets = len(json.loads((tmp_path / "report.json").read_text())["targets"])
    assert first.startswith(f"[1/{targets}] ") and first_after < 10, (first, first_after)
    assert rest.splitlines()[-1].startswith(f"[{targets}/{targets}] ")
    assert elapsed < 35, elapsed  # 20 s of fuzzing, start-up and the last target's seeds
