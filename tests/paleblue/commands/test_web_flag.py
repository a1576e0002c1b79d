"""``--web`` without Open MCT: one line naming ``make web`` and exit 2, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundstation.archive import ArchiveWriter
from paleblue import cli


@pytest.fixture
def no_openmct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALEBLUE_OPENMCT", str(tmp_path / "no-openmct"))


@pytest.mark.parametrize("command", ["run", "ground", "serve"])
def test_web_without_open_mct_is_one_line_naming_make_web(
    command: str, tmp_path: Path, no_openmct: None, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "pass.db"
    ArchiveWriter(archive).close()
    argv = {
        "run": ["run", "-o", str(tmp_path / "out"), "--web"],
        "ground": ["ground", "--downlink", "tcp://127.0.0.1:1", "-o", str(tmp_path / "out"), "--web"],
        "serve": ["serve", str(archive), "--web"],
    }[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make web" in err and "npm" in err, err
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_web_with_several_stations_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "-o", str(tmp_path / "out"), "--web", "--stations", "2"]) == 2
    assert "--web" in capsys.readouterr().err
