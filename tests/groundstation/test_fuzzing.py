"""The fuzzers themselves: targets honour the contract on their seeds, the engine finds planted bugs
and hangs, minimizes and reproduces them, and the stream fuzzer's accounting matches a station."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from groundstation.fuzzing import engine, targets
from groundstation.fuzzing.coverage import CoverageTracer
from groundstation.fuzzing.engine import Hang, classify, fuzz_decoders, fuzz_target_builtin, reproduce
from groundstation.fuzzing.minimize import ddmin
from groundstation.fuzzing.mutators import MUTATIONS, Mutator
from groundstation.fuzzing.seeds import decode_parts, encode_parts
from groundstation.fuzzing.stream_fuzz import (
    StationModel,
    check_station_summary,
    free_endpoint,
    fuzz_stream,
    fuzz_stream_local,
)
from groundstation.fuzzing.targets import Target, TargetUnavailable, load_target, target_names
from protocols.errors import DecodeError


@pytest.mark.parametrize("name", target_names())
def test_every_target_honours_the_contract_on_its_seeds(name: str) -> None:
    try:
        target = load_target(name)
    except TargetUnavailable as exc:
        pytest.skip(str(exc))
    assert target.seeds, "a target needs valid seeds to start from"
    for seed in target.seeds:
        assert classify(target, seed).status == "ok", f"{name}: a valid seed is not decoded"


def test_unknown_target_is_unavailable_not_an_error() -> None:
    with pytest.raises(TargetUnavailable):
        load_target("no-such-decoder")


@given(st.binary(max_size=64), st.sampled_from(sorted(MUTATIONS)), st.integers(0, 2**32))
def test_every_mutation_reports_what_it_changed(data: bytes, kind: str, seed: int) -> None:
    buffer = bytearray(data)
    mutation = MUTATIONS[kind](random.Random(seed), buffer, [b"spliced-in"])
    if mutation is None:
        assert bytes(buffer) == data
        return
    assert len(buffer) == len(data) + mutation.length_delta
    assert bytes(buffer[: mutation.offset]) == data[: mutation.offset], (
        "octets before the offset are untouched"
    )
    tail = len(data) - mutation.offset - mutation.removed
    if kind != "splice" and tail > 0:
        assert bytes(buffer[len(buffer) - tail :]) == data[len(data) - tail :], (
            "octets after the span untouched"
        )


def test_mutator_respects_the_length_bound() -> None:
    mutator = Mutator(random.Random(1), max_length=50)
    data = bytes(40)
    for _ in range(500):
        data = mutator.mutate(data, [bytes(45)])
        assert len(data) <= 50


@given(st.binary(min_size=1, max_size=40), st.binary(min_size=1, max_size=3))
def test_ddmin_keeps_the_failure_and_is_no_longer(noise: bytes, needle: bytes) -> None:
    data = noise + needle + noise

    def fails(candidate: bytes) -> bool:
        return needle in candidate

    small = ddmin(data, fails)
    assert fails(small) and len(small) <= len(data)
    assert len(small) == len(needle)


def _planted(name: str, run) -> Target:
    return Target(name, run, [b"seed input"], "planted bug for the engine's own tests")


@pytest.fixture
def planted_registry(monkeypatch: pytest.MonkeyPatch):
    """Register targets for the duration of a test so reproduce() can find them by name."""
    registered: dict[str, Target] = {}

    def add(target: Target) -> Target:
        registered[target.name] = target
        monkeypatch.setitem(targets._FACTORIES, target.name, lambda: registered[target.name])
        return target

    targets.load_target.cache_clear()
    yield add
    targets.load_target.cache_clear()


def _index_error_on_magic(data: bytes) -> object:
    if len(data) > 2 and data[0] == 0x7E:  # two nested conditions: coverage must guide to them
        if data[1] == 0xA5:
            return data[len(data) + 5]  # the planted bug: IndexError
        raise DecodeError("planted", 1, "second octet")
    raise DecodeError("planted", 0, "first octet")


def test_engine_finds_minimizes_writes_and_reproduces_a_planted_crash(
    tmp_path: Path, planted_registry
) -> None:
    target = planted_registry(Target("planted-crash", _index_error_on_magic, [b"\x7e\x00seed"], "planted"))
    report = fuzz_target_builtin(target, 60, tmp_path, random.Random(3), max_executions=20_000)
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert finding.kind == "crash" and finding.signature.startswith("IndexError")
    data = Path(finding.input_path).read_bytes()
    assert data == b"\x7e\xa5\x00", "ddmin keeps 3 octets; zeroing clears the irrelevant one"
    text = Path(finding.input_path).with_suffix(".txt").read_text()
    assert "paleblue fuzz reproduce" in text and "IndexError" in text
    assert Path(finding.input_path).parent == tmp_path / "findings" / "planted-crash"
    with pytest.raises(IndexError):
        reproduce(Path(finding.input_path))


def _hangs_on_magic(data: bytes) -> object:
    if data[:1] == b"\xff":
        give_up = time.monotonic() + 30  # bounded, so a missing watchdog fails the test instead of hanging it
        while time.monotonic() < give_up:
            pass
    raise DecodeError("planted", 0, "no")


def test_engine_detects_a_hang_with_the_watchdog(tmp_path: Path, planted_registry) -> None:
    target = planted_registry(Target("planted-hang", _hangs_on_magic, [b"\x00"], "planted"))
    assert classify(target, b"\xff", time_limit=0.2).status == "hang"
    report = fuzz_target_builtin(target, 60, tmp_path, random.Random(1), time_limit=0.2, max_executions=3000)
    assert [f.kind for f in report.findings] == ["hang"]
    with pytest.raises(Hang):
        reproduce(Path(report.findings[0].input_path), time_limit=0.2)


def test_watchdog_hands_back_an_alarm_already_running(planted_registry) -> None:
    """Regression: the watchdog used to cancel any outer alarm (pytest-timeout's, under which `make
    test` runs), leaving the rest of a test unguarded, and classify() took the outer alarm's
    exception for a crash of the input."""
    import signal

    class OuterTimeout(BaseException):  # as pytest-timeout's Failed: not an Exception
        pass

    def outer(signum: int, frame: object) -> None:
        raise OuterTimeout("the outer alarm fired")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 50)
    try:
        target = planted_registry(Target("planted-hang-nested", _hangs_on_magic, [b"\x00"], "planted"))
        assert classify(target, b"\xff", time_limit=0.2).status == "hang"
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 45 < remaining <= 50
        assert signal.getsignal(signal.SIGALRM) is outer
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # due before the watchdog: the outer alarm fires
        with pytest.raises(OuterTimeout, match="outer alarm"):
            classify(target, b"\xff", time_limit=5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_total_targets_may_not_even_raise_decode_error(planted_registry) -> None:
    def always_rejects(data: bytes) -> object:
        raise DecodeError("planted", 0, "no")

    target = Target("planted-total", always_rejects, [b""], "planted", total=True)
    assert classify(target, b"").status == "raised"


def test_coverage_tracer_sees_decoder_lines_only() -> None:
    tracer = CoverageTracer()
    target = load_target("space-packet")
    tracer.call(target.run, target.seeds[0])
    assert tracer.commit() > 0
    files = tracer.files()
    assert "protocols/space_packet.py" in files
    assert not any("fuzzing" in f for f in files), "the fuzzer's own code is not coverage"
    tracer.call(target.run, target.seeds[0])
    assert tracer.commit() == 0, "the same input reaches nothing new"


def test_fuzz_decoders_reports_per_target_and_unavailable(tmp_path: Path) -> None:
    report = fuzz_decoders(["zmq-envelope", "cuc-time", "not-a-target"], 30, tmp_path, 7, max_executions=400)
    assert set(report.targets) == {"zmq-envelope", "cuc-time"}
    assert "not-a-target" in report.unavailable
    for t in report.targets.values():
        assert t.executions >= 400 and t.lines > 0 and t.corpus_size >= 1
    assert report.lines > 0 and "protocols/zmq_framing.py" in report.files
    assert report.findings == []
    assert "total:" in report.render()
    assert any((tmp_path / "corpus" / "zmq-envelope").iterdir())


def test_built_in_engine_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = fuzz_decoders(["cds-time"], 30, tmp_path / "a", 11, max_executions=300)
    b = fuzz_decoders(["cds-time"], 30, tmp_path / "b", 11, max_executions=300)
    assert sorted(p.name for p in (tmp_path / "a" / "corpus" / "cds-time").iterdir()) == sorted(
        p.name for p in (tmp_path / "b" / "corpus" / "cds-time").iterdir()
    )
    assert a.targets["cds-time"].arcs == b.targets["cds-time"].arcs


def test_atheris_engine_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    report = fuzz_decoders(["zmq-envelope"], 2, tmp_path, 1, engine="atheris")
    t = report.targets["zmq-envelope"]
    assert t.engine == "atheris" and t.executions > 0 and t.lines > 0
    assert not t.notes, t.notes


@given(st.lists(st.lists(st.binary(max_size=20), max_size=4), max_size=4))
def test_message_encoding_round_trips(messages: list[list[bytes]]) -> None:
    assert decode_parts(encode_parts(messages)) == messages


@given(st.binary(max_size=200))
def test_message_decoding_accepts_any_bytes(data: bytes) -> None:
    decode_parts(data)


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


def test_engine_module_exports_the_documented_api() -> None:
    assert callable(engine.fuzz_decoders) and callable(engine.reproduce)


def test_command_line_lists_targets_and_runs_a_short_campaign(tmp_path: Path, capsys) -> None:
    from groundstation.fuzzing.__main__ import main

    assert main(["list"], prog="paleblue fuzz") == 0
    assert "space-packet" in capsys.readouterr().out
    argv = [
        "decoders",
        "--target",
        "cuc-time",
        "--seconds",
        "0.5",
        "--out",
        str(tmp_path),
        "--engine",
        "builtin",
    ]
    assert main(argv) == 0
    assert (tmp_path / "report.json").exists()


def test_stream_source_reads_the_downlink_of_a_recording(tmp_path: Path) -> None:
    from groundstation.fuzzing.stream_fuzz import source_messages
    from protocols import recording as rec
    from protocols.zmq_framing import Layer

    path = tmp_path / "pass.pbr"
    data = rec.encode_record(rec.RecordingHeader("0.1.0", "test"))
    for n, direction in enumerate([rec.Direction.DOWNLINK, rec.Direction.UPLINK, rec.Direction.DOWNLINK]):
        data += rec.encode_record(rec.UnitRecord(n, direction, Layer.PACKETS, 1, n, bytes([n]) * 8))
    path.write_bytes(data)
    assert source_messages(path) == [(Layer.PACKETS, bytes(8)), (Layer.PACKETS, bytes([2]) * 8)]


# ------------------------------------------------------------------ budgets, progress, interrupts


def test_seconds_is_the_whole_campaigns_budget(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from groundstation.fuzzing.__main__ import main

    status = main(["decoders", "--seconds", "3", "--seed", "1", "--out", str(tmp_path)], prog="paleblue fuzz")
    report = json.loads((tmp_path / "report.json").read_text())
    names = list(report["targets"])
    assert status == 0 and len(names) > 10 and not report["interrupted"]
    spent = sum(t["seconds"] for t in report["targets"].values())
    # Each target gets a share of what is left: the campaign keeps to its budget, bar the seeds of
    # a target whose share is already spent (before: 3 s each, over 70 s in all).
    assert spent < 3 + 15, spent
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert len(progress) == len(names) and progress[-1].startswith(f"[{len(names)}/{len(names)}]")


def test_seconds_per_target_keeps_the_old_meaning(tmp_path: Path) -> None:
    report = fuzz_decoders(["cuc-time", "cds-time"], 0.5, tmp_path, 3, total=False)
    assert all(t.seconds >= 0.5 for t in report.targets.values())
    report = fuzz_decoders(["cuc-time", "cds-time"], 0.5, tmp_path, 3, total=True)
    assert sum(t.seconds for t in report.targets.values()) < 0.5 + 2


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_campaign_writes_its_report(tmp_path: Path, signum: int, status: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundstation.fuzzing",
            "decoders",
            "--seconds",
            "120",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()  # the first target's progress line: the campaign is under way
        assert first.startswith("[1/"), first
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == status, err
    assert "Traceback" not in err and "interrupted" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] and report["not_reached"]
    assert "interrupted" in out


def test_a_stream_run_that_cannot_see_the_station_says_it_checked_nothing(tmp_path: Path) -> None:
    from groundstation.fuzzing.stream_fuzz import StreamFuzzReport, check_summary_file

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


def test_housekeeping_seeds_are_laid_out_by_the_mission_database() -> None:
    """Every seed report decodes with the database, each structure in turn, nothing counted as bad."""
    from groundstation.fuzzing.seeds import housekeeping_packets
    from groundstation.telemetry import TelemetryProcessor
    from protocols.mission_db import load_mission_db

    mdb = load_mission_db()
    processor = TelemetryProcessor(mdb)
    reports = [processor.process(p) for p in housekeeping_packets(2 * len(mdb.packets), seed=3)]
    assert [r.structure_id for r in reports] == [p.structure_id for p in mdb.packets] * 2
    assert not processor.undecodable
