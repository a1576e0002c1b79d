"""COP-1 on a live probe: `open_command_client(..., cop1=Fop1())` sends PINGs as SDLS-secured
Type-AD frames through an uplink that loses five of the first twelve CLTUs; FOP-1 retransmits from
the CLCWs in the downlink's OCFs and its timer, FARM-1 on board takes each frame once and in order:
every PING is executed exactly once, and the FARM reports its changes in FARM_STATUS events."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import zmq

from groundstation.command_link import open_command_client
from groundstation.commanding import CommandState
from protocols.link.channel_file import preset
from protocols.link.fop import Fop1, FopState
from protocols.mdb.mission_db import load_mission_db
from protocols.sdls.keystore import generate, load_context
from tests.integration.conftest import Processes, free_endpoint

pytestmark = pytest.mark.slow


class LossyUplink:
    """PULL from the client, PUSH to the probe, dropping the messages numbered in ``drop`` (1-based; not
    periodic: a period equal to the retransmitted window would drop the same frame every round)."""

    def __init__(self, listen: str, probe: str, drop: frozenset[int] = frozenset({2, 4, 7, 8, 12})) -> None:
        ctx = zmq.Context.instance()
        self.pull = ctx.socket(zmq.PULL)
        self.pull.bind(listen)
        self.push = ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 1000)
        self.push.connect(probe)
        self.drop, self.seen, self.dropped = drop, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self.pull.poll(50):
                continue
            parts = self.pull.recv_multipart()
            self.seen += 1
            if self.seen in self.drop:
                self.dropped += 1
                continue
            self.push.send_multipart(parts)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.pull.close()
        self.push.close()


def test_pings_under_cop1_over_a_lossy_uplink_execute_once_each(tmp_path: Path, processes: Processes) -> None:
    keys = tmp_path / "keys"
    generate(keys)
    downlink, uplink, lossy = free_endpoint(), free_endpoint(), free_endpoint()
    processes.start(
        "probe", "tianwen1-2020-07-27", "--downlink", downlink, "--uplink", uplink, "--seed", "3",
        "--keys", str(keys), "--rate", "2e6",
    )  # fmt: skip
    proxy = LossyUplink(lossy, uplink)
    fop = Fop1(window=4, t1_s=1.5, transmission_limit=20)
    try:
        with open_command_client(lossy, downlink, preset(), load_mission_db(), 60,
                                 load_context(keys, "ground"), cop1=fop) as client:  # fmt: skip
            records = [client.send_command("PING", {}) for _ in range(6)]
            for record in records:
                assert client.wait_for(record, 90).state is CommandState.COMPLETED
            assert client.link.flush(60)  # type: ignore[attr-defined]
            assert client.await_telemetry("CMD_ACCEPTED", lambda n: n >= 6, timeout=60) == 6
            client.pump(3.0)
            assert client.telemetry.latest["CMD_ACCEPTED"] == 6  # no retransmission executed twice
            assert sum(client.telemetry.latest[f"REJ_{r}"] for r in ("REPLAYED", "BAD_MAC", "BAD_SPI")) == 0
            # the FARM told the ground of its changes by event: each gap (the retransmit flag set) and
            # each recovery (the expected frame clearing it)
            farm = [e.values for e in client.telemetry.events("FARM_STATUS")]
            causes = [v["CAUSE"] for v in farm if v["CAUSE"] != "SET_VR"]
            assert "RETRANSMIT" in causes and causes[-1] == "IN_SEQUENCE", farm
            assert all(v["STATE"] == "OPEN" for v in farm) and 0 < farm[-1]["V_R"] <= 6
    finally:
        proxy.close()
    assert proxy.dropped == 5
    counts = fop.summary()
    assert fop.state is FopState.ACTIVE and fop.alerts == []
    assert counts["ad_frames_sent"] == 6 and counts["ad_frames_acknowledged"] == 6
    assert counts.get("ad_frames_retransmitted", 0) > 0 or counts.get("bc_frames_sent", 0) > 1
