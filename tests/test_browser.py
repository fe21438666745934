"""The page in a real browser (headless Chromium through Playwright): load a groove, paint a lane with the
mouse, Generate, and see the painted values reach Python and the outputs change; edit the take on its
grid (a click adds a hit, bars selected on the bar numbers are regenerated), Undo and A/B."""
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from drumgen.lanes import LANE_ROWS
from tests.conftest import ROOT
from tests.test_app import launch_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
                                       "`bash run.sh test` installs it)")
TIMEOUT = 60_000  # ms; the machine may be busy
SCREENSHOTS = Path(os.environ.get("DRUMGEN_SCREENSHOTS", tempfile.gettempdir()))  # where the last page is kept to look at


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


def test_paint_a_lane_and_generate(page):
    page.set_input_files("input[type=file]", str(ROOT / "assets" / "bass_and_keys.mid"))
    page.wait_for_selector('#drumgen-lanes .bl-cells[data-lane="density"] .bl-cell >> nth=15')
    assert cells(page, "density").count() == 16 and page.locator("#drumgen-lanes .bl-cell").count() == 16 * len(LANE_ROWS)
    page.get_by_text("16 bars of 4/4 at 110 BPM").wait_for()
    page.wait_for_selector("#drumgen-take .tg-groove i")  # the groove on the take's grid, before any take
    assert page.locator("#drumgen-take .tg-hit").count() == 0

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
    page.wait_for_selector("#drumgen-take .tg-hit")  # the take, drawn in the browser
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
    page.get_by_text("drumgen cannot read this audio file").first.wait_for()  # audio bytes are heard as audio


def drums_midi_href(page):
    return page.locator("#drumgen-drums-midi a").first.get_attribute("href")


def take_of_link(page, href, song):
    """The take in the drums MIDI the page offers to download."""
    from drumgen import takes

    return takes.take_from_midi(page.request.get(href).body(), song)


def wait_for_take(page, number, old_href):
    page.wait_for_function("n => document.querySelector('#drumgen-summary').innerText.startsWith('Take ' + n + ' ')",
                           arg=number)
    page.wait_for_function("old => { const a = document.querySelector('#drumgen-drums-midi a'); "
                           "return a && a.href !== old; }", arg=old_href)
    return drums_midi_href(page)


