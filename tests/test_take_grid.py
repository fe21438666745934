"""The take's grid and the page's takes without a browser: the component's value and schema, the edit
path (a take edited by hand rendered with no model; exact through JSON and MIDI), Regenerate from the
grid's value (its selected bars and locked voices), sentences for takes that do not fit, and one
session's history: record, hand edits, Undo, Redo, A/B, a take shown again once its files expired."""
import copy
import json
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client.utils import json_schema_to_python_type

from drumgen import hvo as H
from drumgen import meter as M
from drumgen import midi, takes, webapp
from drumgen.take_grid import TakeGrid, grid_value, read_edit, read_grid
from drumgen.take_session import PageTakes
from drumgen.takes import TakeHistory
from tests.conftest import ROOT
from tests.test_webapp import SHIPPED

GROOVE = str(ROOT / "assets" / "funk_bass.mid")  # 8 bars at 96 BPM
OTHER = str(ROOT / "assets" / "son_clave.mid")  # 4 bars at 105 BPM

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    return webapp.DrumApp({"mgvae": SHIPPED}, work_dir=tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def first(drums):
    """One Generate of GROOVE: its Result."""
    return drums.run(GROOVE, "all", None, "any", "mgvae", 1.5, 3)


def hits_of(value):
    return {(h[0], h[1]): (h[2], h[3]) for h in value["take"]["hits"]}


def test_the_component_documents_an_object_that_gradio_client_reads():
    grid = TakeGrid(render=False)
    info = grid.api_info()
    assert info["type"] == "object" and {"take", "groove", "bars", "locked"} == set(info["properties"])
    assert "list[int]" in json_schema_to_python_type(info)
    sent = {"take": {"steps": 16, "hits": [[0, "kick", 0.5, 0.0]]}, "bars": [1]}
    assert grid.preprocess(sent) is sent and grid.postprocess(sent) is sent
    assert read_grid(grid.example_payload())[1:] == ([1], ["kick"])


def test_values_a_caller_may_send_for_a_take():
    take = {"format": 1, "steps": 32, "hits": [[0, "kick", 0.5, 0.0]]}
    value = grid_value(take, np.zeros((32, 3), np.float32), bars=[2, 1, 2], locked=["snare", "kick"])
    assert value == {"take": take, "groove": [], "bars": [1, 2], "locked": ["kick", "snare"]}
    assert read_grid(value) == (take, [1, 2], ["kick", "snare"])
    assert read_grid(take) == (take, None, None)  # a take's JSON alone
    assert read_grid(json.dumps(value)) == (take, [1, 2], ["kick", "snare"])  # or either as text
    assert read_grid({"take": json.dumps(take), "bars": [2]}) == (take, [2], None)
    assert read_grid(None) == read_grid("") == read_grid({}) == (None, None, None)
    assert grid_value(None, np.zeros((32, 3), np.float32))["steps"] == 32  # the groove before any take
    for bad, words in (("{take", "not JSON"), ([1, 2], "an object"), ({"take": [1]}, "an object")):
        with pytest.raises(ValueError, match=words):
            read_grid(bad)


def test_edit_renders_a_hand_edited_take_without_a_model(drums, first):
    value = copy.deepcopy(first.take)
    value["take"]["hits"] = [h for h in value["take"]["hits"] if h[0] >= 16]  # bar 1 cleared
    value["take"]["hits"].append([2, "crash", 1.0, 0.0])  # a crash added
    value["bars"], value["locked"] = [2], ["kick"]
    sent = json.loads(json.dumps(value))
    take, mix, alone, drums_mid, merged_mid, summary = drums.edit(GROOVE, "all", sent)
    assert hits_of(take) == hits_of(sent)  # the take as sent, bit for bit
    assert take["bars"] == [2] and take["locked"] == ["kick"] and take["take"]["made"] == "hand edit"
    assert "hand edit · no model" in summary and f"**{len(sent['take']['hits'])} drum hits**" in summary
    song = midi.read_song(GROOVE)
    written = takes.take_from_midi(drums_mid, song)
    expected = takes.take_from_midi(midi.midi_to_bytes(midi.hvo_to_midi(takes.take_from_json(sent["take"]), song)), song)
    assert np.array_equal(written, expected)  # the MIDI is the take's
    crash = H.VOICES.index("crash")
    assert written[2, crash] == 1 and written[2, H.N_VOICES + crash] == 1.0 and not written[:16].sum(-1)[[0, 1, 3]].any()
    assert midi.read_song(merged_mid).n_bars == song.n_bars
    assert hits_of(drums.edit(GROOVE, "all", json.dumps(sent["take"]))[0]) == hits_of(sent)  # as text too


def test_regenerate_from_the_grid_value_uses_its_bars_and_locks_and_keeps_the_rest_exactly(drums, first):
    song = midi.read_song(GROOVE)
    value = copy.deepcopy(first.take)
    value["bars"], value["locked"] = [3, 4], ["snare"]
    seed, new, *_, drums_mid, _merged, summary = drums.regenerate(GROOVE, "all", json.loads(json.dumps(value)), "",
                                                                   [], None, "any", "mgvae", 1.5, None)
    assert "new drums in bars 3–4, snare kept as it was" in summary and new["bars"] == [3, 4]
    old, now = takes.take_from_json(first.take["take"]), takes.take_from_json(new["take"])
    changed = (old != now).any(-1).reshape(song.n_bars, 16).any(-1)
    assert changed[2:4].any() and not changed[[0, 1, 4, 5, 6, 7]].any()  # through JSON, bit for bit
    snare = H.VOICES.index("snare")
    assert np.array_equal(old[:, snare::9], now[:, snare::9])
    through_midi = takes.take_from_midi(first.drums_midi, song), takes.take_from_midi(drums_mid, song)
    changed = (through_midi[0] != through_midi[1]).any(-1).reshape(song.n_bars, 16).any(-1)
    assert not changed[[0, 1, 4, 5, 6, 7]].any()  # and through MIDI
    typed = drums.regenerate(GROOVE, "all", value, "8", "kick", None, "any", "mgvae", 1.5, 5)[-1]
    assert "new drums in bar 8, kick kept as it was" in typed  # what is typed wins over the grid's choice


@pytest.mark.parametrize("change, words", [
    (lambda v: v["take"].update(steps=256), "The take is 16 bars long and the song 8"),
    (lambda v: v["take"].update(tempo_map=[[0.0, 140.0]]), "another tempo than the song"),
    (lambda v: v["take"]["hits"].append([0, "kick", 1.5, 0]), "velocity must be a number from 0 to 1"),
    (lambda v: v["take"]["hits"].append([999, "kick", 0.5, 0]), "step must be 0 to 127"),
    (lambda v: v["take"]["hits"].append([0, "cowbell", 0.5, 0]), "unknown voice 'cowbell'"),
    (lambda v: v.update(take=None), "Generate first"),
    (lambda v: v.update(bars=[99]), "bar 99 is outside the song"),
])
def test_takes_that_do_not_fit_get_a_sentence(drums, first, change, words):
    value = copy.deepcopy(first.take)
    change(value)
    with pytest.raises(gr.Error, match=words) as error:
        drums.edit(GROOVE, "all", value)
    assert "Traceback" not in error.value.message
    if "bar 99" not in words:
        with pytest.raises(gr.Error, match=words):
            drums.regenerate(GROOVE, "all", value, "2", [], None, "any", "mgvae", 1.0, None)
    with pytest.raises(gr.Error, match="not JSON"):
        drums.edit(GROOVE, "all", "{'take': ...")


def test_a_take_of_another_song_is_refused_both_ways(drums, first):
    with pytest.raises(gr.Error, match="another tempo than the song"):
        drums.edit(OTHER, "all", first.take)
    with pytest.raises(gr.Error, match="another tempo"):
        drums.regenerate(OTHER, "all", first.drums_midi, "2", [], None, "any", "mgvae", 1.0, None)  # as MIDI too


def test_read_edit_takes_the_grid_choice_or_what_is_typed(first):
    song = midi.read_song(GROOVE)
    value = copy.deepcopy(first.take)
    value["bars"], value["locked"] = [5, 6], ["kick"]
    edit = read_edit(song, value, "", None)
    assert edit.bars == [5, 6] and edit.locked == ["kick"] and edit.said == "new drums in bars 5–6, kick kept as it was"
    assert not edit.keep_mask[64:96, 1:].any() and edit.keep_mask[:64].all() and edit.keep_mask[:, 0].all()
    assert read_edit(song, value, "1-2", ["snare"]).bars == [1, 2]
    value["bars"], value["locked"] = [], []
    with pytest.raises(ValueError, match="Choose the bars to make new"):
        read_edit(song, value, "", [])
    assert read_edit(song, first.drums_midi, "2", None).bars == [2]  # its drums MIDI file, as before


# --- one session's takes -----------------------------------------------------------------------------------

def test_a_session_records_edits_undoes_redoes_and_switches(drums, first):
    pages = PageTakes(drums)
    history = pages.new_history()
    summary, history, undo, redo, ab, takes_list = pages.record(*first.outputs, history)
    assert summary.startswith("**Take 1** · Generate, seed 3") and not undo.interactive and not ab.interactive
    edited = copy.deepcopy(first.take)
    edited["take"]["hits"].append([1, "crash", 1.0, 0.0])
    edited["bars"] = [4]
    mix, alone, drums_mid, merged_mid, summary, history, undo, redo, ab, takes_list = pages.hand_edit(
        GROOVE, "all", edited, history)
    assert summary.startswith("**Take 2** · hand edit: 1 hit added in bar 1") and undo.interactive
    assert ab.value == "A/B: hear take 1" and takes_list.value == 2 and [n for _, n in takes_list.choices] == [1, 2]
    assert takes.take_from_midi(drums_mid, midi.read_song(GROOVE))[1, H.VOICES.index("crash")] == 1
    same = pages.hand_edit(GROOVE, "all", edited, history)  # nothing changed: no new take
    assert len(history) == 2 and same[2] == drums_mid

    grid, mix1, alone1, mid1, merged1, summary, history, undo, redo, *_ = pages.undo(GROOVE, "all", edited, history)
    assert hits_of(grid) == hits_of(first.take) and mid1 == first.drums_midi and summary.startswith("**Take 1**")
    assert grid["bars"] == [4] and redo.interactive  # the grid keeps the bars selected
    grid, *outputs = pages.redo(GROOVE, "all", grid, history)
    assert hits_of(grid) == hits_of(edited) and outputs[2] == drums_mid
    grid, *outputs = pages.swap(GROOVE, "all", grid, history)
    assert history.current == 1 and outputs[2] == first.drums_midi
    grid, *outputs = pages.show(GROOVE, "all", grid, history, "2")
    assert history.current == 2 and hits_of(grid) == hits_of(edited)
    with pytest.raises(gr.Error, match="There is no take 7"):
        pages.show(GROOVE, "all", grid, history, 7)
    with pytest.raises(gr.Error, match="Generate first"):
        pages.undo(GROOVE, "all", {}, pages.new_history())


def test_a_take_whose_files_expired_is_rendered_again(drums):
    pages = PageTakes(drums)
    result = drums.run(GROOVE, "all", None, "any", "mgvae", 1.0, 8)
    _, history, *_ = pages.record(*result.outputs, pages.new_history())
    other = drums.run(GROOVE, "all", None, "any", "mgvae", 1.0, 9)
    _, history, *_ = pages.record(*other.outputs, history)
    song = midi.read_song(GROOVE)
    before = takes.take_from_midi(result.drums_midi, song)
    shutil.rmtree(Path(result.drums_midi).parent)  # the request folder is gone (older than two hours)
    grid, mix, alone, drums_mid, merged_mid, summary, *_ = pages.undo(GROOVE, "all", other.take, history)
    assert drums_mid != result.drums_midi and summary.startswith("**Take 1** · Generate, seed 8")
    assert np.array_equal(takes.take_from_midi(drums_mid, song), before) and hits_of(grid) == hits_of(result.take)
    assert pages.swap(GROOVE, "all", grid, history)[3] == other.drums_midi


def test_sessions_do_not_share_takes(drums, first):
    """gr.State gives each session a deep copy of the page's first value: takes added in one are not in another."""
    pages = PageTakes(drums)
    start = pages.new_history()
    mine, yours = copy.deepcopy(start), copy.deepcopy(start)
    pages.record(*first.outputs, mine)
    assert len(mine) == 1 and len(yours) == 0 and len(start) == 0
    assert isinstance(pages.record(*first.outputs, None)[1], TakeHistory)  # no history sent: a new one


def test_bars_typed_select_them_on_the_grid(drums, first):
    pages = PageTakes(drums)
    assert pages.select_bars(first.take, "5-6")["bars"] == [5, 6]
    with pytest.raises(gr.Error, match="bar 9 is outside the song"):
        pages.select_bars(first.take, "9")
    new_song = pages.new_song(GROOVE, {}, pages.new_history())[0]
    assert new_song["take"] is None and new_song["steps"] == 8 * 16 and new_song["groove"]


def test_a_new_file_starts_a_new_history_unless_the_take_fits_it(drums, first):
    pages = PageTakes(drums)
    _, history, *_ = pages.record(*first.outputs, pages.new_history())
    kept = pages.new_song(GROOVE, first.take, history)  # the same song again (or a Generate that came first)
    assert kept[1] is history and len(history) == 1 and kept[0] == gr.skip()  # the grid as it is
    grid, fresh, *_ = pages.new_song(OTHER, first.take, history)
    assert len(fresh) == 0 and grid["take"] is None and grid["steps"] == 4 * 16
    assert pages.new_song(None, first.take, history)[0] == {}


def test_another_song_of_the_same_length_and_tempo_is_another_song(drums, first, tmp_path):
    """Length and tempo are not the song: the grid's groove must be the new file's too."""
    from tests.conftest import make_midi

    pages = PageTakes(drums)
    _, history, *_ = pages.record(*first.outputs, pages.new_history())
    song = midi.read_song(GROOVE)
    twin = make_midi(tmp_path / "twin.mid", [(b * 4 * 480, 60, 100) for b in range(8)],
                     tempos=((0, song.bpm),), ticks_per_beat=480)
    assert midi.read_song(twin).n_bars == song.n_bars
    grid, fresh, *_ = pages.new_song(str(twin), first.take, history)
    assert len(fresh) == 0 and grid["take"] is None


def test_the_takes_of_one_song_keep_one_groove(drums, first):
    pages = PageTakes(drums)
    _, history, *_ = pages.record(*first.outputs, pages.new_history())
    _, history, *_ = pages.record(*first.outputs, history)
    grooves = [history.entry(n).shown.groove for n in history.entries]
    assert len(grooves) == 2 and grooves[0] is grooves[1] and grooves[0]


def test_the_grid_templates_keep_clear_of_handlebars():
    """Gradio runs the templates through Handlebars before JavaScript: a '{{' or '}}' would be eaten."""
    from drumgen import take_grid as G

    for template in (G.HTML_TEMPLATE, G.CSS_TEMPLATE):
        assert "{{" not in template and "}}" not in template


def test_the_grid_value_and_bars_typed_follow_the_meters():
    three_four = M.Bars.uniform("3/4", 4)
    groove = np.zeros((48, 3), np.float32)
    assert grid_value(None, groove, meters=three_four)["meters"] == [[3, 4, 4]]  # the groove's bars, before a take
    assert "meters" not in grid_value(None, groove, meters=M.Bars.four_four(3))  # 4/4: as before
    take = {"format": 1, "steps": 48, "hits": [], "meters": [[3, 4, 4]], "seed": 1}
    pages = PageTakes(None)
    assert pages.select_bars(grid_value(take), "3-4")["bars"] == [3, 4]  # 4 bars of 12 steps, not 3 of 16
    with pytest.raises(gr.Error, match="bar 5 is outside the song"):
        pages.select_bars(grid_value(take), "5")
    with pytest.raises(gr.Error, match="meters"):
        pages.select_bars(grid_value(dict(take, meters=[[3, 5, 4]])), "1")
    shown = PageTakes._shown(grid_value(take), None, None, None, None, "")
    assert shown.about["meters"] == [[3, 4, 4]]  # what Undo and Redo make the take's JSON from keeps its bars


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE_COLOURS = """:root { --border-color-primary: #e5e7eb; --block-background-fill: #fff; --background-fill-secondary: #f9fafb;
  --body-text-color: #1f2937; --body-text-color-subdued: #6b7280; --radius-lg: 8px; }"""
OLD_LANE = ("--cw: 12px; background-color: var(--background-fill-secondary); background-image: "  # the lanes before meters
            "linear-gradient(to right, rgba(71, 85, 105, 0.75) 1px, transparent 1px), "
            "linear-gradient(to right, var(--border-color-primary) 1px, transparent 1px), "
            "linear-gradient(to right, rgba(127, 127, 127, 0.16) 1px, transparent 1px), "
            "linear-gradient(to right, rgba(127, 127, 127, 0.07) 50%, transparent 50%); background-size: "
            "calc(16 * var(--cw)) 100%, calc(4 * var(--cw)) 100%, var(--cw) 100%, calc(8 * var(--cw)) 100%;")


def grid_page(grid: TakeGrid, value: dict) -> str:
    """A page with the grid alone, its templates filled as Gradio fills them (a JS template string over
    the props; setting props.value draws it again) and its js_on_load run."""
    from drumgen import take_grid as G

    props = dict(grid.props, label=grid.label, value=value)
    return f"""<!doctype html><html><head><style>{PAGE_COLOURS}</style><style id="css"></style></head><body>
<div id="root"></div><script>{{
const fill = (text, p) => {{ const k = Object.keys(p); return Function(...k, 'return `' + text + '`;')(...k.map(x => p[x])); }};
const html = {json.dumps(G.HTML_TEMPLATE)}, element = document.getElementById('root'), state = {json.dumps(props)};
window.props = new Proxy(state, {{set(o, k, v) {{ o[k] = v; element.innerHTML = fill(html, o); return true; }}}});
document.getElementById('css').textContent = fill({json.dumps(G.CSS_TEMPLATE)}, state);
element.innerHTML = fill(html, state);
Function('element', 'trigger', 'props', {json.dumps(G.JS_ON_LOAD)})(element, () => {{}}, window.props);
}}</script></body></html>"""


def test_the_grid_draws_and_reads_the_bars_of_its_meters_in_a_browser():
    """Bar lines, bar numbers, the meter where it changes, the readout and the bar selection in 4/4,
    2/4 and 3/4 (one take), 7/8 and 3/4; the lanes of a 4/4 take drawn as before meters."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")

    def take(steps, meters=None):
        return {"format": 1, "steps": steps, "hits": [[0, "kick", 0.8, 0.0]], **({"meters": meters} if meters else {})}

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 500})
            page.set_default_timeout(30_000)
            page.set_content(grid_page(TakeGrid(render=False), grid_value(take(48, [[4, 4, 1], [2, 4, 1], [3, 4, 2]]))))

            def show(value):
                page.evaluate("v => { props.value = v; }", value)

            def layout():
                return page.eval_on_selector(".tg-grid", "g => [g.dataset.starts, g.dataset.beats]")

            def ruler():
                return page.eval_on_selector_all(".tg-bar", "els => els.map(e => [e.textContent, e.style.left, e.style.width])")

            def meters():
                return page.eval_on_selector_all(".tg-meter", "els => els.map(e => [e.textContent, e.style.left])")

            def at(selector, step):
                box = page.locator(selector).first.bounding_box()
                return box["x"] + (step + 0.5) * 12, box["y"] + box["height"] / 2

            def where(step):
                page.mouse.move(*at('.tg-lane[data-voice="snare"]', step))
                return page.locator(".tg-readout").inner_text().split(" · ")[1]

            def select(first, last):
                page.mouse.move(*at(".tg-ruler", first))
                page.mouse.down()
                page.mouse.move(*at(".tg-ruler", last), steps=4)
                page.mouse.up()
                return page.evaluate("() => props.value.bars")

            assert layout() == ["0 16 24 36 48", "0 4 8 12 16 20 24 28 32 36 40 44"]
            assert ruler() == [["1", "0px", "192px"], ["2", "192px", "96px"], ["3", "288px", "144px"],
                               ["4", "432px", "144px"]]
            assert meters() == [["4/4", "0px"], ["2/4", "192px"], ["3/4", "288px"]]
            assert [where(s) for s in (17, 28, 47)] == ["bar 2, beat 1 e", "bar 3, beat 2", "bar 4, beat 3 a"]
            assert select(30, 30) == [3] and select(17, 40) == [2, 3, 4]
            assert page.eval_on_selector_all(".tg-groove .tg-sel", "els => els.map(e => [e.style.left, e.style.width])") \
                == [["192px", "384px"]]

            show(grid_value(take(28, [[7, 8, 2]])))
            assert layout() == ["0 14 28", "0 4 8 14 18 22"] and meters() == [["7/8", "0px"]]
            assert [where(s) for s in (9, 22)] == ["bar 1, beat 3 + 1/16", "bar 2, beat 3"]
            assert select(27, 27) == [2]

            show(grid_value(take(48, [[3, 4, 4]])))
            assert layout()[0] == "0 12 24 36 48" and ruler()[1] == ["2", "144px", "144px"]
            assert meters() == [["3/4", "0px"]]

            show(grid_value(take(32), bars=[2]))  # 4/4: no meter row, the lanes as they were
            assert meters() == [] and page.locator(".tg-meter-row").count() == 0
            assert ruler() == [["1", "0px", "192px"], ["2", "192px", "192px"]]
            assert [where(s) for s in (5, 26)] == ["bar 1, beat 2 e", "bar 2, beat 3 &"]
            drawn = page.eval_on_selector('.tg-lane[data-voice="kick"]', """(lane, old) => {
                const probe = document.createElement('div');
                probe.style.cssText = old;
                document.body.appendChild(probe);
                const style = el => [getComputedStyle(el).backgroundImage, getComputedStyle(el).backgroundSize,
                                     getComputedStyle(el).backgroundRepeat];
                return [style(lane), style(probe)];
            }""", OLD_LANE)
            assert drawn[0] == drawn[1]
        finally:
            browser.close()
