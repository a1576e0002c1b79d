"""The archive's on-disk layout: one SQLite file in WAL mode, declared once here.

Parameter samples are kept the way Yamcs' Parameter Archive keeps them, in *segments*: for each
parameter, runs of up to :data:`SEGMENT_SAMPLES` samples stored as packed little-endian columns
(generation time, engineering value, raw value, reception time) in one row. A query of one
parameter over a time range reads a few rows through the ``(parameter, t_last)`` index and turns
their blobs into numpy arrays without a copy; an insert appends to the open segment in memory and
costs a row write only once per flush. Events, alarms, command verification stages, image deliveries and the
station's own counters are ordinary rows.

Times are TAI seconds since 1958-01-01 (the packets' CUC epoch, :mod:`protocols.packets.time_code`):
``gen`` is the generation time the packet carries, ``rcv`` the station's reception time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

FORMAT_VERSION = 1
SEGMENT_SAMPLES = 4096  # samples per segment row: ~128 KiB of columns at most

# Kinds of engineering value: numbers are float64 columns; anything else (enumeration states,
# strings) is a msgpack array in the same place.
NUMERIC, TEXT = "numeric", "text"

DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parameters (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    kind  TEXT NOT NULL,
    unit  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS segments (
    id        INTEGER PRIMARY KEY,
    parameter INTEGER NOT NULL REFERENCES parameters(id),
    t_first   REAL NOT NULL,
    t_last    REAL NOT NULL,
    n         INTEGER NOT NULL,
    gen       BLOB NOT NULL,
    eng       BLOB NOT NULL,
    raw       BLOB NOT NULL,
    rcv       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_by_end ON segments(parameter, t_last);
CREATE TABLE IF NOT EXISTS events (
    id        INTEGER PRIMARY KEY,
    gen       REAL NOT NULL,
    rcv       REAL NOT NULL,
    name      TEXT NOT NULL,
    event_id  INTEGER NOT NULL,
    severity  TEXT NOT NULL,
    arguments TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events(gen);
CREATE TABLE IF NOT EXISTS alarms (
    id        INTEGER PRIMARY KEY,
    gen       REAL NOT NULL,
    parameter TEXT NOT NULL,
    previous  TEXT NOT NULL,
    current   TEXT NOT NULL,
    value     REAL
);
CREATE INDEX IF NOT EXISTS alarms_by_time ON alarms(gen);
CREATE TABLE IF NOT EXISTS commands (
    id        INTEGER PRIMARY KEY,
    gen       REAL NOT NULL,
    rcv       REAL NOT NULL,
    request   TEXT NOT NULL,
    stage     TEXT NOT NULL,
    success   INTEGER NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_by_time ON commands(gen);
CREATE TABLE IF NOT EXISTS images (
    id        INTEGER PRIMARY KEY,
    gen       REAL NOT NULL,
    rcv       REAL NOT NULL,
    name      TEXT NOT NULL,
    complete  INTEGER NOT NULL,
    info      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_by_time ON images(gen);
"""


# The columns each record table is written with, in order (the writer's rows are these tuples).
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("gen", "rcv", "name", "event_id", "severity", "arguments"),
    "alarms": ("gen", "parameter", "previous", "current", "value"),
    "commands": ("gen", "rcv", "request", "stage", "success", "detail"),
    "images": ("gen", "rcv", "name", "complete", "info"),
}
SEGMENT_COLUMNS = ("parameter", "t_first", "t_last", "n", "gen", "eng", "raw", "rcv")


def insert_statement(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def connect(path: str, *, readonly: bool = False, timeout_s: float = 10.0) -> sqlite3.Connection:
    """A connection with the archive's settings: WAL, so readers never wait for the writer."""
    if readonly:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=timeout_s)
    else:
        connection = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process (kill -9); only a power
        # loss may lose the last transactions, and never corrupts the file.
        connection.execute("PRAGMA synchronous=NORMAL")
    return connection
