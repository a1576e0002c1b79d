"""Every seed scenario's first image fits its image header: the probe downlinks each of them, and
its truth goes through the declared image metadata (protocols.image.image_metadata) octet for octet.

A wide-field camera sees thousands of catalogue stars; their truth once made the header's metadata
exceed one space packet, and ``paleblue run`` of three seeds stopped with a ValueError.
"""

from __future__ import annotations

import msgpack
import pytest

from emulator.imaging import image_packets, pixel_bytes
from emulator.probe import DOWNLINK_STARS, downlink_metadata, downlink_truth, json_ready
from emulator.render import render_scenario
from emulator.scenario import list_scenarios, load_scenario
from protocols.image.image_transport import MAX_METADATA_OCTETS
from protocols.packets.space_packet import SequenceCounter
from protocols.packets.time_code import CucTime


@pytest.mark.parametrize("name", [s.name for s in list_scenarios()])
def test_each_seed_image_header_fits_one_packet(name: str) -> None:
    frame = render_scenario(load_scenario(name), seed=1, image_index=0)
    pixels = pixel_bytes(frame.pixels, frame.bit_depth)
    metadata = downlink_metadata(frame, name, 1, pixels)
    truth = metadata.to_map()
    # the declared contract writes the very octets the probe's truth packs to
    assert msgpack.packb(truth) == msgpack.packb(downlink_truth(frame, name, 1, pixels))
    assert len(msgpack.packb(truth)) <= MAX_METADATA_OCTETS
    assert truth["stars_in_field"] == len(frame.truth["stars"])
    assert truth["stars"] == json_ready(frame.truth["stars"][:DOWNLINK_STARS])
    header, packets = image_packets(
        1, frame.pixels, frame.bit_depth, frame.exposure_s, frame.capture_time_utc, metadata,
        SequenceCounter(), CucTime.from_seconds(0.0), 4000,
    )  # fmt: skip
    assert header.width * header.height > 0 and packets
