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


def test_web_fills_in_the_api_the_archive_and_the_light_time(tmp_path: Path, monkeypatch) -> None:
    import argparse

    from paleblue.commands.common import WEB_API_DEFAULT, web_console

    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "openmct.js").write_text("")
    monkeypatch.setenv("PALEBLUE_OPENMCT", str(dist))
    args = argparse.Namespace(web=True, api=None, archive=None, output=str(tmp_path / "out"), rtt=0.4)
    console = web_console(args)
    assert console is not None and console.dist == dist
    assert console.facts == {"round_trip_light_time_s": 0.4}
    assert args.api == WEB_API_DEFAULT and args.archive == str(tmp_path / "out" / "archive.db")
    given = argparse.Namespace(web=True, api="0", archive=str(tmp_path / "mine.db"), output=str(tmp_path))
    assert web_console(given).facts == {} and given.api == "0" and given.archive == str(tmp_path / "mine.db")
    assert web_console(argparse.Namespace(web=False)) is None
