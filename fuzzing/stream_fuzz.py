"""``fuzz stream``: a valid downlink, mutated message by message, replayed into a live ground station.

We bind an XPUB (``XPUB_NODROP``: back-pressure instead of silent drops), wait for a subscriber
(our station or anyone's that connects a SUB), and send 3-frame messages as
:mod:`protocols.capture.zmq_framing` describes. Every mutation is logged (message, frame, kind, offset),
and alongside it the counters the station *must* end with are computed from the same protocol
decoders: every message sent is either decoded into packets and skipped spans, or counted as a
fault (malformed, unknown topic, bad envelope, unsupported layer) or as lost in transport.
:func:`check_station_summary` compares those with a station's ``summary.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fuzzing import seeds as seedlib
from fuzzing.mutators import Mutator
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError
from protocols.packets.space_packet import MISSION_PACKETS, PacketStreamDecoder, SkippedBytes
from transport.publisher import Publisher

PAYLOAD_MUTATIONS = (
    "bit-flip",
    "byte-set",
    "interesting-int",
    "truncate",
    "insert",
    "delete",
    "duplicate",
    "copy",
)
# message-level faults beside payload mutations, with their relative weights
MESSAGE_FAULTS = {"payload": 12, "envelope": 2, "topic": 1, "frames": 1, "drop": 2, "repeat": 1}
SEND_HIGH_WATER_MARK = 1000
OVERSIZED_OCTETS = 10_000_000  # an oversized message's payload (the station refuses over 1 MiB)


@dataclass
class ExpectedCounters:
    """What the station's summary must say after receiving exactly the messages sent."""

    messages_delivered: int = 0  # messages that pass the SUB's topic filter (dropped ones excluded)
    messages_filtered: int = 0  # sent, but ZeroMQ's subscription filter keeps them from the station
    unmodelled: int = 0  # frame/CADU-layer messages: their packets depend on link-receiver state
    messages_received: int = 0  # with a good envelope: the station's transport counter
    messages_lost: int = 0  # gaps in the envelope sequence, as MessageGapCounter counts them
    messages_refused: int = 0  # oversized: ZeroMQ refuses them (they leave a gap in the sequence)
    octets_received: int = 0
    packets: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {**self.__dict__, "faults": dict(self.faults)}


class StationModel:
    """The station's first stages, computed with the same pure decoders, to predict its counters."""

    def __init__(self) -> None:
        self.expected = ExpectedCounters()
        self._gaps = MessageGapCounter()

    def observe(self, parts: list[bytes]) -> None:
        e = self.expected
        if not parts or not parts[0].startswith(TOPIC_DOWNLINK):
            e.messages_filtered += 1  # the SUB subscribed to the b"tm" prefix never sees it
            return
        e.messages_delivered += 1
        if len(parts) != 3:
            e.faults["malformed message"] += 1
            return
        topic, envelope_bytes, payload = parts
        e.octets_received += len(payload)
        if topic != TOPIC_DOWNLINK:
            e.faults["unknown topic"] += 1
            return
        try:
            envelope = Envelope.unpack(envelope_bytes)
        except DecodeError:
            e.faults["bad envelope"] += 1
            return
        lost = self._gaps.observe(envelope)
        e.messages_received, e.messages_lost = self._gaps.received, self._gaps.lost
        if lost:
            e.faults["messages lost in transport"] += 1
        if envelope.layer != Layer.PACKETS:
            e.unmodelled += 1  # link layers (or unsupported ones) are not predicted here
            return
        decoder = PacketStreamDecoder(check=MISSION_PACKETS)  # as the station decodes a message
        for unit in [*decoder.feed(payload), *decoder.close()]:
            if isinstance(unit, SkippedBytes):
                e.faults["bytes skipped in packet stream"] += 1
            else:
                e.packets += 1


