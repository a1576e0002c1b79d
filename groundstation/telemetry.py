"""Ground telemetry processing: decommutation, limits and alarms, event log, archive, counters.

Every PUS TM packet from the platform goes through :meth:`TelemetryProcessor.process`:
housekeeping (3,25) is decommutated through the mission database into
engineering values (a layout precompiled to struct/big-integer form; a test
holds it to the declarative construct path), limit-checked, and archived;
events (5,x) go to the event log; verification reports (1,x), are-you-alive
replies (17,2) and time-correlation reports (9,129) go to callbacks. Nothing is
silently dropped: each packet that cannot be decoded is counted by reason.

The archive is bounded and in memory (per parameter, time-sorted lists cut
in half when full): decommutation stays free of I/O, memory is bounded, and
range queries are a bisection. A persistent archive (sqlite3) can subscribe to
``on_housekeeping`` without changing this module, or to ``on_housekeeping_data``: the reports'
octets (of one at a time or of a batch), which it decommutates column-wise when it stores them.
"""

from __future__ import annotations

import bisect
import logging
from binascii import crc_hqx
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from groundstation.housekeeping_batch import (
    PARAMETERS_OFFSET,
    SID_OFFSET,
    HousekeepingColumns,
    decommutate_rows,
    housekeeping_length,
    housekeeping_rows,
)
from protocols.coding.crc import INITIAL_VALUE as CRC_INITIAL
from protocols.errors import DecodeError
from protocols.mdb.mission_db import FieldDef, HousekeepingPacket, MissionDatabase
from protocols.packets.space_packet import SpacePacket, peek_header
from protocols.pus.pus_services import (
    TM_OVERHEAD,
    ConnectionTestSubtype,
    HousekeepingSubtype,
    Service,
    TimeCorrelation,
    TimeSubtype,
    TmPacket,
    VerificationReport,
    message_name,
    unpack_event_id,
    unpack_structure_id,
    unpack_verification,
)

log = logging.getLogger(__name__)

LAYER = "telemetry"
LEVEL_NAMES = ("NOMINAL", "YELLOW", "RED")


# Housekeeping reports of one structure as they were decoded, for ``on_housekeeping_data``: the
# structure, the generation time of one report (a float) or of each of a run (a list), their
# application data (structure id and parameters) back to back, and when they were received (as
# given to ``process``, or None). One tuple, so that a list's ``append`` can take them.
HousekeepingData = tuple[HousekeepingPacket, float | list[float], bytes, float | None]


@dataclass(frozen=True)
class HousekeepingReport:
    packet: str
    structure_id: int
    time: float
    raw: dict[str, int | float]
    values: dict[str, Any]


@dataclass(frozen=True)
class EventRecord:
    name: str
    event_id: int
    severity: str
    time: float
    values: dict[str, Any]


@dataclass(frozen=True)
class Alarm:
    """A limit state change of one parameter (including the return to NOMINAL)."""

    parameter: str
    time: float
    previous: str
    current: str
    value: float


class TelemetryArchive:
    """Bounded in-memory time series per parameter, queryable by time range."""

    def __init__(self, max_samples_per_parameter: int = 100_000) -> None:
        self.max_samples = max_samples_per_parameter
        self._times: dict[str, list[float]] = {}
        self._values: dict[str, list[Any]] = {}

    def add(self, parameter: str, time: float, value: Any) -> None:
        times = self._times.setdefault(parameter, [])
        values = self._values.setdefault(parameter, [])
        if times and time < times[-1]:
            i = bisect.bisect_right(times, time)
            times.insert(i, time)
            values.insert(i, value)
        else:
            times.append(time)
            values.append(value)
        if len(times) > self.max_samples:
            cut = len(times) - self.max_samples // 2
            del times[:cut], values[:cut]

    def add_many(self, parameter: str, times: list[float], values: list[Any]) -> None:
        """:meth:`add` of each sample in turn: ``times`` must not decrease (the caller checks); in
        bulk unless they go back before the newest sample held."""
        existing = self._times.get(parameter)
        if not times:
            return
        if existing and times[0] < existing[-1]:
            for time, value in zip(times, values, strict=True):
                self.add(parameter, time, value)
            return
        old_times = self._times.setdefault(parameter, [])
        old_values = self._values.setdefault(parameter, [])
        keep = _kept_after_appends(len(old_times), len(times), self.max_samples)
        if keep <= len(times):
            old_times[:] = times[len(times) - keep :]
            old_values[:] = values[len(values) - keep :]
            return
        cut = len(old_times) - (keep - len(times))
        del old_times[:cut], old_values[:cut]
        old_times.extend(times)
        old_values.extend(values)

    def query(
        self, parameter: str, start: float = float("-inf"), end: float = float("inf")
    ) -> list[tuple[float, Any]]:
        """Samples with start <= time <= end, oldest first."""
        times = self._times.get(parameter, [])
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
        return list(zip(times[lo:hi], self._values[parameter][lo:hi], strict=True)) if times else []

    def latest(self, parameter: str) -> tuple[float, Any] | None:
        times = self._times.get(parameter)
        return (times[-1], self._values[parameter][-1]) if times else None

    @property
    def parameters(self) -> list[str]:
        return sorted(self._times)


