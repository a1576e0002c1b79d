"""`paleblue mdb check|export`: a database checked in one line, exports that independent readers
(space_packet_parser for XTCE, ccsdspy for the CSV definitions) decode our housekeeping with."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from emulator.flight_software import FlightSoftware, no_security_status
from groundstation.telemetry import TelemetryProcessor, decommutate_batch
from paleblue import cli
from protocols.mdb.mission_db import DEFAULT_DIRECTORY, load_mission_db
from protocols.pus.pus_services import unpack_tm

MDB = load_mission_db()
T0 = 2.1e9
ONE_LINE = re.compile(r"^paleblue: \S+\.toml:\d+: [\w ]+: .+\n$")  # file:line: field: reason


def _flight_packets(seconds: int) -> list[bytes]:
    fsw = FlightSoftware(MDB, security_status=no_security_status)
    return [packet for i in range(seconds) for packet in fsw.tick(T0 + i * 1.5)]


def _copy(tmp_path: Path) -> Path:
    directory = tmp_path / "mission"
    shutil.copytree(DEFAULT_DIRECTORY, directory)
    return directory


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_check_says_what_a_valid_database_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _copy(tmp_path)
    assert cli.main(["mdb", "check", str(directory)]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"{directory}: mission paleblue, spacecraft 437 (0x1B5): {len(MDB.packets)} housekeeping packets "
        f"({len(MDB.parameters)} parameters), {len(MDB.events)} events, {len(MDB.commands)} commands: valid\n"
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "reason"),
    [
        (
            "housekeeping.toml",
            'type = "float"\nbits = 64',
            'type = "float"\nbits = 48',
            "bits",
            "32 or 64 bits",
        ),
        ("housekeeping.toml", 'name = "BUS_VOLTAGE"', 'name = "bus voltage"', "name", "UPPER_CASE"),
        ("mission.toml", "spacecraft_id = 437", "spacecraft_id = 4370", "spacecraft_id", "outside 0..1023"),
        ("events.toml", 'severity = "', 'severity = "dire', "severity", "is not one of"),
        ("telecommands.toml", "[[command]]", "[[command]\n", "TOML syntax", "Expected"),
    ],
)
def test_a_malformed_database_is_one_line_file_line_field_reason_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, field: str, reason: str
) -> None:
    directory = _copy(tmp_path)
    _replace(directory / file, old, new)
    assert cli.main(["mdb", "check", str(directory)]) == 2
    err = capsys.readouterr().err
    assert ONE_LINE.match(err), err
    assert err.startswith(f"paleblue: {directory / file}:") and f": {field}: " in err and reason in err


def test_the_same_line_for_every_command_that_takes_mdb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy(tmp_path)
    _replace(directory / "mission.toml", "spacecraft_id = 437", "spacecraft_id = true")
    for argv in (
        ["cmd", "PING", "--mdb", str(directory)],
        [
            "decode",
            str(DEFAULT_DIRECTORY / "mission.toml"),
            "-o",
            str(tmp_path / "out"),
            "--mdb",
            str(directory),
        ],
        ["run", "-o", str(tmp_path / "run"), "--mdb", str(directory)],
    ):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert ONE_LINE.match(err) and "mission.toml:" in err and ": spacecraft_id: " in err, (argv, err)
    assert cli.main(["mdb", "check", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"paleblue: {tmp_path / 'nowhere'}: not a directory") and err.count("\n") == 1


def test_xtce_export_is_read_back_by_space_packet_parser(tmp_path: Path) -> None:
    spp = pytest.importorskip("space_packet_parser")
    path = tmp_path / "paleblue.xml"
    assert cli.main(["mdb", "export", "--xtce", str(path)]) == 0
    definition = spp.load_xtce(path)
    processor = TelemetryProcessor(MDB)
    seen: set[str] = set()
    for packet in _flight_packets(4):
        parsed = definition.parse_bytes(packet)
        report = processor.process(packet)
        seen.add(report.packet)
        assert int(parsed["CCSDS_APID"]) == MDB.apids["housekeeping"]
        assert int(parsed["HK_STRUCTURE_ID"]) == report.structure_id
        for name, value in report.values.items():
            theirs = parsed[name]
            if isinstance(value, str):
                assert str(theirs) == value, name
            else:
                assert float(theirs) == pytest.approx(float(value), rel=1e-9, abs=1e-12), name
    assert seen == {p.name for p in MDB.packets}


def test_ccsdspy_export_is_read_back_by_ccsdspy(tmp_path: Path) -> None:
    ccsdspy = pytest.importorskip("ccsdspy")
    out = tmp_path / "ccsdspy"
    assert cli.main(["mdb", "export", "--ccsdspy", str(out)]) == 0
    packets = _flight_packets(30)
    for definition in MDB.packets:
        sid = definition.structure_id.to_bytes(2, "big")
        ours = [p for p in packets if unpack_tm(p).app_data[:2] == sid]
        assert ours, definition.name
        theirs = ccsdspy.FixedLength.from_file(out / f"{definition.name}.csv").load(
            io.BytesIO(b"".join(ours))
        )
        expected = decommutate_batch(MDB, ours, definition.structure_id, calibrated=False)
        for f in definition.layout.values:
            assert np.array_equal(theirs[f.name], expected[f.name]), f.name


def test_export_needs_something_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mdb", "export"]) == 2
    assert (
        capsys.readouterr().err
        == "paleblue: mdb export: say what to write: --xtce FILE and/or --ccsdspy DIR\n"
    )
