"""The station's side of the archive: everything it decodes, written as it arrives.

:class:`ArchiveWriter` buffers samples in memory and commits them at most every
``flush_interval_s`` of its injected clock (one SQLite transaction each, WAL), so a ``kill -9`` of
the station loses at most that last interval and never corrupts the file; other processes read the
archive meanwhile. The newest segment of each parameter stays open in memory (numpy column
chunks) until it holds :data:`~groundstation.archive.schema.SEGMENT_SAMPLES` samples; each flush
writes only what came since the last as a small row, and one row replaces them when it is full.
A housekeeping report costs the station a few appends: :meth:`ArchiveWriter.add_housekeeping_data`
keeps reports' octets as they came (a station hands them over in bulk, once per tick), and the
flush decommutates the reports of one structure column by column (numpy, a few calls per
parameter, no Python per value); :meth:`ArchiveWriter.add_housekeeping` keeps a packet's
mappings, made into columns with one transposition and one numpy call per column.

One writer at a time: a second station on the same archive (after the first stopped, or died)
continues it, appending new segments beside the old ones.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import methodcaller
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from groundstation.archive.schema import (
    DDL,
    FORMAT_VERSION,
    NUMERIC,
    RECORD_COLUMNS,
    SEGMENT_COLUMNS,
    SEGMENT_SAMPLES,
    TEXT,
    connect,
    insert_statement,
)
from groundstation.housekeeping_batch import value_columns
from groundstation.telemetry import HousekeepingData
from protocols.mdb.mission_db import HousekeepingPacket

_INSERT_SEGMENT = insert_statement("segments", SEGMENT_COLUMNS)
_values = methodcaller("values")  # of any mapping, called from C


MAX_SMALL_ROWS = 64  # a parameter's open segment is rewritten as one row past this many flushes


class ArchiveError(Exception):
    """The archive cannot be opened or written (a message for one line)."""


class _OpenSegment:
    """The newest segment of one parameter: its samples as chunks of columns (numpy arrays from a
    batch of packets, Python lists from single samples), and the rows that hold the first
    ``flushed`` of them (one small row per flush) until the segment is full and written whole."""

    __slots__ = ("chunks", "count", "eng", "flushed", "gen", "raw", "rcv", "rows")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.flushed = 0
        self.count = 0
        self.chunks: list[tuple[np.ndarray, np.ndarray | list, np.ndarray, np.ndarray]] = []
        self.gen: list[float] = []  # single samples since the last chunk
        self.eng: list[Any] = []
        self.raw: list[float] = []
        self.rcv: list[float] = []

    @property
    def dirty(self) -> bool:
        return self.count > self.flushed

    def seal(self, kind: str) -> None:
        """The single samples, as one more chunk."""
        if self.gen:
            eng = np.asarray(self.eng, dtype="<f8") if kind == NUMERIC else self.eng
            gen, raw, rcv = (np.asarray(c, dtype="<f8") for c in (self.gen, self.raw, self.rcv))
            self.chunks.append((gen, eng, raw, rcv))
            self.gen, self.eng, self.raw, self.rcv = [], [], [], []

    def columns(self, kind: str, start: int) -> tuple[np.ndarray, np.ndarray | list, np.ndarray, np.ndarray]:
        """Samples ``start:`` of the segment (sealed), as four columns; the chunks become one."""
        self.seal(kind)
        if len(self.chunks) > 1:
            gens, engs, raws, rcvs = zip(*self.chunks, strict=True)
            eng = np.concatenate(engs) if kind == NUMERIC else [v for e in engs for v in e]
            self.chunks = [(np.concatenate(gens), eng, np.concatenate(raws), np.concatenate(rcvs))]
        gen, eng, raw, rcv = self.chunks[0]
        return gen[start:], eng[start:], raw[start:], rcv[start:]


def _is_number(value: Any) -> bool:
    """Numbers and booleans (stored as 0/1); not strings, enumeration states or None."""
    return isinstance(value, int | float | np.integer | np.floating | np.bool_)


def _pack_values(kind: str, values: np.ndarray | list[Any]) -> bytes:
    if kind == NUMERIC:
        return np.asarray(values, dtype="<f8").tobytes()
    return msgpack.packb(list(values), default=str)  # numbers, text, booleans, None; else its text


def open_archive_for_writing(path: str | Path) -> sqlite3.Connection:
    """Create or continue an archive; refuse a file that is not one, or of a newer format."""
    path = Path(path)
    connection = None
    try:
        connection = connect(str(path))
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            connection.close()
            raise ArchiveError(f"{path}: not a paleblue archive (an SQLite file of something else)")
        # the schema and its format version in one transaction: a reader that opens the file while
        # it is being created sees an empty file or a whole archive, never tables without a version
        connection.execute("BEGIN IMMEDIATE")
        for statement in DDL.split(";"):
            if statement.strip():
                connection.execute(statement)
        row = connection.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        if row is None:
            connection.execute("INSERT INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            connection.execute("INSERT INTO meta VALUES ('created_unix', ?)", (repr(time.time()),))
        connection.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if connection is not None:
            connection.close()
        raise ArchiveError(f"{path}: not a paleblue archive ({exc})") from None
    if row is not None and row[0] != str(FORMAT_VERSION):
        connection.close()
        raise ArchiveError(f"{path}: archive format {row[0]}, this paleblue writes format {FORMAT_VERSION}")
    return connection


class ArchiveWriter:
    """Appends parameters, events, alarms, command stages and image deliveries to one archive."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        flush_interval_s: float = 1.0,
        segment_samples: int = SEGMENT_SAMPLES,
        units: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._db = open_archive_for_writing(self.path)
        self._clock = clock
        self.flush_interval_s = flush_interval_s
        self.segment_samples = segment_samples
        self._units = dict(units or {})
        self._ids: dict[str, int] = {}
        self._kinds: dict[str, str] = {}
        for pid, name, kind in self._db.execute("SELECT id, name, kind FROM parameters"):
            self._ids[name], self._kinds[name] = pid, kind
        self._open: dict[str, _OpenSegment] = {}
        self._rows: dict[str, list[tuple]] = {"events": [], "alarms": [], "commands": [], "images": []}
        # housekeeping packets as they came, per packet layout (the names, in order): columns are
        # made from them at the next flush, so a packet costs a few appends, not one call per sample
        self._packets: dict[tuple[str, ...], tuple[list, list, list, list]] = {}
        # reports as their octets, per structure (by the definition's identity: hashing it costs more)
        self._reports: dict[int, tuple[HousekeepingPacket, list[float], list[float], list[bytes], int]] = {}
        self._last_flush = clock()
        self.samples_written = 0
        self.flushes = 0

    # ------------------------------------------------------------------ parameters

    def _parameter(self, name: str, example: Any) -> _OpenSegment:
        segment = self._open.get(name)
        if segment is not None:
            return segment
        if name not in self._ids:
            kind = NUMERIC if _is_number(example) else TEXT
            cursor = self._db.execute(
                "INSERT INTO parameters(name, kind, unit) VALUES (?, ?, ?)",
                (name, kind, self._units.get(name, "")),
            )
            self._ids[name], self._kinds[name] = int(cursor.lastrowid), kind
        segment = self._open[name] = _OpenSegment()
        return segment

    def add_sample(
        self, name: str, gen: float, eng: Any, raw: float | None = None, rcv: float | None = None
    ) -> None:
        """One sample: generation time, engineering value, raw value (default: the engineering
        value when it is a number) and reception time (default: the generation time)."""
        segment = self._parameter(name, eng)
        if self._kinds[name] == NUMERIC and not _is_number(eng):
            eng = float("nan")  # a text value of a numeric parameter: kept as a gap, not a crash
        segment.gen.append(float(gen))
        segment.eng.append(eng)
        segment.raw.append(
            float(raw) if raw is not None else (float(eng) if _is_number(eng) else float("nan"))
        )
        segment.rcv.append(float(gen if rcv is None else rcv))
        segment.count += 1
        self.samples_written += 1
        if segment.count >= self.segment_samples:
            self._write_segment(name, segment)
            self._open[name] = _OpenSegment()

    def add_samples(
        self,
        name: str,
        gen: np.ndarray,
        eng: np.ndarray,
        raw: np.ndarray | None = None,
        rcv: np.ndarray | None = None,
    ) -> None:
        """Many samples of one numeric parameter at once (the bulk path: no per-sample Python)."""
        gen = np.asarray(gen, dtype="<f8")
        eng = np.asarray(eng, dtype="<f8")
        raw = eng if raw is None else np.asarray(raw, dtype="<f8")
        rcv = gen if rcv is None else np.asarray(rcv, dtype="<f8")
        if not len(gen) == len(eng) == len(raw) == len(rcv):
            raise ValueError("add_samples: columns of different lengths")
        if len(gen) == 0:
            return
        self._parameter(name, 0.0)
        if self._kinds[name] != NUMERIC:
            raise ValueError(f"{name} holds text values; add_samples takes numbers")
        self._write_segment(name, self._open.pop(name))  # keep time order: the open one goes first
        for start in range(0, len(gen), self.segment_samples):
            stop = start + self.segment_samples
            self._insert_columns(name, gen[start:stop], eng[start:stop], raw[start:stop], rcv[start:stop])
        self.samples_written += len(gen)

    def add_housekeeping(
        self, values: Mapping[str, Any], raw: Mapping[str, Any], gen: float, rcv: float
    ) -> None:
        """Every parameter of one decommutated housekeeping packet: the same samples as
        :meth:`add_sample` of each value, for the cost of a few appends. The two mappings are kept
        as they are until the next flush turns the packets of one layout into columns (numpy, a
        few calls per layout), so they must not be changed after (a station's reports never are)."""
        names = tuple(values)
        rows = self._packets.get(names)
        if rows is None:
            rows = self._packets[names] = ([], [], [], [])
        rows[0].append(gen)
        rows[1].append(rcv)
        rows[2].append(values)
        rows[3].append(raw)
        self.samples_written += len(names)

    def add_housekeeping_data(
        self, items: Iterable[HousekeepingData], offset: float = 0.0, received: float | None = None
    ) -> None:
        """Housekeeping reports as ``TelemetryProcessor.on_housekeeping_data`` hands them: per item
        a structure, one generation time or a list of them, the reports' application data (structure
        id and parameters, ``2 + layout.length`` octets each) and when they were received (plus
        ``offset``: from the station's clock to TAI; ``received`` where an item has none, else
        each report's generation time). The samples :meth:`add_sample` of each value of the
        one-at-a-time decommutation would write, for a few appends now: the flush decommutates
        the reports column by column (:func:`~groundstation.housekeeping_batch.value_columns`)."""
        reports, samples = self._reports, 0
        for definition, times, data, rcv in items:
            if type(times) is list and not times:
                continue
            held = reports.get(id(definition))
            if held is None:
                held = reports[id(definition)] = (definition, [], [], [], len(definition.layout.values))
            if rcv is not None:
                rcv += offset
            elif received is not None:
                rcv = received
            if type(times) is list:
                held[1].extend(times)
                held[2].extend(times if rcv is None else [rcv] * len(times))
                samples += len(times) * held[4]
            else:
                held[1].append(times)
                held[2].append(times if rcv is None else rcv)
                samples += held[4]
            held[3].append(data)
        self.samples_written += samples

    def _columns_of_reports(self) -> None:
        """The buffered reports' octets, as each parameter's columns (at flush). A structure whose
        columns cannot be made exactly as one at a time (:func:`value_columns` says None) is
        decommutated report by report into :meth:`add_housekeeping`'s buffer instead."""
        reports, self._reports = self._reports, {}
        for definition, gens, rcvs, data, _ in reports.values():
            layout, width = definition.layout, 2 + definition.layout.length
            joined = b"".join(data)
            octets = np.frombuffer(joined, dtype=np.uint8).reshape(len(gens), width)[:, 2:]
            columns = value_columns(definition, octets)
            if columns is None:
                self.samples_written -= len(gens) * len(layout.values)  # add_housekeeping counts them
                for k, (gen, rcv) in enumerate(zip(gens, rcvs, strict=True)):
                    raw = layout.unpack_raw(joined, k * width + 2)
                    self.add_housekeeping(
                        layout.engineering(raw), dict(zip(layout.names, raw, strict=True)), gen, rcv
                    )
                continue
            gen, rcv = np.asarray(gens, dtype="<f8"), np.asarray(rcvs, dtype="<f8")
            for name, column in zip(layout.names, columns, strict=True):
                self._parameter(name, column.values[0])  # a new parameter's kind: its first value
                raw = column.raw.astype("<f8")
                if self._kinds[name] != NUMERIC:
                    self._extend(name, gen, column.values, raw, rcv)
                    continue
                numbers = column.numbers
                eng = _numbers_or_list(column.values) if numbers is None else numbers.astype("<f8")
                if isinstance(eng, np.ndarray):
                    self._extend(name, gen, eng, raw, rcv)
                    continue
                # text in a numeric parameter: sample by sample (kept as gaps)
                for g, e, r, c in zip(gens, eng, raw.tolist(), rcvs, strict=True):
                    self.samples_written -= 1  # add_sample counts it again
                    self.add_sample(name, g, e, r, c)

    def _columns_of_packets(self) -> None:
        """The buffered housekeeping packets, as each parameter's columns (at flush): per layout,
        one transposition of the packets' rows and one numpy call per column."""
        packets, self._packets = self._packets, {}
        for names, (gens, rcvs, values, raws) in packets.items():
            gen, rcv = np.asarray(gens, dtype="<f8"), np.asarray(rcvs, dtype="<f8")
            eng_columns = list(zip(*map(tuple, map(_values, values)), strict=True))
            if all(map(names.__eq__, map(tuple, raws))):  # raw values in the layout's order
                raw_columns = list(zip(*map(tuple, map(_values, raws)), strict=True))
            else:
                raw_columns = list(zip(*[tuple(map(r.get, names)) for r in raws], strict=True))
            for j, name in enumerate(names):
                self._parameter(name, eng_columns[j][0])  # a new parameter's kind: its first value
                raw = _numbers_or_list(raw_columns[j])
                if self._kinds[name] == NUMERIC:
                    eng = _numbers_or_list(eng_columns[j])
                    fast = isinstance(eng, np.ndarray)
                else:
                    eng, fast = list(eng_columns[j]), True
                if fast and isinstance(raw, np.ndarray):
                    self._extend(name, gen, eng, raw, rcv)
                    continue
                # anything else (text in a numeric parameter, missing raw values) sample by sample
                for g, e, r, c in zip(gens, eng_columns[j], raw_columns[j], rcvs, strict=True):
                    self.samples_written -= 1  # add_sample counts it again
                    self.add_sample(name, g, e, r if _is_number(r) else None, c)

    def _extend(
        self, name: str, gen: np.ndarray, eng: np.ndarray | list, raw: np.ndarray, rcv: np.ndarray
    ) -> None:
        """Columns of samples of one parameter, after what its open segment holds."""
        segment = self._open[name]
        segment.seal(self._kinds[name])
        start, total = 0, len(gen)
        while start < total:
            stop = start + self.segment_samples - segment.count
            segment.chunks.append((gen[start:stop], eng[start:stop], raw[start:stop], rcv[start:stop]))
            segment.count += min(stop, total) - start
            start = stop
            if segment.count >= self.segment_samples:
                self._write_segment(name, segment)
                segment = self._open[name] = _OpenSegment()

    # ------------------------------------------------------------------ other records

    def add_event(
        self, gen: float, rcv: float, name: str, event_id: int, severity: str, arguments: Mapping
    ) -> None:
        self._rows["events"].append((gen, rcv, name, event_id, severity, _json(arguments)))

    def add_alarm(self, gen: float, parameter: str, previous: str, current: str, value: float | None) -> None:
        self._rows["alarms"].append((gen, parameter, previous, current, value))

    def add_command_stage(
        self, gen: float, rcv: float, request: str, stage: str, success: bool, detail: Mapping
    ) -> None:
        self._rows["commands"].append((gen, rcv, request, stage, int(success), _json(detail)))

    def add_image(self, gen: float, rcv: float, name: str, complete: bool, info: Mapping) -> None:
        self._rows["images"].append((gen, rcv, name, int(complete), _json(info)))

    # ------------------------------------------------------------------ committing

    def maybe_flush(self) -> bool:
        """Commit if the flush interval has passed (call it as often as convenient)."""
        if self._clock() - self._last_flush < self.flush_interval_s:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Commit everything buffered in one transaction."""
        self._last_flush = self._clock()
        db = self._db
        db.execute("BEGIN")
        try:
            self._columns_of_reports()
            self._columns_of_packets()
            for name, segment in self._open.items():
                if segment.dirty:
                    self._write_segment(name, segment)
            for table, rows in self._rows.items():
                if rows:
                    db.executemany(insert_statement(table, RECORD_COLUMNS[table]), rows)
                    rows.clear()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.flushes += 1

    def close(self) -> None:
        """Commit what is buffered and close the file."""
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ segments

    def _write_segment(self, name: str, segment: _OpenSegment | None) -> None:
        """A full segment: one row replacing its small rows (in one transaction). A partial one (at
        a flush): only the samples since the last flush, as one more small row, so a flush costs
        what arrived since the last, never a rewrite of what is already on disk."""
        if segment is None or segment.count == segment.flushed:
            return
        # full, or MAX_SMALL_ROWS small rows: one row replaces them (a query reads few rows)
        whole = segment.count >= self.segment_samples or len(segment.rows) >= MAX_SMALL_ROWS
        kind = self._kinds[name]
        gen, eng, raw, rcv = segment.columns(kind, 0 if whole else segment.flushed)
        columns = (gen.tobytes(), _pack_values(kind, eng), raw.tobytes(), rcv.tobytes())
        row = (self._ids[name], float(gen.min()), float(gen.max()), len(gen), *columns)
        if whole and segment.rows:
            self._db.execute("SAVEPOINT whole_segment")  # a transaction of its own outside a flush
            marks = ",".join("?" * len(segment.rows))
            self._db.execute(f"DELETE FROM segments WHERE id IN ({marks})", segment.rows)
            cursor = self._db.execute(_INSERT_SEGMENT, row)
            self._db.execute("RELEASE whole_segment")
            segment.rows = [] if segment.count >= self.segment_samples else [int(cursor.lastrowid)]
        else:
            segment.rows.append(int(self._db.execute(_INSERT_SEGMENT, row).lastrowid))
        segment.flushed = segment.count

    def _insert_columns(
        self, name: str, gen: np.ndarray, eng: np.ndarray, raw: np.ndarray, rcv: np.ndarray
    ) -> None:
        self._db.execute(
            _INSERT_SEGMENT,
            (self._ids[name], float(gen.min()), float(gen.max()), len(gen), gen.tobytes(), eng.tobytes(),
             raw.tobytes(), rcv.tobytes()),
        )  # fmt: skip


def _numbers_or_list(column: Sequence) -> np.ndarray | list:
    """A column of numbers (and booleans) as float64; anything else (text, None) as a list."""
    first = column[0]
    if isinstance(first, str) or first is None:
        return list(column)
    try:
        array = np.array(column)
    except (TypeError, ValueError):
        return list(column)
    return array.astype("<f8", copy=False) if array.dtype.kind in "biuf" and array.ndim == 1 else list(column)


def _json(value: Mapping | Iterable) -> str:
    return json.dumps(value, default=str, sort_keys=True)
