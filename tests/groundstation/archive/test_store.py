"""The archive keeps every sample and record it is given, reads them back by time while it is being
written, survives a kill -9 of its writer, and refuses files that are not archives."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.archive import Archive, ArchiveError, ArchiveWriter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


samples_strategy = st.lists(
    st.tuples(
        st.floats(0, 1e9, allow_nan=False),
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-(2**31), 2**31)),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(samples=samples_strategy, segment=st.integers(1, 7), flush_every=st.integers(1, 9))
def test_every_sample_comes_back_in_time_order(
    tmp_path_factory, samples, segment: int, flush_every: int
) -> None:
    path = tmp_path_factory.mktemp("a") / "pass.db"
    with ArchiveWriter(path, segment_samples=segment) as writer:
        for i, (t, v) in enumerate(samples):
            writer.add_sample("TEMP", t, v, rcv=t + 1)
            if i % flush_every == 0:
                writer.flush()
    with Archive(path) as archive:
        got = archive.query("TEMP") if samples else None
    if not samples:
        return
    order = sorted(range(len(samples)), key=lambda i: samples[i][0])  # stable, as the archive sorts
    assert got.gen.tolist() == [samples[i][0] for i in order]
    assert got.value.tolist() == [float(samples[i][1]) for i in order]
    assert (got.rcv == got.gen + 1).all()


def test_time_ranges_raw_and_text_values(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with ArchiveWriter(path, segment_samples=4, units={"TEMP": "degC"}) as writer:
        for t in range(20):
            values = {"TEMP": 20.0 + t / 2, "MODE": "SAFE" if t % 2 else "NOMINAL"}
            writer.add_housekeeping(values, {"TEMP": 400 + t, "MODE": t % 2}, gen=1000.0 + t, rcv=1000.5 + t)
    with Archive(path) as archive:
        part = archive.query("TEMP", 1005, 1009)
        assert part.gen.tolist() == [1005, 1006, 1007, 1008, 1009]
        assert part.value.tolist() == [22.5, 23.0, 23.5, 24.0, 24.5]
        assert archive.query("TEMP", 1005, 1006, raw=True).value.tolist() == [405, 406]
        assert archive.query("MODE", 1000, 1002).value.tolist() == ["NOMINAL", "SAFE", "NOMINAL"]
        assert archive.query("MODE", 1000, 1001, raw=True).value.tolist() == [0, 1]
        info = {p.name: p for p in archive.parameters()}
        assert info["TEMP"].unit == "degC" and info["TEMP"].samples == 20 and info["MODE"].kind == "text"
        assert (info["TEMP"].first, info["TEMP"].last) == (1000, 1019)
        assert archive.names(["T*", "MODE", "TEMP"]) == ["TEMP", "MODE"]
        with pytest.raises(ArchiveError, match="no parameter matches"):
            archive.names("NOPE*")
        with pytest.raises(ArchiveError, match="no parameter"):
            archive.query("NOPE")
        assert len(archive.query("TEMP", 2000, 3000)) == 0


def test_downsampling_gives_min_max_mean_per_bucket(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    t = np.arange(1000, dtype=float)
    v = np.sin(t / 50.0) * 10
    with ArchiveWriter(path) as writer:
        writer.add_samples("X", t, v)
    with Archive(path) as archive:
        b = archive.downsample("X", 0, 1000, 10)
        assert b.count.tolist() == [100] * 10
        for k in range(10):
            chunk = v[k * 100 : (k + 1) * 100]
            assert b.minimum[k] == chunk.min() and b.maximum[k] == chunk.max()
            assert b.mean[k] == pytest.approx(chunk.mean())
        for bad in (0, 10**9):
            with pytest.raises(ArchiveError):
                archive.downsample("X", 0, 1000, bad)
        with pytest.raises(ArchiveError):
            archive.downsample("X", 1000, 0, 10)


def test_records_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with ArchiveWriter(path) as writer:
        writer.add_event(10.0, 11.0, "IMAGE_TAKEN", 7, "INFO", {"IMAGE_ID": 1})
        writer.add_alarm(12.0, "TEMP", "NOMINAL", "RED", 99.5)
        writer.add_command_stage(13.0, 13.5, "TAKE_IMAGE#1", "acceptance", True, {"code": 0})
        writer.add_image(14.0, 15.0, "tw1-001", False, {"missing": [[0, 10]]})
    with Archive(path) as archive:
        assert archive.events()[0]["arguments"] == {"IMAGE_ID": 1}
        assert archive.events(name="OTHER") == []
        assert archive.alarms()[0]["current"] == "RED"
        assert archive.commands()[0]["success"] is True
        assert archive.images(14, 14)[0]["info"]["missing"] == [[0, 10]]
        assert archive.images(0, 13) == []


def test_a_reader_sees_what_the_writer_committed_while_it_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    clock = FakeClock()
    writer = ArchiveWriter(path, clock=clock, flush_interval_s=1.0)
    reader = Archive(path)
    try:
        writer.add_sample("A", 1.0, 1.0)
        assert not writer.maybe_flush()
        clock.now = 1.0
        assert writer.maybe_flush()
        writer.add_sample("A", 2.0, 2.0)  # not yet committed
        assert reader.query("A").value.tolist() == [1.0]
        writer.flush()
        assert reader.query("A").value.tolist() == [1.0, 2.0]
    finally:
        writer.close()
        reader.close()


def test_a_second_writer_continues_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with ArchiveWriter(path) as writer:
        writer.add_sample("A", 1.0, 1.0)
    with ArchiveWriter(path) as writer:
        writer.add_sample("A", 2.0, 2.0)
        writer.add_sample("B", 2.0, 5.0)
    with Archive(path) as archive:
        assert archive.query("A").value.tolist() == [1.0, 2.0]
        assert [p.name for p in archive.parameters()] == ["A", "B"]


def test_an_archive_being_created_is_empty_or_whole_to_a_reader(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version = 0").connection.close()
    empty.touch()
    with pytest.raises(ArchiveError, match="an empty archive"):
        Archive(empty)
    # the writer creates its tables and format version in one transaction: held open, a reader
    # sees no table at all (before the fix it saw tables without a version, "no such table: meta")
    path = tmp_path / "pass.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(ArchiveError, match="an empty archive"):
        Archive(path)
    writer.execute("ROLLBACK")
    writer.close()
    ArchiveWriter(path).close()
    with Archive(path) as archive:
        assert archive.parameters() == []


def test_files_that_are_not_archives_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(ArchiveError, match="not a paleblue archive"):
        Archive(junk)
    with pytest.raises(ArchiveError, match="not a paleblue archive"):
        ArchiveWriter(junk)
    with pytest.raises(ArchiveError, match="no such archive"):
        Archive(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(ArchiveError, match="not a paleblue archive"):
        Archive(other)
    with pytest.raises(ArchiveError, match="something else"):
        ArchiveWriter(other)
    newer = tmp_path / "newer.db"
    ArchiveWriter(newer).close()
    db = sqlite3.connect(newer)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    db.commit()
    db.close()
    with pytest.raises(ArchiveError, match="format 99"):
        ArchiveWriter(newer)


def _write_forever(path: str, ready) -> None:  # a child process: a station that is killed
    writer = ArchiveWriter(path, flush_interval_s=0.0)
    t = 0
    while True:
        writer.add_sample("A", float(t), float(t))
        writer.maybe_flush()
        if t == 2000:
            ready.set()
        t += 1


def test_kill_9_loses_at_most_the_last_flush_and_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_write_forever, args=(str(path), ready))
    child.start()
    try:
        assert ready.wait(60)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Archive(path) as archive:
        values = archive.query("A").value
    # flushed after every sample: all but the one being added when the signal came are there
    assert len(values) >= 2000 and values.tolist() == list(map(float, range(len(values))))
    with ArchiveWriter(path) as writer:  # a second station continues it
        writer.add_sample("A", 1e6, -1.0)
    with Archive(path) as archive:
        assert archive.query("A").value[-1] == -1.0


packet_strategy = st.lists(
    st.tuples(
        st.floats(0, 1e9, allow_nan=False),
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-(2**31), 2**31), st.booleans()),
        st.one_of(st.sampled_from(["SAFE", "CRUISE", "1.5"]), st.floats(-1, 1, allow_nan=False)),
        st.one_of(st.none(), st.integers(0, 4095)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(packets=packet_strategy, segment=st.integers(1, 7), flush_every=st.integers(1, 9))
def test_housekeeping_packets_are_kept_as_their_samples_one_by_one(
    tmp_path_factory, packets, segment: int, flush_every: int
) -> None:
    """add_housekeeping buffers packet rows and makes columns at flush: the archive holds what
    add_sample of each value would have written (numbers, booleans, text, missing raw values)."""
    base = tmp_path_factory.mktemp("h")
    by_packet, by_sample = base / "packets.db", base / "samples.db"
    with (
        ArchiveWriter(by_packet, segment_samples=segment) as a,
        ArchiveWriter(by_sample, segment_samples=segment) as b,
    ):
        for i, (t, temp, mode, raw) in enumerate(packets):
            values, raws = {"TEMP": temp, "MODE": mode}, {"TEMP": raw, "MODE": raw}
            a.add_housekeeping(values, raws, t, t + 1)
            for name, value in values.items():
                b.add_sample(name, t, value, raws[name], t + 1)
            if i % flush_every == 0:
                a.flush()
                b.flush()
        assert a.samples_written == b.samples_written
    with Archive(by_packet) as got, Archive(by_sample) as want:
        assert got.names("*") == want.names("*")
        for name in want.names("*"):
            for raw in (False, True):
                g, w = got.query(name, raw=raw), want.query(name, raw=raw)
                assert g.gen.tolist() == w.gen.tolist() and g.rcv.tolist() == w.rcv.tolist()
                assert (
                    np.array_equal(g.value, w.value, equal_nan=True)
                    if g.value.dtype != object
                    else (g.value.tolist() == w.value.tolist())
                )


def test_a_flush_writes_only_what_came_since_the_last_and_rows_stay_few(tmp_path: Path) -> None:
    """A sample a second, a flush a second: each flush appends a small row (no rewrite of what is
    on disk); past 64 of them one row replaces them, and a full segment is one row."""
    path = tmp_path / "a.db"
    with ArchiveWriter(path, segment_samples=500) as writer:
        for k in range(1_200):
            writer.add_sample("TEMP", float(k), k * 0.5)
            writer.flush()
            rows = sqlite3.connect(path).execute("SELECT count(*) FROM segments").fetchone()[0]
            assert rows <= k // 500 + 65
            with Archive(path) as archive:
                if k % 97 == 0:
                    assert archive.query("TEMP").value.tolist() == [j * 0.5 for j in range(k + 1)]
    with Archive(path) as archive:
        assert archive.query("TEMP").gen.tolist() == [float(j) for j in range(1_200)]
    sizes = [n for (n,) in sqlite3.connect(path).execute("SELECT n FROM segments ORDER BY id")]
    assert sizes[:2] == [500, 500] and sum(sizes) == 1_200
