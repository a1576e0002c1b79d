"""The built wheel, installed in a fresh virtual environment outside the checkout, runs a pass and a
command (tools/wheel_check.py; `make wheel-check`). Slow (a venv and its dependencies, about a
minute and a half) but part of `make test`, which deselects nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "wheel_check.py"), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=870,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[0] for line in result.stdout.splitlines()]
    assert steps[:4] == ["build", "install", "import", "scenarios"] and "cmd" in steps
    assert "11 seeds" in result.stdout and "PING: sent -> accepted -> completed" in result.stdout
