"""Helpers for tests that start real processes: free ports, and processes that always stop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PALEBLUE = [sys.executable, "-m", "paleblue"]
SCENARIO = "tianwen1-2020-07-27"


def run_pass(out: Path, *options: str, timeout: float = 200) -> tuple[subprocess.CompletedProcess, dict]:
    """``paleblue run`` of the default scenario into ``out``; it must succeed. Returns it and its summary."""
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "-o", str(out), *options],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads((out / "summary.json").read_text())


def free_endpoint() -> str:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class Processes:
    """Starts paleblue commands and stops every one of them at the end of the test."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def start(self, *args: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen([*PALEBLUE, *args], **kwargs)
        self._started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self._started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def endpoint() -> str:
    return free_endpoint()