@dataclass
class StreamFuzzReport:
    messages_sent: int = 0
    messages_mutated: int = 0
    messages_dropped: int = 0
    passes: int = 0
    seconds: float = 0.0
    mutations_by_kind: Counter[str] = field(default_factory=Counter)
    expected: ExpectedCounters = field(default_factory=ExpectedCounters)
    log_path: str | None = None
    station_alive: bool | None = None  # None: no health check was given
    discrepancies: list[str] = field(default_factory=list)
    summary: dict | None = None  # the station's summary.json, when we ran the station or were given it
    interrupted: bool = False  # stopped by Ctrl-C: the figures cover what was sent
    station_peak_rss_kb: int | None = None  # the station process's peak resident memory, when we ran it

    @property
    def checked(self) -> bool:
        """Whether the station's own counters were compared with what was sent."""
        return self.summary is not None

    @property
    def ok(self) -> bool | None:
        """True or False once checked (or already failed); None when nothing could be checked."""
        failed = self.station_alive is False or bool(self.discrepancies)
        if failed:
            return False
        return True if self.checked else None

    def verdict(self) -> str:
        """One line for people: what was sent and what could be concluded."""
        sent = f"{self.messages_sent} messages sent ({self.messages_mutated} mutated)"
        if self.interrupted:
            sent += ", interrupted"
        if self.ok is False:
            return f"{sent}; FAILED: {'; '.join(self.discrepancies) or 'the station died'}"
        if self.ok is None:
            return (
                f"{sent}; NOT CHECKED: the station's counters were not visible "
                "(give --summary with its summary.json, or use --local)"
            )
        return f"{sent}; the station's summary accounts for every message"

    def as_dict(self) -> dict:
        return {
            "messages_sent": self.messages_sent,
            "messages_mutated": self.messages_mutated,
            "messages_dropped": self.messages_dropped,
            "passes": self.passes,
            "seconds": round(self.seconds, 3),
            "mutations_by_kind": dict(self.mutations_by_kind),
            "expected": self.expected.as_dict(),
            "log_path": self.log_path,
            "station_alive": self.station_alive,
            "discrepancies": self.discrepancies,
            "checked": self.checked,
            "interrupted": self.interrupted,
            "station_peak_rss_kb": self.station_peak_rss_kb,
            "ok": self.ok,
            "verdict": self.verdict(),
        }


# ----------------------------------------------------------------------------------- the source


def source_messages(source: Path | None, seed: int = 0) -> list[tuple[Layer, bytes]]:
    """(layer, payload) of each downlink message: from a recording, or generated in-process."""
    if source is None:
        packets = seedlib.downlink_packets(images=3, seed=seed)
        return [(Layer.PACKETS, p) for p in seedlib.group_into_messages(packets, per_message=3)]
    from groundstation.recording_reader import RecordingReader
    from protocols.capture.recording import Direction

    with RecordingReader(source) as reader:
        return [(u.layer, u.payload) for u in reader.units() if u.direction == Direction.DOWNLINK]


def mutate_message(
    rng: random.Random, mutator: Mutator, parts: list[bytes]
) -> tuple[list[list[bytes]], list[dict]]:
    """One message in, the messages to send out (none if dropped, two if repeated), and the log."""
    kind = rng.choices(list(MESSAGE_FAULTS), list(MESSAGE_FAULTS.values()))[0]
    if kind == "drop":
        return [], [{"kind": "drop"}]
    if kind == "repeat":
        return [parts, list(parts)], [{"kind": "repeat"}]
    if kind == "frames":
        if rng.random() < 0.5:
            index = rng.randrange(len(parts))
            return [parts[:index] + parts[index + 1 :]], [{"kind": "frame-removed", "frame": index}]
        return [[*parts, rng.randbytes(rng.randint(0, 8))]], [{"kind": "frame-added"}]
    if kind == "topic":
        topic = rng.choice((b"", b"tc", b"tmx", b"TM", rng.randbytes(2)))
        return [[topic, *parts[1:]]], [{"kind": "topic", "topic": topic.hex()}]
    frame = 1 if kind == "envelope" else 2
    data = bytearray(parts[frame])
    log = []
    for _ in range(rng.randint(1, 3)):
        mutation = mutator.mutate_once(data)
        if mutation is not None:
            log.append({"frame": frame, **mutation.as_dict()})
    out = list(parts)
    out[frame] = bytes(data)
    return [out], log


