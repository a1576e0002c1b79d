"""Ground commanding: validate, encode, send, and follow each telecommand through verification.

:class:`CommandEncoder` checks a command against the mission database before
anything is sent (unknown names, missing, extra, mistyped or out-of-range
arguments raise :class:`CommandError` naming the argument) and encodes it as a
PUS-C TC packet. :class:`CommandHistory` follows every command from SENT to
ACCEPTED or REJECTED and then to COMPLETED or FAILED, fed by the verification
reports the telemetry processor decodes. :class:`CommandClient` is the
operator/test API in the style of F Prime's integration-test API
(``send_and_assert_command``, ``await_telemetry``), written against an
abstract transport: a ``send(bytes)`` callable and a ``receive(timeout_s)``
callable returning TM bytes (one or more concatenated packets) or None.
"""

from __future__ import annotations

import time as _time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from groundstation.telemetry import EventRecord, HousekeepingReport, TelemetryProcessor
from protocols.mdb.mission_db import CommandDef, MissionDatabase
from protocols.packets.space_packet import SequenceCounter, peek_header
from protocols.pus.pus_services import (
    ACK_ACCEPTANCE,
    ACK_COMPLETION,
    FailureCode,
    RequestId,
    VerificationReport,
    pack_function,
    pack_tc,
)


class CommandError(ValueError):
    """A command refused on the ground before sending; ``argument`` names the culprit (or None)."""

    def __init__(self, command: str, argument: str | None, reason: str) -> None:
        where = f"{command}.{argument}" if argument else command
        super().__init__(f"{where}: {reason}")
        self.command, self.argument, self.reason = command, argument, reason


class CommandState(Enum):
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL_STATES = (CommandState.REJECTED, CommandState.COMPLETED, CommandState.FAILED)


