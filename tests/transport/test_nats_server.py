"""The local nats-server helper: real processes on free ports, always stopped, a cluster of three."""

from __future__ import annotations

import asyncio
import socket

import nats
import pytest

from transport.nats_bus import ensure_stream
from transport.nats_server import HOST, NatsServer, NatsServerError, find_nats_server

pytestmark = pytest.mark.timeout(120)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_the_wheel_ships_a_server_binary() -> None:
    assert find_nats_server().endswith("nats-server")


def test_server_starts_with_jetstream_and_always_stops(tmp_path) -> None:
    with NatsServer(tmp_path / "store") as server:
        assert server.running and port_open(server.port)
        assert server.url == f"nats://127.0.0.1:{server.port}"
    assert not server.running and not port_open(server.port)
    assert (tmp_path / "store").is_dir()


def test_a_server_that_cannot_start_is_said_and_stopped(tmp_path, nats_server) -> None:
    clash = NatsServer(tmp_path / "other", nats_server.port)  # the port is taken
    with pytest.raises(NatsServerError):
        clash.start(timeout_s=5)
    assert not clash.running


def test_three_servers_form_one_jetstream_cluster(nats_cluster) -> None:
    async def replicated_stream() -> int:
        nc = await nats.connect([s.url for s in nats_cluster])
        try:
            js = nc.jetstream()
            await ensure_stream(js, replicas=3, stream="T")
            for k in range(10):
                await js.publish("paleblue.frames.x", b"%d" % k, headers={"Nats-Msg-Id": str(k)})
            info = await js.stream_info("T")
            return info.state.messages, len(info.cluster.replicas or []) + 1
        finally:
            await nc.close()

    messages, copies = asyncio.run(replicated_stream())
    assert (messages, copies) == (10, 3)