def test_edit_the_take_on_its_grid_regenerate_selected_bars_and_undo(page):
    """A click on the grid adds a hit that the MIDI download has, a drag up makes a hit louder; bars 5-6
    selected on the bar numbers are the only ones Regenerate changes, around the kick locked by its padlock;
    Undo brings the take before back (its grid and its MIDI), A/B the one after."""
    from drumgen import hvo as H
    from drumgen import midi

    song = midi.read_song(ROOT / "assets" / "bass_and_keys.mid")
    page.reload()
    page.wait_for_selector("#drumgen-take .tg-empty")
    page.set_input_files("input[type=file]", str(ROOT / "assets" / "bass_and_keys.mid"))
    page.wait_for_selector("#drumgen-take .tg-groove i")
    page.get_by_role("button", name="Generate", exact=True).click()
    first_href = wait_for_take(page, 1, None)
    first = take_of_link(page, first_href, song)
    assert page.locator("#drumgen-take .tg-hit").count() == int(first[:, H.HITS].sum())

    crash = H.VOICES.index("crash")
    step = next(s for s in range(1, 16) if not first[s, crash])
    page.locator("#drumgen-take").scroll_into_view_if_needed()  # the grid in view, scrolled to bar 1
    lane = page.locator('#drumgen-take .tg-lane[data-voice="crash"]')
    box, cell = lane.bounding_box(), 12
    page.mouse.click(box["x"] + step * cell + cell / 2, box["y"] + box["height"] / 2)
    edited_href = wait_for_take(page, 2, first_href)
    edited = take_of_link(page, edited_href, song)
    assert edited[step, crash] == 1 and round(float(edited[step, H.N_VOICES + crash]) * 127) == 100
    rest = np.ones(first.shape[0], bool)
    rest[step] = False
    assert np.array_equal(edited[rest], first[rest]) and "hand edit: 1 hit added in bar 1" in summary(page)

    kick = H.VOICES.index("kick")  # drag a kick up: louder
    hit = next(s for s in range(64) if edited[s, kick] and edited[s, H.N_VOICES + kick] < 0.8)
    lane = page.locator('#drumgen-take .tg-lane[data-voice="kick"]')
    box = lane.bounding_box()
    x, y = box["x"] + hit * cell + cell / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 40, steps=8)
    page.mouse.up()
    louder_href = wait_for_take(page, 3, edited_href)
    louder = take_of_link(page, louder_href, song)
    rest = np.ones(first.shape[0], bool)
    rest[hit] = False
    assert louder[hit, H.N_VOICES + kick] > edited[hit, H.N_VOICES + kick] + 0.2 and np.array_equal(louder[rest], edited[rest])

    page.locator('#drumgen-take .tg-lock[data-voice="kick"]').click()  # keep the kick
    page.wait_for_selector('#drumgen-take .tg-row.locked[data-voice="kick"]')
    five, six = (page.locator(f'#drumgen-take .tg-bar[data-bar="{b}"]').bounding_box() for b in (5, 6))
    page.mouse.move(five["x"] + 20, five["y"] + five["height"] / 2)
    page.mouse.down()
    page.mouse.move(six["x"] + 40, six["y"] + six["height"] / 2, steps=6)
    page.mouse.up()
    assert page.locator("#drumgen-take .tg-bar.on").count() == 2
    page.wait_for_function("() => document.querySelector('#drumgen-regen-bars input, #drumgen-regen-bars textarea')"
                           ".value === '5-6'")
    page.get_by_role("button", name="Regenerate the selected bars").click()
    regen_href = wait_for_take(page, 4, louder_href)
    regenerated = take_of_link(page, regen_href, song)
    changed = (regenerated != louder).any(-1).reshape(song.n_bars, 16).any(-1)
    assert changed[4:6].any() and not changed[:4].any() and not changed[6:].any(), changed
    assert np.array_equal(regenerated[:, kick::9], louder[:, kick::9])  # the kick locked
    assert "new drums in bars 5–6, kick kept as it was" in summary(page)
    assert page.locator("#drumgen-take .tg-bar.on").count() == 2  # the selection stays, for another try

    page.get_by_role("button", name="Undo").click()
    undone_href = wait_for_take(page, 3, regen_href)
    assert undone_href == louder_href and np.array_equal(take_of_link(page, undone_href, song), louder)
    assert page.locator("#drumgen-take .tg-hit").count() == int(louder[:, H.HITS].sum())
    assert page.locator("#drumgen-ab").inner_text() == "A/B: hear take 4"
    page.locator("#drumgen-ab").click()  # A/B: the regenerated take again
    assert wait_for_take(page, 4, undone_href) == regen_href
    page.screenshot(path=str(SCREENSHOTS / "take_grid_page.png"), full_page=True)


