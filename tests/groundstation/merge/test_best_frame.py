"""The merger's core: each frame once, the best copy, in count order; every loss and copy counted."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from groundstation.merge.best_frame import FrameMerger
from protocols.bus.frame_report import Fecf, FrameReport, Sync, unpack_fields

STATIONS = ("gds", "cbr", "mad")


def report(station: str, count: int, modulo: int = 256, **quality) -> FrameReport:
    frame = count.to_bytes(4, "big") + station.encode()
    quality.setdefault("received_ns", count * 1000 + STATIONS.index(station) if station in STATIONS else 0)
    quality.setdefault("count_epoch", count // modulo)  # the station's own wraps
    return FrameReport(station, spacecraft_id=245, vcid=1, frame_count=count % modulo, frame=frame, **quality)


@st.composite
def passes(draw):
    """Frames 0..n-1 heard by each station with its own seeded losses, delivered with bounded jitter."""
    modulo = draw(st.sampled_from([16, 256, 1 << 24]))
    n = draw(st.integers(1, 400))
    window = draw(st.integers(2, 32))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    heard = {}
    for station in STATIONS:
        loss = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
        heard[station] = [c for c in range(n) if rng.random() >= loss]
    union = sorted(set().union(*map(set, heard.values())))
    # a jump over half the modulus or more is ambiguous by nature (a late frame or a new one?)
    assume(all(b - a < modulo // 2 - window for a, b in itertools.pairwise(union)))
    return modulo, n, window, heard, seed


def interleave(heard: dict[str, list[int]], jitter: int, seed: int) -> list[tuple[str, int]]:
    """Stations' reports in arrival order: each station in order, shuffled by up to ``jitter`` frames."""
    rng = random.Random(seed)
    keyed = [(c + rng.uniform(0, jitter), s, c) for s, counts in heard.items() for c in counts]
    return [(s, c) for _, s, c in sorted(keyed)]


