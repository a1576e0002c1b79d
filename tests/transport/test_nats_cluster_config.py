"""The README's several-hosts example, as written: its nats-server configuration (three servers,
here on loopback ports with the hosts and ports swapped for free ones) forms one JetStream cluster
that keeps the stations' reports when one server is killed, and its commands parse."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from paleblue.cli import build_parser
from protocols.bus.frame_report import FrameReport
from transport.nats_bus import FrameConsumer, FramePublisher
from transport.nats_server import NatsServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.split(r"\n##+ ", README.read_text().split("### On several hosts\n", 1)[1], maxsplit=1)[0]


def readme_config() -> str:
    (block,) = [b for b in re.findall(r"```\n(.*?)```", SECTION, re.DOTALL) if "server_name: h1" in b]
    return block


def readme_commands() -> list[list[str]]:
    (block,) = re.findall(r"```sh\n(.*?)```", SECTION, re.DOTALL)
    bus = re.search(r"^BUS=(\S+)", block, re.MULTILINE).group(1)
    lines = [line.replace("$BUS", bus) for line in block.splitlines() if line.startswith("paleblue ")]
    return [shlex.split(line, comments=True) for line in lines]


def test_the_readme_commands_parse_and_name_every_server() -> None:
    commands = readme_commands()
    assert [argv[1] for argv in commands] == ["ground", "merge", "watch"]
    parser = build_parser()
    parsed = {argv[1]: parser.parse_args(argv[1:]) for argv in commands}  # a stale flag fails here
    servers = "nats://h1:4222,nats://h2:4222,nats://h3:4222"
    assert parsed["ground"].bus == parsed["merge"].bus == servers
    assert parsed["merge"].archive and parsed["merge"].api


def test_the_readme_cluster_configuration_keeps_the_pass_when_a_server_dies(tmp_path: Path) -> None:
    config = readme_config()
    hosts = ("h1", "h2", "h3")
    ports = {h: free_port() for h in hosts}
    routes = {h: free_port() for h in hosts}
    servers = []
    for host in hosts:
        text = config.replace("server_name: h1", f"server_name: {host}-{ports[host]}")
        text = text.replace("0.0.0.0:4222", f"127.0.0.1:{ports[host]}")
        text = text.replace("0.0.0.0:6222", f"127.0.0.1:{routes[host]}")
        text = text.replace("/var/lib/nats/paleblue", str(tmp_path / host))
        for other in hosts:
            text = text.replace(f"//{other}:6222", f"//127.0.0.1:{routes[other]}")
        assert "0.0.0.0" not in text and "/var/lib" not in text and "h2:" not in text
        path = tmp_path / f"{host}.conf"
        path.write_text(text)
        servers.append(
            NatsServer(tmp_path / host, ports[host], name=f"{host}-{ports[host]}", config_file=path)
        )
    try:
        for server in servers:
            server.start(20.0)
        url = ",".join(s.url for s in servers)  # as the README's $BUS: three replicas
        frames = 600
        with FramePublisher(url, ack_timeout_s=2.0) as publisher:
            for count in range(frames):
                report = FrameReport(
                    "gds", time.time_ns(), 245, 1, count % 256, bytes(100), count_epoch=count // 256
                )
                publisher.publish(report)
                if count == frames // 2:
                    servers[0].kill()  # kill -9 one server mid-pass
        counters = publisher.counters
        assert counters.failed == counters.queue_full == 0
        assert counters.stored + counters.duplicates == frames
        got = []
        with FrameConsumer(",".join(s.url for s in servers[1:])) as consumer:
            deadline = time.monotonic() + 60
            while len(set(got)) < frames and time.monotonic() < deadline:
                for message in consumer.fetch(1024, 0.2):
                    report = FrameReport.unpack(message.data)
                    got.append(report.count_epoch * 256 + report.frame_count)
            got += [0 for _ in consumer.fetch(1024, 1.0)]  # anything stored twice would come now
        assert sorted(got) == list(range(frames))  # nothing lost, nothing stored twice
    finally:
        for server in servers:
            server.stop()


def test_the_readme_uplink_commands_parse() -> None:
    section = README.read_text().split("### Uplink through one station at a time\n", 1)[1]
    (block,) = re.findall(r"```sh\n(.*?)```", re.split(r"\n##+ ", section, maxsplit=1)[0], re.DOTALL)
    argvs = [shlex.split(line.replace("$BUS", "nats://h1:4222")) for line in block.splitlines() if line]
    parser = build_parser()
    ground, merge = (parser.parse_args(argv[1:]) for argv in argvs)
    assert ground.uplink and ground.bus and ground.station_id == "gds"
    assert merge.uplink_via == "auto" and merge.api
