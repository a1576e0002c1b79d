"""Bit layouts of the declared headers, read from their ``construct`` declarations.

The exports (XTCE, ccsdspy) need each header as a list of named fields with bit widths. They take
them from here, and this module takes them from the declarations the codecs use
(:data:`protocols.packets.space_packet.PRIMARY_HEADER`,
:data:`protocols.pus.packets.TM_SECONDARY_HEADER`, ...), so a width is written once, in the
declaration. An opaque ``Bytes`` field is split by the declaration of what it holds (the CUC time
stamp by :data:`protocols.packets.time_code.CUC_4_2`).
"""

from __future__ import annotations

from collections.abc import Mapping

from construct import Construct, Renamed, Restreamed, Struct, Transformed, bytes2bits

from protocols.packets.space_packet import PRIMARY_HEADER
from protocols.packets.time_code import CUC_4_2
from protocols.pus.packets import PEC_LENGTH, TM_SECONDARY_HEADER
from protocols.pus.pus_services import (
    EVENT_REPORT_HEADER,
    HK_REPORT_HEADER,
    REQUEST_ID,
    TIME_CORRELATION_REPORT,
    VERIFICATION_FAILURE,
)

BitField = tuple[str, int]  # (name as declared, width in bits)


def bit_fields(declaration: Construct, expand: Mapping[str, Construct] | None = None) -> tuple[BitField, ...]:
    """Every leaf of ``declaration`` in wire order with its width in bits. Nested structures are
    flattened (leaf names only); a field named in ``expand`` is replaced by that declaration's leaves,
    named ``<field>_<leaf>`` (ValueError unless they are exactly as wide)."""
    out: list[BitField] = []
    _walk(declaration, None, False, dict(expand or {}), out)
    return tuple(out)


def bits_of(declaration: Construct, name: str) -> int:
    """The width in bits of the field called ``name`` (a nested structure counts whole)."""
    width = _named_width(declaration, name, False)
    if width is None:
        raise KeyError(name)
    return width


def export_names(fields: tuple[BitField, ...], prefix: str) -> tuple[BitField, ...]:
    """The names the exports use: ``PREFIX_NAME`` in capitals (``pus_version`` stays ``PUS_VERSION``)."""
    return tuple(
        (name.upper() if name.upper().startswith(prefix) else prefix + name.upper(), bits)
        for name, bits in fields
    )


def _is_bitwise(c: Transformed | Restreamed) -> bool:
    """Bitwise (bytes seen as bits inside) rather than Bytewise."""
    return getattr(c, "decodefunc", getattr(c, "decoder", None)) is bytes2bits


def _width(c: Construct, bitwise: bool) -> int:
    return c.sizeof() if bitwise else 8 * c.sizeof()


def _walk(c: Construct, name: str | None, bitwise: bool, expand: dict, out: list[BitField]) -> None:
    if isinstance(c, Renamed):
        _walk(c.subcon, c.name, bitwise, expand, out)
    elif isinstance(c, Struct):
        for sub in c.subcons:
            _walk(sub, None, bitwise, expand, out)
    elif isinstance(c, Transformed | Restreamed):
        _walk(c.subcon, name, _is_bitwise(c), expand, out)
    elif name is None:
        raise ValueError(f"an unnamed {type(c).__name__} has no field name")
    elif name in expand:
        parts = bit_fields(expand.pop(name))
        if sum(b for _, b in parts) != _width(c, bitwise):
            raise ValueError(
                f"{name}: its expansion is {sum(b for _, b in parts)} bits, not {_width(c, bitwise)}"
            )
        out.extend((f"{name}_{leaf}", bits) for leaf, bits in parts)
    else:
        out.append((name, _width(c, bitwise)))


def _named_width(c: Construct, name: str, bitwise: bool) -> int | None:
    if isinstance(c, Renamed):
        return _width(c, bitwise) if c.name == name else _named_width(c.subcon, name, bitwise)
    if isinstance(c, Struct):
        for sub in c.subcons:
            found = _named_width(sub, name, bitwise)
            if found is not None:
                return found
    if isinstance(c, Transformed | Restreamed):
        return _named_width(c.subcon, name, _is_bitwise(c))
    return None


SPACE_PACKET_PRIMARY_HEADER = bit_fields(PRIMARY_HEADER)
PUS_TM_SECONDARY_HEADER = bit_fields(TM_SECONDARY_HEADER, expand={"time": CUC_4_2})
PEC_BITS = 8 * PEC_LENGTH
STRUCTURE_ID_BITS = bits_of(HK_REPORT_HEADER, "structure_id")
EVENT_ID_BITS = bits_of(EVENT_REPORT_HEADER, "event_id")
REQUEST_ID_BITS = 8 * REQUEST_ID.sizeof()
FAILURE_CODE_BITS = bits_of(VERIFICATION_FAILURE, "failure_code")
TIME_CORRELATION_REPORT_FIELDS = bit_fields(TIME_CORRELATION_REPORT)