def _kept_after_appends(length: int, appended: int, maximum: int) -> int:
    """How many samples :meth:`TelemetryArchive.add` leaves after ``appended`` appends to
    ``length``: each time there are more than ``maximum`` it keeps ``maximum // 2``."""
    if length + appended <= maximum:
        return length + appended
    after_first_cut = appended - (maximum + 1 - length)
    return maximum // 2 + after_first_cut % (maximum + 1 - maximum // 2)


class LimitMonitor:
    """Per-parameter limit state; reports each change of state once."""

    def __init__(self, mdb: MissionDatabase) -> None:
        self._limits = {name: f.limits for name, (_, f) in mdb.parameters.items() if f.limits is not None}
        self.levels: dict[str, int] = {}

    def check(self, parameter: str, time: float, value: float) -> Alarm | None:
        limits = self._limits.get(parameter)
        if limits is None:
            return None
        level = limits.level(value)
        before = self.levels.get(parameter, 0)
        self.levels[parameter] = level
        if level == before:
            return None
        return Alarm(parameter, time, LEVEL_NAMES[before], LEVEL_NAMES[level], value)


def calibrate(f: FieldDef, raw: int | float) -> Any:
    return f.calibration.to_engineering(raw)


class TelemetryProcessor:
    """Turns platform TM packets into engineering values, alarms, events and verification updates."""

    def __init__(
        self,
        mdb: MissionDatabase,
        archive: TelemetryArchive | None = None,
        on_alarm: Callable[[Alarm], None] | None = None,
        on_event: Callable[[EventRecord], None] | None = None,
        on_verification: Callable[[VerificationReport, float], None] | None = None,
        on_housekeeping: Callable[[HousekeepingReport], None] | None = None,
        event_log_size: int = 10_000,
        on_housekeeping_data: Callable[[HousekeepingData], None] | None = None,
    ) -> None:
        """``on_housekeeping_data(item)``: each report as it is decoded, or each structure's reports
        of a batch together, as one :data:`HousekeepingData` tuple (before their ``on_housekeeping``
        callbacks); a ``list.append`` may take them, for the consumer to read in bulk later."""
        self.mdb = mdb
        self.archive = archive if archive is not None else TelemetryArchive()
        self.limits = LimitMonitor(mdb)
        self.on_alarm = on_alarm
        self.on_event = on_event
        self.on_verification = on_verification
        self.on_housekeeping = on_housekeeping
        self.on_housekeeping_data = on_housekeeping_data
        self.latest: dict[str, Any] = {}
        self.latest_time: dict[str, float] = {}
        self.alarms: deque[Alarm] = deque(maxlen=event_log_size)
        self.event_log: deque[EventRecord] = deque(maxlen=event_log_size)
        self.pongs: deque[float] = deque(maxlen=1000)
        self.time_reports: deque[tuple[TimeCorrelation, float]] = deque(maxlen=1000)
        self.counters: Counter[str] = Counter()
        self.undecodable: Counter[str] = Counter()
        self._platform_apids = {mdb.apids[r] for r in ("housekeeping", "events", "verification")}
        self._housekeeping_lengths = {housekeeping_length(d) for d in mdb.packets}

    # ------------------------------------------------------------------ entry points

    def process_stream(self, data: bytes, received_at: float | None = None) -> int:
        """Process one or more concatenated packets; returns how many were decoded."""
        pos = done = 0
        while pos < len(data):
            try:
                _, length = SpacePacket.unpack(data, pos)
            except DecodeError as exc:
                self._count_bad("space-packet", exc)
                return done
            if self.process(data[pos : pos + length], received_at) is not None:
                done += 1
            pos += length
        return done

    def process(self, packet: bytes, received_at: float | None = None) -> object | None:
        """Decode one TM packet; returns what it held, or None (and counts why) if it could not."""
        header = peek_header(packet)
        if header is not None and header.apid not in self._platform_apids:
            self.counters["not-platform"] += 1
            return None
        try:
            tm = TmPacket.unpack(packet)
        except DecodeError as exc:
            self.count_undecodable(exc)
            return None
        return self.process_tm(tm, received_at)

    def process_tm(self, tm: TmPacket, received_at: float | None = None) -> object | None:
        """One platform packet already decoded (the station's way in: each packet decoded once)."""
        if tm.apid not in self._platform_apids:
            self.counters["not-platform"] += 1
            return None
        try:
            return self._dispatch(tm, received_at)
        except DecodeError as exc:
            self.count_undecodable(exc)
            return None

    def process_batch(self, packets: Sequence[bytes], received_at: float | None = None) -> list[int]:
        """:meth:`process` of each packet in turn, housekeeping reports decommutated together.

        Returns the positions of the packets :meth:`process` would have returned None for. The
        values, limit levels, alarms, archive, counters and every callback (their order too) are
        those of :meth:`process` packet by packet (tests compare both); only the processor's own
        state is brought up to the end of the batch before the callbacks run.
        """
        lengths = np.fromiter(map(len, packets), dtype=np.int64, count=len(packets))
        # binascii is quicker than a C call per row over numpy for packets this short
        pec_ok = np.fromiter(map(crc_hqx, packets, repeat(CRC_INITIAL)), np.uint16, len(packets)) == 0
        structure_ids = np.full(len(packets), -1, dtype=np.int64)
        seconds = np.zeros(len(packets))
        rows_by_length: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for length in set(self._housekeeping_lengths).intersection(np.unique(lengths).tolist()):
            positions = np.flatnonzero(lengths == length)
            if len(positions) == len(packets):
                joined = b"".join(packets)
            else:
                joined = b"".join([packets[i] for i in positions.tolist()])
            rows = np.frombuffer(joined, dtype=np.uint8).reshape(-1, length)
            found = housekeeping_rows(rows, self.mdb, pec_ok[positions])
            structure_ids[positions], seconds[positions] = found.structure_ids, found.seconds
            rows_by_length[length] = (rows, found.structure_ids)

        def rows_of(definition: HousekeepingPacket) -> np.ndarray:
            rows, ids = rows_by_length[housekeeping_length(definition)]
            return rows[ids == definition.structure_id]

        return self._process_found(structure_ids, seconds, rows_of, packets.__getitem__, received_at)

    def process_rows(
        self, rows: np.ndarray, received_at: float | None = None, pec_checked: bool = False
    ) -> list[int]:
        """:meth:`process_batch` of whole packets of one length, as a (packets, octets) uint8 array
        (``pec_checked``: each is known to end with its right PEC)."""
        found = housekeeping_rows(rows, self.mdb, True if pec_checked else None)
        ids = found.structure_ids
        return self._process_found(
            ids,
            found.seconds,
            lambda definition: rows[ids == definition.structure_id],
            lambda index: rows[index].tobytes(),
            received_at,
        )

    def _process_found(
        self,
        structure_ids: np.ndarray,
        seconds: np.ndarray,
        rows_of: Callable[[HousekeepingPacket], np.ndarray],
        packet: Callable[[int], bytes],
        received_at: float | None,
    ) -> list[int]:
        if len(structure_ids) and (structure_ids == structure_ids[0]).all():  # one structure, or none
            present, first = structure_ids[:1], np.zeros(1, dtype=np.int64)
        else:
            present, first = np.unique(structure_ids, return_index=True)
        groups: list[tuple[np.ndarray, HousekeepingColumns, np.ndarray]] = []
        for sid in present[np.argsort(first)].tolist():  # in order of first appearance, as one by one
            if sid < 0:
                continue
            rows = rows_of(self.mdb.packet_by_sid[sid])
            columns = decommutate_rows(self.mdb.packet_by_sid[sid], rows)
            if columns is None:  # a column the batch cannot make exactly: every packet one by one
                return [i for i in range(len(structure_ids)) if self.process(packet(i), received_at) is None]
            groups.append((np.flatnonzero(structure_ids == sid), columns, rows))
        alarms_at: dict[int, list[Alarm]] = {}
        reports: dict[int, HousekeepingReport] = {}
        for indices, columns, rows in groups:
            times = seconds[indices]
            in_order = bool(np.all(times[1:] >= times[:-1]))
            times = times.tolist()
            if self.on_housekeeping_data is not None:
                data = rows[:, SID_OFFSET : PARAMETERS_OFFSET + columns.definition.layout.length]
                self.on_housekeeping_data((columns.definition, times, data.tobytes(), received_at))
            self._apply_columns(indices, times, in_order, columns, alarms_at)
            if self.on_housekeeping is not None:
                reports.update(zip(indices.tolist(), _reports(columns, times), strict=True))
        undecoded: list[int] = []
        housekeeping = int(np.count_nonzero(structure_ids >= 0))
        first_report = int(np.argmax(structure_ids >= 0)) if housekeeping else -1
        order = {first_report, *alarms_at, *reports, *np.flatnonzero(structure_ids < 0).tolist()}
        for index in sorted(order - {-1}):
            if structure_ids[index] < 0:
                if self.process(packet(index), received_at) is None:
                    undecoded.append(index)
                continue
            if index == first_report:
                self.counters["housekeeping"] += housekeeping
            for alarm in alarms_at.get(index, ()):
                self.alarms.append(alarm)
                if self.on_alarm is not None:
                    self.on_alarm(alarm)
            if self.on_housekeeping is not None:
                self.on_housekeeping(reports[index])
        return undecoded

    def _apply_columns(
        self,
        indices: np.ndarray,
        times: list[float],
        in_order: bool,
        columns: HousekeepingColumns,
        alarms_at: dict,
    ) -> None:
        """Latest values, archive and limit levels of one structure's reports; their alarms by position."""
        levels = self.limits.levels
        add_many = getattr(self.archive, "add_many", None)
        for f, values in zip(columns.definition.layout.values, columns.values, strict=True):
            name = f.name
            self.latest[name] = values[-1]
            self.latest_time[name] = times[-1]
            if in_order and add_many is not None:
                add_many(name, times, values)
            else:
                for time, value in zip(times, values, strict=True):
                    self.archive.add(name, time, value)
            level = columns.levels.get(name)
            if level is None:
                continue
            before = np.empty_like(level)
            before[0], before[1:] = levels.get(name, 0), level[:-1]
            levels[name] = int(level[-1])
            for j in np.flatnonzero(level != before).tolist():
                alarm = Alarm(name, times[j], LEVEL_NAMES[before[j]], LEVEL_NAMES[level[j]], values[j])
                alarms_at.setdefault(int(indices[j]), []).append(alarm)

    def count_undecodable(self, exc: DecodeError) -> None:
        """A platform packet that could not be decoded, counted by the layer that refused it."""
        self._count_bad(exc.layer, exc)

    @property
    def undecodable_total(self) -> int:
        return sum(self.undecodable.values())

    def _count_bad(self, reason: str, exc: Exception) -> None:
        self.undecodable[reason] += 1
        log.debug("undecodable TM: %s", exc)

    def _dispatch(self, tm: TmPacket, received_at: float | None) -> object:
        key = (tm.service, tm.subtype)
        if key == (Service.HOUSEKEEPING, HousekeepingSubtype.HK_REPORT):
            return self._housekeeping(tm, received_at)
        if tm.service == Service.EVENT:
            return self._event(tm)
        if tm.service == Service.VERIFICATION:
            report = unpack_verification(tm.subtype, tm.app_data)
            self.counters["verification"] += 1
            if self.on_verification is not None:
                self.on_verification(report, tm.time)
            return report
        if key == (Service.TEST, ConnectionTestSubtype.PONG):
            self.counters["pong"] += 1
            self.pongs.append(tm.time)
            return tm
        if key == (Service.TIME, TimeSubtype.TIME_CORRELATION_REPORT):
            report = TimeCorrelation.unpack(tm.app_data)
            self.counters["time-report"] += 1
            self.time_reports.append((report, received_at if received_at is not None else tm.time))
            return report
        raise DecodeError(LAYER, 7, f"no handler for {message_name(tm.service, tm.subtype)}")

    # ------------------------------------------------------------------ housekeeping

    def _housekeeping_definition(self, app_data: bytes) -> HousekeepingPacket:
        sid = unpack_structure_id(app_data)
        definition = self.mdb.packet_by_sid.get(sid)
        if definition is None:
            raise DecodeError(LAYER, TM_OVERHEAD - 2, f"unknown housekeeping structure id {sid}")
        if len(app_data) != 2 + definition.layout.length:
            need, got = definition.layout.length, len(app_data) - 2
            raise DecodeError(LAYER, TM_OVERHEAD - 2, f"structure {sid} needs {need} octets, got {got}")
        return definition

    def decommutate(self, tm: TmPacket) -> HousekeepingReport:
        """Fast path: precompiled layout, then calibration."""
        definition = self._housekeeping_definition(tm.app_data)
        layout = definition.layout
        raw_values = layout.unpack_raw(tm.app_data, 2, LAYER)
        raw = dict(zip(layout.names, raw_values, strict=True))
        return HousekeepingReport(
            definition.name, definition.structure_id, tm.time, raw, layout.engineering(raw_values)
        )

    def decommutate_declarative(self, tm: TmPacket) -> HousekeepingReport:
        """Reference path through the construct declaration (tests compare it with :meth:`decommutate`)."""
        definition = self._housekeeping_definition(tm.app_data)
        layout = definition.layout
        raw_values = layout.unpack_declarative(tm.app_data[2:])
        raw = dict(zip(layout.names, raw_values, strict=True))
        return HousekeepingReport(
            definition.name, definition.structure_id, tm.time, raw, layout.engineering(raw_values)
        )

    def _housekeeping(self, tm: TmPacket, received_at: float | None = None) -> HousekeepingReport:
        report = self.decommutate(tm)
        if self.on_housekeeping_data is not None:
            self.on_housekeeping_data(
                (self.mdb.packet_by_sid[report.structure_id], tm.time, tm.app_data, received_at)
            )
        self.counters["housekeeping"] += 1
        for name, value in report.values.items():
            self.latest[name] = value
            self.latest_time[name] = report.time
            self.archive.add(name, report.time, value)
            alarm = self.limits.check(name, report.time, value)
            if alarm is not None:
                self.alarms.append(alarm)
                if self.on_alarm is not None:
                    self.on_alarm(alarm)
        if self.on_housekeeping is not None:
            self.on_housekeeping(report)
        return report

    # ------------------------------------------------------------------ events

    def _event(self, tm: TmPacket) -> EventRecord:
        event_id = unpack_event_id(tm.app_data)
        definition = self.mdb.event_by_id.get(event_id)
        if definition is None:
            raise DecodeError(LAYER, TM_OVERHEAD - 2, f"unknown event id {event_id}")
        if tm.subtype != definition.subtype:
            raise DecodeError(
                LAYER, 8, f"event {definition.name} is 5,{definition.subtype}, not 5,{tm.subtype}"
            )
        layout = definition.layout
        if len(tm.app_data) != 2 + layout.length:
            raise DecodeError(LAYER, TM_OVERHEAD - 2, f"event {definition.name} needs {layout.length} octets")
        raw = layout.unpack_raw(tm.app_data, 2, LAYER)
        record = EventRecord(definition.name, event_id, definition.severity, tm.time, layout.engineering(raw))
        self.counters["event"] += 1
        self.event_log.append(record)
        if self.on_event is not None:
            self.on_event(record)
        return record

    def events(self, name: str | None = None, since: float = float("-inf")) -> list[EventRecord]:
        return [e for e in self.event_log if (name is None or e.name == name) and e.time >= since]


