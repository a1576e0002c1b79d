"""Housekeeping reports kept as their octets are the samples of one ``add_sample`` per value.

``ArchiveWriter.add_housekeeping_data`` keeps reports as they came and decommutates them column by
column at flush (``value_columns``); a structure it cannot make columns of exactly goes report by
report through the one-at-a-time decommutation. Either way the archive must hold what
``add_sample`` of each value of the one-at-a-time decommutation (``FieldDef.to_engineering`` of
``FieldLayout.unpack_raw``) writes: numbers of every calibration, booleans, text, text in a numeric
parameter and numbers in a text one, reports joined in one call or one each, flushes anywhere,
alongside packets given as mappings (with missing raw values) and single samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.archive import Archive, ArchiveWriter
from protocols.mdb.calibration import (
    BooleanCalibration,
    EnumerationCalibration,
    PolynomialCalibration,
    TableCalibration,
)
from protocols.mdb.mission_db import FieldDef, FieldLayout, HousekeepingPacket

MODES = EnumerationCalibration({"OFF": 0, "ON": 1, "SAFE": 2})
COLUMNS = HousekeepingPacket(  # every calibration column-wise; raw values of every width and kind
    "COLUMNS",
    0x10,
    1,
    1.0,
    FieldLayout(
        [
            FieldDef("COUNT", "uint", 16),
            FieldDef("SIGNED", "int", 12),
            FieldDef("FLOAT", "float", 32),
            FieldDef("FLAG", "bool", 1, calibration=BooleanCalibration()),
            FieldDef("SPARE", "spare", 3),
            FieldDef("VOLTS", "uint", 12, calibration=PolynomialCalibration((0.5, 0.01, 1e-6), 0, 4095)),
            FieldDef("TEMP", "uint", 8, calibration=TableCalibration((0, 100, 255), (-40.0, 20.0, 90.0))),
            FieldDef("MODE", "enum", 4, calibration=MODES),
            FieldDef("BIG", "uint", 64),
            FieldDef("RATE", "float", 32, calibration=TableCalibration((-1.0, 0.0, 5.0), (0.0, 1.0, 3.0))),
        ]
    ),
)
ONE_BY_ONE = HousekeepingPacket(  # an enumeration of a float field: no columns, report by report
    "ONE_BY_ONE",
    0x10,
    2,
    1.0,
    FieldLayout(
        [
            FieldDef("LEVEL", "float", 32, calibration=MODES),
            FieldDef("STEP", "uint", 8),
        ]
    ),
)


def scalar(definition: HousekeepingPacket, data: bytes) -> tuple[tuple, list] | None:
    """Raw and engineering values one at a time, as ``TelemetryProcessor.decommutate``; None
    where it fails (the station counts such a report undecodable: it never reaches the archive)."""
    layout = definition.layout
    try:
        raw = layout.unpack_raw(data, 2)
        return raw, [f.calibration.to_engineering(r) for f, r in zip(layout.values, raw, strict=True)]
    except (ValueError, OverflowError, IndexError):
        return None


def report(definition: HousekeepingPacket) -> st.SearchStrategy[bytes]:
    sid = definition.structure_id.to_bytes(2, "big")
    length = definition.layout.length
    return st.binary(min_size=length, max_size=length).map(lambda octets: sid + octets)


item = st.one_of(
    st.tuples(st.just("columns"), report(COLUMNS), st.booleans()),
    st.tuples(st.just("one by one"), report(ONE_BY_ONE), st.booleans()),
    st.tuples(st.just("mapping"), st.one_of(st.floats(), st.text(max_size=3), st.booleans()), st.booleans()),
    st.tuples(st.just("sample"), st.floats(allow_nan=False), st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(item, max_size=40),
    segment=st.integers(1, 9),
    flush_every=st.integers(1, 12),
    seeded=st.sampled_from(["none", "mode numeric", "count text"]),
)
def test_reports_kept_as_octets_are_their_samples_one_by_one(
    tmp_path_factory, items, segment: int, flush_every: int, seeded: str
) -> None:
    base = tmp_path_factory.mktemp("r")
    by_report, by_sample = base / "reports.db", base / "samples.db"
    with (
        ArchiveWriter(by_report, segment_samples=segment) as a,
        ArchiveWriter(by_sample, segment_samples=segment) as b,
    ):
        if seeded != "none":  # a parameter of the other kind before the reports' values come
            name, value = ("MODE", 1.0) if seeded == "mode numeric" else ("COUNT", "text")
            for writer in (a, b):
                writer.add_sample(name, 1.0, value, None, 1.5)
        joined: tuple[HousekeepingPacket, list[float], list[bytes]] | None = None

        def hand_over() -> None:
            nonlocal joined
            if joined is not None:
                times = joined[1][0] if len(joined[1]) == 1 and joined[1][0] % 2 else joined[1]  # or one
                a.add_housekeeping_data([(joined[0], times, b"".join(joined[2]), 6.0)], 1.0)
                joined = None

        for i, (kind, what, join) in enumerate(items):
            t = 10.0 + i
            if kind in ("columns", "one by one"):
                definition = COLUMNS if kind == "columns" else ONE_BY_ONE
                decoded = scalar(definition, what)
                if decoded is None:
                    continue
                if joined is None or joined[0] is not definition or not join:
                    hand_over()
                    joined = (definition, [], [])
                joined[1].append(t)
                joined[2].append(what)
                raw, values = decoded
                for name, r, v in zip(definition.layout.names, raw, values, strict=True):
                    b.add_sample(name, t, v, r, 7.0)
            elif kind == "mapping":  # its raw value missing: the engineering value stands for it
                a.add_housekeeping({"OTHER": what, "STEADY": 1.0}, {"STEADY": 2}, t, t + 0.5)
                b.add_sample("OTHER", t, what, None, t + 0.5)
                b.add_sample("STEADY", t, 1.0, 2, t + 0.5)
            else:
                a.add_sample("SINGLE", t, what)
                b.add_sample("SINGLE", t, what)
            if i % flush_every == 0:
                hand_over()
                a.flush()
                b.flush()
        hand_over()
        assert a.samples_written == b.samples_written
    with Archive(by_report) as got, Archive(by_sample) as want:
        assert got.parameters() == want.parameters()  # names, kinds, counts and time spans
        for name in [info.name for info in want.parameters()]:
            for raw in (False, True):
                g, w = got.query(name, raw=raw), want.query(name, raw=raw)
                assert g.gen.tolist() == w.gen.tolist() and g.rcv.tolist() == w.rcv.tolist(), name
                if w.value.dtype == object:
                    assert g.value.dtype == object and g.value.tolist() == w.value.tolist(), name
                else:
                    assert g.value.tobytes() == w.value.tobytes(), name  # NaN too, bit for bit


def test_an_empty_call_keeps_nothing(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path / "a.db") as writer:
        writer.add_housekeeping_data([(COLUMNS, [], b"", 1.0)])
        assert writer.samples_written == 0
    with Archive(tmp_path / "a.db") as archive:
        assert archive.parameters() == []


def test_columns_are_made_once_per_structure_at_flush(tmp_path: Path) -> None:
    """Reports of a run and one by one: each parameter's samples in the order given; a report
    received at no known time is received at its generation time, or at ``received`` if given."""
    rng = np.random.default_rng(3)
    reports = [
        b"\x00\x01" + rng.integers(0, 256, COLUMNS.layout.length, dtype=np.uint8).tobytes() for _ in range(50)
    ]
    reports = [r for r in reports if scalar(COLUMNS, r) is not None]
    with ArchiveWriter(tmp_path / "a.db") as writer:
        writer.add_housekeeping_data([(COLUMNS, [float(k) for k in range(10)], b"".join(reports[:10]), 99.0)])
        writer.add_housekeeping_data(
            [(COLUMNS, float(k), data, None) for k, data in enumerate(reports[10:], start=10)]
        )
        writer.add_housekeeping_data([(COLUMNS, 1e6, reports[0], None)], 5.0, 42.0)
    with Archive(tmp_path / "a.db") as archive:
        assert archive.query("COUNT").rcv.tolist()[-1] == 42.0
        count = archive.query("COUNT", raw=True, end=1e5)
        assert count.gen.tolist() == [float(k) for k in range(len(reports))]
        assert count.rcv.tolist() == [99.0] * 10 + count.gen.tolist()[10:]  # none given: generation
        assert count.value.tolist() == [float(int.from_bytes(r[2:4], "big")) for r in reports]
        assert archive.query("MODE", end=1e5).value.tolist() == [scalar(COLUMNS, r)[1][6] for r in reports]
