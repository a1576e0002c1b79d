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
from emulator.probe import PendingImage, Probe, ProbeOptions
from emulator.scenario import load_scenario
from emulator.space_link import VC_PAYLOAD
from protocols.packets.time_code import CucTime

SEEDS = Path(probe_module.__file__).parent / "seeds"


def many_small_images(tmp_path: Path, count: int) -> Path:
    """The Tianwen-1 seed with ``count`` images of 64x64 (the field of view kept: a coarser pitch)."""
    text = (SEEDS / "tianwen1-2020-07-27.toml").read_text()
    for old, new in [
        ("image_count = 1", f"image_count = {count}"),
        ("width_px = 1024", "width_px = 64"),
        ("height_px = 1024", "height_px = 64"),
        ("pixel_pitch_um = 5.5", "pixel_pitch_um = 88.0"),
        ('name = "tianwen1-2020-07-27"', 'name = "many-small"'),
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
    expected = [p for image in images for p in image.packets]
    image_octets = sum(len(p) for p in expected) // count

    budget = 3 * image_octets  # the channel is topped up to about three images
    monkeypatch.setattr(probe_module, "FEED_BELOW_OCTETS", budget)
    probe = Probe(scenario, ProbeOptions(downlink="unused", seed=5))
    link = PayloadChannel()
    probe._link = link  # type: ignore[assignment]
    for image_id in range(1, count + 1):
        probe._wait_for_link(PendingImage(image_id, time=now))
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
    probe._wait_for_link(PendingImage(1))
    probe._queue_image(1)  # captured, still waiting for the link: accepted
    with pytest.raises(KeyError):
        probe._queue_image(2)
