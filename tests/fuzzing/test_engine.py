"""The built-in engine finds planted bugs and hangs, minimizes, writes and reproduces them."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from fuzzing import targets
from fuzzing.campaign import reproduce
from fuzzing.engine import Hang, classify, fuzz_target_builtin
from fuzzing.targets import Target
from protocols.errors import DecodeError


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
