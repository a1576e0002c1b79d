"""Ground telemetry: decommutation (fast = declarative = ccsdspy = XTCE), limits, events, archive."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.flight_software import FlightSoftware, no_security_status
from groundstation.telemetry import Alarm, TelemetryArchive, TelemetryProcessor, decommutate_batch
from protocols.mdb.ccsdspy_export import ccsdspy_definition, to_csv
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import pack_event, pack_hk_report, pack_tm, unpack_tm
from tests.properties.strategies import layout_raw_values

MDB = load_mission_db()
T0 = 2.1e9
PLATFORM = MDB.apids["housekeeping"]


def hk_packet(structure_id: int, raw: list, time: float = T0, count: int = 0) -> bytes:
    layout = MDB.packet_by_sid[structure_id].layout
    return pack_tm(PLATFORM, count, 3, 25, time, pack_hk_report(structure_id, layout.pack_raw(raw)), count, 1)


def raw_for(structure_id: int, data) -> list:
    return list(data.draw(layout_raw_values(MDB.packet_by_sid[structure_id].layout)))


def engineering_packet(values: dict, time: float, structure_id: int = 1) -> bytes:
    """A housekeeping packet whose parameters have the given engineering values (others nominal)."""
    fsw = FlightSoftware(MDB)
    fsw.tick(T0)
    nominal = fsw.engineering_values() | values
    layout = MDB.packet_by_sid[structure_id].layout
    return hk_packet(structure_id, [f.to_raw(nominal[f.name]) for f in layout.values], time)


@pytest.mark.parametrize("structure_id", [p.structure_id for p in MDB.packets])
@given(data=st.data())
def test_fast_decommutation_equals_declarative(structure_id: int, data) -> None:
    packet = unpack_tm(hk_packet(structure_id, raw_for(structure_id, data)))
    processor = TelemetryProcessor(MDB)
    fast, reference = processor.decommutate(packet), processor.decommutate_declarative(packet)
    assert fast.raw == reference.raw
    for name, value in fast.values.items():
        other = reference.values[name]
        assert value == other or (isinstance(value, float) and math.isnan(value) and math.isnan(other))


def flight_packets(seconds: int = 30, security: bool = False) -> list[bytes]:
    fsw = FlightSoftware(MDB, security_status=no_security_status if security else None)  # SECURITY_HK too
    out = []
    for i in range(seconds):
        out += fsw.tick(T0 + i * 1.5)
    return out


@pytest.mark.parametrize("structure_id", [p.structure_id for p in MDB.packets])
def test_ccsdspy_decodes_our_housekeeping_to_our_values(structure_id: int) -> None:
    sid = structure_id.to_bytes(2, "big")
    packets = [p for p in flight_packets(security=True) if unpack_tm(p).app_data[:2] == sid]
    ours = decommutate_batch(MDB, packets, structure_id, calibrated=False)
    ours_eng = decommutate_batch(MDB, packets, structure_id)
    theirs = ccsdspy_definition(MDB, structure_id).load(io.BytesIO(b"".join(packets)))
    single = [TelemetryProcessor(MDB).decommutate(unpack_tm(p)) for p in packets]
    for f in MDB.packet_by_sid[structure_id].layout.values:
        assert np.array_equal(theirs[f.name], ours[f.name]), f.name
        assert [r.raw[f.name] for r in single] == ours[f.name].tolist()
        if f"{f.name}_ENG" in theirs:
            got, want = theirs[f"{f.name}_ENG"], ours_eng[f.name]
            assert list(got) == list(want) if got.dtype == object else np.allclose(got, want, rtol=1e-12)
    assert set(theirs["HK_STRUCTURE_ID"]) == {structure_id}
    assert to_csv(MDB.packet_by_sid[structure_id]).startswith(
        "name,data_type,bit_length\nPUS_VERSION,uint,4\n"
    )


def test_xtce_definition_decodes_our_packets_in_space_packet_parser(tmp_path) -> None:
    spp = pytest.importorskip("space_packet_parser")
    from protocols.mdb.xtce import to_xtce

    path = tmp_path / "paleblue.xml"
    path.write_text(to_xtce(MDB))
    definition = spp.load_xtce(path)
    processor = TelemetryProcessor(MDB)
    compared = 0
    for packet in flight_packets(4):
        parsed = definition.parse_bytes(packet)
        report = processor.process(packet)
        for name, value in report.values.items():
            theirs = parsed[name]
            compared += 1
            if isinstance(value, str):
                assert str(theirs) == value
            else:
                assert float(theirs) == pytest.approx(float(value), rel=1e-9, abs=1e-12), name
    assert compared == 4 * 18 + 1 * 9 + 3 * 5  # ticks at 0, 1.5, 3, 4.5 s


def test_limit_transitions_raise_each_alarm_exactly_once() -> None:
    seen: list[Alarm] = []
    processor = TelemetryProcessor(MDB, on_alarm=seen.append)
    for i, volts in enumerate([28.0, 28.1, 25.5, 25.6, 24.5, 24.2, 28.0, 28.0]):
        assert processor.process(engineering_packet({"BUS_VOLTAGE": volts}, T0 + i)) is not None
    bus = [(a.previous, a.current) for a in seen if a.parameter == "BUS_VOLTAGE"]
    assert bus == [("NOMINAL", "YELLOW"), ("YELLOW", "RED"), ("RED", "NOMINAL")]
    assert [a.value for a in seen if a.parameter == "BUS_VOLTAGE"] == pytest.approx([25.5, 24.5, 28.0])
    assert all(a.parameter == "BUS_VOLTAGE" for a in seen)


def test_events_are_logged_with_names_and_values() -> None:
    processor = TelemetryProcessor(MDB)
    event = MDB.event_by_name["MODE_CHANGED"]
    body = pack_event(event.event_id, event.layout.pack_raw([1, 0]))
    record = processor.process(pack_tm(PLATFORM, 0, 5, event.subtype, T0, body))
    assert record.values == {"FROM_MODE": "CRUISE", "TO_MODE": "SAFE"} and record.time == T0
    assert processor.events("MODE_CHANGED") == [record] and processor.events("IMAGE_CAPTURED") == []


def test_every_undecodable_packet_is_counted_by_reason() -> None:
    processor = TelemetryProcessor(MDB)
    good = hk_packet(1, [0.0] + [0] * (len(MDB.packet_by_sid[1].layout.values) - 1))
    bad_pec = good[:-1] + bytes([good[-1] ^ 1])
    unknown_sid = pack_tm(PLATFORM, 0, 3, 25, T0, pack_hk_report(99, b""))
    short = pack_tm(PLATFORM, 0, 3, 25, T0, pack_hk_report(1, b"\x00"))
    unknown_event = pack_tm(PLATFORM, 0, 5, 1, T0, pack_event(999, b""))
    wrong_severity = pack_tm(PLATFORM, 0, 5, 4, T0, pack_event(1, b"\x00\x00"))
    unknown_service = pack_tm(PLATFORM, 0, 42, 1, T0)
    for packet in (bad_pec, unknown_sid, short, unknown_event, wrong_severity, unknown_service, good[:10]):
        assert processor.process(packet) is None
    assert processor.undecodable == {"pus-pec": 1, "telemetry": 5, "space-packet": 1}
    assert processor.process(pack_tm(0x0C8, 0, 128, 1, T0, b"img")) is None
    assert processor.counters["not-platform"] == 1 and processor.counters["housekeeping"] == 0


@given(st.binary(max_size=120))
def test_any_bytes_are_decoded_or_counted(data: bytes) -> None:
    processor = TelemetryProcessor(MDB)
    result = processor.process(data)
    assert result is not None or sum(processor.undecodable.values()) + processor.counters["not-platform"] == 1


def test_process_stream_splits_concatenated_packets() -> None:
    processor = TelemetryProcessor(MDB)
    packets = flight_packets(3)
    assert len(packets) == 6  # ticks at 0, 1.5, 3 s: platform x3, navigation x1, payload x2
    assert processor.process_stream(b"".join(packets)) == 6
    assert processor.latest["MODE"] == "CRUISE"


def test_archive_queries_by_time_range_and_stays_bounded() -> None:
    archive = TelemetryArchive(max_samples_per_parameter=100)
    for i in range(250):
        archive.add("X", float(i), i * 2)
    archive.add("X", 240.5, -1)  # late sample lands in time order
    assert archive.query("X", 240, 241.5) == [(240.0, 480), (240.5, -1), (241.0, 482)]
    assert len(archive.query("X")) <= 100 and archive.latest("X") == (249.0, 498)
    assert archive.query("nothing") == [] and archive.parameters == ["X"]


def test_processor_archives_housekeeping() -> None:
    processor = TelemetryProcessor(MDB)
    for packet in flight_packets(10):
        processor.process(packet)
    samples = processor.archive.query("BATTERY_SOC", T0 + 3, T0 + 6)
    assert [t for t, _ in samples] == [T0 + 3, T0 + 4.5, T0 + 6]
    assert all(v == pytest.approx(85.0, abs=0.1) for _, v in samples)
