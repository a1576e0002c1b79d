"""Reading recordings: streamed in bounded chunks, damage reported, seek by time through the index.

The reader never loads a whole file: it feeds fixed-size chunks to
:class:`protocols.capture.recording.RecordingDecoder`, so memory stays flat for any
size. A torn tail (crash mid-write) and corrupted frames in the middle come
back as :class:`SkippedBytes` (offset, length, reason) in
:attr:`RecordingReader.skipped`; every good record around them is returned.

Seeking uses the index records the writer appends every
``index_interval_bytes``: each one summarises the block before it and points
at the previous index record. The reader finds the last index record near the
end of the file and walks the chain backwards (one small read per block) to
the first block that can hold the start time, then decodes forward from
there. The index lives in the recording rather than in a side file because a
side file can go stale or be lost, while index records are as crash-safe as
the data (a torn or corrupted one only makes the seek start earlier).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from protocols.capture.recording import (
    FRAME_HEADER_LENGTH,
    Entry,
    IndexRecord,
    RecordingDecoder,
    RecordingHeader,
    RecordingVersionError,
    SkippedBytes,
    UnitRecord,
    decode_frame,
    parse_frame_header,
)
from protocols.errors import DecodeError

DEFAULT_CHUNK_SIZE = 1024 * 1024

SkipHandler = Callable[[SkippedBytes], None]


class RecordingReader:
    """One recording file, opened for (repeated) streaming reads.

    Opening reads and checks the header: a file that is not a recording
    raises :class:`DecodeError` (layer "recording"), one from a newer
    paleblue raises :class:`RecordingVersionError`. ``salvage=True`` accepts
    a damaged header (reported as skipped) and reads the records anyway, but never one from a
    newer format version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        salvage: bool = False,
        on_skip: SkipHandler | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.path = Path(path)
        self.chunk_size = chunk_size
        self.salvage = salvage
        self.skipped: list[SkippedBytes] = []
        self._on_skip = on_skip
        self._file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 (closed by close()/__exit__)
        try:
            self.header: RecordingHeader | None = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _read_header(self) -> RecordingHeader | None:
        """The header at offset 0. Strict: anything else raises. Salvage: None for a damaged or
        missing header, but a good header from a newer format version is refused all the same
        (its records may not mean what this version reads them as)."""
        decoder = RecordingDecoder(expect_header=True)
        self._file.seek(0)
        try:
            while decoder.header is None:
                chunk = self._file.read(self.chunk_size)
                if chunk:
                    decoder.feed(chunk)
                else:
                    decoder.close()  # raises: the data ended before a whole header
        except RecordingVersionError:
            raise
        except DecodeError:
            if not self.salvage:
                raise
            return None
        return decoder.header

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ streaming

    def entries(self, start_offset: int = 0) -> Iterator[Entry]:
        """Every entry (header, unit, index, skipped) from a frame boundary, in file order.

        Skipped spans are also collected in :attr:`skipped` (afresh for each
        read) and passed to ``on_skip``.
        """
        self.skipped = []
        decoder = RecordingDecoder(start_offset=start_offset, expect_header=False)
        offset = start_offset
        while True:
            self._file.seek(offset)
            chunk = self._file.read(self.chunk_size)
            offset += len(chunk)
            for entry in decoder.feed(chunk) if chunk else decoder.close():
                if isinstance(entry.item, SkippedBytes):
                    self._report(entry.item)
                yield entry
            if not chunk:
                return

    def _report(self, skipped: SkippedBytes) -> None:
        self.skipped.append(skipped)
        if self._on_skip is not None:
            self._on_skip(skipped)

    def units(self, start_time_ns: int | None = None) -> Iterator[UnitRecord]:
        """The recorded messages in file order; from the first at or after ``start_time_ns`` if given."""
        start = 0 if start_time_ns is None else self.find_start_offset(start_time_ns)
        started = start_time_ns is None
        for entry in self.entries(start):
            record = entry.item
            if isinstance(record, UnitRecord):
                if not started:
                    if record.receive_ns < start_time_ns:  # type: ignore[operator]
                        continue
                    started = True
                yield record

    def __iter__(self) -> Iterator[UnitRecord]:
        return self.units()

    # ------------------------------------------------------------------ index

    def index(self) -> list[tuple[int, IndexRecord]]:
        """The index chain as (offset, record), oldest first, read from the end backwards.

        Stops early (returning the newer part) if a link is damaged.
        """
        chain: list[tuple[int, IndexRecord]] = []
        last = self._last_index_record()
        while last is not None:
            chain.append(last)
            previous = last[1].previous_index_offset
            last = self._index_record_at(previous) if 0 <= previous < last[0] else None
        chain.reverse()
        return chain

    def find_start_offset(self, start_time_ns: int) -> int:
        """A frame boundary at or before the first unit with ``receive_ns >= start_time_ns``.

        Walks the index chain backwards from the end of the file and stops at
        the first block (going back) that ends before the start time. Without
        a usable index (tiny or damaged file) it answers 0: a full scan is
        slower but still right.
        """
        last = self._last_index_record()
        if last is None:
            return 0
        offset, record = last
        start = self._frame_end(offset)  # the un-indexed tail after the last index record
        while True:
            if record.records and record.max_receive_ns < start_time_ns:
                return start
            start = record.block_start
            previous = record.previous_index_offset
            if previous < 0:
                return start
            found = self._index_record_at(previous) if previous < offset else None
            if found is None:
                return 0  # broken chain: scan from the beginning
            offset, record = found

    def _frame_end(self, offset: int) -> int:
        self._file.seek(offset)
        _, length = parse_frame_header(self._file.read(FRAME_HEADER_LENGTH))
        return offset + FRAME_HEADER_LENGTH + length

    def _index_record_at(self, offset: int) -> tuple[int, IndexRecord] | None:
        """The index record at ``offset``, or None if that frame is damaged or something else."""
        self._file.seek(offset)
        head = self._file.read(FRAME_HEADER_LENGTH)
        try:
            _, length = parse_frame_header(head)
            record, _ = decode_frame(head + self._file.read(length))
        except DecodeError:
            return None
        return (offset, record) if isinstance(record, IndexRecord) else None

    def _last_index_record(self) -> tuple[int, IndexRecord] | None:
        """Decode growing windows at the end of the file until one holds an index record."""
        size = os.fstat(self._file.fileno()).st_size
        interval = self.header.index_interval_bytes if self.header is not None else DEFAULT_CHUNK_SIZE
        window = 2 * min(interval, 64 * DEFAULT_CHUNK_SIZE) + self.chunk_size
        while True:
            low = max(0, size - window)
            last: tuple[int, IndexRecord] | None = None
            decoder = RecordingDecoder(start_offset=low, expect_header=False)
            self._file.seek(low)
            remaining = size - low
            while remaining > 0:
                chunk = self._file.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                for entry in decoder.feed(chunk):
                    if isinstance(entry.item, IndexRecord):
                        last = (entry.offset, entry.item)
            if last is not None or low == 0:
                return last
            window *= 2


def read_recording(
    path: str | os.PathLike[str], *, salvage: bool = False
) -> tuple[RecordingHeader | None, list[UnitRecord], list[SkippedBytes]]:
    """Header, every unit and every skipped span of a file (holds all units in memory: small files)."""
    with RecordingReader(path, salvage=salvage) as reader:
        units = list(reader.units())
        return reader.header, units, reader.skipped
