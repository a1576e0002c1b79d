"""Housekeeping reports of one structure decommutated together, value for value as one at a time.

:meth:`~groundstation.telemetry.TelemetryProcessor.process_batch` hands a run of whole TM packets
here: :func:`housekeeping_rows` says which of them :meth:`TelemetryProcessor.process` would decode as
a housekeeping report of a known structure (everything else goes one by one), and
:func:`decommutate_rows` turns the rows of one structure into columns of raw and engineering
values and limit levels. The columns hold the very Python values of the one-at-a-time path: the
calibrations are evaluated in the same floating-point operations in the same order (Horner for
polynomials, the scalar path's own interpolation formula for tables, the same enumeration names),
so the values, the alarms and what the archive keeps are equal, not merely close (tests hold them
to :meth:`~groundstation.telemetry.TelemetryProcessor.decommutate` with hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from protocols.mdb.calibration import (
    BooleanCalibration,
    EnumerationCalibration,
    IdentityCalibration,
    PolynomialCalibration,
    TableCalibration,
)
from protocols.mdb.mission_db import FieldDef, FieldLayout, HousekeepingPacket, Limits, MissionDatabase
from protocols.packets.space_packet import PRIMARY_HEADER_LENGTH, PacketRun
from protocols.pus.packets import PEC_LENGTH, TM_PAYLOAD_OFFSET, tm_run_columns
from protocols.pus.pus_services import HousekeepingSubtype, Service

SID_OFFSET = TM_PAYLOAD_OFFSET  # the structure id: the first two octets of the application data
PARAMETERS_OFFSET = TM_PAYLOAD_OFFSET + 2
EXACT_FLOAT_BITS = 53  # integers of at most this many bits compare with floats as Python does
ENUMERATION_TABLE_BITS = 12  # enumerations of at most this many bits are decoded through a table


def housekeeping_length(definition: HousekeepingPacket) -> int:
    """Octets of a whole report of ``definition``: headers, structure id, parameters, PEC."""
    return PARAMETERS_OFFSET + definition.layout.length + PEC_LENGTH


@dataclass(frozen=True)
class HousekeepingRows:
    """Which packets of a run are housekeeping reports the one-at-a-time path would decode."""

    structure_ids: np.ndarray  # per packet: its structure id where ``decodable``, else -1
    seconds: np.ndarray  # per packet: the on-board time (float64, as ``TmPacket.time``)


def housekeeping_rows(
    rows: np.ndarray, mdb: MissionDatabase, pec_ok: np.ndarray | bool | None = None
) -> HousekeepingRows:
    """Structure ids of the packets of ``rows`` ((packets, octets) uint8, whole packets of one
    length) that are well-formed platform TM (3,25) reports of a structure of that length.
    ``pec_ok``: which packets end with their right PEC, if known (True: all of them).

    A packet gets -1 exactly when :meth:`TelemetryProcessor.process` would not decode it as such a
    report: another APID, version, length field, type, secondary header, PEC, PUS version, time
    P-field, service or subtype, an unknown structure, or one whose length is not this one.
    """
    count, length = rows.shape
    ids = np.full(count, -1, dtype=np.int64)
    if length < PARAMETERS_OFFSET + 2:
        return HousekeepingRows(ids, np.zeros(count))
    lengths = {d.structure_id: housekeeping_length(d) for d in mdb.packets}
    fitting = [sid for sid, need in lengths.items() if need == length]
    if not fitting:
        return HousekeepingRows(ids, np.zeros(count))
    tm = tm_run_columns(PacketRun(rows, pec_checked=pec_ok is not None))
    run = PacketRun(rows)
    apid = mdb.apids["housekeeping"]
    length_field = rows[:, 4].astype(np.int64) << 8 | rows[:, 5]
    sids = rows[:, SID_OFFSET].astype(np.int64) << 8 | rows[:, SID_OFFSET + 1]
    decodable = (
        tm.valid
        & (True if pec_ok is None else pec_ok)
        & (run.versions() == 0)
        & (length_field == length - PRIMARY_HEADER_LENGTH - 1)
        & (run.apids() == apid)
        & (tm.service == Service.HOUSEKEEPING)
        & (tm.subtype == HousekeepingSubtype.HK_REPORT)
        & (sids == fitting[0] if len(fitting) == 1 else np.isin(sids, fitting))
    )
    ids[decodable] = sids[decodable]
    return HousekeepingRows(ids, tm.seconds)


@dataclass(frozen=True)
class HousekeepingColumns:
    """Reports of one structure as columns (one list per parameter, in layout order)."""

    definition: HousekeepingPacket
    raw: list[np.ndarray]  # as arrays: only a report made for ``on_housekeeping`` needs them as values
    values: list[list]
    levels: dict[str, np.ndarray]  # limit level (0, 1, 2) of each value, for parameters with limits


def decommutate_rows(definition: HousekeepingPacket, rows: np.ndarray) -> HousekeepingColumns | None:
    """Raw and engineering values and limit levels of whole packets of ``definition`` (rows as
    :func:`housekeeping_rows` accepted them); None where a column cannot be made exactly as the
    one-at-a-time path makes it (then the caller takes that path)."""
    layout = definition.layout
    columns = _engineering_columns(layout, rows[:, PARAMETERS_OFFSET : PARAMETERS_OFFSET + layout.length])
    if columns is None:
        return None
    levels = {
        f.name: _levels(f.limits, numbers, values)
        for f, _, values, numbers in columns
        if f.limits is not None
    }
    return HousekeepingColumns(definition, [c[1] for c in columns], [c[2] for c in columns], levels)


@dataclass(frozen=True)
class ValueColumn:
    """One parameter of reports of one structure, for keeping (the archive's columns)."""

    raw: np.ndarray  # as unpacked
    values: list  # the engineering values, the very Python values of the one-at-a-time path
    numbers: np.ndarray | None  # ``values`` as numpy makes them of the list (booleans as such), or None


def value_columns(definition: HousekeepingPacket, octets: np.ndarray) -> list[ValueColumn] | None:
    """Raw and engineering values of each parameter (layout order) of reports of ``definition``,
    given as their parameter octets ((packets, layout length) uint8, after the structure id);
    None where a column cannot be made exactly as the one-at-a-time path makes it.

    ``numbers`` is set where ``np.array(values)`` needs no looking at each value: calibrated
    numbers (float64), booleans, and the raw numbers of an identity calibration."""
    columns = _engineering_columns(definition.layout, octets)
    if columns is None:
        return None
    out = []
    for f, raw, values, numbers in columns:
        if isinstance(f.calibration, IdentityCalibration):
            numbers = raw if raw.dtype.kind in "iuf" else None
        out.append(ValueColumn(raw, values, numbers))
    return out


def _engineering_columns(
    layout: FieldLayout, octets: np.ndarray
) -> list[tuple[FieldDef, np.ndarray, list, np.ndarray | None]] | None:
    """Each parameter of the packets' parameter octets, in layout order: (field, raw values,
    engineering values, those as numbers or None), as :func:`_engineering` makes them; None when
    a column cannot be made exactly."""
    raw_arrays = layout.unpack_batch(octets)
    columns = []
    for f in layout.values:
        raw = raw_arrays[f.name]
        engineering = _engineering(f, raw)
        if engineering is None:
            return None
        columns.append((f, raw, *engineering))
    return columns


def _engineering(f: FieldDef, raw: np.ndarray) -> tuple[list, np.ndarray | None] | None:
    """The engineering values of a column as ``FieldDef.to_engineering`` gives them one by one, and
    the same as a float64 array when they compare with floats exactly as the Python values do."""
    cal = f.calibration
    if isinstance(cal, IdentityCalibration):
        return raw.tolist(), _exact_numbers(f, raw) if f.limits is not None else None
    if isinstance(cal, BooleanCalibration):
        flags = raw.astype(bool)
        return flags.tolist(), flags
    if isinstance(cal, PolynomialCalibration):
        x = raw.astype(np.float64)
        value = np.zeros(len(x))
        for c in reversed(cal.coefficients):  # Horner, as PolynomialCalibration.to_engineering
            value = value * x + c
        return value.tolist(), value
    if isinstance(cal, TableCalibration):
        x = raw.astype(np.float64)
        if np.isnan(x).any():
            return None  # the scalar path fails on NaN: left to it
        points, eng = np.asarray(cal.raw_points), np.asarray(cal.eng_points)
        i = np.clip(np.searchsorted(points, x, side="right"), 1, len(points) - 1)
        x0, x1, y0, y1 = points[i - 1], points[i], eng[i - 1], eng[i]
        value = y0 + (x - x0) * (y1 - y0) / (x1 - x0)  # TableCalibration.to_engineering's formula
        value = np.where(x <= points[0], eng[0], np.where(x >= points[-1], eng[-1], value))
        return value.tolist(), value
    if isinstance(cal, EnumerationCalibration) and raw.dtype.kind in "iu":
        if f.bits <= ENUMERATION_TABLE_BITS:  # every code's name in a table, made once
            return _names(cal, f.bits)[raw].tolist(), None
        codes, where = np.unique(raw.astype(np.int64), return_inverse=True)
        names = np.array([cal.to_engineering(code) for code in codes.tolist()], dtype=object)
        return names[where.reshape(-1)].tolist(), None
    return None


_NAME_TABLES: dict[tuple[int, int], tuple[EnumerationCalibration, np.ndarray]] = {}


def _names(calibration: EnumerationCalibration, bits: int) -> np.ndarray:
    """``calibration.to_engineering`` of every code of ``bits`` bits, as an object array (made once
    for each calibration: they are values of a loaded database, not hashable)."""
    key = (id(calibration), bits)
    held = _NAME_TABLES.get(key)
    if held is None or held[0] is not calibration:
        names = np.array([calibration.to_engineering(code) for code in range(1 << bits)], dtype=object)
        held = _NAME_TABLES[key] = (calibration, names)
    return held[1]


def _exact_numbers(f: FieldDef, raw: np.ndarray) -> np.ndarray | None:
    if raw.dtype.kind == "f":
        return raw.astype(np.float64)
    if f.bits <= EXACT_FLOAT_BITS:
        return raw.astype(np.float64)
    return None


def _levels(limits: Limits, numbers: np.ndarray | None, values: list) -> np.ndarray:
    """``Limits.level`` of each value: column-wise where the numbers are exact, else one by one."""
    if numbers is None:
        return np.fromiter(map(limits.level, values), dtype=np.int8, count=len(values))
    red = np.zeros(len(numbers), dtype=bool)
    yellow = np.zeros(len(numbers), dtype=bool)
    for bound, out, below in (
        (limits.red_low, red, True),
        (limits.red_high, red, False),
        (limits.yellow_low, yellow, True),
        (limits.yellow_high, yellow, False),
    ):
        if bound is not None:
            out |= numbers < bound if below else numbers > bound
    return np.where(red, 2, np.where(yellow, 1, 0)).astype(np.int8)