# ------------------------------------------------------------------------------------- sending


def _oversized(parts: list[bytes], octets: int) -> list[bytes]:
    return [parts[0], parts[1], bytes(octets)]


def fuzz_stream(
    source: Path | None,
    to: str,
    seconds: float,
    seed: int,
    mutation_rate: float,
    *,
    log_path: Path | None = None,
    station_alive: Callable[[], bool] | None = None,
    subscriber_timeout_s: float = 30.0,
    max_messages: int | None = None,
    oversized_rate: float = 0.0,
    oversized_octets: int = OVERSIZED_OCTETS,
    stop: threading.Event | None = None,
) -> StreamFuzzReport:
    """Replay the source, mutated, into whatever subscribes at ``to`` (we bind) for ``seconds``.

    ``mutation_rate`` is the probability that a message is mutated; ``oversized_rate`` that its
    payload is replaced by ``oversized_octets`` zeros instead, which a station must refuse (ZeroMQ
    drops the connection): after one, nothing more is sent until the station has subscribed again,
    so the refused message is all it loses. Each mutated message is
    logged as one JSON line to ``log_path``. ``station_alive`` (our station: its process is
    running) is polled between messages; the run stops early if it turns False. ``stop`` (set by
    a signal handler) ends the run between two messages, ``interrupted``, like Ctrl-C: every
    message sent is counted.
    """
    rng = random.Random(seed)
    mutator = Mutator(rng, kinds=PAYLOAD_MUTATIONS)
    source_units = source_messages(source, seed)
    if not source_units:
        raise ValueError(f"{source}: no downlink messages to replay")
    report = StreamFuzzReport(log_path=str(log_path) if log_path else None)
    model = StationModel()
    session = rng.getrandbits(32)
    publisher = Publisher(to, send_high_water_mark=SEND_HIGH_WATER_MARK)
    log_file = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed in finally
    try:
        try:
            subscribed = publisher.wait_for_topics([TOPIC_DOWNLINK], stop, timeout_s=subscriber_timeout_s)
        except KeyboardInterrupt:  # stopped before anything was sent
            report.interrupted = True
            return report
        if not subscribed and stop is not None and stop.is_set():
            report.interrupted = True
            return report
        if not subscribed:
            report.discrepancies.append(f"no subscriber connected to {to} within {subscriber_timeout_s} s")
            return report
        started = time.monotonic()
        deadline = started + seconds
        try:
            for sequence, (layer, payload) in enumerate(_forever(source_units, report)):
                if time.monotonic() > deadline or (max_messages is not None and sequence >= max_messages):
                    break
                if stop is not None and stop.is_set():
                    report.interrupted = True
                    break
                if station_alive is not None and sequence % 20 == 0 and not station_alive():
                    report.station_alive = False
                    break
                parts = [TOPIC_DOWNLINK, Envelope(layer, session, sequence).pack(), payload]
                to_send, log = [parts], []
                if oversized_rate and rng.random() < oversized_rate:
                    if not publisher.send(_oversized(parts, oversized_octets), stop, deadline + 10):
                        _stopped(stop)
                        report.discrepancies.append("subscriber stopped reading: send timed out")
                        return report
                    report.messages_sent += 1
                    report.mutations_by_kind["oversized"] += 1
                    model.expected.messages_refused += 1
                    if log_file:
                        log_file.write(
                            json.dumps({"sequence": sequence, "mutations": [{"kind": "oversized"}]}) + "\n"
                        )
                    if not publisher.wait_for_topics([TOPIC_DOWNLINK], stop, subscriber_timeout_s):
                        _stopped(stop)
                        report.discrepancies.append(
                            "the subscriber did not come back after an oversized message"
                        )
                        return report
                    continue
                if rng.random() < mutation_rate:
                    to_send, log = mutate_message(rng, mutator, parts)
                    report.messages_mutated += 1
                    report.messages_dropped += not to_send
                    for entry in log:
                        report.mutations_by_kind[entry["kind"]] += 1
                    if log_file:
                        log_file.write(json.dumps({"sequence": sequence, "mutations": log}) + "\n")
                for message in to_send:
                    if not publisher.send(message, stop, deadline + 10):
                        _stopped(stop)
                        report.discrepancies.append("subscriber stopped reading: send timed out")
                        return report
                    model.observe(message)
                    report.messages_sent += 1
        except KeyboardInterrupt:
            report.interrupted = True
        report.seconds = time.monotonic() - started
        if station_alive is not None and report.station_alive is None:
            report.station_alive = station_alive()
    finally:
        report.expected = model.expected
        if log_file:
            log_file.close()
        publisher.close()
    return report