def test_tap_a_groove_then_drums(page):
    """The tap pad: Start counts in a bar at 120 BPM, taps on the pad (high: loud) and on the keyboard
    follow, the pad stops by itself after its bars; Use taps makes them the groove (a MIDI file in the
    file input), and Generate plays drums for it."""
    import time

    page.reload()
    page.wait_for_selector("#drumgen-lanes .bl-empty")
    page.get_by_text("No MIDI? Record or tap a groove").click()
    page.get_by_role("tab", name="Tap").click()
    page.locator("#drumgen-taps .tp-bpm").fill("120")
    page.locator("#drumgen-taps .tp-bars").fill("2")
    pad = page.locator("#drumgen-taps .tp-pad")
    page.locator("#drumgen-taps .tp-start").click()
    started = time.monotonic()
    box = pad.bounding_box()
    time.sleep(2.1)  # the count-in: a bar of 4/4 at 120 BPM (and the click's lead)
    for beat in range(6):  # on the beats of bar 1 and half of bar 2, beat 1 high on the pad (loud)
        if beat % 2:
            page.keyboard.press("Space")
        else:
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * (0.05 if beat % 4 == 0 else 0.7))
        time.sleep(max(0.0, started + 2.15 + 0.5 * (beat + 1) - time.monotonic()))
    page.wait_for_selector("#drumgen-taps .tp-start:not([disabled])")  # stopped by itself after 2 bars
    page.get_by_text("6 taps at 120 BPM in 4/4").first.wait_for()
    assert page.locator("#drumgen-taps .tp-dot").count() == 6
    page.get_by_role("button", name="Use taps").click()
    page.get_by_text("taps_120bpm_4-4.mid").first.wait_for()  # the taps' groove, in the file input
    page.get_by_text("bars of 4/4 at 120 BPM").first.wait_for()
    assert "taps — 6 notes" in page.locator("#drumgen-info").inner_text()
    text = generate_and_wait(page, "drum hits over 2 bars at 120 BPM for \\*?\\*?taps_120bpm")
    assert "taps_120bpm_4-4.mid" in text
    page.screenshot(path=str(SCREENSHOTS / "tap_pad_page.png"), full_page=True)


def test_a_recording_is_heard_corrected_and_mixed(page, tmp_path):
    """A take in the Record tab, used: what drumgen heard (the picture, the tempo), a tempo typed and Hear
    again, Generate; the preview with the song is the recording's mix (as long as the take)."""
    import soundfile as sf

    from tests.test_audio_page import click_track

    take = click_track(tmp_path / "clicks.wav", bpm=100, bars=4, lead=0.5)
    page.reload()
    page.wait_for_selector("#drumgen-lanes .bl-empty")
    page.get_by_text("No MIDI? Record or tap a groove").click()  # the Record tab's take (uploaded here: no microphone)
    page.locator('#drumgen-mic button[aria-label="Upload file"]').click()
    page.set_input_files("#drumgen-mic input[type=file]", str(take))
    page.wait_for_selector('#drumgen-mic a.download-link')
    page.get_by_role("button", name="Use this recording").click()  # down the file input's path
    page.get_by_text("(a recording): 4 bars of 4/4").first.wait_for()
    page.wait_for_selector("#drumgen-heard-picture img")
    page.locator("#drumgen-heard-bpm input").fill("100")
    page.locator("#drumgen-heard-bar-one input").fill("0.5")
    page.get_by_role("button", name="Hear again").click()
    page.get_by_text("tempo 100.0 BPM (typed); bar 1 at 0.50 s (as given)").first.wait_for()
    page.get_by_role("button", name="1/2 x the tempo", exact=True).click()  # one click: heard again at half
    page.get_by_text("tempo 50.0 BPM (typed)").first.wait_for()
    page.get_by_role("button", name="2 x the tempo", exact=True).click()
    page.get_by_text("tempo 100.0 BPM (typed); bar 1 at 0.50 s (as given)").first.wait_for()
    assert page.locator("#drumgen-heard-bpm input").input_value() == "100"
    text = generate_and_wait(page, "drum hits over 4 bars at 100 BPM for")
    assert "clicks.wav" in text
    link = page.locator("#drumgen-mix a.download-link").first
    link.wait_for()
    src = link.get_attribute("href")
    assert "clicks_with_drums" in src
    mix = tmp_path / "mix.ogg"
    mix.write_bytes(page.request.get(src).body())
    samples, rate = sf.read(mix)
    assert len(samples) / rate >= sf.info(take).duration - 0.05 and np.abs(samples).max() > 0.5
    page.screenshot(path=str(SCREENSHOTS / "recording_page.png"), full_page=True)
