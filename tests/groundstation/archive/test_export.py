"""Exports read back by pandas and pyarrow with the same values, aligned on one time column, in
windows whose size bounds memory; the command line's answers to good and bad requests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from groundstation.archive import Archive, ArchiveWriter
from groundstation.archive.export import export, utc_times
from paleblue.cli import main
from protocols.packets.time_code import tai_seconds_to_utc, utc_to_tai_seconds

T0 = 2.0e9  # TAI seconds since 1958: 2021


def _archive(path: Path) -> Path:
    with ArchiveWriter(path, segment_samples=16) as writer:
        for k in range(100):
            t = T0 + k
            values = {"TEMP": 20.0 + k / 4, "MODE": "SAFE" if k % 3 == 0 else "NOMINAL"}
            writer.add_housekeeping(values, {"TEMP": 80 + k, "MODE": k % 3 == 0}, t, t + 0.25)
            if k % 2 == 0:  # a second packet at other times, with one other parameter
                writer.add_sample("VOLT", t + 0.5, 28.0 + k / 100, rcv=t + 0.75)
        writer.add_event(T0 + 5, T0 + 5.1, "IMAGE_TAKEN", 3, "INFO", {"IMAGE_ID": 1})
    return path


@pytest.mark.parametrize("window", [7, 1_000_000])
def test_csv_and_parquet_read_back_with_the_same_values(tmp_path: Path, window: int) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = _archive(tmp_path / "a.db")
    with Archive(path) as archive:
        names = archive.names("*")
        rows_csv = export(archive, names, tmp_path / "a.csv", "csv", window_samples=window)
        rows_pq = export(archive, names, tmp_path / "a.parquet", "parquet", window_samples=window)
        temp = archive.query("TEMP")
    assert rows_csv == rows_pq == 150  # 100 housekeeping times + 50 other times, each once
    csv_table = pd.read_csv(tmp_path / "a.csv")
    parquet = pd.read_parquet(tmp_path / "a.parquet")
    for table in (csv_table, parquet):
        assert list(table.columns) == ["time_utc", "tai_seconds", "MODE", "TEMP", "VOLT"]
        assert table["tai_seconds"].is_monotonic_increasing and table["tai_seconds"].is_unique
        got = table.dropna(subset=["TEMP"])
        assert got["tai_seconds"].tolist() == temp.gen.tolist()
        assert got["TEMP"].tolist() == temp.value.tolist()
        assert table["VOLT"].notna().sum() == 50 and table["MODE"].notna().sum() == 100
    assert str(parquet["time_utc"].iloc[0]) == str(pd.Timestamp(tai_seconds_to_utc(T0)))


def test_utc_times_apply_the_leap_seconds_of_their_date() -> None:
    from datetime import UTC, datetime

    for when in (datetime(2010, 5, 6, 1, 2, 3, tzinfo=UTC), datetime(2020, 7, 27, 12, tzinfo=UTC)):
        tai = utc_to_tai_seconds(when)
        assert str(utc_times(np.array([tai]))[0]) == when.strftime("%Y-%m-%dT%H:%M:%S.000000000")


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = str(_archive(tmp_path / "a.db"))
    assert main(["archive", "ls", path]) == 0
    assert "3 parameters, 250 samples" in capsys.readouterr().out
    assert main(["archive", "params", path, "T*"]) == 0
    out = capsys.readouterr().out
    assert "TEMP" in out and "VOLT" not in out
    frm = tai_seconds_to_utc(T0 + 10).isoformat()
    to = tai_seconds_to_utc(T0 + 12).isoformat()
    assert main(["archive", "query", path, "TEMP", "--from", frm, "--to", to, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["value"] for r in rows] == [22.5, 22.75, 23.0]
    assert main(["archive", "query", path, "TEMP", "--buckets", "4", "--json"]) == 0
    buckets = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(b["count"] for b in buckets) == 100 and buckets[0]["min"] == 20.0
    assert main(["archive", "events", path]) == 0
    assert "IMAGE_TAKEN IMAGE_ID=1" in capsys.readouterr().out
    assert main(["archive", "export", path, "TEMP", "-o", str(tmp_path / "t.csv")]) == 0
    assert (tmp_path / "t.csv").read_text().count("\n") == 101


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["archive", "query", "{a}", "NOPE"], "no parameter matches"),
        (["archive", "query", "{a}", "TEMP", "--from", "2021-01-02", "--to", "2021-01-01"], "before --from"),
        (["archive", "ls", "{missing}"], "no such archive"),
        (["archive", "ls", "{junk}"], "not a paleblue archive"),
    ],
)
def test_bad_requests_are_one_line_exit_2(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    (tmp_path / "junk").write_bytes(b"\x00" * 5000)
    names = {
        "a": str(_archive(tmp_path / "a.db")),
        "missing": str(tmp_path / "nope"),
        "junk": str(tmp_path / "junk"),
    }
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_malformed_time_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["archive", "query", str(_archive(tmp_path / "a.db")), "TEMP", "--from", "yesterday"])
    assert exit_info.value.code == 2


def test_the_python_api_gives_an_aligned_dataframe(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    with Archive(_archive(tmp_path / "a.db")) as archive:
        frame = archive.to_pandas(["TEMP", "VOLT"], T0, T0 + 3)
    assert list(frame.columns) == ["TEMP", "VOLT"] and len(frame) == 6  # 4 + 2 times
    assert frame["TEMP"].dropna().tolist() == [20.0, 20.25, 20.5, 20.75]
    assert frame.index[0] == tai_seconds_to_utc(T0)


def test_windows_hold_a_bounded_number_of_samples_across_gaps_and_uneven_rates(tmp_path: Path) -> None:
    """Two passes a month apart, one at ten times the other's rate: every window holds about the
    asked number of samples (at most one segment more per parameter), none holds a whole pass,
    and together they hold every sample once."""
    from groundstation.archive.export import windows

    path = tmp_path / "a.db"
    with ArchiveWriter(path, segment_samples=64) as writer:
        for name in ("A", "B", "C"):
            writer.add_samples(name, T0 + np.arange(5_000) * 0.1, np.arange(5_000.0))
            writer.add_samples(name, T0 + 2.6e6 + np.arange(2_000.0), np.arange(2_000.0))
    with Archive(path) as archive:
        names = archive.names("*")
        counts = []
        for a, b, closed in windows(archive, names, -np.inf, np.inf, 1_000):
            upper = b if closed else float(np.nextafter(b, -np.inf))
            counts.append(sum(len(archive.query(n, a, upper)) for n in names))
    assert sum(counts) == 3 * 7_000
    assert max(counts) <= 1_000 + 3 * 64 and len(counts) >= 21
