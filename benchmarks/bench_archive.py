"""Archive engines measured on one workload, and the chosen one's insert and query figures.

The workload is housekeeping as a station archives it: 30 parameters sampled together, each
sample a generation time, an engineering value, a raw value and a reception time.

* baseline: ``numpy.save`` of the same columns (no database at all);
* SQLite (WAL), one row per sample, ``executemany`` in one transaction per second of data;
* DuckDB, one row per sample, inserted from a DataFrame (its fastest path) — when installed;
* paleblue's segments (SQLite WAL, one row per parameter per 4,096 samples): the per-sample
  live API (``add_housekeeping``) and the bulk API (``add_samples``).

Then a 24 h query of one parameter from a 10 M-sample archive, for each engine.

    .venv/bin/python benchmarks/bench_archive.py [--samples 1000000] [--big 10000000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

PARAMETERS = 30
DAY = 86_400.0


def columns(samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``samples`` samples over 30 parameters, packets evenly spread over one day."""
    packets = samples // PARAMETERS
    t = np.linspace(0.0, DAY, packets, endpoint=False) + 2.0e9
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 4096, (packets, PARAMETERS)).astype(np.float64)
    return t, raw * 0.01 - 5.0, raw, t + 0.3


CLOCK = time.perf_counter  # --cpu-time: time.process_time (CPU of this process, every thread)


def timed(function) -> float:
    started = CLOCK()
    function()
    return CLOCK() - started


def bench_numpy(directory: Path, data) -> float:
    t, eng, raw, rcv = data

    def run() -> None:
        np.save(directory / "cols.npy", np.stack([np.repeat(t, PARAMETERS), eng.ravel(), raw.ravel(),
                                                  np.repeat(rcv, PARAMETERS)]))  # fmt: skip

    return timed(run)


def _sqlite_rows(path: Path, data) -> None:
    t, eng, raw, rcv = data
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE s(p INTEGER, gen REAL, eng REAL, raw REAL, rcv REAL)")
    db.execute("CREATE INDEX s_by_time ON s(p, gen)")
    per_second = max(1, int(len(t) / DAY))  # packets in one second of data
    pids = np.arange(PARAMETERS)
    for start in range(0, len(t), per_second):
        stop = start + per_second
        rows = zip(np.tile(pids, stop - start).tolist(), np.repeat(t[start:stop], PARAMETERS).tolist(),
                   eng[start:stop].ravel().tolist(), raw[start:stop].ravel().tolist(),
                   np.repeat(rcv[start:stop], PARAMETERS).tolist(), strict=True)  # fmt: skip
        db.execute("BEGIN")
        db.executemany("INSERT INTO s VALUES (?,?,?,?,?)", rows)
        db.execute("COMMIT")
    db.close()


def _duckdb_rows(path: Path, data) -> None:
    import duckdb
    import pandas as pd

    t, eng, raw, rcv = data
    frame = pd.DataFrame({
        "p": np.tile(np.arange(PARAMETERS), len(t)), "gen": np.repeat(t, PARAMETERS),
        "eng": eng.ravel(), "raw": raw.ravel(), "rcv": np.repeat(rcv, PARAMETERS),
    })  # fmt: skip
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE s(p INTEGER, gen DOUBLE, eng DOUBLE, raw DOUBLE, rcv DOUBLE)")
    db.register("frame", frame)
    db.execute("INSERT INTO s SELECT * FROM frame")
    db.close()


def _segments_live(path: Path, data) -> None:
    from groundstation.archive import ArchiveWriter

    t, eng, raw, rcv = data
    names = [f"P{i:02d}" for i in range(PARAMETERS)]
    now = [float(t[0])]  # the writer's clock follows the data: one commit per second of data
    with ArchiveWriter(path, clock=lambda: now[0]) as writer:
        for k in range(len(t)):
            now[0] = t[k]
            writer.add_housekeeping(dict(zip(names, eng[k].tolist(), strict=True)),
                                    dict(zip(names, raw[k].tolist(), strict=True)), t[k], rcv[k])  # fmt: skip
            writer.maybe_flush()


def _segments_bulk(path: Path, data) -> None:
    from groundstation.archive import ArchiveWriter

    t, eng, raw, rcv = data
    with ArchiveWriter(path) as writer:
        for i in range(PARAMETERS):
            writer.add_samples(f"P{i:02d}", t, eng[:, i], raw[:, i], rcv)


def query_times(directory: Path, big: int, engines: list[str]) -> dict[str, float]:
    """Median time of a 24 h query of one parameter (all its samples) from a ``big``-sample archive."""
    data = columns(big)
    results = {}
    for engine in engines:
        path = directory / f"big-{engine}.db"
        if engine == "sqlite rows":
            _sqlite_rows(path, data)
            db = sqlite3.connect(path)

            def query(db=db) -> int:
                rows = db.execute("SELECT gen, eng FROM s WHERE p = 7 AND gen BETWEEN ? AND ?",
                                  (2.0e9, 2.0e9 + DAY)).fetchall()  # fmt: skip
                return len(np.array(rows))
        elif engine == "duckdb rows":
            _duckdb_rows(path, data)
            import duckdb

            db = duckdb.connect(str(path), read_only=True)

            def query(db=db) -> int:
                return len(db.execute("SELECT gen, eng FROM s WHERE p = 7 AND gen BETWEEN ? AND ?",
                                      [2.0e9, 2.0e9 + DAY]).fetchnumpy()["gen"])  # fmt: skip
        else:
            from groundstation.archive import Archive

            _segments_bulk(path, data)
            archive = Archive(path)

            def query(archive=archive) -> int:
                return len(archive.query("P07", 2.0e9, 2.0e9 + DAY))

        count = query()
        assert count == len(data[0]), (engine, count)
        results[engine] = float(np.median([timed(query) for _ in range(7)]))
    return results


