"""Exporting parameters as one aligned table: a time column and one column per parameter.

The table is written window by window (each window holds at most ``window_samples`` samples of
the chosen parameters), so memory stays bounded however long the archive is. CSV needs nothing
more; Parquet needs pyarrow (``pip install 'paleblue[archive]'``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from groundstation.archive.reader import Archive
from groundstation.archive.writer import ArchiveError
from protocols.packets.time_code import tai_minus_utc, tai_seconds_to_utc

FORMATS = ("csv", "parquet")
WINDOW_SAMPLES = 200_000  # samples per window: bounds the memory of an export (~50 MB for CSV)
_CCSDS_EPOCH_NS = np.datetime64("1958-01-01T00:00:00", "ns")


def utc_times(tai: np.ndarray) -> np.ndarray:
    """TAI seconds since 1958 as numpy UTC datetime64[ns] (leap seconds applied per sample)."""
    if len(tai) == 0:
        return np.empty(0, dtype="datetime64[ns]")
    offsets = np.empty(len(tai))
    first, last = tai_seconds_to_utc(float(tai[0])), tai_seconds_to_utc(float(tai[-1]))
    if tai_minus_utc(first) == tai_minus_utc(last):  # the usual case: no leap second in the window
        offsets[:] = tai_minus_utc(first)
    else:
        offsets[:] = [tai_minus_utc(tai_seconds_to_utc(float(t))) for t in tai]
    return _CCSDS_EPOCH_NS + np.round((tai - offsets) * 1e9).astype("timedelta64[ns]")


def windows(
    archive: Archive, names: list[str], start: float, end: float, window_samples: int
) -> Iterator[tuple]:
    """Consecutive closed-open time windows ``[a, b)`` (the last one closed) covering the data,
    each holding about ``window_samples`` samples of ``names`` (a window starts where a segment
    does, so gaps between passes and uneven rates do not fill one window with everything)."""
    starts, counts = archive.segment_starts(names, start, end)
    if len(starts) == 0:
        return
    first = max(start, float(starts[0]))
    last = min(end, archive.last_time(names))
    if last < first:
        return
    cumulative = np.cumsum(counts).tolist()
    edges, before = [first], 0  # before: samples of the segments ahead of the current window
    for k in range(1, len(starts)):
        edge = float(starts[k])
        if cumulative[k - 1] - before >= window_samples and edges[-1] < edge < last:
            edges.append(edge)  # (segments that start together stay in one window)
            before = cumulative[k - 1]
    edges = [e for e in edges if e < last] + [last]
    for k in range(len(edges) - 1):
        yield edges[k], edges[k + 1], k == len(edges) - 2
    if len(edges) == 1:  # every sample at one time
        yield first, last, True


def export(
    archive: Archive,
    names: list[str],
    path: str | Path,
    fmt: str = "csv",
    start: float = -np.inf,
    end: float = np.inf,
    *,
    raw: bool = False,
    window_samples: int = WINDOW_SAMPLES,
) -> int:
    """Write the aligned table of ``names`` to ``path``; returns the number of rows written."""
    if fmt not in FORMATS:
        raise ArchiveError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    sink = _ParquetSink(path, names, archive, raw) if fmt == "parquet" else _CsvSink(path, names)
    rows = 0
    try:
        for a, b, closed in windows(archive, names, start, end, window_samples):
            upper = b if closed else float(np.nextafter(b, -np.inf))
            times, columns = archive.aligned(names, a, upper, raw=raw)
            sink.write(times, columns)
            rows += len(times)
    finally:
        sink.close()
    return rows


class _CsvSink:
    def __init__(self, path: str | Path, names: list[str]) -> None:
        self._file = open(path, "w", newline="")  # noqa: SIM115 - closed by close()
        self._writer = csv.writer(self._file)
        self._writer.writerow(["time_utc", "tai_seconds", *names])
        self._names = names

    def write(self, times: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        utc = np.datetime_as_string(utc_times(times), unit="us")
        cells = [[_cell(v) for v in columns[name].tolist()] for name in self._names]
        self._writer.writerows(zip(utc.tolist(), times.tolist(), *cells, strict=True))

    def close(self) -> None:
        self._file.close()


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class _ParquetSink:
    def __init__(self, path: str | Path, names: list[str], archive: Archive, raw: bool) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ArchiveError("Parquet export needs pyarrow: pip install 'paleblue[archive]'") from None
        kinds = {info.name: info.kind for info in archive.parameters()}
        fields = [pa.field("time_utc", pa.timestamp("ns", tz="UTC")), pa.field("tai_seconds", pa.float64())]
        fields += [
            pa.field(name, pa.float64() if raw or kinds[name] == "numeric" else pa.string()) for name in names
        ]
        self._pa = pa
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(str(path), self._schema)
        self._names = names

    def write(self, times: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        pa = self._pa
        arrays = [pa.array(utc_times(times), type=self._schema.field(0).type), pa.array(times)]
        for name in self._names:
            column = columns[name]
            if column.dtype == object:
                arrays.append(pa.array([None if v is None else str(v) for v in column], type=pa.string()))
            else:
                arrays.append(pa.array(column, from_pandas=True))  # NaN: missing
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()
