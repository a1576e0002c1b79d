"""The fuzzers' command line: listing, a short campaign, an interrupted one that still reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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
