"""Regression: a hung test must fail, never stall `make test` (CI stalled twice until its 5400 s limit).

The second stall: pytest-timeout's "thread" method ended the hung worker with os._exit, and
pytest-xdist's loadgroup scheduler then waited forever for it. The third: a hypothesis test hung,
pytest-timeout's failure was taken by hypothesis for a failing example, and shrinking re-ran the
hung example with no timer left (tests/hang_guard.py). This runs a small suite with hung tests under
the settings `make test` uses (timeout method from pyproject.toml, `--dist` from the Makefile, the
suite's own timer hook) and checks that the session ends, with those tests failed and the others
passed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _make_test_dist_mode() -> str:
    match = re.search(r"pytest .*--dist[ =](\w+)", (REPO / "Makefile").read_text())
    assert match, "the Makefile's test target names its --dist mode"
    return match.group(1)


@pytest.mark.slow
def test_a_hung_test_fails_and_the_session_still_ends(tmp_path: Path) -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\ntimeout_method = {options['timeout_method']}\ntimeout = 3\nfaulthandler_timeout = 2\n"
    )
    (tmp_path / "test_hang.py").write_text(
        "import subprocess, sys, time\n"
        "from hypothesis import given, settings, strategies as st\n"
        "def test_before(): pass\n"
        "def test_hangs_in_a_child():\n"
        "    subprocess.run([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "def test_hangs_in_python(): time.sleep(600)\n"
        "@settings(max_examples=20, derandomize=True, deadline=None)\n"
        "@given(st.integers(0, 10))\n"
        "def test_hangs_in_hypothesis(n):\n"
        "    if n >= 1: time.sleep(600)\n"
        "def test_after(): pass\n"
    )
    suite_timer = "from tests.conftest import pytest_timeout_set_timer\n"  # the suite's own hook
    (tmp_path / "conftest.py").write_text(suite_timer)
    dist = _make_test_dist_mode()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            dist,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "3 failed, 2 passed" in output, output[-3000:]
    assert "crashed" not in output, output[-3000:]
    assert 'test_hang.py", line' in output  # the hung test's stack was shown, not lost
