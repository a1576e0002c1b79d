"""A station's frame reports: every sound non-idle frame once, with its quality and wrap epoch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.bus_reporter import FrameReporter, WrapCounter
from groundstation.station import GroundStation
from protocols.bus.frame_report import Fecf, FrameReport, Sync
from protocols.capture.zmq_framing import Layer
from protocols.link.channel_file import preset
from protocols.packets.space_packet import SpacePacket


def one_frame_packet(config, k: int) -> bytes:
    """A packet that fills one frame's data field exactly (an IDLE APID: the station ignores it)."""
    return SpacePacket(
        apid=0x7FF, sequence_count=k, data=bytes([k % 256]) * (config.packet_zone_length - 6)
    ).pack()


@given(st.integers(4, 300), st.lists(st.integers(1, 40), min_size=1, max_size=200))
def test_wrap_epochs_follow_the_unwrapped_count(modulo: int, steps: list[int]) -> None:
    wraps = WrapCounter(modulo)
    unwrapped = 0
    for step in steps:
        step = min(step, modulo // 2)
        unwrapped += step
        assert wraps.epoch((1, 1), unwrapped % modulo) == unwrapped // modulo
        late = unwrapped - min(step, modulo // 2 - 1)  # a frame from a little earlier, once more
        assert wraps.epoch((1, 1), late % modulo) == late // modulo
    assert wraps.epoch((1, 2), 5) == 0  # each virtual channel counts its own wraps


def test_station_reports_every_data_frame_with_its_wrap_epoch(tmp_path) -> None:
    config = preset()
    tx = Transmitter(config, {1: 0})
    for k in range(300):
        tx.submit(1, one_frame_packet(config, k))
    cadus = b"".join(tx.next_cadu() for _ in range(310))  # the last ten are idle
    reports: list[FrameReport] = []
    station = GroundStation(tmp_path, channel=config, write_products=False)
    FrameReporter("gds", reports.append, config, lambda: station.link.state).attach(station.link)
    station.feed_stream(Layer.CADUS, cadus)
    station.finish()
    assert len(reports) == 300
    assert [r.count_epoch * 256 + r.frame_count for r in reports] == list(range(300))
    assert {(r.station_id, r.spacecraft_id, r.vcid) for r in reports} == {("gds", config.spacecraft_id, 1)}
    assert all(r.fecf is Fecf.GOOD and r.sync is Sync.LOCK and r.rs_corrected == 0 for r in reports)
    assert len({r.message_id for r in reports}) == 300
    assert all(len(r.frame) == config.frame_length for r in reports)


def test_corrections_are_reported(tmp_path) -> None:
    config = preset()
    tx = Transmitter(config, {1: 0})
    tx.submit(1, one_frame_packet(config, 0))
    cadu = bytearray(tx.next_cadu())
    for at in (100, 200, 300):  # three symbols of one codeword in error
        cadu[at] ^= 0xFF
    reports: list[FrameReport] = []
    station = GroundStation(tmp_path, channel=config, write_products=False)
    FrameReporter("gds", reports.append, config).attach(station.link)
    station.feed_stream(Layer.CADUS, bytes(cadu) + tx.next_cadu())
    station.finish()
    assert [r.rs_corrected for r in reports] == [3]