@given(passes())
def test_merged_stream_is_the_union_once_in_order(case) -> None:
    modulo, _, window, heard, seed = case
    merger = FrameMerger(modulo, window)
    arrivals = interleave(heard, window // 2, seed)  # jitter inside the window
    out = []
    for station, count in arrivals:
        out += merger.add(report(station, count, modulo))
    out += merger.flush()
    union = sorted(set().union(*map(set, heard.values())))
    got = [m.unwrapped_count - out[0].unwrapped_count + union[0] for m in out] if out else []
    assert got == union
    assert [int.from_bytes(m.report.frame[:4], "big") for m in out] == union  # the frames themselves
    c = merger.counters
    assert c.frames_out == len(union)
    assert c.duplicates == len(arrivals) - len(union)
    assert c.window_exceeded == c.late_duplicates == 0
    inner = (union[-1] - union[0] + 1 - len(union)) if union else 0
    assert c.frames_missed == inner  # each frame every station missed, once
    for station, counts in heard.items():
        if counts:
            assert c.stations[station].frames == len(counts)
            assert merger.counters.missing_by_station()[station] == len(union) + inner - len(counts)
    only = {s: sum(all(x not in heard[o] for o in STATIONS if o != s) for x in heard[s]) for s in STATIONS}
    assert {s: t.only_source for s, t in c.stations.items()} == {s: only[s] for s in c.stations}


@given(st.lists(st.tuples(st.sampled_from(STATIONS), st.integers(0, 3), st.integers(0, 10**6),
                          st.booleans()), min_size=1, max_size=6))  # fmt: skip
def test_the_best_copy_wins(copies) -> None:
    merger = FrameMerger(256, 8)
    reports = [
        report(s, 7, received_ns=t, rs_corrected=rs, fecf=Fecf.GOOD if good else Fecf.BAD)
        for s, rs, t, good in copies
    ]
    out = []
    for r in reports:
        out += merger.add(r)
    out += merger.flush()
    good = [r for r in reports if r.good]
    if not good:
        assert out == [] and merger.counters.bad_only == 1
        return
    (merged,) = out
    best = min(good, key=lambda r: (r.rs_corrected, r.received_ns, r.station_id))
    assert merged.report == best and merged.copies == len(reports)


@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_late_copies_are_counted_never_released_twice(window: int, seed: int) -> None:
    rng = random.Random(seed)
    merger = FrameMerger(256, window)
    out = []
    sent = []
    for count in range(600):
        if rng.random() < 0.3:
            continue  # lost by gds...
        sent.append(count)
        out += merger.add(report("gds", count))
    newest = sent[-1]  # gds may have lost the last frames too
    late = rng.sample(range(newest - 120, newest - 2 * window - 1), 20)  # within half the modulus
    for count in late:  # ...and much later from cbr: too late, or a late duplicate
        out += merger.add(report("cbr", count))
    out += merger.flush()
    counts = [m.unwrapped_count for m in out]
    assert counts == sorted(set(counts))  # in order, each once
    c = merger.counters
    assert c.late_duplicates + c.window_exceeded == 20 == c.stations["cbr"].late
    assert c.late_duplicates == sum(x in sent for x in late)


def test_counts_unwrap_across_many_wraps_and_a_late_joiner() -> None:
    merger = FrameMerger(256, 16)
    out = []
    for count in range(2000):
        out += merger.add(report("gds", count))
        if count >= 1500:  # a station that starts late agrees on nothing but the count
            out += merger.add(report("mad", count, count_epoch=(count - 1500 + 1500 % 256) // 256))
    out += merger.flush()
    assert [m.unwrapped_count for m in out] == list(range(2000))
    assert merger.counters.duplicates == 500 and merger.counters.frames_missed == 0


def test_foreign_spacecraft_is_counted_not_merged() -> None:
    merger = FrameMerger(256, 4, spacecraft_id=245)
    other = FrameReport("gds", 1, 99, 1, 0, b"x")
    assert merger.add(other) == [] and merger.flush() == []
    assert merger.counters.foreign_spacecraft == 1 and merger.counters.reports == 1


def test_a_flood_of_wild_counts_stays_bounded() -> None:
    merger = FrameMerger(1 << 24, 64)
    rng = random.Random(1)
    for _ in range(5_000):
        merger.add(report("gds", rng.randrange(1 << 24), 1 << 24))
        assert sum(len(ch.slots) for ch in merger._channels.values()) <= 2 * 64 + 1
        assert sum(len(ch.closed) for ch in merger._channels.values()) <= 4096


@pytest.mark.parametrize("modulo", [2, 3])
def test_a_tiny_modulo_is_refused(modulo: int) -> None:
    with pytest.raises(ValueError, match="too small"):
        FrameMerger(modulo)


@pytest.mark.parametrize("window", [16, 4000])
def test_a_station_far_behind_is_aligned_by_reception_time_never_misplaced(window: int) -> None:
    """mad's reports reach the merger only after all of gds's (a backlog of several wraps)."""
    merger = FrameMerger(256, window)
    rng = random.Random(3)
    heard = {s: [c for c in range(1000) if rng.random() > 0.1] for s in ("gds", "mad")}
    out = []
    for station in ("gds", "mad"):
        for count in heard[station]:
            out += merger.add(report(station, count))
    out += merger.flush()
    counts = [m.unwrapped_count for m in out]
    assert counts == sorted(set(counts))
    assert all(int.from_bytes(m.report.frame[:4], "big") == m.unwrapped_count for m in out)  # never misplaced
    c = merger.counters
    if window >= 1000:  # the window holds the whole pass: the union
        assert counts == sorted(set(heard["gds"]) | set(heard["mad"]))
    else:  # mad came too late for all but the last window: counted, not used
        assert c.late_duplicates + c.window_exceeded + c.duplicates == len(heard["mad"])


@pytest.mark.parametrize("window", [64, 4096])
def test_a_backlog_of_retries_stored_out_of_order_is_never_misplaced(window: int) -> None:
    """After a bus failover the stations' retries reach the stream in chunks out of order: each
    station's own count jumps far ahead and back while its reception times stay true to it."""
    merger = FrameMerger(256, window)
    chunks = [range(0, 1401), range(2000, 2600), range(1401, 2000), range(2600, 3000)]
    out = []
    for chunk in chunks:
        for count in chunk:
            for station in ("gds", "mad"):
                out += merger.add(report(station, count))
    out += merger.flush()
    assert all(int.from_bytes(m.report.frame[:4], "big") == m.unwrapped_count for m in out)  # never misplaced
    counts = [m.unwrapped_count for m in out]
    assert counts == sorted(set(counts))
    c = merger.counters
    assert c.duplicates + c.late_duplicates + c.window_exceeded + len(out) == 6000
    if window > 3000:  # the window holds the whole pass: every frame, once
        assert counts == list(range(3000)) and c.window_exceeded == 0


def test_a_restarted_station_is_aligned_anew_and_its_old_backlog_keeps_its_old_alignment() -> None:
    merger = FrameMerger(256, 4096)
    out = []
    for count in range(1000):  # gds hears the whole pass
        out += merger.add(report("gds", count))
    for count in range(0, 600):  # mad, then restarted at 700: its wrap epoch starts again at 0
        out += merger.add(report("mad", count))
    for count in range(700, 1000):
        out += merger.add(report("mad", count, count_epoch=(count - 700 + 700 % 256) // 256))
    for count in range(600, 700):  # mad's backlog from before the restart, stored last
        out += merger.add(report("mad", count))
    out += merger.flush()
    assert [m.unwrapped_count for m in out] == list(range(1000))
    assert merger.counters.duplicates == 1000 and merger.counters.window_exceeded == 0


@st.composite
def messy_passes(draw):
    """Reports in any order, with any quality, repeats, restarts (epochs start again), other
    spacecraft and channels: what the bus may bring."""
    modulo = draw(st.sampled_from([16, 256]))
    reports = draw(
        st.lists(
            st.builds(
                lambda station, count, epoch, t, scid, vcid, rs, unc, fecf, sync: FrameReport(
                    station,
                    t,
                    scid,
                    vcid,
                    count % modulo,
                    count.to_bytes(2, "big") + station.encode(),
                    count_epoch=epoch,
                    rs_corrected=rs,
                    uncorrectable=unc,
                    fecf=fecf,
                    sync=sync,
                ),
                st.sampled_from(STATIONS),
                st.integers(0, 2000),
                st.integers(0, 8),
                st.integers(0, 10**7),
                st.sampled_from([245, 245, 245, 99]),
                st.sampled_from([1, 1, 2]),
                st.integers(0, 3),
                st.booleans(),
                st.sampled_from(Fecf),
                st.sampled_from(Sync),
            ),
            max_size=300,
        )
    )
    return modulo, draw(st.integers(1, 64)), reports


@given(messy_passes())
def test_the_fast_path_merges_exactly_as_the_declared_path(case) -> None:
    """add_fields on the unpacked message (the bus intake's path) gives the very frames, in the
    same order, and the same counters as add on the report object."""
    modulo, window, reports = case
    declared, fast = FrameMerger(modulo, window, 245), FrameMerger(modulo, window, 245)
    out_declared, out_fast = [], []
    for r in reports:
        out_declared += declared.add(r)
        out_fast += fast.add_fields(unpack_fields(r.pack()))
    out_declared += declared.flush()
    out_fast += fast.flush()
    assert [(m.report, m.unwrapped_count, m.copies, m.stations) for m in out_fast] == [
        (m.report, m.unwrapped_count, m.copies, m.stations) for m in out_declared
    ]
    assert [m.frame for m in out_fast] == [m.report.frame for m in out_declared]
    assert fast.counters == declared.counters


def test_a_station_repeating_a_frame_is_counted_per_station() -> None:
    merger = FrameMerger(256, 8)
    for _ in range(50):  # a flood: the same frame again and again
        merger.add(report("gds", 3))
    merger.add(report("cbr", 3))
    (merged,) = merger.flush()
    assert merged.copies == 51 and merged.stations == ("cbr", "gds")
    assert merger.counters.stations["gds"].repeats == 49 and merger.counters.stations["cbr"].repeats == 0
    assert merger.counters.duplicates == 50


def test_a_station_reporting_wraps_behind_in_time_is_aligned_by_its_frames_octets() -> None:
    """mad hears the same frames (the same octets) but its reports carry reception times several
    wraps later than gds's (a slow station process stamps late): it is aligned by the frame it
    shares with gds, never by its reception times."""
    merger = FrameMerger(256, 4096)
    lost = {"gds": set(range(1, 900, 7)), "mad": set(range(3, 900, 11))}  # gds had mad's first frame

    def heard(station: str, count: int, lag_ns: int) -> FrameReport:
        frame = count.to_bytes(4, "big") + b"same octets at every station"
        return FrameReport(
            station, count * 1000 + lag_ns, 245, 1, count % 256, frame, count_epoch=count // 256
        )  # fmt: skip

    out = []
    for count in range(900):
        if count not in lost["gds"]:
            out += merger.add(heard("gds", count, 0))
    for count in range(900):  # mad's whole pass after gds's, stamped 600 frames late
        if count not in lost["mad"]:
            out += merger.add(heard("mad", count, 600_000))
    out += merger.flush()
    assert all(int.from_bytes(m.frame[:4], "big") == m.unwrapped_count for m in out)  # never misplaced
    assert merger.counters.missing_by_station() == {name: len(x) for name, x in lost.items()}


def test_a_bad_first_frame_is_aligned_by_time() -> None:
    """An uncorrectable copy's octets say nothing: a station joining with one is placed by time."""
    merger = FrameMerger(256, 64)

    def heard(station: str, count: int, octets_of: int, **quality) -> FrameReport:
        return FrameReport(
            station, count * 1000, 245, 1, count % 256, octets_of.to_bytes(4, "big"), count // 256, **quality
        )  # fmt: skip

    for count in range(300):
        merger.add(heard("gds", count, count))
    merger.add(heard("mad", 299, 43, uncorrectable=True))  # frame 43's octets (43 = 299 mod 256), bad
    merger.add(heard("mad", 300, 300))
    out = merger.flush()
    assert [m.unwrapped_count for m in out][-1] == 300 and merger.counters.frames_missed == 0
    assert merger.counters.duplicates == 1 and merger.counters.late_duplicates == 0  # 299, not 43


def test_a_station_behind_the_window_still_had_the_frames_it_reports_late() -> None:
    """Copies that come after their frame left the window are not merged, but the station had
    those frames: they count as its own (missing_by_station), and sending one again is a repeat."""
    merger = FrameMerger(256, 16)

    def heard(station: str, count: int) -> FrameReport:
        return FrameReport(station, count * 1000, 245, 1, count % 256, count.to_bytes(4, "big"), count // 256)

    for count in range(200):
        merger.add(heard("gds", count))
    for count in range(100, 150):  # mad joins late and far behind: every copy comes after its slot left
        merger.add(heard("mad", count))
    merger.add(heard("mad", 120))  # again
    merger.flush()
    c = merger.counters
    assert c.late_duplicates == 51 and c.stations["mad"].repeats == 1
    assert c.missing_by_station() == {"gds": 0, "mad": 150}
