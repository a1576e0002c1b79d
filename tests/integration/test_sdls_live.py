"""SDLS on the uplink of a live probe: only authenticated TC frames command it; attacks are refused,
counted by reason in SECURITY_HK, evented, never executed; valid commands keep working."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import zmq

from groundstation.command_link import open_command_client
from groundstation.commanding import CommandClient, CommandState
from protocols.capture.zmq_framing import TOPIC_UPLINK, Envelope, Layer
from protocols.coding.cltu import encode_cltu
from protocols.coding.crc import crc16
from protocols.link.channel_file import preset
from protocols.link.tc_frame import TcFrameEncoder
from protocols.mdb.mission_db import load_mission_db
from protocols.sdls import SecurityAssociation, SecurityContext
from protocols.sdls.keystore import generate, load_context, save_arsn
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint

pytestmark = pytest.mark.slow

SCENARIO = "tianwen1-2020-07-27"


@pytest.fixture
def secured(tmp_path: Path, processes: Processes):
    keys = tmp_path / "keys"
    generate(keys)
    downlink, uplink = free_endpoint(), free_endpoint()
    processes.start(
        "probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--seed", "3", "--keys", str(keys),
        "--rate", "2e6",  # the in-process client decodes every CADU: keep it up with the link when loaded
    )  # fmt: skip
    return keys, downlink, uplink


class Attacker:
    """A PUSH socket on the probe's uplink that sends whatever bytes it is given."""

    def __init__(self, uplink: str) -> None:
        self.socket = zmq.Context.instance().socket(zmq.PUSH)
        self.socket.setsockopt(zmq.LINGER, 1000)
        self.socket.connect(uplink)
        self.sequence = 0

    def send(self, payload: bytes, layer: Layer = Layer.CLTUS) -> None:
        self.sequence += 1
        self.socket.send_multipart([TOPIC_UPLINK, Envelope(layer, 666, self.sequence).pack(), payload])

    def close(self) -> None:
        self.socket.close()


def refit(frame: bytes) -> bytes:
    return frame[:-2] + crc16(frame[:-2]).to_bytes(2, "big")


def expect_rejection(client: CommandClient, attacker: Attacker, payload: bytes, reason: str,
                     layer: Layer = Layer.CLTUS) -> None:  # fmt: skip
    """Send ``payload``; SECURITY_HK's counter for ``reason`` goes up by one and an event names it."""

    def evented() -> int:
        return sum(e.values["REASON"] == reason for e in client.telemetry.events("TC_FRAME_REJECTED"))

    before, events_before = client.telemetry.latest.get(f"REJ_{reason}", 0), evented()
    attacker.send(payload, layer)
    assert client.await_telemetry(f"REJ_{reason}", lambda n: n > before, timeout=60) == before + 1
    deadline = time.monotonic() + 60
    while evented() == events_before and time.monotonic() < deadline:
        client.pump(0.2)
    assert evented() == events_before + 1


