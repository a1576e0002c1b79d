"""ZeroMQ CURVE (--curve-keys): a client without a known key hears nothing and commands nothing;
with the key, a full pass and commanding work."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import zmq

from groundstation.command_link import open_command_client
from groundstation.commanding import CommandEncoder
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, TOPIC_UPLINK, Envelope, Layer
from protocols.coding.cltu import encode_cltu
from protocols.link.channel_file import preset
from protocols.link.tc_frame import TcFrameEncoder
from protocols.mdb.mission_db import load_mission_db
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint
from transport.curve import connect_curve, generate_curve_keys

pytestmark = pytest.mark.slow

SCENARIO = "tianwen1-2020-07-27"


def test_curve_only_known_keys_connect(tmp_path: Path, processes: Processes) -> None:
    keys = tmp_path / "curve"
    generate_curve_keys(keys)
    downlink, uplink = free_endpoint(), free_endpoint()
    processes.start("probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--seed", "4",
                    "--curve-keys", str(keys), "--rate", "2e6")  # fmt: skip
    mdb = load_mission_db()
    plain = zmq.Context()
    try:
        # without the keys: a subscriber hears nothing, and a PING pushed up is never executed
        sub = plain.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC_DOWNLINK)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(downlink)
        push = plain.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(uplink)
        ping = TcFrameEncoder(mdb.spacecraft_id, mdb.tc_virtual_channel).frame(
            CommandEncoder(mdb).encode("PING", {}, 7)
        )
        push.send_multipart(
            [TOPIC_UPLINK, Envelope(Layer.CLTUS, 1, 0).pack(), encode_cltu(ping)], zmq.NOBLOCK
        )
        # with them: a full pass (the ground station gets the scenario's image) ...
        out = tmp_path / "out"
        ground = subprocess.run(
            [*PALEBLUE, "ground", "--downlink", downlink, "-o", str(out), "--expect-images", "1",
             "--timeout", "120", "--curve-keys", str(keys)],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert ground.returncode == 0, ground.stderr[-2000:]
        assert [p["complete"] for p in json.loads((out / "summary.json").read_text())["images"]] == [True]
        assert sub.poll(1000) == 0  # the unkeyed subscriber heard nothing during the whole pass
        # ... and commanding: only the keyed client's PING was executed
        keyed = zmq.Context()
        connect_curve(keyed, keys)
        try:
            with open_command_client(uplink, downlink, preset(), mdb, 60, context=keyed) as client:
                client.send_and_assert_command("PING", timeout=60)
                assert client.await_telemetry("CMD_ACCEPTED", lambda n: n >= 1, timeout=60) == 1
        finally:
            keyed.destroy(linger=0)
        unkeyed = subprocess.run(
            [*PALEBLUE, "cmd", "PING", "--uplink", uplink, "--downlink", downlink, "--timeout", "3"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert unkeyed.returncode == 2 and "no downlink heard" in unkeyed.stderr
    finally:
        plain.destroy(linger=0)


def test_missing_curve_secret_is_a_one_line_error(tmp_path: Path) -> None:
    keys = tmp_path / "curve"
    generate_curve_keys(keys)
    (keys / "ground.key_secret").chmod(0o644)
    result = subprocess.run([*PALEBLUE, "cmd", "PING", "--curve-keys", str(keys)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "chmod 600" in result.stderr and "Traceback" not in result.stderr
