"""Export housekeeping layouts from the mission database as ccsdspy packet definitions.

An independent decoder for our own bytes: ccsdspy (NASA's CCSDS packet
reader) is given only what this module derives from the database, and tests
hold its output to ours. Each definition covers the data field after the
primary header: the PUS-C TM secondary header, the structure id, the
parameters in database order (spares as ``fill``), and the PEC. Polynomial
and enumeration calibrations become ccsdspy converters on ``<NAME>_ENG``
fields; table calibrations have no ccsdspy equivalent and stay raw.

ccsdspy is a test/analysis dependency, imported only when a definition is built.
"""

from __future__ import annotations

from typing import Any

from protocols.mdb.calibration import EnumerationCalibration, PolynomialCalibration
from protocols.mdb.mission_db import FieldDef, HousekeepingPacket, MissionDatabase
from protocols.packets import header_layouts as layouts

# (name, ccsdspy data type, bits): the PUS-C TM secondary header with its CUC time stamp, then the
# structure id; widths from the construct declarations (protocols/packets/header_layouts.py)
PUS_TM_HEADER_FIELDS = (
    *((name, "uint", bits) for name, bits in layouts.export_names(layouts.PUS_TM_SECONDARY_HEADER, "PUS_")),
    ("HK_STRUCTURE_ID", "uint", layouts.STRUCTURE_ID_BITS),
)
PEC_FIELD = ("PUS_PEC", "uint", layouts.PEC_BITS)


def _data_type(f: FieldDef) -> str:
    if f.kind == "spare":
        return "fill"
    if f.kind == "float":
        return "float"
    return "int" if f.kind == "int" else "uint"


def field_rows(packet: HousekeepingPacket) -> list[tuple[str, str, int]]:
    """(name, data type, bits) for every field after the primary header, in order."""
    rows = list(PUS_TM_HEADER_FIELDS)
    rows += [(f.name, _data_type(f), f.bits) for f in packet.layout.fields]
    rows.append(PEC_FIELD)
    return rows


def to_csv(packet: HousekeepingPacket) -> str:
    """The definition in ccsdspy's CSV form (``FixedLength.from_file``)."""
    lines = ["name,data_type,bit_length"]
    lines += [f"{name},{kind},{bits}" for name, kind, bits in field_rows(packet)]
    return "\n".join(lines) + "\n"


def ccsdspy_definition(mdb: MissionDatabase, structure_id: int, converters: bool = True) -> Any:
    """A ``ccsdspy.FixedLength`` for one housekeeping structure (raw fields, plus ``_ENG`` ones)."""
    import ccsdspy
    from ccsdspy.converters import EnumConverter, PolyConverter

    packet = mdb.packet_by_sid[structure_id]
    definition = ccsdspy.FixedLength(
        [ccsdspy.PacketField(name=n, data_type=t, bit_length=b) for n, t, b in field_rows(packet)],
        apid=packet.apid,
        name=packet.name,
    )
    if converters:
        for f in packet.layout.values:
            cal = f.calibration
            if isinstance(cal, PolynomialCalibration):
                converter = PolyConverter(
                    list(reversed(cal.coefficients))
                )  # ccsdspy wants highest power first
            elif isinstance(cal, EnumerationCalibration):
                converter = EnumConverter({raw: name for name, raw in cal.values.items()})
            else:
                continue
            definition.add_converted_field(f.name, f"{f.name}_ENG", converter)
    return definition
