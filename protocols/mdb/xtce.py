"""Export the mission database as XTCE 1.2 (OMG), for Yamcs and space_packet_parser.

Telemetry: a container tree CCSDSPacket → PUS_TM (APID and packet type
restricted) → HK_REPORT (3,25) / EVENT_REPORT (5,x) / VERIFICATION_* / PONG /
TIME_CORRELATION_REPORT → one container per housekeeping structure id and per
event id, each ending with the PEC. Calibrated integers become
FloatParameterTypes with an IntegerDataEncoding and a DefaultCalibrator
(polynomial or spline of order 1), as Yamcs expects; limits become
DefaultAlarm static ranges (warning = yellow, critical = red).

Telecommands: one MetaCommand per database command with typed, range-checked
arguments and fixed-value entries for service, subtype and function id. The
CCSDS/PUS TC headers and the PEC are left to the link layer (Yamcs' PUS TC
post-processor adds them), so the command containers describe the
application data only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from protocols.mdb.calibration import PolynomialCalibration, TableCalibration
from protocols.mdb.mission_db import FieldDef, MissionDatabase
from protocols.packets import header_layouts as layouts
from protocols.pus.pus_services import Service, Subtype

XTCE_NAMESPACE = "https://www.omg.org/spec/XTCE/20180204"

# the headers' names and widths, taken from their construct declarations (protocols/packets/header_layouts.py)
_CCSDS_HEADER = layouts.export_names(layouts.SPACE_PACKET_PRIMARY_HEADER, "CCSDS_")
_PUS_TM_HEADER = layouts.export_names(layouts.PUS_TM_SECONDARY_HEADER, "PUS_")
_FIXED = (
    *_PUS_TM_HEADER,
    *_CCSDS_HEADER,
    ("HK_STRUCTURE_ID", layouts.STRUCTURE_ID_BITS),
    ("EVENT_ID", layouts.EVENT_ID_BITS),
    ("PUS_PEC", layouts.PEC_BITS),
    ("REQUEST_ID", layouts.REQUEST_ID_BITS),
    ("FAILURE_CODE", layouts.FAILURE_CODE_BITS),
    *layouts.export_names(layouts.TIME_CORRELATION_REPORT_FIELDS, "TC_"),
)


def _sub(parent: ET.Element, tag: str, **attrib: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrib.items()})


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _parameter_type(types: ET.Element, type_name: str, f: FieldDef) -> None:
    cal = f.calibration
    calibrated = isinstance(cal, PolynomialCalibration | TableCalibration)
    if f.kind == "float":
        t = _sub(types, "FloatParameterType", name=type_name, sizeInBits=str(f.bits))
        _units(t, f)
        _sub(t, "FloatDataEncoding", sizeInBits=str(f.bits), encoding="IEEE754_1985")
    elif f.kind == "enum":
        t = _sub(types, "EnumeratedParameterType", name=type_name)
        _units(t, f)
        _sub(t, "IntegerDataEncoding", sizeInBits=str(f.bits), encoding="unsigned")
        enums = _sub(t, "EnumerationList")
        for label, value in cal.values.items():  # type: ignore[union-attr]
            _sub(enums, "Enumeration", value=str(value), label=label)
        return
    elif f.kind == "bool":
        t = _sub(types, "BooleanParameterType", name=type_name)
        _units(t, f)
        _sub(t, "IntegerDataEncoding", sizeInBits=str(f.bits), encoding="unsigned")
        return
    else:
        encoding = "twosComplement" if f.kind == "int" else "unsigned"
        if calibrated:
            t = _sub(types, "FloatParameterType", name=type_name, sizeInBits="64")
        else:
            t = _sub(types, "IntegerParameterType", name=type_name, signed=str(f.kind == "int").lower(),
                     sizeInBits=str(f.bits))  # fmt: skip
        _units(t, f)
        enc = _sub(t, "IntegerDataEncoding", sizeInBits=str(f.bits), encoding=encoding)
        if isinstance(cal, PolynomialCalibration):
            poly = _sub(_sub(enc, "DefaultCalibrator"), "PolynomialCalibrator")
            for exponent, coefficient in enumerate(cal.coefficients):
                _sub(poly, "Term", coefficient=_number(coefficient), exponent=str(exponent))
        elif isinstance(cal, TableCalibration):
            spline = _sub(_sub(enc, "DefaultCalibrator"), "SplineCalibrator", order="1", extrapolate="false")
            for raw, eng in zip(cal.raw_points, cal.eng_points, strict=True):
                _sub(spline, "SplinePoint", raw=_number(raw), calibrated=_number(eng))
    if f.limits is not None:
        ranges = _sub(_sub(t, "DefaultAlarm"), "StaticAlarmRanges")
        for tag, low, high in (
            ("WarningRange", f.limits.yellow_low, f.limits.yellow_high),
            ("CriticalRange", f.limits.red_low, f.limits.red_high),
        ):
            bounds = {}
            if low is not None:
                bounds["minInclusive"] = _number(low)
            if high is not None:
                bounds["maxInclusive"] = _number(high)
            if bounds:
                _sub(ranges, tag, **bounds)


def _units(t: ET.Element, f: FieldDef) -> None:
    units = _sub(t, "UnitSet")
    if f.unit:
        _sub(units, "Unit").text = f.unit


def _fixed_type(types: ET.Element, name: str, bits: int) -> None:
    t = _sub(types, "IntegerParameterType", name=f"{name}_Type", signed="false", sizeInBits=str(max(bits, 8)))
    _sub(t, "UnitSet")
    _sub(t, "IntegerDataEncoding", sizeInBits=str(bits), encoding="unsigned")


def _container(parent: ET.Element, name: str, entries: list[str], base: str | None = None,
               restrictions: tuple[tuple[str, int], ...] = (), abstract: bool = False) -> None:  # fmt: skip
    c = _sub(parent, "SequenceContainer", name=name, **({"abstract": "true"} if abstract else {}))
    entry_list = _sub(c, "EntryList")
    for entry in entries:
        _sub(entry_list, "ParameterRefEntry", parameterRef=entry)
    if base is not None:
        b = _sub(c, "BaseContainer", containerRef=base)
        if restrictions:
            comparisons = _sub(_sub(b, "RestrictionCriteria"), "ComparisonList")
            for ref, value in restrictions:
                _sub(
                    comparisons,
                    "Comparison",
                    parameterRef=ref,
                    value=str(int(value)),
                    useCalibratedValue="false",
                )


def to_xtce(mdb: MissionDatabase) -> str:
    """The whole database as an XTCE 1.2 document (a string, UTF-8 declared)."""
    root = ET.Element("SpaceSystem", {"xmlns": XTCE_NAMESPACE, "name": mdb.name})
    tm = _sub(root, "TelemetryMetaData")
    types = _sub(tm, "ParameterTypeSet")
    params = _sub(tm, "ParameterSet")
    containers = _sub(tm, "ContainerSet")
    for name, bits in _FIXED:
        _fixed_type(types, name, bits)
        _sub(params, "Parameter", name=name, parameterTypeRef=f"{name}_Type")
    for name, (_, f) in mdb.parameters.items():
        _parameter_type(types, f"{name}_Type", f)
        p = _sub(params, "Parameter", name=name, parameterTypeRef=f"{name}_Type")
        if f.description:
            p.set("shortDescription", f.description[:80])
    spares = []
    for packet in mdb.packets:
        spares += [f for f in packet.layout.fields if f.kind == "spare"]
    for f in spares:
        _fixed_type(types, f.name, f.bits)
        _sub(params, "Parameter", name=f.name, parameterTypeRef=f"{f.name}_Type")
    for event in mdb.events:
        for f in event.layout.fields:
            name = f"{event.name}_{f.name}"
            _parameter_type(types, f"{name}_Type", f)
            _sub(params, "Parameter", name=name, parameterTypeRef=f"{name}_Type")

    platform_apid = mdb.apids["housekeeping"]
    _container(containers, "CCSDSPacket", [n for n, _ in _CCSDS_HEADER], abstract=True)
    _container(containers, "PUS_TM", [n for n, _ in _PUS_TM_HEADER], "CCSDSPacket",
               (("CCSDS_APID", platform_apid), ("CCSDS_PACKET_TYPE", 0)), abstract=True)  # fmt: skip
    hk_report = (("PUS_SERVICE", Service.HOUSEKEEPING), ("PUS_SUBTYPE", Subtype.HK_REPORT))
    _container(containers, "HK_REPORT", ["HK_STRUCTURE_ID"], "PUS_TM", hk_report, abstract=True)
    for packet in mdb.packets:
        entries = [f.name for f in packet.layout.fields] + ["PUS_PEC"]
        _container(containers, packet.name, entries, "HK_REPORT", (("HK_STRUCTURE_ID", packet.structure_id),))
    _container(
        containers, "EVENT_REPORT", ["EVENT_ID"], "PUS_TM", (("PUS_SERVICE", Service.EVENT),), abstract=True
    )
    for event in mdb.events:
        entries = [f"{event.name}_{f.name}" for f in event.layout.fields] + ["PUS_PEC"]
        _container(containers, event.name, entries, "EVENT_REPORT", (("EVENT_ID", event.event_id),))
    for subtype, name in (
        (Subtype.ACCEPTANCE_SUCCESS, "ACCEPTANCE_SUCCESS"),
        (Subtype.COMPLETION_SUCCESS, "COMPLETION_SUCCESS"),
    ):
        _container(
            containers,
            name,
            ["REQUEST_ID", "PUS_PEC"],
            "PUS_TM",
            (("PUS_SERVICE", Service.VERIFICATION), ("PUS_SUBTYPE", subtype)),
        )
    for subtype, name in (
        (Subtype.ACCEPTANCE_FAILURE, "ACCEPTANCE_FAILURE"),
        (Subtype.COMPLETION_FAILURE, "COMPLETION_FAILURE"),
    ):
        _container(containers, name, ["REQUEST_ID", "FAILURE_CODE", "PUS_PEC"], "PUS_TM",
                   (("PUS_SERVICE", Service.VERIFICATION), ("PUS_SUBTYPE", subtype)))  # fmt: skip
    _container(
        containers,
        "PONG",
        ["PUS_PEC"],
        "PUS_TM",
        (("PUS_SERVICE", Service.TEST), ("PUS_SUBTYPE", Subtype.PONG)),
    )
    time_entries = ["TC_GROUND_TAI", "TC_ONBOARD_RECEIVE", "TC_ONBOARD_SEND", "PUS_PEC"]
    _container(
        containers,
        "TIME_CORRELATION_REPORT",
        time_entries,
        "PUS_TM",
        (("PUS_SERVICE", Service.TIME), ("PUS_SUBTYPE", Subtype.TIME_CORRELATION_REPORT)),
    )

    _commands(root, mdb)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _commands(root: ET.Element, mdb: MissionDatabase) -> None:
    cm = _sub(root, "CommandMetaData")
    arg_types = _sub(cm, "ArgumentTypeSet")
    commands = _sub(cm, "MetaCommandSet")
    for command in mdb.commands:
        mc = _sub(commands, "MetaCommand", name=command.name)
        if command.description:
            mc.set("shortDescription", command.description[:80])
        args = _sub(mc, "ArgumentList") if command.layout.values else None
        container = _sub(mc, "CommandContainer", name=f"{command.name}_Container")
        entries = _sub(container, "EntryList")
        fixed = [("service", 8, command.service), ("subtype", 8, command.subtype)]
        if command.function_id is not None:
            fixed.append(("function_id", 16, command.function_id))
        for label, bits, value in fixed:
            _sub(
                entries,
                "FixedValueEntry",
                name=label,
                binaryValue=f"{value:0{bits // 4}X}",
                sizeInBits=str(bits),
            )
        for f in command.layout.fields:
            type_name = f"{command.name}_{f.name}_Type"
            _argument_type(arg_types, type_name, f)
            if args is not None:
                _sub(args, "Argument", name=f.name, argumentTypeRef=type_name)
            _sub(entries, "ArgumentRefEntry", argumentRef=f.name)


def _argument_type(types: ET.Element, type_name: str, f: FieldDef) -> None:
    if f.kind == "enum":
        t = _sub(types, "EnumeratedArgumentType", name=type_name)
        _units(t, f)
        _sub(t, "IntegerDataEncoding", sizeInBits=str(f.bits), encoding="unsigned")
        enums = _sub(t, "EnumerationList")
        for label, value in f.calibration.values.items():  # type: ignore[union-attr]
            _sub(enums, "Enumeration", value=str(value), label=label)
        return
    if f.kind == "float":
        t = _sub(types, "FloatArgumentType", name=type_name, sizeInBits=str(f.bits))
        _units(t, f)
        _sub(t, "FloatDataEncoding", sizeInBits=str(f.bits), encoding="IEEE754_1985")
    else:
        t = _sub(types, "IntegerArgumentType", name=type_name, signed=str(f.kind == "int").lower(),
                 sizeInBits=str(max(f.bits, 8)))  # fmt: skip
        _units(t, f)
        _sub(t, "IntegerDataEncoding", sizeInBits=str(f.bits),
             encoding="twosComplement" if f.kind == "int" else "unsigned")  # fmt: skip
    low, high = f.valid_range or f.raw_range
    tag = "ValidRangeSet" if f.kind != "float" else "ValidRange"
    if f.kind == "float":
        _sub(t, tag, minInclusive=_number(low), maxInclusive=_number(high))
    else:
        _sub(_sub(t, tag), "ValidRange", minInclusive=_number(low), maxInclusive=_number(high))
