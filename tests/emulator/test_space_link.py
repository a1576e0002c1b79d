"""The probe's CADU downlink when idle (issue 14, item 6): a few idle CADUs a second instead of the
link rate, the frame clock still running, no frame count gap for the ground, no idle fill after an
idle stretch, full messages again under a backlog, nothing sent outside a pass."""

from __future__ import annotations

from emulator.link_simulator import LinkConfig, LinkSimulator, Pass
from emulator.space_link import CADUS_PER_MESSAGE, IDLE_FRAME_PERIOD_S, VC_PAYLOAD, VC_REALTIME, CaduDownlink
from groundstation.link_receiver import LinkReceiver
from protocols.capture.zmq_framing import Layer
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SpacePacket

CONFIG = preset()
RATE = 1000 * CONFIG.cadu_length * 8  # 1,000 frame times a second


class FakeStop:
    """Never sleeps: waiting moves a fake clock on."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float | None = None) -> bool:
        self.now += timeout or 0.0
        return False


class Wire:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def send(self, layer: Layer, payload: bytes, stop=None) -> bool:
        assert layer == Layer.CADUS
        self.messages.append(payload)
        return True


def _link(simulator: LinkSimulator | None = None) -> tuple[CaduDownlink, Wire, FakeStop]:
    stop, wire = FakeStop(), Wire()
    return CaduDownlink(wire, CONFIG, RATE, simulator=simulator, clock=stop.clock), wire, stop  # type: ignore[arg-type]


def _cadus(message: bytes) -> int:
    assert len(message) % CONFIG.cadu_length == 0
    return len(message) // CONFIG.cadu_length


def _packet(sequence: int, size: int = 200) -> bytes:
    return SpacePacket(0x64, sequence, bytes(size)).pack()


def test_an_idle_link_sends_a_few_idle_cadus_and_counts_the_frame_times() -> None:
    link, wire, stop = _link()
    while stop.now < 10.0:
        link.send_batch(stop)  # type: ignore[arg-type]
    counters = link.transmitter.counters
    # one idle CADU every IDLE_FRAME_PERIOD_S, each in its own message
    assert abs(len(wire.messages) - 10.0 / IDLE_FRAME_PERIOD_S) <= 2
    assert all(_cadus(m) == 1 for m in wire.messages)
    assert counters.cadus == counters.idle_frames == len(wire.messages)
    # the frame clock ran at the link rate: every frame time made into a CADU or counted
    assert abs(link.transmitter.frame_times - 1000 * stop.now) <= 1
    assert counters.idle_frames_skipped == link.transmitter.frame_times - counters.cadus
    # the ground sees a gapless master channel of idle frames
    ground = LinkReceiver(CONFIG)
    for message in wire.messages:
        assert ground.feed(message) == []
    assert ground.counters.idle_frames == len(wire.messages)
    assert ground.counters.mc_frames_missing == 0 and ground.counters.frames_good == len(wire.messages)


def test_after_idle_only_the_data_goes_out_and_a_backlog_fills_messages_again() -> None:
    link, wire, stop = _link()
    for _ in range(30):
        link.send_batch(stop)  # type: ignore[arg-type]
    idle_messages = len(wire.messages)
    link.submit(VC_REALTIME, _packet(0))  # housekeeping, say: one frame
    link.send_batch(stop)  # type: ignore[arg-type]
    assert _cadus(wire.messages[-1]) == 1 and link.transmitter.counters.idle_frames == idle_messages
    for k in range(40):  # a backlog of several messages of frames
        link.submit(VC_PAYLOAD, _packet(k, 1000))
    sizes = []
    while link.has_pending():
        link.send_batch(stop)  # type: ignore[arg-type]
        sizes.append(_cadus(wire.messages[-1]))
    assert sizes[0] == CADUS_PER_MESSAGE  # the first one after idle: data only, and there is enough
    assert all(size == CADUS_PER_MESSAGE for size in sizes)  # the busy link completes its last message
    ground = LinkReceiver(CONFIG)
    packets = [p for m in wire.messages for p in ground.feed(m)]
    assert len(packets) == 41 and ground.counters.mc_frames_missing == 0


def test_no_idle_cadu_outside_a_pass_and_what_is_in_flight_still_arrives() -> None:
    simulator = LinkSimulator(LinkConfig(data_rate_bps=RATE, range_km=299_792.458, passes=(Pass(0.0, 2.0),)))
    link, wire, stop = _link(simulator)
    link.submit(VC_REALTIME, _packet(0))
    link.send_batch(stop)  # type: ignore[arg-type]
    assert wire.messages == []  # one second of light time
    while stop.now < 6.0:
        link.send_batch(stop)  # type: ignore[arg-type]
    sent = simulator.counters.units_sent
    assert wire.messages and simulator.counters.lost_outside_pass == 0
    # the first message (a link that starts busy completes it with idle frames), then one idle CADU
    # every IDLE_FRAME_PERIOD_S in the pass only
    assert abs(sent - CADUS_PER_MESSAGE - 2.0 / IDLE_FRAME_PERIOD_S) <= 2
    assert sum(_cadus(m) for m in wire.messages) == simulator.counters.delivered == sent
    assert abs(link.transmitter.frame_times - 1000 * stop.now) <= 1  # the clock runs on outside
