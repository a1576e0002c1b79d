"""What the receivers read of any transfer frame (TM, AOS, USLP), whatever its header holds."""

from __future__ import annotations

from typing import Any


class FrameView:
    """The common reading of a decoded frame: its header's virtual channel and frame counts.

    A frame type mixes this in beside its own ``header`` field; a master channel frame count exists
    only in TM frames, which override :attr:`mc_frame_count`.
    """

    __slots__ = ()
    header: Any

    @property
    def vcid(self) -> int:
        return self.header.vcid

    @property
    def vc_frame_count(self) -> int:
        return self.header.vc_frame_count

    @property
    def mc_frame_count(self) -> int | None:
        return None  # AOS and USLP have no master channel frame count
