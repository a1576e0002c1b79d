"""Progress bars: percent, rate and time left on a terminal; nothing at all when not on one.

The bar itself is checked with a fake terminal stream and a fake clock; ``decode``, ``replay``,
``fuzz decoders`` and ``run`` are each run twice as real processes, once in a pseudo-terminal
(their bar is in what they wrote) and once with stdout and stderr on pipes (no bar, no carriage
return, no station progress line).
"""

from __future__ import annotations

import io
import subprocess
import threading
from pathlib import Path

import pytest
import zmq

from paleblue.commands.progress import (
    MARK,
    PassProgress,
    Progress,
    StationProgress,
    on_terminal,
    parse_station_line,
)
from tests.paleblue.commands.terminal import PALEBLUE, Terminal

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "longjiang2-ccsds121.rec"


class FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------- the bar


def test_a_bar_shows_percent_rate_and_time_left() -> None:
    stream, clock = FakeTerminal(), Clock()
    bar = Progress("decode", 4_000_000, stream=stream, clock=clock)
    assert bar.enabled
    clock.now += 2.0
    bar.update(1_000_000)
    shown = stream.getvalue()
    assert shown.startswith("\rdecode  |██████") and shown.endswith("\x1b[K")
    assert " 25.0%" in shown and "500.0 kB/s" in shown and "00:06 left" in shown


def test_a_bar_redraws_at_most_ten_times_a_second_but_always_at_the_end() -> None:
    stream, clock = FakeTerminal(), Clock()
    bar = Progress("x", 100, unit="msg", stream=stream, clock=clock)
    for done in range(1, 100):
        clock.now += 0.001
        bar.update(done)
    assert stream.getvalue().count("\r") == 1  # the first only: 0.1 s has not passed
    bar.update(100)
    assert stream.getvalue().count("\r") == 2 and "100.0%" in stream.getvalue()


def test_lines_printed_under_a_bar_go_above_it_and_close_leaves_a_clean_line() -> None:
    stream = FakeTerminal()
    bar = Progress("run", 2, unit="images", stream=stream)
    bar.update(1)
    bar.write("ground: image 1 complete\n")
    text = stream.getvalue()
    wiped = text.index("\r\x1b[Kground: image 1 complete\n")
    assert "50.0%" in text[wiped:]  # drawn again under the line
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    bar.update(2)
    assert stream.getvalue().endswith("\r\x1b[K")  # closed: nothing more