def _stopped(stop: threading.Event | None) -> None:
    """A send gave up because ``stop`` was set: end the run as Ctrl-C would (nothing was sent)."""
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt


def _forever(units: list[tuple[Layer, bytes]], report: StreamFuzzReport) -> Iterator[tuple[Layer, bytes]]:
    while True:
        report.passes += 1
        yield from units


# ---------------------------------------------------------------------------- checking a station


def check_station_summary(expected: ExpectedCounters, summary: dict) -> list[str]:
    """Where a station's ``summary.json`` disagrees with what it was sent (empty: all accounted)."""
    problems = []
    faults = summary.get("faults", {})
    transport = summary.get("transport", {})
    pairs = [
        ("transport.messages_received", transport.get("messages_received"), expected.messages_received),
        ("transport.messages_lost", transport.get("messages_lost"), expected.messages_lost),
        ("transport.messages_refused", transport.get("messages_refused", 0), expected.messages_refused),
        ("octets_received", summary.get("octets_received"), expected.octets_received),
        (
            "packets (sum of packets_by_apid)",
            sum(summary.get("packets_by_apid", {}).values()),
            expected.packets,
        ),
    ]
    if expected.unmodelled:  # packets of link-layer messages depend on the receiver's state
        pairs = pairs[:3]
    kinds = {*expected.faults, "malformed message", "unknown topic", "bad envelope"}
    if expected.unmodelled:
        kinds.discard("bytes skipped in packet stream")
    for kind in sorted(kinds):
        pairs.append((f"faults[{kind}]", faults.get(kind, 0), expected.faults.get(kind, 0)))
    for name, got, want in pairs:
        if got != want:
            problems.append(f"{name}: station says {got}, sent stream implies {want}")
    if faults.get("internal error"):
        problems.append(f"station recorded {faults['internal error']} internal error(s)")
    return problems


def check_summary_file(
    report: StreamFuzzReport,
    path: Path,
    *,
    written_after: float,
    wait_s: float,
    stop: threading.Event | None = None,
) -> None:
    """Check a station's ``summary.json`` (written after ``written_after``, a ``time.time()``).

    Waits up to ``wait_s`` for the station to write it (it does so when it stops); a file that
    never comes, or that is not a summary, is a discrepancy, never a pass. ``stop`` set while
    waiting ends the wait: the report is ``interrupted`` and nothing was checked.
    """
    path = Path(path)
    deadline = time.monotonic() + wait_s
    while not (path.exists() and path.stat().st_mtime >= written_after):
        if stop is not None and stop.is_set():
            report.interrupted = True
            return
        if time.monotonic() > deadline:
            report.discrepancies.append(f"{path} was not written within {wait_s:g} s of the run")
            return
        time.sleep(0.1)
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.discrepancies.append(f"{path}: not a station summary ({exc})")
        return
    try:
        problems = check_station_summary(report.expected, summary)
    except (AttributeError, TypeError):  # valid JSON of another shape
        report.discrepancies.append(f"{path}: not a station summary")
        return
    report.summary = summary
    report.discrepancies += problems


