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


def _segments_live(path: Path, data, data_clock: bool = True) -> None:
    from groundstation.archive import ArchiveWriter

    t, eng, raw, rcv = data
    names = [f"P{i:02d}" for i in range(PARAMETERS)]
    now = [float(t[0])]  # data_clock: the writer's clock follows the data, one commit per second of it
    clock = (lambda: now[0]) if data_clock else time.monotonic  # else: once a second, as a station
    with ArchiveWriter(path, clock=clock) as writer:
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
    "station + archive + API server, no client",
    "station + archive + API server, 1 WebSocket client of every parameter (an update each)",
    "station + archive + API server, 1 WebSocket client of every parameter (an update per packet)",
)

# The WebSocket client, in its own process (a browser's work is not the station's): subscribes to
# every parameter, says "ready" once subscribed, counts parameter updates until it has ``expected``
# of them (checking their order), then prints the count.
CLIENT = """
import json, sys
from websockets.sync.client import connect
url, expected, packets = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "packets"
got, last = 0, {}
with connect(url, max_size=None) as ws:
    ws.send(json.dumps({"subscribe": ["*"], "packets": packets}))
    json.loads(ws.recv())
    print("ready", flush=True)
    while got < expected:
        for u in json.loads(ws.recv()):
            if u["type"] == "parameter":
                assert u["tai"] >= last.get(u["name"], 0.0), u
                last[u["name"]] = u["tai"]
                got += 1
            elif u["type"] == "packet":
                for name in u["names"]:
                    assert u["tai"] >= last.get(name, 0.0), u
                    last[name] = u["tai"]
                got += len(u["names"])
print(got, flush=True)
"""


def _housekeeping_messages(mdb, seconds_of_hk: int, images: int = 0) -> tuple[list[list[bytes]], int]:
    """The flight software's packets, one message per second of data, and with ``images`` a
    1024x1024 10-bit image as image packets (8 a message) after each ``seconds_of_hk / images``
    seconds, as a pass brings them; and the octets of it all."""
    from datetime import UTC, datetime

    from emulator.flight_software import FlightSoftware
    from emulator.imaging import image_packets
    from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
    from protocols.image.image_metadata import ImageMetadata
    from protocols.packets.space_packet import SequenceCounter
    from protocols.packets.time_code import CucTime

    fsw = FlightSoftware(mdb)
    sequence = SequenceCounter()
    pixels = np.random.default_rng(1).integers(0, 1024, (1024, 1024), dtype=np.uint16)
    every = seconds_of_hk // images if images else 0
    messages: list[list[bytes]] = []

    def send(payload: bytes) -> None:
        messages.append([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, len(messages)).pack(), payload])

    for second in range(seconds_of_hk):
        send(b"".join(fsw.tick(2.0e9 + second)))
        if every and (second + 1) % every == 0:
            _, packets = image_packets(
                (second + 1) // every, pixels, 10, 0.01, datetime(2020, 7, 27, tzinfo=UTC),
                ImageMetadata(scenario="bench"), sequence, CucTime(int(2.0e9) + second),
            )  # fmt: skip
            for start in range(0, len(packets), 8):
                send(b"".join(packets[start : start + 8]))
    return messages, sum(len(m[2]) for m in messages)


