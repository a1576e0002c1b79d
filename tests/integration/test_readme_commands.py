"""The README's probe / ground / cmd session (issue 15): parsed by the CLI's own parser, `cmd` names
the endpoints the probe binds, and run as written (the README's ports swapped for free ones, the
same substitution everywhere) the command completes."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from paleblue.cli import build_parser
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint

README = Path(__file__).resolve().parents[2] / "README.md"


def _session() -> list[list[str]]:
    """The indented block that runs `paleblue cmd TAKE_IMAGE`: each command as its argv."""
    blocks = re.findall(r"(?:^    paleblue [^\n]*\n)+", README.read_text(), flags=re.MULTILINE)
    [block] = [b for b in blocks if "paleblue cmd TAKE_IMAGE" in b]
    session = []
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        session.append(argv[:-1] if argv[-1] == "&" else argv)
    return session


def _by_command(session: list[list[str]]):
    parser = build_parser()
    return {argv[1]: parser.parse_args(argv[1:]) for argv in session}  # a stale flag fails here


def test_the_readme_cmd_example_parses_and_names_the_endpoints_its_probe_binds() -> None:
    session = _session()
    assert [argv[:2] for argv in session] == [
        ["paleblue", "probe"],
        ["paleblue", "ground"],
        ["paleblue", "cmd"],
    ]
    args = _by_command(session)
    probe, ground, cmd = args["probe"], args["ground"], args["cmd"]
    for argv in session:  # every endpoint is written out, none left to a default
        assert "--downlink" in argv
    assert "--uplink" in session[0] and "--uplink" in session[2]
    assert cmd.downlink == probe.downlink == ground.downlink
    assert cmd.uplink == probe.uplink
    assert cmd.wait and cmd.name == "TAKE_IMAGE"


@pytest.mark.slow
def test_the_readme_cmd_example_runs_as_written(tmp_path: Path, processes: Processes) -> None:
    session = _session()
    args = _by_command(session)
    swap = {args["probe"].downlink: free_endpoint(), args["probe"].uplink: free_endpoint()}
    swap[args["ground"].output] = str(tmp_path / "pass")

    def local(argv: list[str]) -> list[str]:
        return [swap.get(word, word) for word in argv[1:]]

    processes.start(*local(session[0]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.start(*local(session[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "pass" / "tianwen1-2020-07-27-001.png"
    _wait_for(first.exists, 90)  # the pass is under way: the probe is up and downlinking
    result = subprocess.run([*PALEBLUE, *local(session[2])], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TAKE_IMAGE: sent -> accepted -> completed"  # as the README says
    _wait_for((tmp_path / "pass" / "tianwen1-2020-07-27-002.png").exists, 60)


def _wait_for(condition, timeout_s: float) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)
