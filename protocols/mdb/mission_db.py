"""The mission database: housekeeping layouts, calibrations, limits, events and telecommands.

One declarative TOML file set is the single source of truth for the probe and
the ground: paleblue's own ships as package data in ``protocols/mdb/default/``
(read with :mod:`importlib.resources`, so an installed wheel has it); a mission
of its own is any directory with the same four files (``--mdb DIR``). The order of parameters in a
file is the packet layout: bit offsets are computed here, never written by
hand. Every file is validated on load; a :class:`MissionDbError` names the
file, the line and the field at fault (``tomllib`` reports no lines for
semantic errors, so :func:`locate_line` finds them in the text).

A compiled :class:`FieldLayout` packs and unpacks a sequence of fields three
ways that tests prove identical: a ``construct`` declaration (the reference),
a struct/big-integer fast path for one packet, and a numpy batch path.
"""

from __future__ import annotations

import functools
import re
import struct
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from construct import BitsInteger, BitStruct, Bytewise, Construct, Float32b, Float64b, Padding

from protocols.errors import DecodeError
from protocols.mdb.calibration import (
    BooleanCalibration,
    Calibration,
    CalibrationError,
    EnumerationCalibration,
    IdentityCalibration,
    table,
)
from protocols.mdb.calibration import polynomial as polynomial_calibration
from protocols.packets.apids import Apid

# paleblue's database, shipped inside the package (a directory on disk for any installed wheel)
DEFAULT_DIRECTORY = Path(str(resources.files("protocols") / "mdb" / "default"))
FILES = ("mission.toml", "housekeeping.toml", "events.toml", "telecommands.toml")
KINDS = ("uint", "int", "float", "enum", "bool", "spare")
SEVERITY_SUBTYPES = {"info": 1, "low": 2, "medium": 3, "high": 4}
LAYER = "mission-db"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class MissionDbError(ValueError):
    """A database file that is not valid, with the file, line and field to fix."""

    def __init__(self, file: str, line: int, field_name: str, reason: str) -> None:
        super().__init__(f"{file}:{line}: field '{field_name}': {reason}")
        self.file, self.line, self.field, self.reason = file, line, field_name, reason


# --------------------------------------------------------------------------- locating lines


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?")


def locate_line(text: str, table_path: Sequence[tuple[str, int | None]], key: str | None) -> int:
    """1-based line of ``key`` inside the table reached by ``table_path`` (or of the table header).

    ``table_path`` is e.g. ``[("packet", 0), ("parameter", 3)]`` for the fourth
    ``[[packet.parameter]]`` of the first ``[[packet]]``; ``None`` as index
    means a plain ``[table]``. Unknown places fall back to line 1.
    """
    target = ".".join(name for name, _ in table_path)
    want = tuple(i for _, i in table_path if i is not None)
    counters: dict[str, int] = {}
    inside = not table_path
    header_line = 1
    key_pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=") if key else None
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            name = m.group(2).replace(" ", "")
            if m.group(1) == "[[":
                counters[name] = counters.get(name, -1) + 1
                for other in list(counters):
                    if other.startswith(name + "."):
                        del counters[other]
            parts = name.split(".")
            indices = tuple(
                counters.get(".".join(parts[: i + 1]), 0)
                for i in range(len(parts))
                if ".".join(parts[: i + 1]) in counters
            )
            inside = name == target and indices == want
            if inside:
                header_line = number
                if key_pattern is None:
                    return number
            continue
        if inside and key_pattern is not None and key_pattern.match(line):
            return number
    return header_line