STATION_SETUPS = (
    "station alone",
    "station + archive",
    "station + archive + API feed, no client",
    "station + archive + API feed, 1 client of every parameter",
)


def station_throughput(seconds_of_hk: int = 20_000, rounds: int = 3) -> dict[str, float]:
    """Housekeeping-only downlink (the archive's worst case: every octet is parameters) through the
    station in this process: alone, with the archive, with the archive and the API's live feed (the
    API's event loop drained between messages as its thread would, in this same process), and with
    one client subscribed to every parameter. Best of ``rounds``, setups alternating."""
    import asyncio

    from emulator.flight_software import FlightSoftware
    from groundstation.api.live import LiveFeed
    from groundstation.archive import ArchiveWriter
    from groundstation.archiving import StationServices
    from groundstation.station import GroundStation
    from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
    from protocols.mdb.mission_db import load_mission_db

    mdb = load_mission_db()
    fsw = FlightSoftware(mdb)
    messages = []
    for second in range(seconds_of_hk):
        payload = b"".join(fsw.tick(2.0e9 + second))
        messages.append([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, second).pack(), payload])
    octets = sum(len(m[2]) for m in messages)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for n, label in enumerate(STATION_SETUPS):
                station = GroundStation(Path(tmp) / f"{n}-{round_}", mdb=mdb, write_products=False)
                services, loop, client = None, None, None
                if n >= 1:
                    feed = None
                    if n >= 2:
                        loop = asyncio.new_event_loop()
                        feed = LiveFeed()
                        feed.attach(loop)
                        if n == 3:
                            client = feed.add_client()
                            client.subscribe(["*"])
                    archive = ArchiveWriter(Path(tmp) / f"a{n}-{round_}.db")
                    services = StationServices(station, archive=archive, feed=feed)
                started = CLOCK()
                for k, message in enumerate(messages):
                    station.handle_message(message)
                    if services is not None and k % 16 == 0:  # as the receiver ticks between batches
                        services.tick()
                        if loop is not None:
                            loop.run_until_complete(asyncio.sleep(0))  # the API's loop delivers
                        if client is not None:
                            client.queue.clear()
                if services is not None:
                    services.close()
                rate = octets / (CLOCK() - started) / 1e6
                results[label] = max(results.get(label, 0.0), rate)
                if loop is not None:
                    loop.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time in CPU seconds of this process (a shared machine), not wall clock",
    )
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    print(
        f"clock: {'CPU time of this process' if args.cpu_time else 'wall clock'}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    try:
        import duckdb  # noqa: F401
        import pandas  # noqa: F401

        have_duckdb = True
    except ImportError:
        have_duckdb = False
    data = columns(args.samples)
    samples = len(data[0]) * PARAMETERS
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        rows = [("baseline: numpy.save of the same columns", bench_numpy(directory, data))]
        rows.append(
            ("SQLite WAL, a row per sample", timed(lambda: _sqlite_rows(directory / "rows.db", data)))
        )
        if have_duckdb:
            rows.append(("DuckDB, a row per sample (from a DataFrame)",
                         timed(lambda: _duckdb_rows(directory / "rows.duckdb", data))))  # fmt: skip
        rows.append(("paleblue segments, live per-sample API",
                     timed(lambda: _segments_live(directory / "live.db", data))))  # fmt: skip
        rows.append(
            ("paleblue segments, bulk API", timed(lambda: _segments_bulk(directory / "bulk.db", data)))
        )
        print(f"insert {samples:,} samples ({PARAMETERS} parameters):")
        for name, seconds in rows:
            print(f"  {name:<48} {samples / seconds / 1e6:8.2f} M samples/s  ({seconds:.2f} s)", flush=True)
        engines = ["sqlite rows", *(["duckdb rows"] if have_duckdb else []), "segments"]
        print(f"24 h query of one parameter from a {args.big:,}-sample archive (median of 7):")
        for engine, seconds in query_times(directory, args.big, engines).items():
            print(f"  {engine:<48} {seconds * 1000:8.1f} ms", flush=True)
    print("station throughput, housekeeping-only downlink (the archive's worst case), best of 3:")
    figures = station_throughput()
    alone = figures["station alone"]
    for label, rate in figures.items():
        cost = "" if label == "station alone" else f"  {100 * (1 - rate / alone):5.1f} % slower"
        print(f"  {label:<58} {rate:8.2f} MB/s{cost}", flush=True)
    print("  (target: archive + API on at most 20 % slower than the station alone)")


if __name__ == "__main__":
    main()
