"""Platform packets taken in runs have exactly the effects of one packet at a time in the station.

Streams of housekeeping reports with random raw values (so limit levels change and alarms fire),
events between them and image packets around them, damaged as a bad link or a hostile file
damages them (``test_bulk_segments._damage``: dropped packets make sequence gaps, flipped bits
wrong PECs, garbage, duplicates, replays), go through ``GroundStation`` with runs on and off: the
summaries, the fault records in order, ``events.log``, the archive and the alarms are the same.
"""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundstation.station import GroundStation, MessageBatch
from groundstation.telemetry import TelemetryProcessor
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import pack_event, pack_hk_report, pack_tm
from tests.groundstation.test_bulk_segments import (
    _comparable_summary,
    _damage,
    _feed_in_cuts,
    _pass,
    _remember_faults,
)

MDB = load_mission_db()
PLATFORM = MDB.apids["housekeeping"]
T0 = 2.1e9


def platform_pass(seed: int, reports: int = 120) -> list[bytes]:
    """Housekeeping reports (mostly PLATFORM_HK, random raw values), a few events, other
    structures and unknown ones between them, and two small images' packets in the middle."""
    rng = np.random.default_rng(seed)
    packets, count = [], 0
    for i in range(reports):
        sid = 1 if rng.random() < 0.9 else int(rng.choice([p.structure_id for p in MDB.packets]))
        layout = MDB.packet_by_sid[sid].layout
        raw = []
        for f in layout.values:
            lo, hi = f.raw_range
            raw.append(float(rng.normal()) if f.kind == "float" else int(rng.integers(lo, hi, endpoint=True)))
        unknown = rng.random() < 0.03  # a report of a structure the database does not know, right PEC
        app_data = pack_hk_report(99 if unknown else sid, layout.pack_raw(raw))
        packets.append(pack_tm(PLATFORM, count % 16384, 3, 25, T0 + i, app_data, count, 1))
        count += 1
        if rng.random() < 0.05:
            event = MDB.event_by_name["MODE_CHANGED"]
            body = pack_event(event.event_id, event.layout.pack_raw([1, 0]))
            packets.append(pack_tm(PLATFORM, count % 16384, 5, event.subtype, T0 + i, body))
            count += 1
    middle = len(packets) // 2
    return packets[:middle] + _pass(2, seed % 1000) + packets[middle:]


def run_station(packets: list[bytes], cuts: list[int], bulk: bool, out: Path, joined: bool) -> tuple:
    station = GroundStation(out, write_products=False)
    station.bulk_segments = bulk
    faults = _remember_faults(station)
    alarms: list = []
    on_alarm = station.telemetry.on_alarm
    station.telemetry.on_alarm = lambda alarm: (alarms.append(alarm), on_alarm(alarm))
    if joined:  # messages of packets, joined as the receive loop joins them
        batch = MessageBatch(station)
        starts = [0, *sorted({min(c, len(packets)) for c in cuts}), len(packets)]
        for sequence, (start, stop) in enumerate(pairwise(starts)):
            payload = b"".join(packets[start:stop])
            batch.add([TOPIC_DOWNLINK, Envelope(Layer.PACKETS, 1, sequence).pack(), payload])
        batch.flush()
    else:
        _feed_in_cuts(station, Layer.PACKETS, b"".join(packets), cuts)
    summary = _comparable_summary(station)
    events = (out / "events.log").read_text() if (out / "events.log").exists() else ""
    archive = {name: station.telemetry.archive.query(name) for name in station.telemetry.archive.parameters}
    return summary, faults, events, archive, alarms


def test_a_clean_platform_pass_is_decoded_in_runs(tmp_path: Path, monkeypatch) -> None:
    packets = platform_pass(1)
    single = run_station(packets, [], False, tmp_path / "single", False)
    calls: list[int] = []
    original = TelemetryProcessor.process_rows
    monkeypatch.setattr(
        TelemetryProcessor,
        "process_rows",
        lambda self, rows, *a: calls.append(len(rows)) or original(self, rows, *a),
    )
    bulk = run_station(packets, [], True, tmp_path / "bulk", False)
    assert bulk == single
    assert sum(calls) > 30  # not a vacuous comparison: runs of one structure went through process_rows
    alarms = single[0]["telemetry"]["alarms"]
    assert alarms > 0 and single[2].count("ALARM") == alarms


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32),
    edits=st.integers(0, 10),
    cuts=st.lists(st.integers(0, 400), max_size=5),
    joined=st.booleans(),
)
def test_any_damaged_platform_stream_has_the_same_effects_in_runs_and_one_by_one(
    tmp_path_factory, seed: int, edits: int, cuts: list[int], joined: bool
) -> None:
    packets = _damage(platform_pass(seed, 80), random.Random(seed), edits)
    out = tmp_path_factory.mktemp("platform")
    bulk = run_station(packets, cuts, True, out / "bulk", joined)
    assert bulk == run_station(packets, cuts, False, out / "single", joined)