class _Source:
    """One loaded file: its data plus the means to point at a line in it."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        try:
            self.text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MissionDbError(path.name, 0, "-", f"cannot read: {exc}") from exc
        try:
            self.data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise MissionDbError(self.name, int(m.group(1)) if m else 0, "-", f"TOML syntax: {exc}") from exc

    def fail(self, where: Sequence[tuple[str, int | None]], key: str | None, reason: str) -> MissionDbError:
        return MissionDbError(self.name, locate_line(self.text, where, key), key or where[-1][0], reason)


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class FieldDef:
    """One typed field: a housekeeping parameter, an event parameter or a command argument."""

    name: str
    kind: str  # uint | int | float | enum | bool | spare
    bits: int
    unit: str = ""
    description: str = ""
    calibration: Calibration = field(default_factory=IdentityCalibration)
    limits: Limits | None = None
    valid_range: tuple[float, float] | None = None  # command arguments: engineering range accepted
    parameter_id: int = 0  # housekeeping parameters: position in the database, from 1

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def signed(self) -> bool:
        return self.kind == "int"

    @property
    def raw_range(self) -> tuple[float, float]:
        if self.kind == "float":
            big = float(np.finfo(np.float32 if self.bits == 32 else np.float64).max)
            return -big, big
        if self.kind == "int":
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def to_engineering(self, raw: float) -> Any:
        return self.calibration.to_engineering(raw)

    def to_raw(self, value: Any) -> int | float:
        """Engineering value to the raw value on the wire (rounded and clamped for integers)."""
        raw = self.calibration.to_raw(value)
        if self.kind == "float":
            return float(raw)
        lo, hi = self.raw_range
        return int(min(max(round(raw), lo), hi))

    def check_argument(self, value: Any) -> int | float:
        """Validate one command argument; returns its raw value or raises ValueError saying why."""
        if self.kind == "enum":
            assert isinstance(self.calibration, EnumerationCalibration)
            if isinstance(value, str) and value in self.calibration.values:
                return self.calibration.values[value]
            if isinstance(value, int) and not isinstance(value, bool) and value in self.calibration.names:
                return value
            raise ValueError(f"{value!r} is not one of {', '.join(self.calibration.values)}")
        if self.kind == "bool":
            if isinstance(value, bool) or value in (0, 1):
                return int(value)
            raise ValueError(f"{value!r} is not a boolean")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        if self.kind in ("uint", "int") and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        lo, hi = self.valid_range or self.raw_range
        if not lo <= value <= hi:
            raise ValueError(f"{value!r} is outside {lo:g}..{hi:g}")
        return float(value) if self.kind == "float" else int(value)


@dataclass(frozen=True)
class Limits:
    """Yellow (warning) and red (alarm) limits in engineering units; any may be absent."""

    yellow_low: float | None = None
    yellow_high: float | None = None
    red_low: float | None = None
    red_high: float | None = None

    def level(self, value: float) -> int:
        """0 nominal, 1 yellow, 2 red."""
        if (self.red_low is not None and value < self.red_low) or (
            self.red_high is not None and value > self.red_high
        ):
            return 2
        if (self.yellow_low is not None and value < self.yellow_low) or (
            self.yellow_high is not None and value > self.yellow_high
        ):
            return 1
        return 0


_STRUCT_CODES = {
    ("uint", 8): "B",
    ("uint", 16): "H",
    ("uint", 32): "I",
    ("uint", 64): "Q",
    ("int", 8): "b",
    ("int", 16): "h",
    ("int", 32): "i",
    ("int", 64): "q",
    ("enum", 8): "B",
    ("enum", 16): "H",
    ("enum", 32): "I",
    ("bool", 8): "B",
    ("float", 32): "f",
    ("float", 64): "d",
}


class FieldLayout:
    """A sequence of fields packed MSB-first with computed bit offsets.

    ``construct`` is the declaration; :meth:`unpack_raw` (struct when every
    field is byte-aligned with a standard width, else one big integer) and
    :meth:`unpack_batch` (numpy structured dtype) are fast paths the tests hold
    to it.
    """

    def __init__(self, fields: Sequence[FieldDef]) -> None:
        self.fields = tuple(fields)
        offsets, bit = [], 0
        for f in self.fields:
            offsets.append(bit)
            bit += f.bits
        self.bit_offsets = tuple(offsets)
        self.total_bits = bit
        self.length = bit // 8
        self.values = tuple(f for f in self.fields if f.kind != "spare")
        self.names = tuple(f.name for f in self.values)
        self.construct: Construct = BitStruct(*(_construct_for(f) for f in self.fields))
        self._struct = self._compile_struct()
        self._chunks, self._plan = self._compile_chunks()
        self._extract = [
            (self.total_bits - o - f.bits, (1 << f.bits) - 1, f)
            for f, o in zip(self.fields, self.bit_offsets, strict=True)
            if f.kind != "spare"
        ]

    def _compile_chunks(self) -> tuple[struct.Struct, tuple[tuple[int, int, int, str, int], ...]]:
        """Struct format over octet-aligned chunks: standard fields map 1:1, each bit-packed run becomes
        one unsigned chunk; the plan cuts every field out of its chunk (chunk, shift, mask, kind, bits)."""
        codes: list[str] = []
        plan: list[tuple[int, int, int, str, int]] = []
        group: list[tuple[FieldDef, int]] = []  # fields of the open bit-packed run, with their offsets
        group_start = 0

        def close(end: int) -> None:
            size = end - group_start
            codes.append({8: "B", 16: "H", 32: "I", 64: "Q"}.get(size, f"{size // 8}s"))
            for f, o in group:
                if f.kind != "spare":
                    plan.append((len(codes) - 1, end - o - f.bits, (1 << f.bits) - 1, f.kind, f.bits))
            group.clear()

        for f, o in zip(self.fields, self.bit_offsets, strict=True):
            code = _STRUCT_CODES.get((f.kind, f.bits))
            if not group and o % 8 == 0 and code is not None:
                codes.append(code)
                if f.kind != "spare":
                    plan.append((len(codes) - 1, -1, 0, f.kind, f.bits))
                continue
            if not group:
                group_start = o
            group.append((f, o))
            if (o + f.bits) % 8 == 0:
                close(o + f.bits)
        return struct.Struct(">" + "".join(codes)), tuple(plan)

    def _compile_struct(self) -> struct.Struct | None:
        codes = []
        for f, o in zip(self.fields, self.bit_offsets, strict=True):
            code = _STRUCT_CODES.get((f.kind, f.bits))
            if o % 8 or code is None:
                return None
            codes.append(code)
        return struct.Struct(">" + "".join(codes))

    # -- declarative reference
    def unpack_declarative(self, data: bytes) -> tuple[int | float, ...]:
        parsed = self.construct.parse(bytes(data[: self.length]))
        return tuple(parsed[f.name] for f in self.values)

    def pack_declarative(self, raw: Sequence[int | float]) -> bytes:
        return self.construct.build(dict(zip(self.names, raw, strict=True)))

    # -- fast paths
    def pack_raw(self, raw: Sequence[int | float]) -> bytes:
        if len(raw) != len(self.values):
            raise ValueError(f"{len(self.values)} raw values expected, {len(raw)} given")
        if self._struct is not None:
            return self._struct.pack(*raw)
        word = 0
        for (shift, mask, f), value in zip(self._extract, raw, strict=True):
            if f.kind == "float":
                value = int.from_bytes(struct.pack(">f" if f.bits == 32 else ">d", value), "big")
            elif not (f.raw_range[0] <= value <= f.raw_range[1]):
                raise ValueError(f"{f.name}: raw {value} does not fit {f.bits} bits")
            word |= (int(value) & mask) << shift
        return word.to_bytes(self.length, "big")

    def unpack_raw(self, data: bytes | memoryview, offset: int = 0, layer: str = LAYER) -> tuple:
        """Raw values of every non-spare field starting at ``offset``; DecodeError if too short."""
        if len(data) - offset < self.length:
            raise DecodeError(
                layer, offset, f"need {self.length} octets of parameters, {len(data) - offset} left"
            )
        if self._struct is not None:
            return self._struct.unpack_from(data, offset)
        chunks = self._chunks.unpack_from(data, offset)
        out: list[int | float] = []
        for index, shift, mask, kind, bits in self._plan:
            chunk = chunks[index]
            if shift < 0:
                out.append(chunk)
                continue
            if isinstance(chunk, bytes):
                chunk = int.from_bytes(chunk, "big")
            v = (chunk >> shift) & mask
            out.append(v - (1 << bits) if kind == "int" and v >> (bits - 1) else v)
        return tuple(out)

    def engineering(self, raw: Sequence[int | float]) -> dict[str, Any]:
        """Each non-spare field's engineering value of ``raw`` (as :meth:`unpack_raw` gives it), by name."""
        return {f.name: f.calibration.to_engineering(r) for f, r in zip(self.values, raw, strict=True)}

    def numpy_dtype(self) -> np.dtype:
        """Structured dtype of the byte-aligned standard-width fields (others go by bit extraction)."""
        names, formats, offsets = [], [], []
        for f, o in zip(self.fields, self.bit_offsets, strict=True):
            code = _STRUCT_CODES.get((f.kind, f.bits))
            if f.kind != "spare" and code is not None and o % 8 == 0:
                names.append(f.name)
                formats.append(">" + code.replace("f", "f4").replace("d", "f8"))
                offsets.append(o // 8)
        return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": self.length})

    def unpack_batch(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Raw values of N records at once: ``rows`` is a (N, length) uint8 array."""
        rows = np.ascontiguousarray(rows[:, : self.length])
        dtype = self.numpy_dtype()
        view = rows.view(dtype).reshape(len(rows))
        out: dict[str, np.ndarray] = {}
        for f, o in zip(self.fields, self.bit_offsets, strict=True):
            if f.kind == "spare":
                continue
            if f.name in dtype.names:
                out[f.name] = view[f.name]
                continue
            first, last = o // 8, (o + f.bits - 1) // 8
            acc = np.zeros(len(rows), dtype=np.uint64)
            for col in range(first, last + 1):
                acc = (acc << np.uint64(8)) | rows[:, col].astype(np.uint64)
            shift = (last + 1) * 8 - (o + f.bits)
            value = (acc >> np.uint64(shift)) & np.uint64((1 << f.bits) - 1)
            if f.kind == "int":
                signed = value.astype(np.int64)
                out[f.name] = np.where(signed >= 1 << (f.bits - 1), signed - (1 << f.bits), signed)
            else:
                out[f.name] = value
        return out


def _construct_for(f: FieldDef) -> Construct:
    if f.kind == "spare":
        return Padding(f.bits)
    if f.kind == "float":
        return f.name / Bytewise(Float32b if f.bits == 32 else Float64b)
    return f.name / BitsInteger(f.bits, signed=f.kind == "int")


@dataclass(frozen=True)
class HousekeepingPacket:
    name: str
    apid: int
    structure_id: int
    period_s: float
    layout: FieldLayout
    description: str = ""


@dataclass(frozen=True)
class EventDef:
    name: str
    event_id: int
    severity: str
    layout: FieldLayout

    @property
    def subtype(self) -> int:
        return SEVERITY_SUBTYPES[self.severity]


@dataclass(frozen=True)
class CommandDef:
    name: str
    service: int
    subtype: int
    function_id: int | None
    layout: FieldLayout
    allowed_modes: tuple[str, ...] | None = None
    description: str = ""

    @property
    def key(self) -> tuple[int, int, int | None]:
        return self.service, self.subtype, self.function_id


@dataclass
class MissionDatabase:
    name: str
    spacecraft_id: int
    tc_virtual_channel: int
    ground_source_id: int
    destination_id: int
    apids: dict[str, int]
    enumerations: dict[str, dict[str, int]]
    packets: tuple[HousekeepingPacket, ...]
    events: tuple[EventDef, ...]
    commands: tuple[CommandDef, ...]
    directory: Path
    packet_by_sid: dict[int, HousekeepingPacket] = field(init=False)
    parameters: dict[str, tuple[HousekeepingPacket, FieldDef]] = field(init=False)
    parameter_by_id: dict[int, FieldDef] = field(init=False)
    event_by_id: dict[int, EventDef] = field(init=False)
    event_by_name: dict[str, EventDef] = field(init=False)
    command_by_name: dict[str, CommandDef] = field(init=False)
    command_by_key: dict[tuple[int, int, int | None], CommandDef] = field(init=False)

    def __post_init__(self) -> None:
        self.packet_by_sid = {p.structure_id: p for p in self.packets}
        self.parameters = {f.name: (p, f) for p in self.packets for f in p.layout.values}
        self.parameter_by_id = {f.parameter_id: f for _, f in self.parameters.values()}
        self.event_by_id = {e.event_id: e for e in self.events}
        self.event_by_name = {e.name: e for e in self.events}
        self.command_by_name = {c.name: c for c in self.commands}
        self.command_by_key = {c.key: c for c in self.commands}

    def parameter(self, name: str) -> FieldDef:
        return self.parameters[name][1]

    def packet(self, name: str) -> HousekeepingPacket:
        for p in self.packets:
            if p.name == name:
                return p
        raise KeyError(name)

    def command_for(self, service: int, subtype: int, function_id: int | None) -> CommandDef | None:
        return self.command_by_key.get((service, subtype, function_id))

    def has_function_ids(self, service: int, subtype: int) -> bool:
        return any(
            c.function_id is not None for c in self.commands if (c.service, c.subtype) == (service, subtype)
        )


# --------------------------------------------------------------------------- loading


@functools.cache
def default_spacecraft_id() -> int:
    """The spacecraft id of paleblue's own database (``[mission] spacecraft_id``): the one source of the
    id the channel presets and the TC frames use, read without compiling the whole database."""
    source = _Source(DEFAULT_DIRECTORY / "mission.toml")
    where = [("mission", None)]
    return _get(
        source, _table(source, source.data, "mission", []), where, "spacecraft_id", int, bound=(0, 1023)
    )


def load_mission_db(directory: Path | None = None) -> MissionDatabase:
    """Load and validate every file of the database; raises :class:`MissionDbError` naming file and line."""
    directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    sources = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            raise MissionDbError(name, 0, "-", f"file missing from {directory}")
        sources[name] = _Source(path)
    mission = sources["mission.toml"]
    info = _table(mission, mission.data, "mission", [])
    apid_table = _table(mission, mission.data, "apids", [])
    enum_table = mission.data.get("enumerations", {})
    where = [("mission", None)]
    apids = {}
    for role, value in apid_table.items():
        apids[role] = _apid(mission, [("apids", None)], role, value)
    for role in ("housekeeping", "events", "verification", "telecommand"):
        if role not in apids:
            raise mission.fail([("apids", None)], None, f"APID role '{role}' is missing")
    enumerations: dict[str, dict[str, int]] = {}
    for enum_name, states in enum_table.items():
        ew = [("enumerations", None)]
        _check_name(mission, ew, enum_name, enum_name)
        enumerations[enum_name] = _enumeration(mission, ew, enum_name, states)
    ctx = _Context(enumerations)
    packets = _load_packets(sources["housekeeping.toml"], ctx, apids)
    events = _load_events(sources["events.toml"], ctx)
    commands = _load_commands(sources["telecommands.toml"], ctx)
    return MissionDatabase(
        name=_get(mission, info, where, "name", str),
        spacecraft_id=_get(mission, info, where, "spacecraft_id", int, bound=(0, 1023)),
        tc_virtual_channel=_get(mission, info, where, "tc_virtual_channel", int, bound=(0, 63)),
        ground_source_id=_get(mission, info, where, "ground_source_id", int, bound=(0, 65535)),
        destination_id=_get(mission, info, where, "destination_id", int, bound=(0, 65535)),
        apids=apids,
        enumerations=enumerations,
        packets=packets,
        events=events,
        commands=commands,
        directory=directory,
    )


@dataclass
class _Context:
    enumerations: dict[str, dict[str, int]]
    next_parameter_id: int = 1


_MISSING = object()


def _get(
    src: _Source,
    table_: Mapping,
    where,
    key: str,
    kind: type | tuple,
    default: Any = _MISSING,
    bound: tuple[float, float] | None = None,
) -> Any:
    if key not in table_:
        if default is _MISSING:
            raise src.fail(where, key, "required field is missing")
        return default
    value = table_[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise src.fail(where, key, f"expected {'/'.join(k.__name__ for k in kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise src.fail(
            where, key, f"expected {'/'.join(k.__name__ for k in kinds)}, got {type(value).__name__}"
        )
    if bound is not None and not bound[0] <= value <= bound[1]:
        raise src.fail(where, key, f"{value} is outside {bound[0]}..{bound[1]}")
    return value


def _table(src: _Source, parent: Mapping, key: str, where) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise src.fail(
            [*where, (key, None)],
            None if value is None else key,
            f"table [{key}] is missing" if value is None else f"[{key}] must be a table",
        )
    return value


def _array_of_tables(src: _Source, parent: Mapping, key: str, where) -> list[dict]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise src.fail(where, key, f"'{key}' must be written as [[{key}]] tables")
    return value


def _check_name(src: _Source, where, key: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise src.fail(where, key, f"{name!r} is not an UPPER_CASE name")
    return name


def _apid(src: _Source, where, key: str, value: Any) -> int:
    if not isinstance(value, str) or value not in Apid.__members__:
        raise src.fail(
            where,
            key,
            f"{value!r} is not an APID name of protocols/packets/apids.py ({', '.join(Apid.__members__)})",
        )
    return int(Apid[value])


def _enumeration(src: _Source, where, key: str, states: Any) -> dict[str, int]:
    if not isinstance(states, dict) or not states:
        raise src.fail(where, key, "enumeration must be a non-empty table of NAME = value")
    out = {}
    for state, raw in states.items():
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise src.fail(where, key, f"state {state} must map to a non-negative integer")
        if raw in out.values():
            raise src.fail(where, key, f"state {state} reuses raw value {raw}")
        out[state] = raw
    return out


def _load_field(src: _Source, ctx: _Context, where, spec: dict, purpose: str) -> FieldDef:
    allowed = {"name", "type", "bits", "unit", "description", "calibration", "enumeration", "limits", "range"}
    for key in spec:
        if key not in allowed:
            raise src.fail(where, key, f"unknown field (allowed: {', '.join(sorted(allowed))})")
    name = _check_name(src, where, "name", _get(src, spec, where, "name", str))
    kind = _get(src, spec, where, "type", str)
    if kind not in KINDS:
        raise src.fail(where, "type", f"{kind!r} is not one of {', '.join(KINDS)}")
    bits = _get(src, spec, where, "bits", int, default=1 if kind == "bool" else _MISSING, bound=(1, 64))
    if kind == "float" and bits not in (32, 64):
        raise src.fail(where, "bits", "a float has 32 or 64 bits")
    if kind == "bool" and bits != 1:
        raise src.fail(where, "bits", "a bool has 1 bit")
    if kind in ("uint", "int", "enum") and bits > 32 and bits != 64:
        raise src.fail(where, "bits", "integers wider than 32 bits must be exactly 64")
    unit = _get(src, spec, where, "unit", str, default="")
    description = _get(src, spec, where, "description", str, default="")
    probe = FieldDef(name, kind, bits)
    lo, hi = probe.raw_range
    calibration: Calibration
    if kind == "enum":
        ref = spec.get("enumeration")
        if ref is None:
            raise src.fail(where, "enumeration", "an enum parameter needs an enumeration")
        if isinstance(ref, str):
            if ref not in ctx.enumerations:
                raise src.fail(where, "enumeration", f"no enumeration {ref!r} in mission.toml")
            states = ctx.enumerations[ref]
        else:
            states = _enumeration(src, where, "enumeration", ref)
        if max(states.values()) > hi:
            raise src.fail(where, "enumeration", f"raw value {max(states.values())} does not fit {bits} bits")
        calibration = EnumerationCalibration(dict(states))
    elif "enumeration" in spec:
        raise src.fail(where, "enumeration", f"only enum parameters take an enumeration, not {kind}")
    elif kind == "bool":
        calibration = BooleanCalibration()
    else:
        calibration = IdentityCalibration()
    if "calibration" in spec:
        if kind not in ("uint", "int", "float"):
            raise src.fail(where, "calibration", f"a {kind} parameter takes no calibration")
        cal = spec["calibration"]
        if not isinstance(cal, dict) or len(cal) != 1 or next(iter(cal)) not in ("polynomial", "table"):
            raise src.fail(
                where, "calibration", "write {polynomial = [c0, c1, ...]} or {table = [[raw, eng], ...]}"
            )
        method, points = next(iter(cal.items()))
        if kind == "float" and method == "table":
            raise src.fail(where, "calibration", "a float parameter takes a polynomial, not a table")
        try:
            if method == "polynomial":
                if not isinstance(points, list) or not all(_is_number(c) for c in points):
                    raise CalibrationError("polynomial must be a list of numbers")
                span = (lo, hi) if kind != "float" else (-1e6, 1e6)
                calibration = polynomial_calibration(points, *span)
            else:
                if not isinstance(points, list) or not all(
                    isinstance(p, list) and len(p) == 2 and all(_is_number(x) for x in p) for p in points
                ):
                    raise CalibrationError("table must be a list of [raw, eng] pairs")
                calibration = table(points, lo, hi)
        except CalibrationError as exc:
            raise src.fail(where, "calibration", str(exc)) from exc
    limits = None
    if "limits" in spec:
        if purpose != "parameter":
            raise src.fail(where, "limits", "only housekeeping parameters have limits")
        if kind not in ("uint", "int", "float"):
            raise src.fail(where, "limits", f"a {kind} parameter has no numeric limits")
        lim = spec["limits"]
        names = ("yellow_low", "yellow_high", "red_low", "red_high")
        if (
            not isinstance(lim, dict)
            or any(k not in names for k in lim)
            or not all(_is_number(v) for v in lim.values())
        ):
            raise src.fail(where, "limits", f"limits is a table of numbers named {', '.join(names)}")
        limits = Limits(**{k: float(v) for k, v in lim.items()})
        if (
            limits.red_low is not None
            and limits.yellow_low is not None
            and limits.red_low > limits.yellow_low
        ) or (
            limits.red_high is not None
            and limits.yellow_high is not None
            and limits.red_high < limits.yellow_high
        ):
            raise src.fail(where, "limits", "red limits must lie outside the yellow limits")
    valid_range = None
    if "range" in spec:
        if purpose != "argument":
            raise src.fail(where, "range", "only command arguments have a range")
        rng = spec["range"]
        if not (
            isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng) and rng[0] <= rng[1]
        ):
            raise src.fail(where, "range", "range is [low, high] with low <= high")
        if kind in ("uint", "int") and (rng[0] < lo or rng[1] > hi):
            raise src.fail(where, "range", f"range does not fit {bits} bits ({lo}..{hi})")
        valid_range = (rng[0], rng[1])
    parameter_id = 0
    if purpose == "parameter" and kind != "spare":
        parameter_id = ctx.next_parameter_id
        ctx.next_parameter_id += 1
    return FieldDef(name, kind, bits, unit, description, calibration, limits, valid_range, parameter_id)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _layout(
    src: _Source,
    ctx: _Context,
    where,
    specs: list[dict],
    child: str,
    purpose: str,
    seen: dict[str, str] | None = None,
) -> FieldLayout:
    fields = []
    local: set[str] = set()
    for i, spec in enumerate(specs):
        fw = [*where, (child, i)]
        f = _load_field(src, ctx, fw, spec, purpose)
        if f.name in local or (seen is not None and f.name in seen):
            raise src.fail(fw, "name", f"duplicate name {f.name}")
        local.add(f.name)
        if seen is not None:
            seen[f.name] = src.name
        if f.kind == "float" and sum(x.bits for x in fields) % 8:
            raise src.fail(fw, "bits", "a float must start on an octet boundary")
        fields.append(f)
    total = sum(f.bits for f in fields)
    if total % 8:
        raise src.fail(
            where, child if specs else None, f"fields add up to {total} bits, not whole octets (add a spare)"
        )
    return FieldLayout(fields)


def _load_packets(src: _Source, ctx: _Context, apids: dict[str, int]) -> tuple[HousekeepingPacket, ...]:
    packets = []
    names: set[str] = set()
    sids: set[int] = set()
    parameter_names: dict[str, str] = {}
    entries = _array_of_tables(src, src.data, "packet", [("packet", 0)])
    if not entries:
        raise src.fail([("packet", 0)], None, "no [[packet]] defined")
    for i, spec in enumerate(entries):
        where = [("packet", i)]
        for key in spec:
            if key not in ("name", "apid", "structure_id", "period_s", "description", "parameter"):
                raise src.fail(where, key, "unknown field")
        name = _check_name(src, where, "name", _get(src, spec, where, "name", str))
        if name in names:
            raise src.fail(where, "name", f"duplicate packet name {name}")
        sid = _get(src, spec, where, "structure_id", int, bound=(0, 65535))
        if sid in sids:
            raise src.fail(where, "structure_id", f"duplicate structure id {sid}")
        names.add(name)
        sids.add(sid)
        apid = _apid(src, where, "apid", _get(src, spec, where, "apid", str))
        period = _get(src, spec, where, "period_s", (int, float), bound=(0.01, 86400.0))
        params = _array_of_tables(src, spec, "parameter", where)
        if not params:
            raise src.fail(where, None, "a packet needs at least one [[packet.parameter]]")
        layout = _layout(src, ctx, where, params, "parameter", "parameter", parameter_names)
        packets.append(
            HousekeepingPacket(
                name, apid, sid, float(period), layout, _get(src, spec, where, "description", str, default="")
            )
        )
    return tuple(packets)


def _load_events(src: _Source, ctx: _Context) -> tuple[EventDef, ...]:
    events = []
    names: set[str] = set()
    ids: set[int] = set()
    for i, spec in enumerate(_array_of_tables(src, src.data, "event", [("event", 0)])):
        where = [("event", i)]
        for key in spec:
            if key not in ("name", "id", "severity", "description", "parameter"):
                raise src.fail(where, key, "unknown field")
        name = _check_name(src, where, "name", _get(src, spec, where, "name", str))
        if name in names:
            raise src.fail(where, "name", f"duplicate event name {name}")
        event_id = _get(src, spec, where, "id", int, bound=(0, 65535))
        if event_id in ids:
            raise src.fail(where, "id", f"duplicate event id {event_id}")
        severity = _get(src, spec, where, "severity", str)
        if severity not in SEVERITY_SUBTYPES:
            raise src.fail(where, "severity", f"{severity!r} is not one of {', '.join(SEVERITY_SUBTYPES)}")
        names.add(name)
        ids.add(event_id)
        layout = _layout(
            src, ctx, where, _array_of_tables(src, spec, "parameter", where), "parameter", "event"
        )
        events.append(EventDef(name, event_id, severity, layout))
    return tuple(events)


def _load_commands(src: _Source, ctx: _Context) -> tuple[CommandDef, ...]:
    commands = []
    names: set[str] = set()
    keys: set[tuple[int, int, int | None]] = set()
    modes = set(ctx.enumerations.get("MODE", {}))
    for i, spec in enumerate(_array_of_tables(src, src.data, "command", [("command", 0)])):
        where = [("command", i)]
        for key in spec:
            if key not in (
                "name",
                "service",
                "subtype",
                "function_id",
                "allowed_modes",
                "description",
                "argument",
            ):
                raise src.fail(where, key, "unknown field")
        name = _check_name(src, where, "name", _get(src, spec, where, "name", str))
        if name in names:
            raise src.fail(where, "name", f"duplicate command name {name}")
        service = _get(src, spec, where, "service", int, bound=(1, 255))
        subtype = _get(src, spec, where, "subtype", int, bound=(1, 255))
        function_id = _get(src, spec, where, "function_id", int, default=None, bound=(0, 65535))
        key = (service, subtype, function_id)
        if key in keys or any(k[:2] == key[:2] and (k[2] is None) != (function_id is None) for k in keys):
            raise src.fail(
                where,
                "function_id" if function_id is not None else "subtype",
                f"service {service},{subtype} function {function_id} clashes with another command",
            )
        allowed = _get(src, spec, where, "allowed_modes", list, default=None)
        if allowed is not None and (not allowed or any(m not in modes for m in allowed)):
            raise src.fail(where, "allowed_modes", f"modes must be among {', '.join(sorted(modes))}")
        names.add(name)
        keys.add(key)
        layout = _layout(
            src, ctx, where, _array_of_tables(src, spec, "argument", where), "argument", "argument"
        )
        commands.append(
            CommandDef(
                name,
                service,
                subtype,
                function_id,
                layout,
                tuple(allowed) if allowed else None,
                _get(src, spec, where, "description", str, default=""),
            )
        )
    return tuple(commands)
