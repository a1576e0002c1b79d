"""What a station decodes reaches the archive and the live feed: every housekeeping sample (the
same values the station decommutated), events, alarms, command stages, products and the station's
own counters; commands queued by the API go up the uplink from the station's thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.flight_software import FlightSoftware
from groundstation.api.app import CommandRefused
from groundstation.api.live import LiveFeed
from groundstation.archive import Archive, ArchiveWriter
from groundstation.archiving import StationServices, station_counters
from groundstation.station import GroundStation
from protocols.capture.zmq_framing import Layer
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.packets import TmPacket
from protocols.pus.pus_services import RequestId, Subtype, pack_tm, pack_verification

MDB = load_mission_db()
T0 = 2.1e9


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _services(tmp_path: Path, sent: list | None = None) -> tuple[GroundStation, StationServices, Clock]:
    station = GroundStation(tmp_path / "out", mdb=MDB)
    clock = Clock()
    send = (lambda layer, payload: sent.append((layer, payload))) if sent is not None else None
    services = StationServices(
        station,
        archive=ArchiveWriter(tmp_path / "pass.db", clock=clock),
        feed=LiveFeed(),
        send_uplink=send,
        clock=clock,
        tai_now=lambda: T0 + clock.now,
    )
    return station, services, clock


@pytest.mark.parametrize("runs", [False, True], ids=["one by one", "in runs"])
def test_every_housekeeping_sample_is_archived_with_the_decommutated_value(
    tmp_path: Path, runs: bool
) -> None:
    """Every parameter, packet by packet or decoded in runs of one structure (the batch path)."""
    station, services, clock = _services(tmp_path)
    handed = station.telemetry.on_housekeeping_data
    assert handed is not None
    reports_a_call: list[int] = []

    def counted(item: tuple) -> None:
        reports_a_call.append(len(item[1]) if type(item[1]) is list else 1)
        handed(item)

    station.telemetry.on_housekeeping_data = counted
    fsw = FlightSoftware(MDB)
    for second in range(40):
        if runs:  # 20 platform reports back to back: one run of equal-length packets, counts in turn
            packets = [
                pack_tm(
                    MDB.apids["housekeeping"],
                    (second * 20 + k) % 16384,
                    3,
                    25,
                    T0 + second * 20 + k,
                    TmPacket.unpack(report).app_data,
                )
                for k in range(20)
                for report in fsw.tick(T0 + second * 20 + k)[:1]
            ]
        else:
            packets = fsw.tick(T0 + second * 1.5)
        station.handle_packet_stream(b"".join(packets))
        clock.now = second * 0.5
        services.tick()
    services.close()
    assert max(reports_a_call) == (20 if runs else 1)  # runs are handed to the archive as one
    assert services.feed is not None  # the feed is given each packet's names: its layout's, in order
    for names, (_, values, raw, given) in services.feed._latest_packet.items():
        assert given is names and tuple(values) == names == tuple(raw)
    decoded = station.telemetry.archive.query("DETECTOR_TEMP")
    assert len(decoded) >= 20
    with Archive(tmp_path / "pass.db") as archive:
        kept = archive.query("DETECTOR_TEMP")
        assert list(zip(kept.gen.tolist(), kept.value.tolist(), strict=True)) == decoded
        assert ((kept.rcv > T0 - 1) & (kept.rcv < T0 + 21)).all()  # received: the services' TAI clock
        names = {p.name for p in archive.parameters()}
        assert set(station.telemetry.latest) <= names
        for name in station.telemetry.latest:  # numbers, booleans (as 0/1) and text
            kept = archive.query(name)
            assert list(
                zip(kept.gen.tolist(), kept.value.tolist(), strict=True)
            ) == station.telemetry.archive.query(name), name
        assert "station.transport.messages_received" in names or "station.octets_received" in names
        assert archive.query("station.octets_received").value[-1] == station.octets_received


def test_alarms_and_events_reach_the_archive_and_the_alarm_book(tmp_path: Path) -> None:
    station, services, _ = _services(tmp_path)
    name, (packet_def, field) = next((n, pf) for n, pf in MDB.parameters.items() if pf[1].limits is not None)
    limits = field.limits
    high = (limits.red_high if limits.red_high is not None else limits.yellow_high) or 0.0
    fsw = FlightSoftware(MDB)
    fsw.tick(T0)
    values = fsw.engineering_values() | {name: high + abs(high) + 10}
    raw = [f.to_raw(values[f.name]) for f in packet_def.layout.values]
    from protocols.pus.pus_services import pack_hk_report

    station.telemetry.process(
        pack_tm(
            packet_def.apid,
            0,
            3,
            25,
            T0,
            pack_hk_report(packet_def.structure_id, packet_def.layout.pack_raw(raw)),
            0,
            1,
        )
    )
    services.close()
    assert services.alarms.state(name) == "unacknowledged"
    with Archive(tmp_path / "pass.db") as archive:
        assert [a["parameter"] for a in archive.alarms()] == [name]


def test_commands_from_the_api_go_up_from_the_station_thread_and_their_stages_are_kept(
    tmp_path: Path,
) -> None:
    sent: list = []
    station, services, _ = _services(tmp_path, sent)
    command = next(c for c in MDB.commands if not c.layout.values)
    request = services.queue_command(command.name, {})
    assert sent == []  # not from the API's thread
    services.tick()
    assert len(sent) == 1 and sent[0][0] == Layer.CLTUS
    apid, count = (int(x) for x in request.split("#")[1].split(":"))
    for subtype in (Subtype.ACCEPTANCE_SUCCESS, Subtype.COMPLETION_SUCCESS):
        report = pack_verification(subtype, RequestId(apid, count))
        station.telemetry.process(pack_tm(MDB.apids["verification"], 1, 1, subtype, T0 + 1, report, 1, 1))
    services.close()
    events = (tmp_path / "out" / "events.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in events] == [
        f"SENT {command.name} (TC APID {apid} count {count})",
        f"VERIFY acceptance ok: {command.name} (TC APID {apid} count {count})",
        f"VERIFY completion ok: {command.name} (TC APID {apid} count {count})",
    ]
    with Archive(tmp_path / "pass.db") as archive:
        stages = [(c["request"], c["stage"], c["success"]) for c in archive.commands()]
    assert stages == [(request, "sent", True), (request, "acceptance", True), (request, "completion", True)]
    with pytest.raises(CommandRefused, match="unknown command"):
        services.queue_command("NO_SUCH_COMMAND", {})


def test_without_an_uplink_commands_are_refused(tmp_path: Path) -> None:
    _, services, _ = _services(tmp_path)
    with pytest.raises(CommandRefused, match="no uplink"):
        services.queue_command(MDB.commands[0].name, {})
    services.close()


def test_station_counters_are_every_number_of_transport_and_link() -> None:
    summary = {"transport": {"messages_received": 3, "nested": {"x": 1.5}}, "link": {"channel": {"n": 9},
               "cadu": {"physical": {"frames_good": 7}}}, "faults": {"a": 2, "b": 1}, "images": [1],
               "octets_received": 10}  # fmt: skip
    assert station_counters(summary) == {
        "station.transport.messages_received": 3,
        "station.transport.nested.x": 1.5,
        "station.link.cadu.physical.frames_good": 7,
        "station.octets_received": 10,
        "station.images": 1,
        "station.faults": 3,
    }


def test_with_an_archive_the_in_memory_history_is_a_bounded_window(tmp_path: Path) -> None:
    """The archive on disk keeps everything; the station's own in-memory history keeps only the
    newest MEMORY_WINDOW samples of a parameter (so a long recording's decode stays flat)."""
    from groundstation.archiving import MEMORY_WINDOW

    station, services, _ = _services(tmp_path)
    assert station.telemetry.archive.max_samples == MEMORY_WINDOW
    alone = GroundStation(tmp_path / "alone", mdb=MDB)
    assert alone.telemetry.archive.max_samples > MEMORY_WINDOW
    for k in range(3 * MEMORY_WINDOW):
        station.telemetry.archive.add("X", float(k), k)
    assert len(station.telemetry.archive.query("X")) <= MEMORY_WINDOW
    services.close()
