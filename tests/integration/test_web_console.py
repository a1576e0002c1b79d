"""The operator console in a real browser: Debian's chromium, headless, driven by selenium.

One test, two phases (the second serves the first's archive, so they cannot be split across
xdist workers):

1. ``paleblue run --web`` of a real pass (slowed to ~25 s so a person could watch it): the console
   opens on the Tianwen-1 image filling segment by segment; a command sent from its panel
   (INJECT_FAULT LINK_CONGESTION, with the operator token) completes verification; the alarm it
   causes (DOWNLINK_QUEUE over its red limit) appears in Open MCT's fault management and is
   acknowledged there; link status counts frames per channel and shows the light time; a plot of
   DETECTOR_TEMP on the spacecraft clock has points; the image completes.
2. ``paleblue serve ARCHIVE --web`` of that pass: the historical plot covers the whole pass; the
   overview layout shows the quick-look with the measured centres drawn over it, and the events.

Screenshots of every step are saved in the test's temp dir (and copied to $PALEBLUE_SCREENSHOTS
when set), with ``console.png``, the overview made small: docs/console.png is one of these.
Without chromium, chromedriver or Open MCT (`make web`) the test is skipped, except under CI,
where .ci/run installs them and a missing one fails.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SCENARIO, Processes, free_endpoint, run_pass

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
RATE = "800000"  # bit/s: the image takes ~23 s (time for the steps on a loaded machine), HK once a second
SERIES_RGB = (0x43, 0xB0, 0xFF)  # Open MCT's first plot colour
PLOT = "#/browse/paleblue:root/paleblue:parameters/paleblue:p.DETECTOR_TEMP"
FAULTS = "#/browse/faults.taxonomy:faultManagement.view"
IMAGES = "#/browse/paleblue:root/paleblue:images"
COMMANDING = "#/browse/paleblue:root/paleblue:commanding"
LINK = "#/browse/paleblue:root/paleblue:link"
HISTORY_TABLE = "#/browse/paleblue:root/paleblue:commands"
OVERVIEW = "#/browse/paleblue:root/paleblue:overview?hideTree=true&hideInspector=true"


def _missing() -> str | None:
    from groundstation.api.console import ConsoleMissing, openmct_dist

    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return "needs Debian's chromium and chromium-driver (.ci/run installs them)"
    try:
        openmct_dist()
    except ConsoleMissing as exc:
        return str(exc)
    return None


@pytest.fixture
def browser() -> Iterator:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                 "--enable-unsafe-swiftshader", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver, folder: Path) -> None:
        self.driver, self.folder = driver, folder
        self.taken: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> Path:
        path = self.folder / f"{len(self.taken):02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        self.taken.append(path)
        copy_to = os.environ.get("PALEBLUE_SCREENSHOTS")
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)
        return path


def _until(what: str, check: Callable[[], object], timeout_s: float, shots: Shots | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = check()
            if result:
                return result
        time.sleep(0.2)
    if shots is not None:
        shots("timeout-" + what.replace(" ", "-"))
    raise AssertionError(f"the console never showed {what} within {timeout_s} s")


def _click(what: str, find: Callable[[], object], timeout_s: float = 10) -> None:
    """Find an element and click it, again while it is not there yet or was drawn anew (stale)."""
    _until(what, lambda: find().click() or True, timeout_s)


def _announced(log: Path, process: subprocess.Popen, what: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if what in line:
                return line.split(what, 1)[1].split()[0]
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.05)
    raise AssertionError(f"never announced {what!r}: {log.read_text()[-2000:]}")


def _series_columns(driver) -> list[int]:
    """The x positions (pixels) of the plot area where the first series' colour is drawn."""
    from PIL import Image

    area = driver.find_element("css selector", ".gl-plot-chart-area")
    image = Image.open(io.BytesIO(area.screenshot_as_png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    columns = []
    for x in range(width):
        for y in range(height):
            r, g, b = pixels[x, y]
            if abs(r - SERIES_RGB[0]) + abs(g - SERIES_RGB[1]) + abs(b - SERIES_RGB[2]) < 60:
                columns.append(x)
                break
    return columns, width


def _small_png(source: Path, target: Path) -> None:
    """The README's screenshot (docs/console.png is this file of a run): 4 bits a channel and 64
    colours, which keeps the interface legible and the file under 50 KB."""
    from PIL import Image, ImageOps

    image = ImageOps.posterize(Image.open(source).convert("RGB"), 4)
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, optimize=True
    )
    assert target.stat().st_size < 50_000, target.stat().st_size
    copy_to = os.environ.get("PALEBLUE_SCREENSHOTS")
    if copy_to:
        shutil.copy(target, Path(copy_to) / target.name)


def _utc_ms(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def _go(driver, fragment: str) -> None:
    driver.execute_script("window.location.hash = arguments[0]", fragment.removeprefix("#"))


def _image_filling(browser, card: str, timeout_s: float, shots) -> float:
    """The percentage the image card shows once it is filling (segments in, not yet complete)."""
    return _until("image 1 filling", lambda: float(
        _css(browser, card + "[data-state=filling]")[0].get_attribute("data-percent")
    ), timeout_s, shots)  # fmt: skip


def _css(driver, selector: str):
    return driver.find_elements("css selector", selector)


def test_the_console_shows_a_live_pass_then_its_archive(
    browser, tmp_path: Path, processes: Processes
) -> None:
    shots = Shots(browser, tmp_path / "screenshots")
    out, log = tmp_path / "out", tmp_path / "run.log"
    with open(log, "w") as err:
        run = processes.start("run", SCENARIO, "-o", str(out), "--web", "--api", "0", "--rate", RATE,
                              stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _announced(log, run, "console on ").rstrip("/")
    token = _announced(log, run, "operator token: ").rstrip(")")
    browser.get(url + "/" + IMAGES)
    _until("the console", lambda: browser.execute_script("return window.paleblueReady === true"), 30, shots)

    # the Tianwen-1 image as it fills, segment by segment
    card = "[data-image='image 1']"
    percent = _image_filling(browser, card, 30, shots)
    assert 0 < percent < 100
    shots("image-filling")
    _go(browser, COMMANDING)

    # the commanding panel: INJECT_FAULT LINK_CONGESTION, with the token; verification completes
    from selenium.webdriver.support.select import Select

    def choose(selector: str, value: str) -> bool:
        Select(_css(browser, selector)[0]).select_by_value(value)
        return True

    _until("the commanding panel", lambda: choose("select.paleblue-command", "INJECT_FAULT"), 20, shots)
    _until("the FAULT argument", lambda: choose("[data-argument=FAULT]", "LINK_CONGESTION"), 10, shots)
    _click("the send button", lambda: _css(browser, ".paleblue-send")[0])
    _until("the refusal without a token", lambda: "refused" in _css(browser, ".paleblue-result")[0].text, 10)

    def type_token() -> bool:
        field = _css(browser, ".paleblue-token")[0]
        field.clear()
        field.send_keys(token)
        return True

    _until("the token typed", type_token, 10, shots)
    _click("the send button", lambda: _css(browser, ".paleblue-send")[0])
    _until("the command queued", lambda: "queued" in _css(browser, ".paleblue-result")[0].text, 10, shots)
    completed = "tr[data-request^='INJECT_FAULT'][data-completion=ok]"
    _until("the command's completion", lambda: _css(browser, completed), 20, shots)
    assert _css(browser, "tr[data-request^='INJECT_FAULT'][data-sent=ok][data-acceptance=ok]")
    shots("commanding")

    # the alarm it raised, in fault management, acknowledged there (then the API says so); the
    # list is drawn again at every alarm change, so each element is found again when it is used
    _go(browser, FAULTS)

    def alarm_row():
        return next(r for r in _css(browser, ".c-fault-mgmt__list") if "DOWNLINK_QUEUE" in r.text)

    def alarm_state() -> str | None:
        states = {a["parameter"]: a["state"] for a in httpx.get(f"{url}/api/alarms", timeout=5).json()}
        return states.get("DOWNLINK_QUEUE")

    def action(label: str) -> None:
        _click(
            f"the {label} checkbox", lambda: alarm_row().find_element("css selector", "input[type=checkbox]")
        )
        _click(f"the {label} button", lambda: next(
            b for b in _css(browser, ".c-fault-mgmt__toolbar button") if label in b.text and b.is_enabled()
        ))  # fmt: skip
        _click(f"the {label} form's button", lambda: _css(browser, "button[aria-label=Save]")[0])

    _until(
        "the DOWNLINK_QUEUE alarm",
        lambda: "is-unacknowledged" in alarm_row().get_attribute("class"),
        20,
        shots,
    )
    shots("alarm")
    action("Acknowledge")
    _until("the alarm acknowledged", lambda: (
        alarm_state() == "acknowledged" and "is-acknowledged" in alarm_row().get_attribute("class")
    ), 15, shots)  # fmt: skip
    shots("alarm-acknowledged")
    # shelved there too: the API says so and the standard view no longer lists it
    action("Shelve")

    def shelved() -> bool:
        listed = [r for r in _css(browser, ".c-fault-mgmt__list") if "DOWNLINK_QUEUE" in r.text]
        return alarm_state() == "shelved" and not listed

    _until("the alarm shelved", shelved, 15, shots)

    # link status: the station's frame counters, live
    _go(browser, LINK)
    master = "[data-channel='cadu master channel'] td:nth-child(2)"
    _until("the master channel's frames", lambda: int(_css(browser, master)[0].text) > 0, 10, shots)
    assert _css(browser, "[data-channel='cadu VC 0']"), "a row per virtual channel"
    light = _css(browser, "[data-fact=light-time]")[0].text
    assert "0.100 s" in light, light  # `run` gives the ground a round trip of 0.2 s without --link
    shots("link")

    # a plot of DETECTOR_TEMP, in realtime on the spacecraft clock: it has points
    _go(browser, PLOT)
    _until("DETECTOR_TEMP points", lambda: len(_series_columns(browser)[0]) >= 5, 20, shots)
    shots("plot-live")

    # the Tianwen-1 image, complete (with its quick-look unless the pass ended first)
    _go(browser, IMAGES)
    complete = card + "[data-state=complete][data-percent='100']"
    _until("image 1 complete", lambda: _css(browser, complete), 60, shots)
    _until("image 1 said complete", lambda: "complete" in _css(browser, card)[0].text, 10, shots)
    # its quick-look once the station has written it; the pass may end first (its server with it),
    # so the quick-look and the centres drawn over it are checked for sure in phase 2
    with contextlib.suppress(AssertionError):
        _until("image 1's quick-look", lambda: _css(browser, card + "[data-loaded=true]"), 5)
    shots("image-complete")
    assert run.wait(60) == 0, log.read_text()[-2000:]

    # phase 2: the finished pass's archive, served: the historical plot covers the whole pass
    archive = out / "archive.db"
    with open(tmp_path / "serve.log", "w") as err:
        serve = processes.start("serve", str(archive), "--web", "--api", "127.0.0.1:0",
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _announced(tmp_path / "serve.log", serve, "console on ").rstrip("/")
    browser.get(url + "/" + PLOT)
    _until(
        "the archive's console", lambda: browser.execute_script("return window.paleblueReady === true"), 30
    )
    history = httpx.get(f"{url}/api/parameters/DETECTOR_TEMP/history", timeout=10).json()["samples"]
    assert len(history) >= 10  # a pass of ~25 s, housekeeping once a second
    columns, width = _until("the whole pass plotted", lambda: (
        (c := _series_columns(browser)) and len(c[0]) >= 10 and c
    ), 20, shots)  # fmt: skip
    shots("plot-archive")
    assert min(columns) < 0.1 * width and max(columns) > 0.9 * width, (min(columns), max(columns), width)

    # the overview layout over the whole pass, panes hidden: what docs/console.png shows
    _go(browser, OVERVIEW)
    _until("the overview", lambda: len(_css(browser, ".l-layout .c-frame")) >= 5, 15, shots)
    loaded = ".l-layout [data-image='image 1'][data-state=complete][data-loaded=true]"
    _until("its quick-look", lambda: _css(browser, loaded), 10, shots)
    # the measured centres over the quick-look: centroid, limb fit and horizon fix of both bodies
    marks = {
        (m.get_attribute("data-body"), m.get_attribute("class").split()[-1])
        for m in _css(browser, loaded + " .paleblue-mark")
    }
    expected = {("earth", "paleblue-centroid"), ("earth", "paleblue-limb"), ("moon", "paleblue-horizon")}
    assert expected <= marks, marks
    _until("the events", lambda: "FAULT_INJECTED" in _css(browser, ".l-layout")[0].text, 10, shots)
    time.sleep(1.0)  # the plots draw their points
    _small_png(shots("overview"), shots.folder / "console.png")
    mode, bounds = browser.execute_script("return [openmct.time.getMode(), openmct.time.getBounds()]")
    first, last = (_utc_ms(history[k]["time"]) for k in (0, -1))
    assert mode == "fixed" and bounds["start"] <= first and bounds["end"] >= last, (bounds, first, last)

    # tables: the command history (the panel's command's stages on board: "sent" carries the
    # ground's clock, outside this window of on-board time) and a parameter's samples
    _go(browser, HISTORY_TABLE)
    stages = ("acceptance", "completion")
    _until("the command's stages", lambda: all(
        word in _css(browser, ".c-telemetry-table")[0].text for word in ("INJECT_FAULT", *stages)
    ), 15, shots)  # fmt: skip
    shots("command-history")
    _go(browser, PLOT + "?view=table")
    rows = ".c-telemetry-table__body tr"
    _until("DETECTOR_TEMP's rows", lambda: len(_css(browser, rows)) >= len(history) // 2, 15, shots)
    _until("values with their unit", lambda: "degC" in _css(browser, ".c-telemetry-table")[0].text, 10, shots)
    shots("table-archive")


def test_a_replayed_recording_with_a_gap_drives_the_same_console(
    browser, tmp_path: Path, processes: Processes
) -> None:
    """A recording (64 octets smashed in its middle) replayed into ``paleblue ground --web``: the
    image fills and the plot has points as in a live pass; the image ends incomplete (handed over
    at the pass's end) and, served from the archive, shows its missing ranges on the bar and as
    bands over the quick-look."""
    shots = Shots(browser, tmp_path / "screenshots")
    recording, damaged = tmp_path / "pass.pbrec", tmp_path / "damaged.pbrec"
    run_pass(tmp_path / "live", "--record", str(recording), "--seed", "4")
    data = bytearray(recording.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    damaged.write_bytes(bytes(data))
    endpoint, out, log = free_endpoint(), tmp_path / "replayed", tmp_path / "ground.log"
    with open(log, "w") as err:
        ground = processes.start("ground", "--downlink", endpoint, "-o", str(out), "--expect-images", "1",
                                 "--timeout", "15", "--web", "--api", "0",
                                 stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _announced(log, ground, "console on ").rstrip("/")
    browser.get(url + "/" + IMAGES)
    _until("the console", lambda: browser.execute_script("return window.paleblueReady === true"), 30, shots)
    processes.start("replay", str(damaged), "--to", endpoint, "--speed", "0.2", stderr=subprocess.DEVNULL)
    card = "[data-image='image 1']"
    percent = _image_filling(browser, card, 20, shots)
    assert 0 < percent < 100
    shots("replay-filling")
    _go(browser, PLOT)
    _until("DETECTOR_TEMP points", lambda: len(_series_columns(browser)[0]) >= 1, 15, shots)
    shots("replay-plot")
    assert ground.wait(40) == 0, log.read_text()[-2000:]

    with open(tmp_path / "serve.log", "w") as err:
        serve = processes.start("serve", str(out / "archive.db"), "--web", "--api", "127.0.0.1:0",
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _announced(tmp_path / "serve.log", serve, "console on ").rstrip("/")
    browser.get(url + "/" + IMAGES)
    gaps = card + "[data-state=incomplete][data-loaded=true][data-missing-ranges]"
    _until("the missing ranges", lambda: _css(browser, gaps + " .paleblue-missing-rows"), 20, shots)
    name, drawn, text = browser.execute_script(
        "const card = document.querySelector(arguments[0]);"
        "return [card.dataset.name, card.dataset.missingRanges, card.textContent]",
        gaps,
    )
    ranges = httpx.get(f"{url}/api/images/{name}.json", timeout=10).json()["received"]["missing_ranges"]
    assert ranges and int(drawn) == len(ranges)
    assert len(_css(browser, gaps + " .paleblue-missing")) == len(ranges)
    assert len(_css(browser, gaps + " .paleblue-missing-rows")) == len(ranges)
    assert "INCOMPLETE" in text and "octets missing" in text
    shots("replay-incomplete")