def _station_run(n: int, messages: list, mdb, directory: Path) -> tuple[float, int]:
    """One setup: the seconds (of ``CLOCK``) the station took, and the parameter samples it decoded."""
    import subprocess
    import sys

    from groundstation.archiving import open_services
    from groundstation.station import GroundStation

    station = GroundStation(directory / "out", mdb=mdb, write_products=False)
    samples = [0]
    station.telemetry.on_housekeeping = lambda report: samples.__setitem__(0, samples[0] + len(report.values))
    running, client = None, None
    if n >= 1:
        running = open_services(
            station, None, archive_path=directory / "pass.db",
            api_address=("127.0.0.1", 0) if n >= 2 else None, announce=lambda line: None,
        )  # fmt: skip
    try:
        if n >= 3:
            expected = _count_samples(messages, mdb)
            url = running.server.url.replace("http", "ws") + "/api/realtime"
            form = ("each", "packets")[n - 3]
            client = subprocess.Popen([sys.executable, "-c", CLIENT, url, str(expected), form],
                                      stdout=subprocess.PIPE, text=True)  # fmt: skip
            assert client.stdout.readline().strip() == "ready"
        started = CLOCK()
        for k, message in enumerate(messages):
            station.handle_message(message)
            if running is not None and k % 16 == 0:  # as the receiver ticks between batches
                running.tick()
        if running is not None:
            running.services.close()
        if client is not None:  # the API's thread has sent every update: its CPU time is counted
            got = int(client.stdout.readline())
            assert got == expected, (got, expected)
        seconds = CLOCK() - started
    finally:
        if running is not None and running.server is not None:
            running.server.stop()
        if client is not None:
            client.wait(30)
    return seconds, samples[0]


def _count_samples(messages: list, mdb) -> int:
    from groundstation.station import GroundStation

    with tempfile.TemporaryDirectory() as tmp:
        station = GroundStation(Path(tmp), mdb=mdb, write_products=False)
        count = [0]
        station.telemetry.on_housekeeping = lambda report: count.__setitem__(0, count[0] + len(report.values))
        for message in messages:
            station.handle_message(message)
    return count[0]


def station_throughput(
    seconds_of_hk: int = 20_000, rounds: int = 3, setups: tuple[int, ...] = (0, 1, 2, 3, 4), images: int = 0
) -> dict[str, float]:
    """Housekeeping-only downlink (the archive's worst case: every octet is parameters) through a
    station in this process: alone; with the archive; with the archive and the API server (its
    uvicorn thread in this process, as ``paleblue ground --api`` runs it); and with one WebSocket
    client (another process) subscribed to every parameter, which must receive every update, as
    one ``parameter`` update each or one ``packet`` update per packet.
    With ``images``, a pass: that many images among the housekeeping. Best of ``rounds``, setups
    alternating. Returns MB/s per setup."""
    from protocols.mdb.mission_db import load_mission_db

    mdb = load_mission_db()
    messages, octets = _housekeeping_messages(mdb, seconds_of_hk, images)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for n in setups:
                directory = Path(tmp) / f"{n}-{round_}"
                directory.mkdir()
                seconds, _ = _station_run(n, messages, mdb, directory)
                label = STATION_SETUPS[n]
                results[label] = max(results.get(label, 0.0), octets / seconds / 1e6)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--station-only", action="store_true", help="only the live station's throughput")
    parser.add_argument("--no-station", action="store_true", help="only the engines' insert and query")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the station setups (best of)")
    parser.add_argument("--setups", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="which (0-4)")
    parser.add_argument("--images", type=int, default=0, help="images among the housekeeping (a pass)")
    parser.add_argument("--hk-seconds", type=int, default=20_000, help="seconds of housekeeping per round")
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
    if not args.station_only:
        engines_and_query(args, have_duckdb)
    if args.no_station:
        return
    what = f"{args.images} 1024x1024 images among" if args.images else "housekeeping only (the worst case),"
    print(f"station throughput, {what} {args.hk_seconds:,} s of housekeeping, best of {args.rounds}:")
    figures = station_throughput(args.hk_seconds, args.rounds, tuple(args.setups), args.images)
    alone = figures.get("station alone", float("nan"))
    for label, rate in figures.items():
        cost = "" if label == "station alone" else f"  {100 * (1 - rate / alone):5.1f} % slower"
        print(f"  {label:<92} {rate:8.2f} MB/s{cost}", flush=True)
    print("  (target: archive + API on at most 20 % slower than the station alone)")


def engines_and_query(args: argparse.Namespace, have_duckdb: bool) -> None:
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
        rows.append(("paleblue segments, live API, a commit a second",
                     timed(lambda: _segments_live(directory / "live1.db", data, False))))  # fmt: skip
        rows.append(("paleblue segments, live API, a commit per packet",
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


if __name__ == "__main__":
    main()
