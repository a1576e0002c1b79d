"""Several ground stations, each on its own link, from a stations file (TOML): who they are and
what each hears (loss, bit errors, bursts, light time, pass windows with overlap and handover).

    # one [[station]] table per station, in order
    [[station]]
    id = "goldstone"            # 1-32 of [A-Za-z0-9_-]; default s1, s2, ...
    loss = 0.02                 # whole-frame (CADU) loss probability
    ber = 1e-5                  # bit error rate
    light_time_s = 0.0          # one-way light time added on this station's link
    passes = [[0.0, 4.0]]       # contact windows [start, end) in seconds since the downlink came up;
                                # absent: always in view
    [station.burst]             # optional Gilbert-Elliott bursts, stepped once per CADU
    p_good_to_bad = 0.01
    p_bad_to_good = 0.2
    bad_ber = 1e-3
    bad_loss = 0.1

Every key is checked when the file is read: an unknown key, a value out of range or a window that
ends before it starts is a :class:`StationPlanError` naming the station and the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from emulator.link_simulator import SPEED_OF_LIGHT_KM_S, GilbertElliott, LinkConfig, Pass

MAX_STATIONS = 16
_STATION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KEYS = {"id", "loss", "ber", "light_time_s", "passes", "burst"}
_BURST_KEYS = {"p_good_to_bad", "p_bad_to_good", "bad_ber", "bad_loss"}
# the link rate is the probe's (one transmitter for every station): no serialisation queue here
_NO_QUEUE_BPS = 1e15
_LATEST_S = 1e12  # a pass ends by then (seconds since the downlink came up)


class StationPlanError(ValueError):
    """A stations file that cannot be used, with where and why."""


@dataclass(frozen=True)
class StationPlan:
    """Station ids and their links, in the file's order."""

    ids: tuple[str, ...]
    links: tuple[LinkConfig, ...]

    @classmethod
    def uniform(cls, stations: int, loss: float, ber: float) -> StationPlan:
        """``stations`` alike, always in view: ``s1``, ``s2``, ..."""
        link = LinkConfig(
            range_km=0.0, data_rate_bps=_NO_QUEUE_BPS, loss_probability=loss, bit_error_rate=ber
        )
        return cls(tuple(f"s{k}" for k in range(1, stations + 1)), (link,) * stations)


def load_station_plan(path: Path) -> StationPlan:
    """Read and check a stations file."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StationPlanError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StationPlanError(f"{path}: not TOML: {exc}") from None
    return parse_station_plan(document, str(path))


def parse_station_plan(document: dict, where: str = "stations") -> StationPlan:
    extra = set(document) - {"station"}
    if extra:
        raise StationPlanError(
            f"{where}: unknown table {sorted(extra)[0]!r} (one [[station]] table per station)"
        )
    tables = document.get("station")
    if not isinstance(tables, list) or not tables:
        raise StationPlanError(f"{where}: no [[station]] table")
    if len(tables) > MAX_STATIONS:
        raise StationPlanError(f"{where}: {len(tables)} stations (at most {MAX_STATIONS})")
    ids, links = [], []
    for k, table in enumerate(tables, start=1):
        station_id, link = _station(table, k, where)
        if station_id in ids:
            raise StationPlanError(f"{where}: station id {station_id!r} given twice")
        ids.append(station_id)
        links.append(link)
    return StationPlan(tuple(ids), tuple(links))


def _station(table: object, k: int, where: str) -> tuple[str, LinkConfig]:
    if not isinstance(table, dict):
        raise StationPlanError(f"{where}: station {k} is not a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise StationPlanError(f"{where}: station {k}: unknown key {sorted(unknown)[0]!r}")
    station_id = table.get("id", f"s{k}")
    if not isinstance(station_id, str) or not _STATION_ID.fullmatch(station_id):
        raise StationPlanError(f"{where}: station {k}: id {station_id!r} is not 1-32 of [A-Za-z0-9_-]")
    at = f"{where}: station {station_id}"
    loss = _number(table, "loss", 0.0, 0.0, 1.0, at)
    ber = _number(table, "ber", 0.0, 0.0, 0.5, at)
    light_time_s = _number(table, "light_time_s", 0.0, 0.0, 86_400.0, at)
    return station_id, LinkConfig(
        range_km=light_time_s * SPEED_OF_LIGHT_KM_S,
        data_rate_bps=_NO_QUEUE_BPS,
        bit_error_rate=ber,
        loss_probability=loss,
        burst=_burst(table.get("burst"), at),
        passes=_passes(table.get("passes"), at),
    )


def _number(table: dict, key: str, default: float, low: float, high: float, at: str) -> float:
    value = table.get(key, default)
    if not _finite(value):
        raise StationPlanError(f"{at}: {key} must be a number")
    if not low <= value <= high:
        raise StationPlanError(f"{at}: {key} {value} is not in [{low:g}, {high:g}]")
    return float(value)


def _burst(table: object, at: str) -> GilbertElliott | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise StationPlanError(f"{at}: burst must be a table")
    unknown = set(table) - _BURST_KEYS
    if unknown:
        raise StationPlanError(f"{at}: burst: unknown key {sorted(unknown)[0]!r}")
    missing = {"p_good_to_bad", "p_bad_to_good"} - set(table)
    if missing:
        raise StationPlanError(f"{at}: burst needs {sorted(missing)[0]}")
    burst_at = f"{at}: burst"
    p_bad_to_good = _number(table, "p_bad_to_good", 0.0, 0.0, 1.0, burst_at)
    if p_bad_to_good == 0.0:
        raise StationPlanError(f"{burst_at}: p_bad_to_good must be above 0 (a burst that never ends)")
    return GilbertElliott(
        p_good_to_bad=_number(table, "p_good_to_bad", 0.0, 0.0, 1.0, burst_at),
        p_bad_to_good=p_bad_to_good,
        bad_bit_error_rate=_number(table, "bad_ber", 0.0, 0.0, 0.5, burst_at),
        bad_loss_probability=_number(table, "bad_loss", 0.0, 0.0, 1.0, burst_at),
    )


def _passes(value: object, at: str) -> tuple[Pass, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise StationPlanError(f"{at}: passes must be a list of [start, end] windows")
    windows = []
    for window in value:
        if not isinstance(window, list) or len(window) != 2 or not all(_finite(x) for x in window):
            raise StationPlanError(f"{at}: a pass is [start, end] in seconds, not {window!r}")
        start, end = window
        if not 0 <= start < end <= _LATEST_S:
            raise StationPlanError(f"{at}: pass [{start}, {end}] must have 0 <= start < end <= {_LATEST_S:g}")
        windows.append(Pass(float(start), float(end)))
    return tuple(sorted(windows, key=lambda p: p.start))


def _finite(value: object) -> bool:
    """A TOML number that is finite (an integer of any size, or a float that is not inf or nan)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