@dataclass
class CommandRecord:
    name: str
    arguments: dict[str, Any]
    request_id: RequestId
    packet: bytes
    sent_at: float
    state: CommandState = CommandState.SENT
    failure_code: int | None = None
    transitions: list[tuple[CommandState, float]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def failure(self) -> str | None:
        if self.failure_code is None:
            return None
        try:
            return FailureCode(self.failure_code).name
        except ValueError:
            return f"CODE_{self.failure_code}"


class CommandEncoder:
    """Validation and encoding of commands defined in the mission database."""

    def __init__(self, mdb: MissionDatabase, source_id: int | None = None) -> None:
        self.mdb = mdb
        self.source_id = mdb.ground_source_id if source_id is None else source_id
        self.apid = mdb.apids["telecommand"]

    def definition(self, name: str) -> CommandDef:
        command = self.mdb.command_by_name.get(name)
        if command is None:
            raise CommandError(
                name, None, f"unknown command (known: {', '.join(sorted(self.mdb.command_by_name))})"
            )
        return command

    def validate(self, name: str, arguments: Mapping[str, Any] | None = None) -> list[int | float]:
        """Raw argument values in layout order, or CommandError naming the bad argument."""
        command = self.definition(name)
        arguments = dict(arguments or {})
        for extra in set(arguments) - set(command.layout.names):
            raise CommandError(name, extra, f"{name} has no argument {extra}")
        raw = []
        for f in command.layout.values:
            if f.name not in arguments:
                raise CommandError(name, f.name, "argument missing")
            try:
                raw.append(f.check_argument(arguments[f.name]))
            except ValueError as exc:
                raise CommandError(name, f.name, str(exc)) from exc
        return raw

    def encode(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        sequence_count: int,
        ack_flags: int = ACK_ACCEPTANCE | ACK_COMPLETION,
    ) -> bytes:
        """A validated command as a whole TC packet."""
        command = self.definition(name)
        body = command.layout.pack_raw(self.validate(name, arguments))
        if command.function_id is not None:
            body = pack_function(command.function_id, body)
        return pack_tc(
            self.apid, sequence_count, command.service, command.subtype, body, self.source_id, ack_flags
        )


def parse_arguments(mdb: MissionDatabase, name: str, items: Sequence[str]) -> dict[str, Any]:
    """The CLI's ARG=VALUE words (``["TARGET=EARTH", "COUNT=2"]``) to typed values, or CommandError."""
    command = CommandEncoder(mdb).definition(name)
    fields = {f.name: f for f in command.layout.values}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().upper()
        if not sep:
            raise CommandError(name, None, f"{item!r} is not ARG=VALUE")
        f = fields.get(key)
        if f is None:
            raise CommandError(name, key, f"{name} has no argument {key}")
        text = text.strip()
        try:
            if f.kind == "enum":
                out[key] = text.upper() if not text.isdigit() else int(text)
            elif f.kind == "bool":
                out[key] = {"true": True, "1": True, "false": False, "0": False}[text.lower()]
            elif f.kind == "float":
                out[key] = float(text)
            else:
                out[key] = int(text, 0)
        except (ValueError, KeyError) as exc:
            raise CommandError(name, key, f"{text!r} is not a valid {f.kind}") from exc
    return out


class CommandHistory:
    """Every command sent, with its verification state; bounded (oldest forgotten first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._records: OrderedDict[RequestId, CommandRecord] = OrderedDict()
        self.unmatched_reports = 0

    def add(self, record: CommandRecord) -> None:
        self._records[record.request_id] = record
        record.transitions.append((record.state, record.sent_at))
        while len(self._records) > self.max_entries:
            self._records.popitem(last=False)

    def get(self, request_id: RequestId) -> CommandRecord | None:
        return self._records.get(request_id)

    def __iter__(self):
        return iter(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, report: VerificationReport, time: float) -> CommandRecord | None:
        """Advance a command's state from a 1,x report; reports for unknown commands are counted."""
        rid = report.request_id
        record = self._records.get(RequestId(rid.apid, rid.sequence_count))
        if record is None:
            self.unmatched_reports += 1
            return None
        new = {
            1: CommandState.ACCEPTED,
            2: CommandState.REJECTED,
            7: CommandState.COMPLETED,
            8: CommandState.FAILED,
        }[report.subtype]
        if record.done:
            return record  # a late or duplicated report does not reopen a finished command
        record.state = new
        if report.failure_code is not None:
            record.failure_code = report.failure_code
        record.transitions.append((new, time))
        return record


class CommandFailed(AssertionError):
    def __init__(self, record: CommandRecord) -> None:
        super().__init__(f"{record.name} ended {record.state.value} ({record.failure})")
        self.record = record


class CommandTimeout(TimeoutError):
    pass


Receive = Callable[[float], bytes | None]


class CommandClient:
    """Send commands and wait for their outcome and for telemetry, over any transport."""

    def __init__(
        self,
        mdb: MissionDatabase,
        send: Callable[[bytes], None],
        receive: Receive,
        telemetry: TelemetryProcessor | None = None,
        clock: Callable[[], float] = _time.monotonic,
        poll_s: float = 0.1,
    ) -> None:
        self.mdb = mdb
        self.encoder = CommandEncoder(mdb)
        self.history = CommandHistory()
        self.telemetry = telemetry if telemetry is not None else TelemetryProcessor(mdb)
        previous = self.telemetry.on_verification

        def on_verification(report: VerificationReport, time: float) -> None:
            self.history.apply(report, time)
            if previous is not None:
                previous(report, time)

        self.telemetry.on_verification = on_verification
        self._send = send
        self._receive = receive
        self._clock = clock
        self._poll_s = poll_s
        self._sequence = SequenceCounter()

    def send_command(self, name: str, arguments: Mapping[str, Any] | None = None) -> CommandRecord:
        """Validate, encode, send, and record one command (CommandError if it fails validation)."""
        count = self._sequence.next(self.encoder.apid)
        packet = self.encoder.encode(name, arguments, count)
        record = CommandRecord(name, dict(arguments or {}), RequestId(self.encoder.apid, count), packet,
                               self._clock())  # fmt: skip
        self.history.add(record)
        self._send(packet)
        return record

    def send_raw(self, packet: bytes, name: str = "RAW") -> CommandRecord:
        """Send bytes that skip ground validation (tests of the on-board checks); still tracked."""
        header = peek_header(packet)
        if header is None:
            raise ValueError(f"a telecommand needs a 6-octet primary header, not {len(packet)} octets")
        rid = RequestId(header.apid, header.sequence_count)
        record = CommandRecord(name, {}, rid, packet, self._clock())
        self.history.add(record)
        self._send(packet)
        return record

    def pump(self, timeout: float) -> int:
        """Receive and process telemetry for at most ``timeout`` seconds (one receive call)."""
        data = self._receive(max(0.0, timeout))
        if not data:
            return 0
        return self.telemetry.process_stream(data)

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = self._clock() + timeout
        while not done():
            remaining = deadline - self._clock()
            if remaining <= 0:
                return done()
            self.pump(min(self._poll_s, remaining))
        return True

    def wait_for(self, record: CommandRecord, timeout: float) -> CommandRecord:
        if not self._wait(lambda: record.done, timeout):
            raise CommandTimeout(f"{record.name} still {record.state.value} after {timeout} s")
        return record

    def send_and_assert_command(
        self, name: str, arguments: Mapping[str, Any] | None = None, timeout: float = 10.0
    ) -> CommandRecord:
        """Send and wait for completion; CommandFailed if rejected or failed, CommandTimeout if no verdict."""
        record = self.wait_for(self.send_command(name, arguments), timeout)
        if record.state is not CommandState.COMPLETED:
            raise CommandFailed(record)
        return record

    def await_telemetry(self, parameter: str, predicate: Callable[[Any], bool] | None = None,
                        timeout: float = 10.0) -> Any:  # fmt: skip
        """The first value of ``parameter`` arriving from now on that satisfies ``predicate``."""
        if parameter not in self.mdb.parameters:
            raise KeyError(f"no parameter {parameter} in the mission database")
        predicate = predicate or (lambda _value: True)
        found: list[Any] = []
        previous = self.telemetry.on_housekeeping

        def watch(report: HousekeepingReport) -> None:
            if not found and parameter in report.values and predicate(report.values[parameter]):
                found.append(report.values[parameter])
            if previous is not None:
                previous(report)

        self.telemetry.on_housekeeping = watch
        try:
            if not self._wait(lambda: bool(found), timeout):
                raise CommandTimeout(f"{parameter} did not satisfy the predicate within {timeout} s")
        finally:
            self.telemetry.on_housekeeping = previous
        return found[0]

    def await_event(self, name: str, predicate: Callable[[EventRecord], bool] | None = None,
                    timeout: float = 10.0) -> EventRecord:  # fmt: skip
        """The first event ``name`` logged from now on that satisfies ``predicate``."""
        if name not in self.mdb.event_by_name:
            raise KeyError(f"no event {name} in the mission database")
        predicate = predicate or (lambda _e: True)
        found: list[EventRecord] = []
        previous = self.telemetry.on_event

        def watch(event: EventRecord) -> None:
            if not found and event.name == name and predicate(event):
                found.append(event)
            if previous is not None:
                previous(event)

        self.telemetry.on_event = watch
        try:
            if not self._wait(lambda: bool(found), timeout):
                raise CommandTimeout(f"no {name} event within {timeout} s")
        finally:
            self.telemetry.on_event = previous
        return found[0]
