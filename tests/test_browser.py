"""The page in a real browser (headless Chromium through Playwright): load a groove, paint a lane with the
mouse, Generate, and see the painted values reach Python and the outputs change."""
import re
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.test_app import launch_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
                                       "`bash run.sh test` installs it)")
TIMEOUT = 60_000  # ms; the machine may be busy


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    demo, url = launch_app(tmp_path_factory.mktemp("browser"))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT)
        page.goto(url)
        page.wait_for_selector("#drumgen-lanes .bl-empty")
        try:
            yield page
        finally:
            browser.close()
            demo.close()
            torch.set_num_threads(threads)


def cells(page, lane):
    return page.locator(f'#drumgen-lanes .bl-cells[data-lane="{lane}"] .bl-cell')


def drag(page, lane, first, last, low=0.2, high=0.8, button="left"):
    """Press in bar `first` at height `low`, move to bar `last` at `high` in small steps, release."""
    cells(page, lane).nth(first).scroll_into_view_if_needed()
    a, b = cells(page, lane).nth(first).bounding_box(), cells(page, lane).nth(last).bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] * (1 - low))
    page.mouse.down(button=button)
    for i in range(1, 13):
        t = i / 12
        page.mouse.move(a["x"] + a["width"] / 2 + t * (b["x"] - a["x"]),
                        a["y"] + a["height"] * (1 - (low + t * (high - low))))
    page.mouse.up(button=button)


def summary(page):
    return page.locator("#drumgen-summary").inner_text()


def generate_and_wait(page, words):
    """Press Generate and wait until the summary holds `words` (a regular expression)."""
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_function("re => new RegExp(re).test(document.querySelector('#drumgen-summary').innerText)",
                           arg=words)
    return summary(page)


def roll_src(page):
    return page.locator("#drumgen-roll img").get_attribute("src")


def test_paint_a_lane_and_generate(page):
    page.set_input_files("input[type=file]", str(ROOT / "assets" / "bass_and_keys.mid"))
    page.wait_for_selector('#drumgen-lanes .bl-cells[data-lane="density"] .bl-cell >> nth=15')
    assert cells(page, "density").count() == 16 and page.locator("#drumgen-lanes .bl-cell").count() == 16 * 11
    page.get_by_text("16 bars of 4/4 at 110 BPM").wait_for()
    page.wait_for_selector("#drumgen-roll img")
    groove_src = roll_src(page)

    drag(page, "density", 0, 5)
    painted = page.locator('#drumgen-lanes .bl-cells[data-lane="density"] .bl-cell.set')
    assert painted.count() == 6
    heights = [float(cells(page, "density").nth(b).locator(".bl-fill").evaluate("e => parseFloat(e.style.height)"))
               for b in range(6)]
    assert heights == sorted(heights) and heights[0] < 35 and heights[-1] > 80  # a ramp up, as drawn

    text = generate_and_wait(page, "drum hits")
    found = re.search(r"density 0\.(\d\d)–0\.(\d\d) in bars 1–6", text)
    assert found, text  # the painted values reached Python
    assert int(found.group(1)) <= 30 and int(found.group(2)) >= 80
    page.wait_for_function(f"() => document.querySelector('#drumgen-roll img').src !== {groove_src!r}")
    page.get_by_text("bass_and_keys_drums_seed0", exact=True).wait_for()  # the MIDI to download

    # a double-click frees a bar, a right-button drag frees several, a whole-lane button sets a lane
    cells(page, "density").nth(0).dblclick()
    page.wait_for_function("() => document.querySelector("
                           "'#drumgen-lanes .bl-cells[data-lane=\"density\"] .bl-cell').classList.contains('free')")
    drag(page, "density", 4, 5, button="right")
    page.get_by_role("button", name="Flat", exact=True).click()  # the lane chosen: density, level 0.8
    page.wait_for_function("() => document.querySelectorAll("
                           "'#drumgen-lanes .bl-cells[data-lane=\"density\"] .bl-cell.set').length === 16")
    drag(page, "ride", 2, 4, low=0.05, high=-0.5)  # along the bottom edge and below it: 0
    assert page.locator('#drumgen-lanes .bl-cells[data-lane="ride"] .bl-cell.zero').count() == 3
    text = generate_and_wait(page, "ride.? muted")
    assert "density 0.80 in bars 1–16" in text and "ride muted in bars 3–5" in text


def test_an_example_and_a_bad_file(page, tmp_path):
    page.get_by_text("son_clave.mid", exact=True).first.click()
    page.get_by_text("4 bars of 4/4 at 105 BPM").wait_for()
    page.wait_for_function("() => document.querySelectorAll("
                           "'#drumgen-lanes .bl-cells[data-lane=\"density\"] .bl-cell').length === 4")
    bad = tmp_path / "recording.mid"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64))
    page.get_by_role("button", name="Clear").first.click()  # the upload box again
    page.get_by_text("Upload a MIDI file or pick an example").wait_for()
    page.set_input_files("input[type=file]", str(bad))
    page.get_by_text("This looks like a WAV (audio) file, not MIDI").first.wait_for()