def _reports(columns: HousekeepingColumns, times: list[float]) -> list[HousekeepingReport]:
    definition = columns.definition
    names = definition.layout.names
    raw_rows = zip(*(raw.tolist() for raw in columns.raw), strict=True)
    value_rows = zip(*columns.values, strict=True)
    name, sid = definition.name, definition.structure_id
    return [
        HousekeepingReport(
            name, sid, time, dict(zip(names, raw, strict=True)), dict(zip(names, values, strict=True))
        )
        for time, raw, values in zip(times, raw_rows, value_rows, strict=True)
    ]


def decommutate_batch(
    mdb: MissionDatabase, packets: Sequence[bytes] | bytes, structure_id: int, calibrated: bool = True
) -> dict[str, np.ndarray]:
    """Vectorised decommutation of many housekeeping packets of one structure (numpy structured dtype).

    ``packets`` is a sequence of whole TM packets or their concatenation; all
    must be of ``structure_id`` (checked; the PEC is not, this is the
    analysis/benchmark path). Returns one array per parameter,
    engineering values when ``calibrated``.
    """
    definition = mdb.packet_by_sid[structure_id]
    length = housekeeping_length(definition)
    buffer = packets if isinstance(packets, bytes | bytearray) else b"".join(packets)
    if len(buffer) % length:
        raise DecodeError(
            LAYER, len(buffer) - len(buffer) % length, f"not a whole number of {length}-octet packets"
        )
    rows = np.frombuffer(buffer, dtype=np.uint8).reshape(-1, length)
    sid_offset = TM_OVERHEAD - 2
    sids = rows[:, sid_offset].astype(np.uint16) << 8 | rows[:, sid_offset + 1]
    if np.any(sids != structure_id):
        bad = int(np.argmax(sids != structure_id))
        raise DecodeError(LAYER, bad * length + sid_offset, f"packet {bad} is not structure {structure_id}")
    raw = definition.layout.unpack_batch(rows[:, sid_offset + 2 : sid_offset + 2 + definition.layout.length])
    if not calibrated:
        return raw
    return {f.name: f.calibration.to_engineering_array(raw[f.name]) for f in definition.layout.values}
