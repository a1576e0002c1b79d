"""Reading an archive, while a station writes it or after: parameters, events, commands, images.

Every query returns numpy arrays (:class:`Samples`) or plain rows; :meth:`Archive.to_pandas`
builds an aligned table. A reader opens the file read-only and never blocks the writer (WAL).
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from groundstation.archive.schema import FORMAT_VERSION, NUMERIC, connect
from groundstation.archive.writer import ArchiveError

MAX_BUCKETS = 100_000  # a downsampled query returns at most this many buckets


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    kind: str  # "numeric" or "text"
    unit: str
    samples: int
    first: float | None  # generation times, TAI seconds since 1958
    last: float | None


@dataclass(frozen=True)
class Samples:
    """One parameter's samples in generation-time order: columns of equal length."""

    name: str
    gen: np.ndarray  # float64 TAI seconds since 1958
    value: np.ndarray  # float64 (numeric parameters) or object (text ones)
    rcv: np.ndarray  # float64 reception times

    def __len__(self) -> int:
        return len(self.gen)


@dataclass(frozen=True)
class Buckets:
    """A numeric parameter downsampled to equal time buckets (empty buckets left out)."""

    name: str
    start: np.ndarray  # each bucket's start time
    count: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray


class Archive:
    """A read-only view of one archive file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ArchiveError(f"{self.path}: no such archive")
        try:
            self._db = connect(str(self.path), readonly=True)
            if self._db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,):
                self._db.close()
                raise ArchiveError(f"{self.path}: an empty archive (being created, or never written)")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: not a paleblue archive ({exc})") from None
        if row is None or row[0] != str(FORMAT_VERSION):
            found = "no format version" if row is None else f"format {row[0]}"
            raise ArchiveError(f"{self.path}: {found}; this paleblue reads format {FORMAT_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ parameters

    def parameters(self, pattern: str = "*") -> list[ParameterInfo]:
        rows = self._db.execute(
            "SELECT p.name, p.kind, p.unit, COALESCE(SUM(s.n), 0), MIN(s.t_first), MAX(s.t_last) "
            "FROM parameters p LEFT JOIN segments s ON s.parameter = p.id GROUP BY p.id ORDER BY p.name"
        ).fetchall()
        return [ParameterInfo(*row) for row in rows if fnmatch.fnmatchcase(row[0], pattern)]

    def names(self, patterns: list[str] | str) -> list[str]:
        """Parameter names matching any of the globs, in archive order; an unknown name raises."""
        patterns = [patterns] if isinstance(patterns, str) else patterns
        known = [info.name for info in self.parameters()]
        chosen: list[str] = []
        for pattern in patterns:
            matched = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
            if not matched:
                raise ArchiveError(f"{self.path}: no parameter matches {pattern!r}")
            chosen += [n for n in matched if n not in chosen]
        return chosen

    def _parameter(self, name: str) -> tuple[int, str]:
        row = self._db.execute("SELECT id, kind FROM parameters WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ArchiveError(f"{self.path}: no parameter {name!r}")
        return row

    def _segments(self, pid: int, start: float, end: float, columns: str) -> Iterator[tuple]:
        # t_last >= start through the index; t_first <= end filters the few rows past the range.
        return self._db.execute(
            f"SELECT n, {columns} FROM segments WHERE parameter = ? AND t_last >= ? AND t_first <= ? "
            "ORDER BY id",  # insertion order: equal generation times keep it after the stable sort
            (pid, start, end),
        )

    def query(self, name: str, start: float = -np.inf, end: float = np.inf, *, raw: bool = False) -> Samples:
        """Samples with ``start <= gen <= end``, engineering values unless ``raw``."""
        pid, kind = self._parameter(name)
        value_column = "raw" if raw else "eng"
        gens, values, rcvs = [], [], []
        for n, gen, value, rcv in self._segments(pid, start, end, f"gen, {value_column}, rcv"):
            gens.append(np.frombuffer(gen, dtype="<f8", count=n))
            rcvs.append(np.frombuffer(rcv, dtype="<f8", count=n))
            if raw or kind == NUMERIC:
                values.append(np.frombuffer(value, dtype="<f8", count=n))
            else:
                values.append(np.array(msgpack.unpackb(value), dtype=object))
        if not gens:
            empty = np.empty(0)
            return Samples(
                name, empty, np.empty(0, dtype=np.float64 if raw or kind == NUMERIC else object), empty
            )
        gen, value, rcv = np.concatenate(gens), np.concatenate(values), np.concatenate(rcvs)
        keep = (gen >= start) & (gen <= end)
        if not keep.all():
            gen, value, rcv = gen[keep], value[keep], rcv[keep]
        if len(gen) > 1 and np.any(np.diff(gen) < 0):  # out-of-order arrivals, or two stations
            order = np.argsort(gen, kind="stable")
            gen, value, rcv = gen[order], value[order], rcv[order]
        return Samples(name, gen, value, rcv)

    def downsample(self, name: str, start: float, end: float, buckets: int, *, raw: bool = False) -> Buckets:
        """Min, max and mean per time bucket, as plots need (numeric parameters)."""
        if not 0 < buckets <= MAX_BUCKETS:
            raise ArchiveError(f"buckets must be 1..{MAX_BUCKETS}, not {buckets}")
        if not (np.isfinite(start) and np.isfinite(end) and end > start):
            raise ArchiveError("downsampling needs a finite time range with its end after its start")
        samples = self.query(name, start, end, raw=raw)
        if samples.value.dtype == object:
            raise ArchiveError(f"{name} holds text values; only numbers are downsampled")
        width = (end - start) / buckets
        index = np.minimum(((samples.gen - start) / width).astype(np.int64), buckets - 1)
        value = samples.value
        good = ~np.isnan(value)
        index, value = index[good], value[good]
        count = np.bincount(index, minlength=buckets)
        total = np.bincount(index, weights=value, minlength=buckets)
        minimum = np.full(buckets, np.inf)
        maximum = np.full(buckets, -np.inf)
        np.minimum.at(minimum, index, value)
        np.maximum.at(maximum, index, value)
        used = count > 0
        starts = start + width * np.arange(buckets)
        return Buckets(
            name, starts[used], count[used], minimum[used], maximum[used], total[used] / count[used]
        )

    # ------------------------------------------------------------------ records

    def _rows(
        self, table: str, columns: str, start: float, end: float, where: str = "", args: tuple = ()
    ) -> list:
        return self._db.execute(
            f"SELECT {columns} FROM {table} WHERE gen >= ? AND gen <= ? {where} ORDER BY gen, id",
            (start, end, *args),
        ).fetchall()

    def events(
        self, start: float = -np.inf, end: float = np.inf, name: str | None = None
    ) -> list[dict[str, Any]]:
        where, args = ("AND name = ?", (name,)) if name else ("", ())
        rows = self._rows("events", "gen, rcv, name, event_id, severity, arguments", start, end, where, args)
        return [
            {"gen": g, "rcv": r, "name": n, "event_id": i, "severity": s, "arguments": json.loads(a)}
            for g, r, n, i, s, a in rows
        ]

    def alarms(self, start: float = -np.inf, end: float = np.inf) -> list[dict[str, Any]]:
        rows = self._rows("alarms", "gen, parameter, previous, current, value", start, end)
        return [{"gen": g, "parameter": p, "previous": a, "current": b, "value": v} for g, p, a, b, v in rows]

    def commands(self, start: float = -np.inf, end: float = np.inf) -> list[dict[str, Any]]:
        rows = self._rows("commands", "gen, rcv, request, stage, success, detail", start, end)
        return [
            {"gen": g, "rcv": r, "request": q, "stage": s, "success": bool(ok), "detail": json.loads(d)}
            for g, r, q, s, ok, d in rows
        ]

    def images(self, start: float = -np.inf, end: float = np.inf) -> list[dict[str, Any]]:
        rows = self._rows("images", "gen, rcv, name, complete, info", start, end)
        return [
            {"gen": g, "rcv": r, "name": n, "complete": bool(c), "info": json.loads(i)}
            for g, r, n, c, i in rows
        ]

    def segment_starts(
        self, names: list[str], start: float = -np.inf, end: float = np.inf
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start times and sample counts of the segments of ``names`` that reach into the range,
        in time order (an export cuts its windows there)."""
        ids = [self._parameter(name)[0] for name in names]
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT t_first, n FROM segments WHERE parameter IN ({marks}) AND t_last >= ? AND t_first <= ? "
            "ORDER BY t_first",
            (*ids, start, end),
        ).fetchall()
        if not rows:
            return np.empty(0), np.empty(0, dtype=np.int64)
        starts, counts = zip(*rows, strict=True)
        return np.asarray(starts, dtype=np.float64), np.asarray(counts, dtype=np.int64)

    def last_time(self, names: list[str]) -> float:
        """The latest generation time of any of ``names`` (-inf: no samples)."""
        ids = [self._parameter(name)[0] for name in names]
        marks = ",".join("?" * len(ids))
        row = self._db.execute(
            f"SELECT MAX(t_last) FROM segments WHERE parameter IN ({marks})", ids
        ).fetchone()
        return -np.inf if row[0] is None else float(row[0])

    def time_range(self) -> tuple[float, float] | None:
        row = self._db.execute("SELECT MIN(t_first), MAX(t_last) FROM segments").fetchone()
        return None if row is None or row[0] is None else (row[0], row[1])

    # ------------------------------------------------------------------ tables

    def aligned(
        self, names: list[str], start: float = -np.inf, end: float = np.inf, *, raw: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One time column (the union of the parameters' generation times) and one column per
        parameter, NaN (or None) where that parameter has no sample at that time."""
        series = [self.query(name, start, end, raw=raw) for name in names]
        times = np.unique(np.concatenate([s.gen for s in series])) if series else np.empty(0)
        columns: dict[str, np.ndarray] = {}
        for s in series:
            if s.value.dtype == object:
                column = np.full(len(times), None, dtype=object)
            else:
                column = np.full(len(times), np.nan)
            # the last sample at each time wins (a repeated generation time)
            column[np.searchsorted(times, s.gen)] = s.value
            columns[s.name] = column
        return times, columns

    def to_pandas(self, names: list[str], start: float = -np.inf, end: float = np.inf, *, raw: bool = False):
        """The aligned table as a pandas DataFrame indexed by UTC time (pandas must be installed)."""
        import pandas as pd

        from protocols.packets.time_code import tai_seconds_to_utc

        times, columns = self.aligned(names, start, end, raw=raw)
        index = pd.DatetimeIndex([tai_seconds_to_utc(t) for t in times], name="time_utc")
        return pd.DataFrame(columns, index=index)
