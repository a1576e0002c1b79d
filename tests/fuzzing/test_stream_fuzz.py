"""The stream fuzzer reaches any subscriber and its accounting matches a station's."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import zmq

from fuzzing.stream_fuzz import (
    StationModel,
    check_station_summary,
    free_endpoint,
    fuzz_stream,
    fuzz_stream_local,
)

# ------------------------------------------------------------------------------------ stream fuzzing


def _collect(endpoint: str, received: list[list[bytes]], done: threading.Event) -> None:
    socket = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"tm")
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    try:
        while not done.is_set():
            if socket.poll(50):
                received.append(socket.recv_multipart())
    finally:
        socket.close()


def test_stream_fuzz_reaches_any_subscriber_and_accounts_for_every_message(tmp_path: Path) -> None:
    pytest.importorskip("groundstation.station")
    from groundstation.station import GroundStation

    endpoint = free_endpoint()
    received: list[list[bytes]] = []
    done = threading.Event()
    collector = threading.Thread(target=_collect, args=(endpoint, received, done))
    collector.start()
    log = tmp_path / "mutations.jsonl"
    try:
        report = fuzz_stream(None, endpoint, 60, seed=5, mutation_rate=0.5, log_path=log, max_messages=300)
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing assertion
        while len(received) < report.expected.messages_delivered and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        collector.join(30)
    assert not report.discrepancies
    assert report.messages_mutated > 50 and log.read_text().count("\n") == report.messages_mutated
    assert len(received) == report.expected.messages_delivered, "XPUB_NODROP: nothing lost on the way"
    station = GroundStation(tmp_path / "station")
    for parts in received:
        station.handle_message(parts)
    assert check_station_summary(report.expected, station.summary()) == []


def test_station_model_flags_a_miscounting_station() -> None:
    model = StationModel()
    model.observe([b"tm", b"bad", b"payload"])
    summary = {
        "faults": {},
        "transport": {"messages_received": 0, "messages_lost": 0},
        "octets_received": 7,
        "packets_by_apid": {},
    }
    assert check_station_summary(model.expected, summary) == [
        "faults[bad envelope]: station says 0, sent stream implies 1"
    ]


@pytest.mark.slow
def test_stream_fuzz_against_our_station_process(tmp_path: Path) -> None:
    pytest.importorskip("groundstation.station")
    report = fuzz_stream_local(tmp_path, 60, seed=2, mutation_rate=0.3, max_messages=400)
    assert report.station_alive is True
    assert report.discrepancies == []
    assert report.summary is not None and report.summary["transport"]["messages_received"] > 0
    assert (tmp_path / "stream_fuzz.json").exists()


@pytest.mark.slow
def test_stream_fuzz_with_oversized_messages_each_refused_and_counted(tmp_path: Path) -> None:
    report = fuzz_stream_local(tmp_path, 60, seed=3, mutation_rate=0.2, max_messages=200, oversized_rate=0.05)
    assert report.mutations_by_kind["oversized"] >= 2
    assert report.discrepancies == [] and report.station_alive is True
    assert report.summary["transport"]["messages_refused"] == report.mutations_by_kind["oversized"]
    assert report.station_peak_rss_kb is not None and report.station_peak_rss_kb < 500 * 1024


def test_stream_source_reads_the_downlink_of_a_recording(tmp_path: Path) -> None:
    from fuzzing.stream_fuzz import source_messages
    from protocols.capture import recording as rec
    from protocols.capture.zmq_framing import Layer

    path = tmp_path / "pass.pbr"
    data = rec.encode_record(rec.RecordingHeader("0.1.0", "test"))
    for n, direction in enumerate([rec.Direction.DOWNLINK, rec.Direction.UPLINK, rec.Direction.DOWNLINK]):
        data += rec.encode_record(rec.UnitRecord(n, direction, Layer.PACKETS, 1, n, bytes([n]) * 8))
    path.write_bytes(data)
    assert source_messages(path) == [(Layer.PACKETS, bytes(8)), (Layer.PACKETS, bytes([2]) * 8)]


def test_a_stream_run_that_cannot_see_the_station_says_it_checked_nothing(tmp_path: Path) -> None:
    from fuzzing.stream_fuzz import StreamFuzzReport, check_summary_file

    report = StreamFuzzReport(messages_sent=10)
    assert report.ok is None and not report.as_dict()["checked"]
    assert "NOT CHECKED" in report.verdict()

    started = time.time()
    check_summary_file(report, tmp_path / "summary.json", written_after=started, wait_s=0.2)
    assert report.ok is False and "was not written" in report.discrepancies[0]

    wrong = StreamFuzzReport(messages_sent=1)
    wrong.expected.messages_received = 1
    (tmp_path / "summary.json").write_text(json.dumps({"transport": {"messages_received": 0}}))
    check_summary_file(wrong, tmp_path / "summary.json", written_after=started - 5, wait_s=1)
    assert wrong.checked and wrong.ok is False

    (tmp_path / "list.json").write_text("[1, 2]")
    odd = StreamFuzzReport()
    check_summary_file(odd, tmp_path / "list.json", written_after=started - 5, wait_s=1)
    assert odd.ok is False and "not a station summary" in odd.discrepancies[0]
