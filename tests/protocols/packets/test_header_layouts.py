"""The exports' header layouts are the construct declarations' own, and cut real packets right."""

from __future__ import annotations

import pytest
from construct import BitsInteger, BitStruct, Bytes, Int8ub, Struct

from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import PRESETS
from protocols.mdb.mission_db import default_spacecraft_id, load_mission_db
from protocols.packets import header_layouts as layouts
from protocols.packets.space_packet import PRIMARY_HEADER_LENGTH
from protocols.packets.time_code import CUC_4_2, CUC_LENGTH_4_2, CucTime
from protocols.pus.packets import TM_SECONDARY_HEADER_LENGTH, TmSecondaryHeader, pack_tm_packet
from protocols.pus.pus_services import pack_hk_report


def _cut(data: bytes, fields: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Split ``data`` MSB-first by the given widths."""
    word, left, out = int.from_bytes(data, "big"), 8 * len(data), {}
    for name, bits in fields:
        left -= bits
        out[name] = (word >> left) & ((1 << bits) - 1)
    return out


def test_the_widths_add_up_to_the_declared_lengths() -> None:
    assert sum(b for _, b in layouts.SPACE_PACKET_PRIMARY_HEADER) == 8 * PRIMARY_HEADER_LENGTH
    assert sum(b for _, b in layouts.PUS_TM_SECONDARY_HEADER) == 8 * TM_SECONDARY_HEADER_LENGTH
    assert CUC_4_2.sizeof() == CUC_LENGTH_4_2 == 7
    assert (layouts.STRUCTURE_ID_BITS, layouts.EVENT_ID_BITS, layouts.PEC_BITS) == (16, 16, 16)


def test_the_layouts_cut_a_housekeeping_packet_into_its_values() -> None:
    time = CucTime(1_280_000_123, 0x4321)
    header = TmSecondaryHeader(3, 25, time, message_counter=77, destination_id=1)
    packet = pack_tm_packet(0x064, 1234, header, pack_hk_report(2, b"\x00" * 4))
    fields = (*layouts.SPACE_PACKET_PRIMARY_HEADER, *layouts.PUS_TM_SECONDARY_HEADER)
    cut = _cut(packet[: PRIMARY_HEADER_LENGTH + TM_SECONDARY_HEADER_LENGTH], fields)
    assert cut["apid"] == 0x064 and cut["sequence_count"] == 1234 and cut["data_length"] == len(packet) - 7
    assert (cut["service"], cut["subtype"], cut["message_counter"], cut["destination_id"]) == (3, 25, 77, 1)
    assert (cut["time_coarse"], cut["time_fine"]) == (time.coarse, time.fine)
    assert cut["time_p_field"] == time.pfield()[0]
    parsed = CUC_4_2.parse(time.pack())
    assert (parsed.p_field, parsed.coarse, parsed.fine) == (time.pfield()[0], time.coarse, time.fine)


def test_bit_fields_flatten_nested_bit_structures_and_check_expansions() -> None:
    declaration = Struct("flags" / BitStruct("a" / BitsInteger(3), "b" / BitsInteger(5)), "raw" / Bytes(2))
    assert layouts.bit_fields(declaration) == (("a", 3), ("b", 5), ("raw", 16))
    pair = Struct("hi" / Int8ub, "lo" / Int8ub)
    assert layouts.bit_fields(declaration, {"raw": pair}) == (
        ("a", 3),
        ("b", 5),
        ("raw_hi", 8),
        ("raw_lo", 8),
    )
    with pytest.raises(ValueError, match="raw: its expansion is 8 bits, not 16"):
        layouts.bit_fields(declaration, {"raw": Struct("x" / Int8ub)})
    assert layouts.bits_of(declaration, "flags") == 8 and layouts.bits_of(declaration, "b") == 5
    assert layouts.export_names((("pus_version", 4), ("service", 8)), "PUS_") == (
        ("PUS_VERSION", 4),
        ("PUS_SERVICE", 8),
    )


def test_the_spacecraft_id_has_one_source_the_mission_database() -> None:
    assert default_spacecraft_id() == load_mission_db().spacecraft_id == 0x1B5
    assert PhysicalChannelConfig().spacecraft_id == default_spacecraft_id()
    for name, preset in PRESETS.items():
        expected = default_spacecraft_id() & (0xFF if name.startswith("aos") else 0xFFFF)
        assert preset.spacecraft_id == expected, name