def free_endpoint() -> str:
    """A TCP endpoint on the loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _station_process(endpoint: str, out_dir: str, stop, received, peak_rss_kb) -> None:
    import logging
    import signal

    from groundstation.receiver import run_ground_station

    logging.getLogger("paleblue").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # terminated: still a summary
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches us too: the parent stops us

    def count(parts: list[bytes], receive_ns: int) -> None:
        with received.get_lock():
            received.value += 1

    try:
        run_ground_station(endpoint, Path(out_dir), stop, on_message=count)
    finally:
        peak_rss_kb.value = _peak_rss_kb()


def _peak_rss_kb() -> int:
    """This process's own peak resident memory. Not ru_maxrss: Linux keeps that across execve, so a
    spawned child would report the peak of the (large) process that forked it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def _start_ignoring_sigint(process: multiprocessing.process.BaseProcess) -> None:
    """Start a spawned child with SIGINT ignored from its first instruction (an ignored signal stays
    ignored across exec): a terminal's Ctrl-C reaches the whole process group, and the parent, not
    the signal, stops the child, so it still writes its summary."""
    import signal

    if threading.current_thread() is not threading.main_thread():  # no signals to handle there
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def fuzz_stream_local(
    out_dir: Path,
    seconds: float,
    seed: int,
    mutation_rate: float,
    source: Path | None = None,
    *,
    drain_timeout_s: float = 60.0,
    max_messages: int | None = None,
    oversized_rate: float = 0.0,
    stop: threading.Event | None = None,
) -> StreamFuzzReport:
    """Start our ground station in a child process, fuzz it, stop it, and check its summary.

    The station is healthy if its process is alive throughout and its ``summary.json`` accounts
    for every message sent (see :func:`check_station_summary`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    station_stop, received, peak_rss_kb = context.Event(), context.Value("q", 0), context.Value("q", 0)
    endpoint = free_endpoint()
    station_dir = out_dir / "station"
    process = context.Process(
        target=_station_process,
        args=(endpoint, str(station_dir), station_stop, received, peak_rss_kb),
        daemon=True,
    )
    _start_ignoring_sigint(process)
    try:
        report = fuzz_stream(
            source,
            endpoint,
            seconds,
            seed,
            mutation_rate,
            log_path=out_dir / "mutations.jsonl",
            station_alive=process.is_alive,
            max_messages=max_messages,
            oversized_rate=oversized_rate,
            stop=stop,
        )
        deadline = time.monotonic() + drain_timeout_s
        try:
            while received.value < report.expected.messages_delivered and process.is_alive():
                if time.monotonic() > deadline:
                    report.discrepancies.append(
                        f"station received {received.value} of {report.expected.messages_delivered} messages"
                    )
                    break
                time.sleep(0.05)
        except KeyboardInterrupt:  # a second interrupt: stop waiting, the summary says what arrived
            report.interrupted = True
        report.station_alive = process.is_alive() if report.station_alive is not False else False
        station_stop.set()
        process.join(drain_timeout_s)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)
    report.station_peak_rss_kb = peak_rss_kb.value or None
    summary_path = station_dir / "summary.json"
    if not summary_path.exists():
        report.discrepancies.append(f"station wrote no {summary_path} (exit code {process.exitcode})")
    else:
        report.summary = json.loads(summary_path.read_text())
        report.discrepancies += check_station_summary(report.expected, report.summary)
    (out_dir / "stream_fuzz.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return report
