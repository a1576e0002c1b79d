"""The telemetry archive: every parameter, event, alarm, command stage and image delivery a station
decodes, kept in one embedded SQLite file (WAL) that other processes read while it is written.

:class:`ArchiveWriter` is the station's side, :class:`Archive` the reader's; the layout is
declared in :mod:`.schema`.
"""

from groundstation.archive.reader import Archive, Buckets, ParameterInfo, Samples
from groundstation.archive.writer import ArchiveError, ArchiveWriter

__all__ = ["Archive", "ArchiveError", "ArchiveWriter", "Buckets", "ParameterInfo", "Samples"]
