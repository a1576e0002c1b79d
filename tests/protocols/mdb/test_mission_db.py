"""The mission database: loading, validation errors with file and line, compiled layouts, exports."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.mdb.mission_db import DEFAULT_DIRECTORY, MissionDbError, load_mission_db, locate_line
from protocols.mdb.xtce import XTCE_NAMESPACE, to_xtce
from tests.properties.strategies import layout_raw_values

MDB = load_mission_db()
LAYOUTS = (
    [(p.name, p.layout) for p in MDB.packets]
    + [(e.name, e.layout) for e in MDB.events]
    + [(c.name, c.layout) for c in MDB.commands if c.layout.fields]
)


raw_strategy = layout_raw_values


def test_default_database_loads_with_whole_octet_packets_and_unique_ids() -> None:
    assert MDB.directory == DEFAULT_DIRECTORY
    assert {p.name for p in MDB.packets} == {"PLATFORM_HK", "NAVIGATION_HK", "PAYLOAD_HK", "SECURITY_HK"}
    assert all(p.layout.total_bits % 8 == 0 for p in MDB.packets)
    ids = [f.parameter_id for _, f in MDB.parameters.values()]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert MDB.command_by_name["TAKE_IMAGE"].function_id == 2
    assert MDB.event_by_name["LIMIT_VIOLATION"].subtype == 3


def test_offsets_follow_file_order() -> None:
    layout = MDB.packet("PLATFORM_HK").layout
    offsets = dict(zip((f.name for f in layout.fields), layout.bit_offsets, strict=True))
    assert offsets["ONBOARD_TIME"] == 0 and offsets["MODE"] == 64 and offsets["ACTIVE_FAULT"] == 68
    assert offsets["CAMERA_BUSY"] == 71 and offsets["ATT_Q0"] == 72


@pytest.mark.parametrize(("name", "layout"), LAYOUTS, ids=[n for n, _ in LAYOUTS])
@given(data=st.data())
def test_fast_paths_equal_the_construct_declaration(name, layout, data) -> None:
    raw = data.draw(raw_strategy(layout))
    packed = layout.pack_raw(raw)
    assert packed == layout.pack_declarative(raw)
    assert layout.unpack_raw(packed) == tuple(raw) == layout.unpack_declarative(packed)
    rows = np.frombuffer(packed * 3, dtype=np.uint8).reshape(3, -1)
    batch = layout.unpack_batch(rows)
    for f, value in zip(layout.values, raw, strict=True):
        assert batch[f.name].tolist() == [value] * 3


# --------------------------------------------------------------------------- malformed databases


def broken(tmp_path: Path, file: str, old: str, new: str, occurrence: int = 1) -> tuple[Path, str]:
    directory = tmp_path / "mdb"
    shutil.copytree(DEFAULT_DIRECTORY, directory)
    text = (directory / file).read_text()
    index = -1
    for _ in range(occurrence):
        index = text.index(old, index + 1)
    text = text[:index] + new + text[index + len(old) :]
    (directory / file).write_text(text)
    return directory, text


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    index = -1
    for _ in range(occurrence):
        index = text.index(fragment, index + 1)
    return text.count("\n", 0, index) + 1


def rejected(directory: Path) -> MissionDbError:
    with pytest.raises(MissionDbError) as error:
        load_mission_db(directory)
    return error.value


def test_missing_field_points_at_its_table(tmp_path: Path) -> None:
    old = 'name = "BUS_VOLTAGE"\ntype = "uint"\nbits = 16\n'
    directory, text = broken(tmp_path, "housekeeping.toml", old, 'name = "BUS_VOLTAGE"\ntype = "uint"\n')
    error = rejected(directory)
    assert (error.file, error.field) == ("housekeeping.toml", "bits")
    assert error.line == line_of(text, 'name = "BUS_VOLTAGE"') - 1  # the [[packet.parameter]] header
    assert "housekeeping.toml:" in str(error) and "missing" in str(error)


def test_wrong_type_points_at_the_key(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "housekeeping.toml", "bits = 12", 'bits = "12"', occurrence=2)
    error = rejected(directory)
    assert (error.file, error.field, error.line) == (
        "housekeeping.toml",
        "bits",
        line_of(text, 'bits = "12"'),
    )


def test_duplicate_parameter_name(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "housekeeping.toml", 'name = "RATE_Y"', 'name = "RATE_X"')
    error = rejected(directory)
    assert (error.field, error.line) == ("name", line_of(text, 'name = "RATE_X"', occurrence=2))
    assert "duplicate" in error.reason


def test_duplicate_event_id(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "events.toml", "id = 4\n", "id = 3\n")
    error = rejected(directory)
    assert (error.file, error.field, error.line) == (
        "events.toml",
        "id",
        line_of(text, "id = 3", occurrence=2),
    )


def test_unknown_apid_name(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "mission.toml", 'events = "PLATFORM"', 'events = "PLATFROM"')
    error = rejected(directory)
    assert (error.file, error.field, error.line) == ("mission.toml", "events", line_of(text, "PLATFROM"))


def test_non_monotonic_calibration(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "housekeeping.toml", "[-80.0, 0.04, 2.0e-6]", "[-80.0, 0.04, -2.0e-5]")
    error = rejected(directory)
    assert (error.field, error.line) == ("calibration", line_of(text, "-2.0e-5"))
    assert "monotonic" in error.reason


def test_unknown_enumeration_and_unknown_field(tmp_path: Path) -> None:
    directory, text = broken(
        tmp_path, "telecommands.toml", 'enumeration = "TARGET"', 'enumeration = "TARGETS"'
    )
    error = rejected(directory)
    assert (error.file, error.field, error.line) == (
        "telecommands.toml",
        "enumeration",
        line_of(text, "TARGETS"),
    )
    directory, text = broken(
        tmp_path / "b", "events.toml", 'severity = "low"', 'severity = "low"\ncolour = 1'
    )
    error = rejected(directory)
    assert (error.field, error.line) == ("colour", line_of(text, "colour"))


def test_layout_not_whole_octets(tmp_path: Path) -> None:
    directory, _ = broken(
        tmp_path, "housekeeping.toml", 'type = "spare"\nbits = 7', 'type = "spare"\nbits = 6'
    )
    error = rejected(directory)
    assert error.file == "housekeeping.toml" and "octets" in error.reason


def test_toml_syntax_error_carries_its_line(tmp_path: Path) -> None:
    directory, text = broken(tmp_path, "housekeeping.toml", "period_s = 10.0", "period_s = = 10.0")
    error = rejected(directory)
    assert (error.file, error.line) == ("housekeeping.toml", line_of(text, "= = 10.0"))


def test_missing_file(tmp_path: Path) -> None:
    directory = tmp_path / "mdb"
    shutil.copytree(DEFAULT_DIRECTORY, directory)
    (directory / "events.toml").unlink()
    assert rejected(directory).file == "events.toml"


def test_locate_line_counts_array_tables_per_parent() -> None:
    text = "[[a]]\nx = 1\n[[a.b]]\ny = 1\n[[a]]\nx = 2\n[[a.b]]\ny = 2\n[[a.b]]\ny = 3\n"
    assert locate_line(text, [("a", 1), ("b", 1)], "y") == 10
    assert locate_line(text, [("a", 1), ("b", 0)], None) == 7
    assert locate_line(text, [("a", 0)], "x") == 2


# --------------------------------------------------------------------------- exports


def test_xtce_lists_every_parameter_command_and_container() -> None:
    root = ET.fromstring(to_xtce(MDB))
    ns = {"x": XTCE_NAMESPACE}
    names = {p.get("name") for p in root.iterfind("x:TelemetryMetaData/x:ParameterSet/x:Parameter", ns)}
    assert set(MDB.parameters) <= names
    containers = {c.get("name") for c in root.iterfind(".//x:SequenceContainer", ns)}
    assert {p.name for p in MDB.packets} | {e.name for e in MDB.events} <= containers
    commands = {c.get("name") for c in root.iterfind(".//x:MetaCommand", ns)}
    assert commands == set(MDB.command_by_name)
    soc = root.find(".//x:FloatParameterType[@name='DETECTOR_TEMP_Type']", ns)
    terms = soc.findall(".//x:PolynomialCalibrator/x:Term", ns)
    assert [float(t.get("coefficient")) for t in terms] == [-80.0, 0.04, 2.0e-6]
    assert soc.find(".//x:CriticalRange", ns).attrib == {"minInclusive": "-40", "maxInclusive": "40"}
