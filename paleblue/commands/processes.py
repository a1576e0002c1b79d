"""Child processes of `paleblue run`: free endpoints, stderr relays, stopping with a grace period."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading


def _free_tcp_endpoint() -> str:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _stop_process(process: subprocess.Popen, name: str, grace_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        print(f"run: {name} did not stop in {grace_s:.0f} s; killing it", file=sys.stderr)
        process.kill()
        process.wait()


class _StderrRelay(threading.Thread):
    """Copies a child's stderr to ours, line by line, and keeps its last line (its own error).

    With ``progress``, the lines go above its bar and a station's progress lines feed it instead
    of being printed (``paleblue run`` on a terminal)."""

    def __init__(self, stream, progress=None) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._progress = progress
        self.last_line = ""

    def run(self) -> None:
        for line in self._stream:
            if self._progress is not None and self._progress.take_line(line):
                continue
            if self._progress is not None:
                self._progress.write(line)
            else:
                sys.stderr.write(line)
                sys.stderr.flush()
            if line.strip():
                self.last_line = line.strip()


def _relay_stderr(process: subprocess.Popen, progress=None) -> _StderrRelay:
    relay = _StderrRelay(process.stderr, progress)
    relay.start()
    return relay
