"""Ground commanding: validation naming the argument, encoding, history states, client API."""

from __future__ import annotations

import pytest

from groundstation.commanding import (
    CommandClient,
    CommandEncoder,
    CommandError,
    CommandHistory,
    CommandRecord,
    CommandState,
    CommandTimeout,
    parse_arguments,
)
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import (
    FailureCode,
    RequestId,
    VerificationReport,
    pack_function,
    pack_tc,
    unpack_tc,
)

MDB = load_mission_db()
ENCODER = CommandEncoder(MDB)
TAKE = {"TARGET": "EARTH", "EXPOSURE_US": 0, "COUNT": 1}


@pytest.mark.parametrize(
    ("name", "arguments", "argument"),
    [
        ("TAKE_PICTURE", {}, None),
        ("TAKE_IMAGE", TAKE | {"COUNT": 17}, "COUNT"),
        ("TAKE_IMAGE", TAKE | {"COUNT": "2"}, "COUNT"),
        ("TAKE_IMAGE", TAKE | {"COUNT": 1.5}, "COUNT"),
        ("TAKE_IMAGE", TAKE | {"EXPOSURE_US": -1}, "EXPOSURE_US"),
        ("TAKE_IMAGE", TAKE | {"TARGET": "MARS"}, "TARGET"),
        ("TAKE_IMAGE", TAKE | {"TARGET": 7}, "TARGET"),
        ("TAKE_IMAGE", {"TARGET": "EARTH", "COUNT": 1}, "EXPOSURE_US"),
        ("TAKE_IMAGE", TAKE | {"ZOOM": 2}, "ZOOM"),
        ("SET_MODE", {"MODE": True}, "MODE"),
        ("REQUEST_TIME_REPORT", {"GROUND_TAI_S": float("nan")}, "GROUND_TAI_S"),
    ],
)
def test_validation_names_the_argument(name, arguments, argument) -> None:
    with pytest.raises(CommandError) as error:
        ENCODER.encode(name, arguments, 0)
    assert error.value.argument == argument and error.value.command == name
    if argument:
        assert f"{name}.{argument}" in str(error.value)


def test_encoding_is_function_id_then_arguments_in_database_order() -> None:
    packet = ENCODER.encode("TAKE_IMAGE", {"TARGET": "MOON", "EXPOSURE_US": 5000, "COUNT": 3}, 7)
    expected = pack_tc(
        0x065, 7, 8, 1, pack_function(2, bytes([1]) + (5000).to_bytes(4, "big") + bytes([3])), 1
    )
    assert packet == expected
    tc = unpack_tc(ENCODER.encode("SET_HK_RATE", {"STRUCTURE_ID": 3, "PERIOD_MS": 500}, 8))
    assert (tc.service, tc.subtype, tc.app_data) == (3, 31, b"\x00\x03\x00\x00\x01\xf4")


def test_parse_arguments_from_cli_words() -> None:
    assert parse_arguments(MDB, "TAKE_IMAGE", ["target=moon", "EXPOSURE_US=0x10", "COUNT=2"]) == {
        "TARGET": "MOON", "EXPOSURE_US": 16, "COUNT": 2,
    }  # fmt: skip
    assert parse_arguments(MDB, "REQUEST_TIME_REPORT", ["GROUND_TAI_S=1.5"]) == {"GROUND_TAI_S": 1.5}
    with pytest.raises(CommandError) as error:
        parse_arguments(MDB, "TAKE_IMAGE", ["COUNT=two"])
    assert error.value.argument == "COUNT"
    with pytest.raises(CommandError):
        parse_arguments(MDB, "TAKE_IMAGE", ["COUNT"])


def record(count: int) -> CommandRecord:
    return CommandRecord("PING", {}, RequestId(0x65, count), b"", 0.0)


def test_history_follows_verification_and_ignores_late_reports() -> None:
    history = CommandHistory()
    ok, bad = record(1), record(2)
    history.add(ok)
    history.add(bad)
    history.apply(VerificationReport(1, RequestId(0x65, 1)), 1.0)
    assert ok.state is CommandState.ACCEPTED and not ok.done
    history.apply(VerificationReport(7, RequestId(0x65, 1)), 2.0)
    history.apply(VerificationReport(2, RequestId(0x65, 2), FailureCode.WRONG_MODE), 1.5)
    history.apply(VerificationReport(8, RequestId(0x65, 1), FailureCode.EXECUTION_FAILED), 3.0)  # too late
    assert [s for s, _ in ok.transitions] == [
        CommandState.SENT,
        CommandState.ACCEPTED,
        CommandState.COMPLETED,
    ]
    assert bad.state is CommandState.REJECTED and bad.failure == "WRONG_MODE"
    assert history.apply(VerificationReport(1, RequestId(0x65, 99)), 4.0) is None
    assert history.unmatched_reports == 1


def test_history_is_bounded() -> None:
    history = CommandHistory(max_entries=3)
    for i in range(5):
        history.add(record(i))
    assert len(history) == 3 and history.get(RequestId(0x65, 0)) is None


def test_client_times_out_when_nothing_answers() -> None:
    now = [0.0]
    sent: list[bytes] = []

    def silent(timeout: float) -> None:
        now[0] += timeout
        return None

    client = CommandClient(MDB, sent.append, silent, clock=lambda: now[0])
    with pytest.raises(CommandTimeout):
        client.send_and_assert_command("PING", timeout=2.0)
    assert len(sent) == 1 and client.history.get(RequestId(0x65, 0)).state is CommandState.SENT
    with pytest.raises(CommandTimeout):
        client.await_telemetry("MODE", timeout=1.0)
    with pytest.raises(KeyError):
        client.await_telemetry("NO_SUCH_PARAMETER", timeout=1.0)
    with pytest.raises(CommandError):
        client.send_command("PING", {"X": 1})
    assert len(sent) == 1  # nothing invalid leaves the ground
