"""One probe heard by several ground stations: a link simulator per station, each with its own
configuration (range, rate, loss, BER, bursts, pass windows) and its own seed, and a drop log
per station (the sequence numbers of the units it lost), so that a merged pass can be checked
against what every station really missed.

Pure, like :mod:`emulator.link_simulator`: no sockets, the caller owns the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.link_simulator import Delivery, LinkConfig, LinkSimulator


@dataclass
class StationLinks:
    """:meth:`send` puts a unit on every station's link; :meth:`due` hands back each one's arrivals."""

    configs: tuple[LinkConfig, ...]
    seed: int = 0
    links: list[LinkSimulator] = field(init=False)
    drops: list[list[int]] = field(init=False)  # per station: sequence numbers of the units it lost

    def __post_init__(self) -> None:
        if not self.configs:
            raise ValueError("at least one station")
        # seeds far apart: each station's draws are independent of the others'
        self.links = [
            LinkSimulator(config, self.seed * 7919 + 104_729 * k) for k, config in enumerate(self.configs)
        ]
        self.drops = [[] for _ in self.configs]

    @property
    def stations(self) -> int:
        return len(self.links)

    def send(self, unit: bytes, send_time: float) -> None:
        for link, drops in zip(self.links, self.drops, strict=True):
            if not link.send(unit, send_time):
                drops.append(link.counters.units_sent - 1)

    def due(self, now: float) -> list[list[Delivery]]:
        return [link.due(now) for link in self.links]

    def lost_by_all(self) -> set[int]:
        """Units no station received: all a merged pass may lack."""
        return set.intersection(*(set(d) for d in self.drops))

    def counters(self) -> list[dict[str, int]]:
        return [vars(link.counters).copy() for link in self.links]
