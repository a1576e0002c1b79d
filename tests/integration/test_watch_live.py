"""`paleblue watch` in a real pseudo-terminal (its screen read through pyte), against a real
`paleblue run --api` pass and against `paleblue serve ARCHIVE`.

The live pass runs with a mission database whose ELECTRONICS_TEMP yellow limit is 15 degC (it reads
20 in cruise), so the station raises an alarm that the operator acknowledges with `a`; the downlink
is slowed to 1 Mbit/s so the image fills over some seconds while the screen is read twice.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from groundstation.archive import Archive
from protocols.mdb.mission_db import DEFAULT_DIRECTORY
from tests.integration.conftest import SCENARIO, Processes, run_pass
from tests.paleblue.commands.terminal import PALEBLUE, Terminal

pytestmark = pytest.mark.slow


def _announced(log: Path, process: subprocess.Popen, pattern: str, timeout_s: float = 90) -> re.Match:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.05)
    raise AssertionError(f"never said {pattern!r}: {log.read_text()[-2000:]}")


def _tightened_mdb(tmp_path: Path) -> Path:
    mine = tmp_path / "mission"
    shutil.copytree(DEFAULT_DIRECTORY, mine)
    housekeeping = mine / "housekeeping.toml"
    text = housekeeping.read_text()
    tightened = text.replace("yellow_high = 45.0, red_low = -20.0", "yellow_high = 15.0, red_low = -20.0", 1)
    assert tightened != text
    housekeeping.write_text(tightened)
    return mine


def _percent(screen: str) -> float:
    found = re.search(r"image 1\s*[█░]+\s+([\d.]+)%", screen)
    return float(found.group(1)) if found else -1.0


def _updates(screen: str) -> int:
    found = re.search(r"([\d,]+) updates", screen)
    return int(found.group(1).replace(",", "")) if found else -1


def _value_cell(view: Terminal, name: str):
    """The character cell where ``name``'s value starts in the parameter table (its colours)."""
    for y, line in enumerate(view.screen.display):
        found = re.match(rf"\s*{name}\s+(?=\S)", line)
        if found:
            return view.screen.buffer[y][found.end()]
    raise AssertionError(f"{name} not on the screen")


def _alarm_row(screen: str) -> str:
    return next((line for line in screen.splitlines() if "ELECTRONICS_TEMP  YELLOW" in line), "")


def test_watch_follows_a_live_pass_and_acknowledges_its_alarm(tmp_path: Path, processes: Processes) -> None:
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        run = processes.start(
            "run", SCENARIO, "-o", str(tmp_path / "out"), "--api", "0", "--rate", "1000000",
            "--mdb", str(_tightened_mdb(tmp_path)), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    url, token = _announced(log, run, r"API on (\S+) \(operator token: ([^)]+)\)").groups()
    with Terminal([*PALEBLUE, "watch", "--api", url, "--token", token], columns=140, lines=45) as view:
        first = view.wait_for(lambda s: " live " in s and 0 <= _percent(s) < 100 and _alarm_row(s), 60)
        assert "paleblue watch" in first and url in first
        assert re.search(r"BUS_VOLTAGE\s+28\.\d+\s+V", first), first  # the HK value, with its unit
        assert "unacknowledged" in _alarm_row(first)
        yellow, nominal = _value_cell(view, "ELECTRONICS_TEMP"), _value_cell(view, "BUS_VOLTAGE")
        assert yellow.data == "2" and yellow.bold and yellow.bg != nominal.bg  # the limit's colour
        assert re.search(r"cadus\s+[\d,]+", first) and "LIMIT_VIOLATION" in first
        later = view.wait_for(lambda s: _percent(s) > _percent(first) and _updates(s) > _updates(first), 60)
        assert _percent(later) > _percent(first)  # live: the image fills while we look
        view.send("a")
        acknowledged = view.wait_for(lambda s: "acknowledged" in _alarm_row(s).replace("unacknowledged", ""))
        assert "unacknowledged" not in _alarm_row(acknowledged)
        alarms = httpx.get(f"{url}/api/alarms", timeout=10).json()
        assert [(a["parameter"], a["state"]) for a in alarms] == [("ELECTRONICS_TEMP", "acknowledged")]
        view.wait_for(lambda s: re.search(r"image 1\s*█+\s+100\.0%\s+complete", s) is not None, 90)
        assert run.wait(120) == 0, log.read_text()[-2000:]
        gone = view.wait_for(lambda s: "retrying" in s, 30)  # the pass ended: its last values stay
        assert re.search(r"BUS_VOLTAGE\s+28\.\d+\s+V", gone) and "acknowledged" in _alarm_row(gone)
        view.send("q")
        assert view.wait_exit(20) == 0


def test_watch_shows_a_served_archive(tmp_path: Path, processes: Processes) -> None:
    archive = tmp_path / "out" / "pass.db"
    run_pass(tmp_path / "out", "--archive", str(archive))
    with Archive(archive) as a:
        voltage = float(a.query("BUS_VOLTAGE").value[-1])
        cadus = int(a.query("station.link.cadu.physical.cadus").value[-1])
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        serve = processes.start("serve", str(archive), "--api", "127.0.0.1:0", stderr=err)
    url = _announced(log, serve, r"serving \S+ on (\S+)").group(1)
    with Terminal([*PALEBLUE, "watch", "--api", url], columns=140, lines=45) as view:
        screen = view.wait_for(lambda s: " archive " in s and "cadus" in s and "BUS_VOLTAGE" in s, 60)
        assert re.search(rf"BUS_VOLTAGE\s+{voltage:.6g}\s+V", screen), screen
        assert re.search(rf"cadus\s+{cadus:,}\b", screen), screen
        assert re.search(r"image 1\s*█+\s+100\.0%\s+complete", screen), screen
        view.send("q")
        assert view.wait_exit(20) == 0
