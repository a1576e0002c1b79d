"""The operator console: NASA Open MCT and paleblue's plugin, served by the ground API at ``/``.

Open MCT comes from npm, pinned in ``web/package-lock.json`` and installed by ``make web`` into
``web/node_modules/openmct`` (never downloaded at run time); ``PALEBLUE_OPENMCT`` names another
copy of its ``dist`` directory. The plugin (``paleblue.js``) and the page (``index.html``) live
beside this file. ``/console/config.json`` tells the page what it needs before it asks the API:
live or archive, the pass's time range and the leap seconds to turn the packets' TAI into UTC.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

OPENMCT_VERSION = "4.2.0"  # web/package.json pins the same
HERE = Path(__file__).resolve().parent
REPO_WEB = HERE.parents[2] / "web"
INSTALL_HINT = "the web console needs Open MCT from npm: run `make web` (needs npm) in the paleblue checkout"


class ConsoleMissing(LookupError):
    """Open MCT is not installed where the console looks for it."""


@dataclass(frozen=True)
class Console:
    """What the API needs to serve the console: Open MCT's files and facts for the page (such as
    ``round_trip_light_time_s``, which the station allows for and the link view shows)."""

    dist: Path
    facts: dict[str, Any] = field(default_factory=dict)


def openmct_dist() -> Path:
    """Open MCT's ``dist`` directory (with ``openmct.js``); ConsoleMissing saying how to get it."""
    given = os.environ.get("PALEBLUE_OPENMCT")
    dist = Path(given) if given else REPO_WEB / "node_modules" / "openmct" / "dist"
    if not (dist / "openmct.js").is_file():
        raise ConsoleMissing(INSTALL_HINT)
    return dist


def leap_seconds() -> list[tuple[float, int]]:
    """[(TAI seconds since 1958 at which TAI-UTC becomes n, n), ...] for the page's time conversion."""
    from protocols.packets.time_code import _LEAP_SECONDS, utc_to_tai_seconds

    return [(utc_to_tai_seconds(start.astimezone(UTC)), n) for start, n in _LEAP_SECONDS]


def pass_range(archive_path: Path | None) -> tuple[float, float] | None:
    """The TAI range of the probe's telemetry in the archive (the station's own counters, stamped
    with reception times, left out), or None."""
    if archive_path is None:
        return None
    from groundstation.archive import Archive, ArchiveError

    try:
        with Archive(archive_path) as archive:
            infos = [p for p in archive.parameters("*") if not p.name.startswith("station.")]
    except ArchiveError:
        return None
    firsts = [p.first for p in infos if p.first is not None]
    lasts = [p.last for p in infos if p.last is not None]
    return (min(firsts), max(lasts)) if firsts else None


def mount(api: Any, context: Any, console: Console) -> None:
    """Add the console's routes to the FastAPI ``api``: ``/`` (the page), ``/console/*`` (the
    plugin and its config) and ``/openmct/*`` (Open MCT's files)."""
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    @api.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(HERE / "index.html", media_type="text/html")

    @api.get("/console/config.json", include_in_schema=False)
    def config() -> dict[str, Any]:
        live = context.feed is not None
        span = pass_range(context.archive_path)
        return {
            "mission": context.dictionary.mission,
            "live": live,
            "archive": context.archive_path is not None,
            "first_tai": span[0] if span else None,
            "last_tai": span[1] if span else None,
            "leap_seconds": leap_seconds(),
            "openmct": OPENMCT_VERSION,
            **console.facts,
        }

    @api.get("/console/{name}", include_in_schema=False)
    def plugin_file(name: str) -> FileResponse:
        types = {"paleblue.js": "text/javascript", "paleblue.css": "text/css"}
        if name not in types:
            from fastapi import HTTPException

            raise HTTPException(404, f"no console file {name!r}")
        return FileResponse(HERE / name, media_type=types[name])

    api.mount("/openmct", StaticFiles(directory=console.dist), name="openmct")
