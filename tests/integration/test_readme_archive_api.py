"""README's Archive and API section stays true: its Python example runs on an archive, and its curl
example runs against a live station's API (the port and the wait for the API put in)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from groundstation.archive import ArchiveWriter
from tests.integration.conftest import SCENARIO, Processes
from tests.integration.test_image_progress_live import _api_url

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## Archive and API")
    return text[start : text.index("\n## ", start + 1)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), flags=re.S)


def test_the_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pandas")
    with ArchiveWriter(tmp_path / "pass.db") as writer:
        t = 2.0e9 + np.arange(500.0)
        writer.add_samples("DETECTOR_TEMP", t, -20 + np.sin(t / 50))
        writer.add_samples("BUS_VOLTAGE", t[::2], np.full(250, 28.1))
    monkeypatch.chdir(tmp_path)
    (example,) = _blocks("python")
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)
    assert len(scope["temp"]) == 500 and len(scope["plot"].count) == 200
    assert list(scope["table"].columns) == ["DETECTOR_TEMP", "BUS_VOLTAGE"] and len(scope["table"]) == 500


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example_runs_against_a_live_station(tmp_path: Path, processes: Processes) -> None:
    (shell,) = [b for b in _blocks("sh") if "curl" in b]
    start, *curls = [line for line in shell.replace("\\\n", " ").splitlines() if line.strip()]
    assert start.startswith("paleblue run") and start.rstrip().endswith("&")
    options = start.split()[2:-1]  # as written, with our output directory, archive and a free port
    options = [{"out": str(tmp_path / "out"), "pass.db": str(tmp_path / "pass.db"), "8080": "0"}.get(o, o)
               for o in options]  # fmt: skip
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        run = processes.start("run", SCENARIO, *options, stdout=subprocess.DEVNULL, stderr=err)
    url = _api_url(log, run)
    time.sleep(1.0)  # the first second of the pass committed to the archive
    answers = []
    for line in curls:
        command = line.replace("http://127.0.0.1:8080", url)
        done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"], capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        body, status = done.stdout.rsplit("\n", 1)
        assert status == "200", (command, status, body)
        answers.append(json.loads(body))
    history, command = answers
    assert history["name"] == "DETECTOR_TEMP" and "buckets" in history
    assert command["name"] == "PING" and command["request"].startswith("PING#")
    assert run.wait(120) == 0, log.read_text()[-2000:]
