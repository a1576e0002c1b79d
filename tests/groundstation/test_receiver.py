"""The ground station ends every pass with a complete summary.json: normal end, SIGINT, SIGTERM, an error."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from groundstation import receiver
from groundstation.station import GroundStation


def _wait_for(condition, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_ground_leaves_a_complete_summary(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "out"
    with tempfile.TemporaryDirectory(prefix="pb-exit-") as directory:
        ground = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paleblue",
                "ground",
                "--downlink",
                f"ipc://{directory}/tm",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert "listening on" in ground.stderr.readline()
            ground.send_signal(signum)
            assert ground.wait(60) == 128 + signum  # stopped, not finished: 130 or 143
            last = ground.stderr.read().splitlines()[-1]
            assert last.startswith(f"paleblue: ground: interrupted by {signal.Signals(signum).name}; ")
        finally:
            if ground.poll() is None:
                ground.kill()
                ground.wait(30)
            ground.stderr.close()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["transport"]["messages_received"] == 0
    assert (out / "report.md").read_text().startswith("# paleblue ground station report")


def test_an_error_in_the_receive_loop_still_writes_the_summary(tmp_path: Path, monkeypatch) -> None:
    def broken_tick(self: GroundStation) -> None:
        raise RuntimeError("a bug in the loop")

    monkeypatch.setattr(GroundStation, "tick", broken_tick)
    with (
        tempfile.TemporaryDirectory(prefix="pb-exit-") as directory,
        pytest.raises(RuntimeError, match="a bug in the loop"),
    ):
        receiver.run_ground_station(f"ipc://{directory}/tm", tmp_path / "out", threading.Event())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["transport"]["messages_received"] == 0


def test_the_summary_is_replaced_whole(tmp_path: Path) -> None:
    station = GroundStation(tmp_path)
    station.finish()
    station.finish()  # a second pass end overwrites through a temporary name, leaving none behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "summary.json"]
