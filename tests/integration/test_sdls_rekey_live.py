"""SA management on a live probe (355.1-B-1 style, as authenticated TCs): rekey during a pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from groundstation.command_link import open_command_client
from groundstation.commanding import CommandClient, CommandFailed
from protocols.coding.cltu import encode_cltu
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import FailureCode
from protocols.sdls import SecurityContext
from protocols.sdls.frames import apply_tc
from protocols.sdls.keystore import generate, load_context, save_arsn
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint
from tests.integration.test_sdls_live import Attacker

pytestmark = pytest.mark.slow

SCENARIO = "tianwen1-2020-07-27"


def managed(client: CommandClient, ground: SecurityContext, name: str, **args: int) -> dict:
    """An SA command, completed on board, then mirrored on the ground's copy of the SAs; its SA_STATUS."""
    before = len(client.telemetry.events("SA_STATUS"))
    client.send_and_assert_command(name, args, timeout=60)
    ground.manage(name, args)
    events = client.telemetry.events("SA_STATUS")  # sent with the completion report, so already here
    assert len(events) == before + 1
    return events[-1].values


def test_rekey_during_a_pass(tmp_path: Path, processes: Processes) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    downlink, uplink = free_endpoint(), free_endpoint()
    processes.start(
        "probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--keys", str(keys), "--rate", "2e6"
    )  # fmt: skip
    mdb = load_mission_db()
    ground = load_context(keys, "ground")
    attacker = Attacker(uplink)
    try:
        with open_command_client(uplink, downlink, preset(), mdb, 60, ground,
                                 lambda ctx: save_arsn(keys, "ground", ctx)) as client:  # fmt: skip
            client.send_and_assert_command("PING", timeout=60)  # SPI 1, key 1
            status = managed(client, ground, "SDLS_STOP_SA", SPI=1)  # sent under SPI 1 itself
            assert status["STATE"] == "KEYED"
            assert ground.sending_sa("tc", 0).spi == 2  # from now on SPI 2 carries the commands
            status = managed(client, ground, "SDLS_REKEY_SA", SPI=1, KEY_ID=2, ARSN=0)
            assert (status["STATE"], status["KEY_ID"], status["ARSN"]) == ("KEYED", 2, 0)
            status = managed(client, ground, "SDLS_START_SA", SPI=1)
            assert status["STATE"] == "OPERATIONAL"
            client.send_and_assert_command("PING", timeout=60)  # SPI 1 again, key 2
            # a frame under the old key, with a fresh ARSN: refused, not executed
            sa_old_key = ground.sas[1]  # the SA as defined: key 1
            forged = apply_tc(sa_old_key, ground.keys[1], ground.arsn[1] + 1, mdb.spacecraft_id, 9,
                              client.encoder.encode("SET_MODE", {"MODE": "SAFE"}, 990))  # fmt: skip
            attacker.send(encode_cltu(forged))
            assert client.await_telemetry("REJ_BAD_MAC", lambda n: n >= 1, timeout=60) == 1
            status = managed(client, ground, "SDLS_READ_ARSN", SPI=1)
            assert (status["STATE"], status["KEY_ID"], status["ARSN"]) == ("OPERATIONAL", 2, ground.arsn[1])
            # a refused SA command is a PUS 1,8 failure: SPI 1 is already operational
            with pytest.raises(CommandFailed) as failed:
                client.send_and_assert_command("SDLS_START_SA", {"SPI": 1}, timeout=60)
            assert failed.value.record.failure_code == FailureCode.EXECUTION_FAILED
            assert client.await_telemetry("MODE", timeout=60) == "CRUISE"
        # `paleblue cmd --keys` continues from the state the client saved (key 2 on SPI 1)
        result = subprocess.run(
            [*PALEBLUE, "cmd", "SDLS_READ_ARSN", "SPI=1", "--uplink", uplink, "--downlink", downlink,
             "--keys", str(keys), "--wait", "--timeout", "60"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert "SA 1: OPERATIONAL, key 2" in result.stdout
    finally:
        attacker.close()