def test_attacks_are_refused_by_reason_and_valid_commands_still_work(secured) -> None:
    keys, downlink, uplink = secured
    mdb = load_mission_db()
    ground = load_context(keys, "ground")
    attacker = Attacker(uplink)

    def keep(context: SecurityContext) -> None:
        save_arsn(keys, "ground", context)

    try:
        with open_command_client(uplink, downlink, preset(), mdb, 60, ground, keep) as client:
            client.send_and_assert_command("PING", timeout=60)
            assert client.await_telemetry("SDLS_REQUIRED", timeout=60) is True
            assert client.await_telemetry("TC_SA_STATE", timeout=60) == "OPERATIONAL"
            safe = client.encoder.encode("SET_MODE", {"MODE": "SAFE"}, 900)
            scid, vcid = mdb.spacecraft_id, mdb.tc_virtual_channel

            # 1. unauthenticated: a bare packet, and a well-formed TC frame without SDLS
            expect_rejection(client, attacker, safe, "UNAUTHENTICATED", Layer.PACKETS)
            plain = TcFrameEncoder(scid, vcid).frame(safe)
            expect_rejection(client, attacker, encode_cltu(plain), "BAD_SPI")
            # 2. a valid secured frame with one MAC bit flipped (FECF recomputed, as an attacker would)
            frame = bytearray(ground.protect_tc(scid, vcid, 1, safe))
            frame[-3] ^= 0x01
            expect_rejection(client, attacker, encode_cltu(refit(bytes(frame))), "BAD_MAC")
            # 3. replay of a captured valid command: executed once only
            ping = client.encoder.encode("PING", {}, 901)
            captured = encode_cltu(ground.protect_tc(scid, vcid, 2, ping))
            attacker.send(captured)
            client.await_telemetry("TC_SA_ARSN", lambda n: n == ground.arsn[1], timeout=60)
            expect_rejection(client, attacker, captured, "REPLAYED")
            # 4. a sequence number beyond the window
            ground.arsn[1] += 100
            expect_rejection(
                client, attacker, encode_cltu(ground.protect_tc(scid, vcid, 3, safe)), "OUT_OF_WINDOW"
            )
            ground.arsn[1] -= 101
            # 5. an unknown SPI (same key, SA the probe does not have)
            rogue_sa = SecurityAssociation(spi=77, link="tc", vcid=vcid, key_id=1)
            rogue = SecurityContext([rogue_sa], ground.keys)
            expect_rejection(client, attacker, encode_cltu(rogue.protect_tc(scid, vcid, 4, safe)), "BAD_SPI")
            # 6. a truncated frame and 7. an oversized one (valid frame, 300 octets more in the CLTU)
            good = ground.protect_tc(scid, vcid, 5, safe)
            ground.arsn[1] -= 1  # that frame never went up: its ARSN is reused below
            expect_rejection(client, attacker, encode_cltu(good[:20]), "WRONG_LENGTH")
            expect_rejection(client, attacker, encode_cltu(good + bytes(300)), "WRONG_LENGTH")

            # nothing was executed: still CRUISE, one PING by the client and one by the captured frame
            record = client.send_and_assert_command("PING", timeout=60)
            assert [s for s, _ in record.transitions][-1] is CommandState.COMPLETED
            assert client.await_telemetry("CMD_ACCEPTED", lambda n: n >= 3, timeout=60) == 3
            assert client.await_telemetry("MODE", timeout=60) == "CRUISE"
            assert client.telemetry.latest["CMD_REJECTED"] == 0
            counts = {r: client.telemetry.latest[f"REJ_{r}"] for r in ("BAD_SPI", "BAD_MAC", "REPLAYED",
                      "OUT_OF_WINDOW", "WRONG_LENGTH", "UNAUTHENTICATED", "SA_NOT_OPERATIONAL")}  # fmt: skip
            assert counts == {"BAD_SPI": 2, "BAD_MAC": 1, "REPLAYED": 1, "OUT_OF_WINDOW": 1,
                              "WRONG_LENGTH": 2, "UNAUTHENTICATED": 1, "SA_NOT_OPERATIONAL": 0}  # fmt: skip
        # `paleblue cmd --keys` continues the ARSN sequence the client left in the key directory
        result = subprocess.run(
            [*PALEBLUE, "cmd", "SET_MODE", "MODE=IMAGING", "--uplink", uplink, "--downlink", downlink,
             "--keys", str(keys), "--wait", "--timeout", "60"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        unauthenticated = subprocess.run(
            [*PALEBLUE, "cmd", "PING", "--uplink", uplink, "--downlink", downlink, "--wait",
             "--timeout", "5"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert unauthenticated.returncode == 3  # no verdict: the probe never executed it
    finally:
        attacker.close()


def test_probe_with_unsafe_key_file_refuses_to_start(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    (keys / "keys.json").chmod(0o644)
    result = subprocess.run([*PALEBLUE, "probe", SCENARIO, "--keys", str(keys)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "chmod 600" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_keys_never_reach_a_recording_a_log_or_a_product(tmp_path: Path, processes: Processes) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    secrets = [k.secret for k in load_context(keys, "ground").keys.values()]
    downlink, uplink = free_endpoint(), free_endpoint()
    out, recording, probe_log = tmp_path / "out", tmp_path / "pass.pbr", tmp_path / "probe.log"
    with probe_log.open("w") as log:
        processes.start("probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--keys", str(keys),
                        "--subscribers", "2", "--rate", "2e6", "-v", stderr=log)  # fmt: skip
        ground = processes.start(
            "ground", "--downlink", downlink, "-o", str(out), "--expect-images", "1", "--timeout", "120",
            "--record", str(recording), stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        ground_ctx = load_context(keys, "ground")
        with open_command_client(uplink, downlink, preset(), None, 60, ground_ctx) as client:
            client.send_and_assert_command("PING", timeout=60)
            client.send_and_assert_command("SET_MODE", {"MODE": "IMAGING"}, timeout=60)
            Attacker(uplink).send(b"garbage")  # a refusal is logged too
            client.await_telemetry("REJ_BAD_FRAME", lambda n: n >= 1, timeout=60)
        assert ground.wait(120) == 0
    files = [recording, probe_log, *out.rglob("*")]
    assert recording.stat().st_size > 0 and any(f.name == "summary.json" for f in files)
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret not in data and secret.hex().encode() not in data, path
