"""The console's serving: the page, the plugin, Open MCT's files and config.json, on a real server.

Open MCT is stood in for by a directory with an ``openmct.js`` (the browser test in
tests/integration/test_web_console.py runs the real one); the page's TAI -> UTC conversion is
checked against the packets' own (protocols.packets.time_code) by running paleblue.js in node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from groundstation.api import console
from groundstation.api.app import ApiContext
from groundstation.api.console import Console, ConsoleMissing, openmct_dist
from groundstation.api.dictionary import build_dictionary
from groundstation.api.server import ApiServer
from groundstation.archive import ArchiveWriter
from protocols.mdb.mission_db import load_mission_db
from protocols.packets.time_code import tai_seconds_to_utc, utc_to_tai_seconds

T0 = utc_to_tai_seconds(datetime(2020, 7, 27, 12, tzinfo=UTC))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    folder = tmp_path / "openmct-dist"
    (folder / "fonts").mkdir(parents=True)
    (folder / "openmct.js").write_text("window.openmct = {};\n")
    (folder / "fonts" / "f.woff").write_bytes(b"font")
    (tmp_path / "secret.txt").write_text("not served")
    return folder


def _served(tmp_path: Path, web: Console | None) -> ApiServer:
    archive = tmp_path / "pass.db"
    with ArchiveWriter(archive) as writer:
        for k in range(30):  # the probe's telemetry, stamped in 2020
            writer.add_housekeeping({"DETECTOR_TEMP": -10.0}, {"DETECTOR_TEMP": 1750}, T0 + k, T0 + k + 1)
        writer.add_sample("station.images", T0 + 1e8, 1.0)  # the station's own: reception time, later
    context = ApiContext(
        dictionary=build_dictionary(load_mission_db(), ["station.images"]),
        archive_path=archive,
        products_dir=tmp_path,
        web=web,
    )
    return ApiServer(context)


def test_the_page_plugin_and_open_mct_are_served(tmp_path: Path, dist: Path) -> None:
    with _served(tmp_path, Console(dist, {"round_trip_light_time_s": 0.2})) as server:
        url = server.url
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "openmct/openmct.js" in page.text and "console/paleblue.js" in page.text
        plugin = httpx.get(f"{url}/console/paleblue.js")
        assert plugin.status_code == 200 and "javascript" in plugin.headers["content-type"]
        assert "openmct.faults.addProvider" in plugin.text
        assert httpx.get(f"{url}/console/paleblue.css").status_code == 200
        assert httpx.get(f"{url}/console/__init__.py").status_code == 404
        assert httpx.get(f"{url}/openmct/openmct.js").text == "window.openmct = {};\n"
        assert httpx.get(f"{url}/openmct/fonts/f.woff").content == b"font"
        assert httpx.get(f"{url}/openmct/../secret.txt").status_code == 404
        assert httpx.get(f"{url}/openmct/%2e%2e/secret.txt").status_code == 404
        config = httpx.get(f"{url}/console/config.json").json()
        assert httpx.get(f"{url}/api/dictionary").status_code == 200  # the API is unchanged beside it
    assert config["live"] is False and config["archive"] is True
    assert config["first_tai"] == T0 and config["last_tai"] == T0 + 29  # the station's counters left out
    assert config["round_trip_light_time_s"] == 0.2
    assert config["openmct"] == console.OPENMCT_VERSION
    assert config["leap_seconds"][-1] == [utc_to_tai_seconds(datetime(2017, 1, 1, tzinfo=UTC)), 37]


def test_without_web_the_api_serves_no_console(tmp_path: Path) -> None:
    with _served(tmp_path, None) as server:
        assert httpx.get(f"{server.url}/").status_code == 404
        assert httpx.get(f"{server.url}/console/config.json").status_code == 404
        assert httpx.get(f"{server.url}/api/dictionary").status_code == 200


def test_open_mct_missing_names_make_web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALEBLUE_OPENMCT", str(tmp_path / "nothing-here"))
    with pytest.raises(ConsoleMissing, match="make web"):
        openmct_dist()


def test_the_pinned_version_is_what_package_json_and_the_lock_say() -> None:
    web = console.REPO_WEB
    package = json.loads((web / "package.json").read_text())
    lock = json.loads((web / "package-lock.json").read_text())
    assert package["dependencies"]["openmct"] == console.OPENMCT_VERSION
    pinned = lock["packages"]["node_modules/openmct"]
    assert pinned["version"] == console.OPENMCT_VERSION and pinned["integrity"].startswith("sha512-")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (CI has it: .ci/run installs npm)")
def test_the_pages_tai_to_utc_is_the_packets(tmp_path: Path) -> None:
    """paleblue.js's conversion against protocols.packets.time_code, across leap seconds."""
    instants = [
        datetime(1972, 6, 30, 23, 59, 59, tzinfo=UTC),
        datetime(1999, 1, 1, tzinfo=UTC),
        datetime(2016, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2017, 1, 1, 0, 0, 0, 250000, tzinfo=UTC),
        datetime(2020, 7, 27, 12, 0, 0, 4089, tzinfo=UTC),
        datetime(2026, 12, 5, 18, 30, tzinfo=UTC),
    ]
    tais = [utc_to_tai_seconds(when) for when in instants]
    script = (
        "global.window = {};\n"
        f"require({json.dumps(str(console.HERE / 'paleblue.js'))});\n"
        f"const time = window.paleblue.makeTime({json.dumps(console.leap_seconds())});\n"
        f"console.log(JSON.stringify({json.dumps(tais)}.map(time.utcMs)));\n"
    )
    (tmp_path / "check.js").write_text(script)
    result = subprocess.run(["node", str(tmp_path / "check.js")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for tai, ms in zip(tais, json.loads(result.stdout), strict=True):
        expected = tai_seconds_to_utc(tai).timestamp() * 1000
        assert ms == pytest.approx(expected, abs=0.01), tai_seconds_to_utc(tai)