def test_no_bar_off_a_terminal_or_on_a_dumb_one(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    bar = Progress("decode", 100, stream=stream)
    assert not bar.enabled
    bar.update(50)
    bar.write("a line\n")
    bar.close()
    assert stream.getvalue() == "a line\n"
    monkeypatch.setenv("TERM", "dumb")
    assert not on_terminal(FakeTerminal())
    monkeypatch.setenv("TERM", "xterm")
    assert on_terminal(FakeTerminal())


def test_without_a_total_the_bar_counts_and_times() -> None:
    stream, clock = FakeTerminal(), Clock()
    bar = Progress("replay", None, unit="msg", stream=stream, clock=clock)
    clock.now += 65
    bar.update(1300, note="speed x1")
    assert "1.3k msg" in stream.getvalue() and "20 msg/s, 01:05 elapsed  speed x1" in stream.getvalue()


def test_a_stopped_station_progress_writes_its_last_figures() -> None:
    """The station's last figures reach `run`'s bar even when the pass ends between two lines
    (under load a run's bar stopped short of 100 %)."""
    station = type("Station", (), {"reassembler": type("R", (), {"progress": []})(),
                                   "files": type("F", (), {"open_receivers": lambda self: []})(),
                                   "images_done": 1, "octets_received": 42})()  # fmt: skip
    stream = io.StringIO()
    reporter = StationProgress(1, interval_s=3600.0, stream=stream)
    reporter.attach(station)
    reporter.stop()
    assert stream.getvalue() == f"{MARK}1 0.0000 42\n"


def test_a_station_progress_line_feeds_the_run_bar() -> None:
    class Reassembler:
        def __init__(self) -> None:
            self.progress = [type("P", (), {"segments_received": 500, "segment_count": 2000})()]

    class Files:
        def open_receivers(self) -> list:
            return []

    station = type("Station", (), {"reassembler": Reassembler(), "files": Files(), "images_done": 1,
                                   "octets_received": 3_000_000})()  # fmt: skip
    line = StationProgress.line(station)
    assert line == f"{MARK}1 0.2500 3000000" and parse_station_line(line) == (1, 0.25, 3_000_000)
    assert parse_station_line("ground: image 1 complete") is None
    assert parse_station_line(f"{MARK}garbage") is None
    stream, clock = FakeTerminal(), Clock()
    bar = PassProgress(2, stream=stream, clock=clock)
    clock.now += 5.0  # the probe renders first: no octet yet
    assert bar.take_line(f"{MARK}0 0.0000 0\n") and "waiting for data" in stream.getvalue()
    assert bar.take_line(f"{MARK}0 0.0500 1000000\n") and not bar.take_line("probe: image 1 captured\n")
    clock.now += 1.0
    assert bar.take_line(line + "\n")
    shown = stream.getvalue().rsplit("\r", 1)[-1]
    assert "62.5%" in shown and "2.0 MB/s" in shown and "00:01 left" in shown and "3.0 MB received" in shown


# ---------------------------------------------------------------------- the commands, both ways


def _piped(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _assert_no_bar(result: subprocess.CompletedProcess) -> None:
    for text in (result.stdout, result.stderr):
        assert "\r" not in text and "\x1b[K" not in text and " left" not in text and MARK not in text


def _bar_of(terminal: Terminal) -> str:
    text = terminal.transcript.decode(errors="replace")
    assert "\x1b[K" in text and "%" in text and " left" in text and "/s" in text, text[-2000:]
    return text


def test_decode_shows_its_bar_on_a_terminal_only(tmp_path: Path) -> None:
    argv = [*PALEBLUE, "decode", str(GOLDEN), "-o"]
    with Terminal([*argv, str(tmp_path / "tty")]) as terminal:
        assert terminal.wait_exit(60) == 0
        text = _bar_of(terminal)
    assert "decode longjiang2-ccsds121.rec" in text and "100.0%" in text and "B/s, 00:00 left" in text
    assert "image 1: 640x480 complete" in terminal.text()  # the table follows on a clean line
    piped = _piped([*argv, str(tmp_path / "pipe")])
    assert piped.returncode == 0 and "image 1: 640x480 complete" in piped.stdout
    _assert_no_bar(piped)


def _subscriber(endpoint: str, stop: threading.Event) -> threading.Thread:
    """A downlink subscriber that reads until told to stop (replay waits for one)."""

    def read() -> None:
        with zmq.Context() as context, context.socket(zmq.SUB) as sub:
            sub.setsockopt(zmq.LINGER, 0)
            sub.connect(endpoint)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            while not stop.is_set():
                if sub.poll(50):
                    sub.recv_multipart()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipes"])
def test_replay_shows_its_bar_on_a_terminal_only(tty: bool, endpoint: str) -> None:
    stop = threading.Event()
    reader = _subscriber(endpoint, stop)
    argv = [*PALEBLUE, "replay", str(GOLDEN), "--to", endpoint, "--speed", "0.1"]  # 0.155 s recorded
    try:
        if tty:
            with Terminal(argv) as terminal:
                assert terminal.wait_exit(60) == 0
                text = _bar_of(terminal)
            assert "replay longjiang2-ccsds121.rec" in text and "msg/s" in text and "speed x0.1" in text
            assert "replay: sent 39 messages" in terminal.text()
        else:
            piped = _piped(argv, 60)
            assert piped.returncode == 0 and "replay: sent 39 messages" in piped.stdout
            _assert_no_bar(piped)
    finally:
        stop.set()
        reader.join(5)


@pytest.fixture
def endpoint() -> str:
    from tests.integration.conftest import free_endpoint

    return free_endpoint()


def test_fuzz_shows_its_bar_on_a_terminal_only(tmp_path: Path) -> None:
    argv = [*PALEBLUE, "fuzz", "decoders", "--target", "cuc-time", "--target", "zmq-envelope",
            "--seconds", "3", "--seed", "1", "--out"]  # fmt: skip
    with Terminal([*argv, str(tmp_path / "tty")]) as terminal:
        assert terminal.wait_exit(60) == 0
        text = _bar_of(terminal)
    assert "fuzz decoders" in text and "exec/s" in text
    assert "[2/2] zmq-envelope:" in terminal.text()  # the campaign's lines, above the bar
    piped = _piped([*argv, str(tmp_path / "pipe")], 60)
    assert piped.returncode == 0 and "[2/2] zmq-envelope:" in piped.stderr
    _assert_no_bar(piped)


@pytest.mark.slow
def test_run_shows_its_bar_on_a_terminal_only(tmp_path: Path) -> None:
    argv = [*PALEBLUE, "run", "-o"]
    with Terminal([*argv, str(tmp_path / "tty"), "--rate", "4000000"]) as terminal:
        assert terminal.wait_exit(150) == 0
        text = _bar_of(terminal)
    assert "run  |" in text and "B/s" in text and "kB received" in text and "100.0%" in text
    assert MARK not in text  # the station's lines feed the bar, never the screen
    assert "run: finished in" in terminal.text()
    piped = _piped([*argv, str(tmp_path / "pipe")], 150)
    assert piped.returncode == 0 and "run: finished in" in piped.stdout
    _assert_no_bar(piped)
