"""Helpers for tests that start real processes: free ports, and processes that always stop."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

PALEBLUE = [sys.executable, "-m", "paleblue"]


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
