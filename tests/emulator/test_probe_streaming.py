"""The probe streams its images: each is rendered and packetized when the payload channel has room,
so memory does not grow with the number of images (issue 16: 32 images of 1024x1024 once filled the
transmitter's 64 MiB and stopped the probe with "VC 1 already holds ... octets").

The packets are those of a probe that packetized everything at start, in the same order, with the
same sequence counts and time stamps; DOWNLINK_IMAGE makes an image's packets again to the byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import emulator.probe as probe_module
from emulator.probe import PendingCapture, Probe, ProbeOptions
from emulator.scenario import load_scenario
from emulator.space_link import VC_PAYLOAD
from protocols.packets.time_code import CucTime

SEEDS = Path(probe_module.__file__).parent / "seeds"


def many_small_images(tmp_path: Path, count: int, seed: str = "tianwen1-2020-07-27") -> Path:
    """A seed with ``count`` images of 64x64 (the field of view kept: a 16 times coarser pitch)."""
    text = (SEEDS / f"{seed}.toml").read_text()
    pitch = {"tianwen1-2020-07-27": "5.5", "dscovr-epic-2015-07-16": "30.0"}[seed]
    for old, new in [
        ("image_count = 1", f"image_count = {count}"),
        ("width_px = 1024", "width_px = 64"),
        ("height_px = 1024", "height_px = 64"),
        (f"pixel_pitch_um = {pitch}", f"pixel_pitch_um = {float(pitch) * 16}"),
        (f'name = "{seed}"', 'name = "many-small"'),
    ]:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "many-small.toml"
    path.write_text(text)
    return path


class PayloadChannel:
    """Stands in for the link: keeps what is submitted and drains it on request."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.waiting = 0

    def submit(self, vcid: int, packet: bytes) -> None:
        assert vcid == VC_PAYLOAD
        self.packets.append(packet)
        self.waiting += len(packet)

    def payload_octets(self) -> int:
        return self.waiting


def test_images_are_packetized_as_the_link_drains_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    count = 40
    scenario = load_scenario(many_small_images(tmp_path, count))
    now = CucTime.from_seconds(1000.0)

    # what a probe that queued every image at start sent
    eager = Probe(scenario, ProbeOptions(downlink="unused", seed=5))
    images = (eager._packetize(i, eager._capture(i), now=now) for i in range(1, count + 1))
    expected = [p for capture in images for _, image in capture for p in image.packets]
    image_octets = sum(len(p) for p in expected) // count

    budget = 3 * image_octets  # the channel is topped up to about three images
    monkeypatch.setattr(probe_module, "FEED_BELOW_OCTETS", budget)
    probe = Probe(scenario, ProbeOptions(downlink="unused", seed=5))
    link = PayloadChannel()
    probe._link = link  # type: ignore[assignment]
    for image_id in range(1, count + 1):
        probe._wait_for_link(PendingCapture(image_id, time=now))
    rendered_ahead = []
    while probe._pending:
        probe._feed(link)  # type: ignore[arg-type]
        assert link.waiting < budget + 2 * image_octets  # never the whole scenario
        rendered_ahead.append(count - len(probe._pending))
        link.waiting = max(0, link.waiting - image_octets)  # the link sends about one image
    assert link.packets == expected
    assert rendered_ahead[0] < count / 4  # at the start, only the first few images were made

    # DOWNLINK_IMAGE of an image sent before: the same packets again (re-rendered from its recipe)
    sent = len(link.packets)
    probe._queue_image(7)
    probe._feed(link)  # type: ignore[arg-type]
    per_image = len(expected) // count  # every image of the scenario has the same size
    assert link.packets[sent:] == expected[6 * per_image : 7 * per_image]


def test_downlink_of_an_image_never_taken_is_refused(tmp_path: Path) -> None:
    probe = Probe(load_scenario(many_small_images(tmp_path, 2)), ProbeOptions(downlink="unused", seed=5))
    probe._link = PayloadChannel()  # type: ignore[assignment]
    probe._wait_for_link(PendingCapture(1))
    probe._queue_image(1)  # captured, still waiting for the link: accepted
    with pytest.raises(KeyError):
        probe._queue_image(2)


def test_a_colour_capture_streams_every_band_and_comes_again_to_the_byte(tmp_path: Path) -> None:
    """DSCOVR's EPIC: three bands a capture, each its own image (ids 3n-2..3n); streamed, the
    packets are those of a probe that packetized everything at start, and DOWNLINK_IMAGE of a
    capture makes all three bands' packets again."""
    count = 3
    scenario = load_scenario(many_small_images(tmp_path, count, "dscovr-epic-2015-07-16"))
    now = CucTime.from_seconds(1000.0)
    eager = Probe(scenario, ProbeOptions(downlink="unused", seed=9))
    assert len(eager.bands) == 3
    captures = [eager._packetize(c, eager._capture(c), now=now) for c in range(1, count + 1)]
    assert [image_id for capture in captures for image_id, _ in capture] == list(range(1, 3 * count + 1))
    expected = [p for capture in captures for _, image in capture for p in image.packets]

    probe = Probe(scenario, ProbeOptions(downlink="unused", seed=9))
    link = PayloadChannel()
    probe._link = link  # type: ignore[assignment]
    for capture in range(1, count + 1):
        probe._wait_for_link(PendingCapture(capture, time=now))
    while probe._pending:
        probe._feed(link)  # type: ignore[arg-type]
        link.waiting = 0
    assert link.packets == expected
    assert probe.captures == {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9)}

    sent = len(link.packets)
    probe._queue_image(2)
    probe._feed(link)  # type: ignore[arg-type]
    second = [p for _, image in captures[1] for p in image.packets]
    assert link.packets[sent:] == second
