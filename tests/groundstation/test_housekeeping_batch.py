"""Housekeeping decommutated in batches has the effects of one packet at a time, exactly.

``TelemetryProcessor.process_batch`` (and ``process_rows``) against ``process`` on each packet in
turn, over random sequences of housekeeping reports of every structure with random raw values
(so random limit levels and alarms), events, verification reports, and bad packets in between
(wrong PEC, unknown structure, short, another APID, cut), times that sometimes go back, and an
archive small enough to be cut: every value, alarm, archive sample, counter (in order) and
callback (in order) is compared.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.housekeeping_batch import decommutate_rows, housekeeping_length, housekeeping_rows
from groundstation.telemetry import TelemetryArchive, TelemetryProcessor, _kept_after_appends
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import (
    RequestId,
    pack_event,
    pack_hk_report,
    pack_tm,
    pack_verification,
    unpack_tm,
)
from tests.properties.strategies import layout_raw_values

MDB = load_mission_db()
T0 = 2.1e9
PLATFORM = MDB.apids["housekeeping"]


def raw_values(structure_id: int, data: st.DataObject) -> list:
    return list(data.draw(layout_raw_values(MDB.packet_by_sid[structure_id].layout)))


def hk(structure_id: int, raw: list, time: float, count: int) -> bytes:
    layout = MDB.packet_by_sid[structure_id].layout
    return pack_tm(PLATFORM, count, 3, 25, time, pack_hk_report(structure_id, layout.pack_raw(raw)), count, 1)


def event(time: float, count: int) -> bytes:
    definition = MDB.event_by_name["MODE_CHANGED"]
    body = pack_event(definition.event_id, definition.layout.pack_raw([1, 0]))
    return pack_tm(PLATFORM, count, 5, definition.subtype, time, body)


def packet_sequence(data: st.DataObject) -> list[bytes]:
    """Mostly housekeeping (runs of one structure, others mixed in), with anything else between."""
    packets: list[bytes] = []
    time = T0
    sids = [p.structure_id for p in MDB.packets]
    for count in range(data.draw(st.integers(0, 60))):
        time += data.draw(st.sampled_from([1.0, 1.0, 0.5, 0.0, -3.0]))  # sometimes back in time
        kind = data.draw(st.sampled_from(["hk"] * 8 + ["other-hk", "event", "verify", "bad"]))
        sid = sids[0] if kind == "hk" else data.draw(st.sampled_from(sids))
        good = hk(sid, raw_values(sid, data), time, count)
        if kind in ("hk", "other-hk"):
            packets.append(good)
        elif kind == "event":
            packets.append(event(time, count))
        elif kind == "verify":
            packets.append(pack_tm(PLATFORM, count, 1, 1, time, pack_verification(1, RequestId(0x10, count))))
        else:
            packets.append(
                data.draw(
                    st.sampled_from(
                        [
                            good[:-1] + bytes([good[-1] ^ 1]),  # wrong PEC
                            pack_tm(
                                PLATFORM, count, 3, 25, time, pack_hk_report(99, good[12:-2])
                            ),  # unknown sid
                            pack_tm(PLATFORM, count, 3, 25, time, pack_hk_report(sid, b"\x00")),  # short
                            pack_tm(0x0C8, count, 3, 25, time, good[12:-2]),  # not a platform APID
                            good[:10],  # cut
                            good + b"\x00",  # an octet after the packet
                        ]
                    )
                )
            )
    return packets


class Recorder:
    """A processor with every callback recorded, in order, into one list."""

    def __init__(self, max_samples: int) -> None:
        self.calls: list[tuple] = []
        self.processor = TelemetryProcessor(
            MDB,
            archive=TelemetryArchive(max_samples),
            on_alarm=lambda a: self.calls.append(("alarm", a)),
            on_event=lambda e: self.calls.append(("event", e)),
            on_verification=lambda r, t: self.calls.append(("verification", r, t)),
            on_housekeeping=lambda r: self.calls.append(("housekeeping", r.packet, r.time, r.raw, r.values)),
            on_housekeeping_data=self._data,
        )
        self.data: dict[int, tuple[list[float], list[bytes]]] = {}  # per structure, as the archive keeps them

    def _data(self, item: tuple) -> None:
        definition, times, data, _ = item
        times = times if type(times) is list else [times]
        width = 2 + definition.layout.length
        assert len(data) == width * len(times)
        held = self.data.setdefault(definition.structure_id, ([], []))
        held[0].extend(times)
        held[1].extend(data[k : k + width] for k in range(0, len(data), width))


def same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN, and of the same type (a float stays a float, an int an int)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def assert_same_effects(one: Recorder, batch: Recorder) -> None:
    p, q = one.processor, batch.processor
    assert list(p.counters.items()) == list(q.counters.items())
    assert list(p.undecodable.items()) == list(q.undecodable.items())
    assert same(list(p.latest.items()), list(q.latest.items()))
    assert list(p.latest_time.items()) == list(q.latest_time.items())
    assert list(p.limits.levels.items()) == list(q.limits.levels.items())
    assert list(p.alarms) == list(q.alarms)
    assert list(p.event_log) == list(q.event_log)
    assert p.archive.parameters == q.archive.parameters
    for name in p.archive.parameters:
        assert same(p.archive.query(name), q.archive.query(name)), name
    assert one.data == batch.data  # the reports' octets, in order per structure
    for calls in (one.calls, batch.calls):  # and one report each for on_housekeeping
        reports = [c for c in calls if c[0] == "housekeeping"]
        assert len(reports) == sum(len(times) for times, _ in one.data.values())
    assert len(one.calls) == len(batch.calls)
    for a, b in zip(one.calls, batch.calls, strict=True):
        assert a[0] == b[0] and same(list(a[1:]), list(b[1:])), (a, b)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), max_samples=st.integers(3, 40), cut=st.integers(1, 70))
def test_batches_have_the_effects_of_one_packet_at_a_time(data, max_samples: int, cut: int) -> None:
    packets = packet_sequence(data)
    one, batch = Recorder(max_samples), Recorder(max_samples)
    expected = [i for i, packet in enumerate(packets) if one.processor.process(packet) is None]
    undecoded = []
    for start in range(0, len(packets), cut):  # batches of any size, cut anywhere
        undecoded += [start + i for i in batch.processor.process_batch(packets[start : start + cut])]
    assert undecoded == expected
    assert_same_effects(one, batch)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_rows_of_one_length_have_the_effects_of_one_packet_at_a_time(data) -> None:
    sid = MDB.packets[0].structure_id
    count = data.draw(st.integers(1, 40))
    packets = [hk(sid, raw_values(sid, data), T0 + i, i) for i in range(count)]
    broken = data.draw(st.sets(st.integers(0, count - 1)))
    for i in broken:  # a wrong PEC here and there, in a run of one length
        packets[i] = packets[i][:-1] + bytes([packets[i][-1] ^ 0x80])
    one, batch = Recorder(1000), Recorder(1000)
    expected = [i for i, packet in enumerate(packets) if one.processor.process(packet) is None]
    rows = np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(count, -1).copy()
    assert batch.processor.process_rows(rows) == expected == sorted(broken)
    assert_same_effects(one, batch)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_columns_equal_the_per_packet_decommutation(data) -> None:
    """Every structure, random raw values: the columns are the values ``decommutate`` gives."""
    definition = data.draw(st.sampled_from(MDB.packets))
    sid = definition.structure_id
    packets = [hk(sid, raw_values(sid, data), T0, i) for i in range(data.draw(st.integers(1, 12)))]
    rows = np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(len(packets), -1)
    assert rows.shape[1] == housekeeping_length(definition)
    assert housekeeping_rows(rows, MDB).structure_ids.tolist() == [sid] * len(packets)
    columns = decommutate_rows(definition, rows)
    assert columns is not None
    reports = [TelemetryProcessor(MDB).decommutate(unpack_tm(p)) for p in packets]
    for f, raw, values in zip(definition.layout.values, columns.raw, columns.values, strict=True):
        assert same(raw.tolist(), [r.raw[f.name] for r in reports]), f.name
        assert same(values, [r.values[f.name] for r in reports]), f.name
        if f.limits is not None:
            assert columns.levels[f.name].tolist() == [f.limits.level(v) for v in values]


@given(length=st.integers(0, 30), appended=st.integers(0, 100), maximum=st.integers(1, 30))
def test_samples_kept_after_appends_are_those_add_keeps(length: int, appended: int, maximum: int) -> None:
    length = min(length, maximum)
    archive = TelemetryArchive(maximum)
    for i in range(length):
        archive.add("X", float(i), i)
    bulk = TelemetryArchive(maximum)
    bulk.add_many("X", [float(i) for i in range(length)], list(range(length)))
    times = [float(length + i) for i in range(appended)]
    for t in times:
        archive.add("X", t, int(t))
    bulk.add_many("X", times, [int(t) for t in times])
    assert bulk.query("X") == archive.query("X")
    assert len(archive.query("X")) == _kept_after_appends(length, appended, maximum)
