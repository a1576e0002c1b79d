"""A command in a real pseudo-terminal, its screen read back through pyte (a VT100 emulator).

:class:`Terminal` starts a process with stdin, stdout and stderr on the slave side of a pty of a
given size, feeds everything it writes to a :class:`pyte.Screen`, sends keys, waits for text on
the screen (bounded in time) and always stops the process.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable

import pyte

PALEBLUE = [sys.executable, "-m", "paleblue"]


class Terminal:
    def __init__(self, argv: list[str], columns: int = 120, lines: int = 40, env: dict | None = None) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.transcript = bytearray()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
        environment.pop("NO_COLOR", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=environment, start_new_session=True
        )
        os.close(slave)
        self.master = master

    def pump(self, seconds: float = 0.05) -> None:
        """Read what the process wrote (for up to ``seconds``) onto the screen."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the process has ended and the pty is closed
                time.sleep(max(deadline - time.monotonic(), 0))
                return
            if not data:
                return
            self.transcript += data
            self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, condition: Callable[[str], bool] | str, timeout: float = 60.0) -> str:
        """Pump until ``condition(screen text)`` (or the text is on screen); AssertionError on timeout."""
        check = (lambda text: condition in text) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            text = self.text()
            if check(text):
                return text
        raise AssertionError(f"not on the screen after {timeout} s:\n{self.text()}")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Pump until the process ends; its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            if self.process.poll() is not None:
                self.pump(0.2)
                return self.process.returncode
        raise AssertionError(f"still running after {timeout} s:\n{self.text()}")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        os.close(self.master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
