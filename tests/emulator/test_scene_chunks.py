"""The ray caster's samples are shaded in chunks: the frames are those of one pass over them all."""

from __future__ import annotations

import numpy as np
import pytest

import emulator.scene as scene
from emulator.detector import Effects
from emulator.render import render_scenario
from emulator.scenario import load_scenario


def _frames(name: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(scene, "SHADING_CHUNK", chunk)
    scenario = load_scenario(name)
    return [render_scenario(scenario, seed=5, effects=e) for e in (Effects.all(), Effects.none())]


@pytest.mark.parametrize(
    "name",
    [
        "dscovr-epic-2015-07-16",  # the Earth fills the frame: clouds, ocean, atmosphere
        "longjiang2-2019-02-03",  # the Moon in front of the Earth: nearest hit, both laws
    ],
)
def test_chunked_shading_gives_the_frame_of_one_pass(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    one_pass = _frames(name, 1 << 40, monkeypatch)
    for chunk in (scene.SHADING_CHUNK, 4093):  # the default, and an odd size that cuts rows anywhere
        chunked = _frames(name, chunk, monkeypatch)
        for a, b in zip(one_pass, chunked, strict=True):
            assert np.array_equal(a.pixels, b.pixels)
            assert np.array_equal(a.expected_electrons, b.expected_electrons)
            assert a.truth == b.truth
