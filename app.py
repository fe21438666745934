"""drumgen's web page: a MIDI groove in, per-bar controls painted like automation, a drum part out.

    python app.py                     # or: bash run.sh app
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860 python app.py

Only the page and its wiring live here: `build_app(drums)` lays the page out around a
`drumgen.webapp.DrumApp`, whose methods do the work (tested without a browser in
tests/test_webapp.py); `main()` loads the models and launches. Every event has an API name
(`gradio_client.Client(url).view_api()` lists them). The command-line demo that used to live here
is `python -m drumgen demo`.
"""
from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Sequence

import gradio as gr

from drumgen import export_page, page_limits, recording_page, webapp
from drumgen import hvo as H
from drumgen import page_input as P
from drumgen import recording as R
from drumgen.lanes import LANE_ROWS
from drumgen.take_grid import BARS_TEXT_JS, TakeGrid
from drumgen.take_session import PageTakes
from drumgen.tap_pad import STOP_JS, TapPad
from drumgen.widgets import BarLanes, FreeDropdown, FreeNumber, FreeSlider

CONCURRENCY = page_limits.SLOTS  # requests worked on at once (one per CPU core of a small machine): drumgen's WorkGate
MAX_UPLOAD = R.MAX_AUDIO_BYTES  # larger uploads are refused by Gradio (200 MB: a 10-minute WAV of 48 kHz, 24-bit
# stereo is 173 MB); under it drumgen says what it takes (8 MB of MIDI, 10 minutes of audio)
FILE_TYPES = [".mid", ".midi", *R.AUDIO_SUFFIXES]
INTRO = """# drumgen: a drum part for your groove
Give it any MIDI groove (a rhythm tapped on one key, a bass line, a whole song), a recording (a riff, a bass
take, a beatbox) or taps, and it writes a 9-piece drum part that follows it, at your tempo. **1.** Upload a `.mid`
or a recording (`.wav`, `.flac`, `.ogg`, `.mp3`), record or tap one below, or pick an example. **2.** Paint per-bar
controls if you like (or leave them free). **3.** Generate, listen, download the MIDI. **4.** Edit the take on
its grid: click hits in or out, select bars and Regenerate them, lock the drums you like; Undo and A/B any time."""
CSS = """
#drumgen-summary { min-height: 3em; }
.drumgen-tools { align-items: end; }
#drumgen-takes { align-items: end; }
"""


def build_app(drums: webapp.DrumApp, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The page around `drums` (its models, its functions); examples: MIDI files to offer."""
    examples = webapp.examples() if examples is None else list(examples)
    pages = PageTakes(drums)
    heard = recording_page.RecordingPage(drums)
    recordings = recording_page.examples()
    with gr.Blocks(title="drumgen", delete_cache=(1800, 7200)) as demo:
        history = gr.State(pages.new_history(), time_to_live=7200)  # this session's takes (Undo, Redo, A/B)
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                file = gr.File(label="Your groove (.mid, .midi) or a recording (.wav, .flac, .ogg, .mp3)",
                               file_types=FILE_TYPES, type="filepath", height=120, elem_id="drumgen-file")
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[file], label="...or an example groove")
                if recordings:
                    gr.Examples([[p] for p in recordings], inputs=[file], label="...or an example recording")
            with gr.Column(scale=4, min_width=320):
                track = gr.Dropdown(label="Make the groove from", choices=[(webapp.ALL_NOTES, webapp.ALL_NOTES)],
                                    value=webapp.ALL_NOTES, allow_custom_value=True,
                                    info="all notes, or one track (e.g. just the bass)")
                info = gr.Markdown(webapp.NO_FILE, elem_id="drumgen-info")
        # a recording's corrections, one value for every event (None: all found from the music)
        hearing = gr.JSON(None, visible=False, label="hearing")
        with gr.Accordion("No MIDI? Record or tap a groove", open=False, elem_id="drumgen-record"), gr.Tabs():
            with gr.Tab("Record"):
                take = gr.Audio(sources=["microphone", "upload"], type="filepath", label="A take (a riff, a bass "
                                "line, a beatbox: notes that start clearly)", elem_id="drumgen-mic")
                use_take = gr.Button("Use this recording", variant="primary")
            with gr.Tab("Tap"):
                taps = TapPad(label="Tap a groove", elem_id="drumgen-taps")
                use_taps = gr.Button("Use taps", variant="primary", elem_id="drumgen-use-taps")
        with gr.Accordion("What drumgen heard in the recording", open=True, visible=False,
                          elem_id="drumgen-heard") as heard_box:
            heard_picture = gr.Image(type="filepath", format="png", interactive=False, show_label=False,
                                     elem_id="drumgen-heard-picture")
            with gr.Row(elem_classes="drumgen-tools"):
                heard_bpm = gr.Number(None, label="Tempo (BPM)", info=recording_page.BPM_INFO, minimum=0,
                                      maximum=R.MAX_BPM, min_width=140, elem_id="drumgen-heard-bpm")
                heard_bar_one = gr.Number(None, label="Bar 1 (seconds)", info=recording_page.BAR_ONE_INFO, minimum=0,
                                          min_width=140, elem_id="drumgen-heard-bar-one")
                heard_sensitivity = gr.Slider(0, 1, value=R.DEFAULT_SENSITIVITY, step=0.05, label="Sensitivity",
                                              info="higher: fainter onsets count", min_width=160)
                heard_meter = gr.Dropdown(recording_page.METER_CHOICES, value="4/4", label="Meter", min_width=100)
                hear_again = gr.Button("Hear again", variant="primary", min_width=110)
            with gr.Row(elem_classes="drumgen-tools", elem_id="drumgen-heard-tempo-fix"):
                gr.Markdown("Heard at 1/2, 2/3, 3/2 or 2 times the tempo? One click hears it again at:")
                tempo_fixes = {factor: gr.Button(f"{label} x the tempo", size="sm", min_width=100)
                               for factor, label in recording_page.TEMPO_FACTORS.items()}
        with gr.Accordion("Your groove as a piano roll (the take's grid below shows it too)", open=False):
            roll = gr.Image(label="Your groove (orange)", type="filepath", format="png", interactive=False,
                            show_label=False, elem_id="drumgen-roll")
        lanes = BarLanes(LANE_ROWS, value={}, label="Per-bar controls", elem_id="drumgen-lanes")
        with gr.Row(elem_classes="drumgen-tools"):
            lane = FreeDropdown(label="Set a whole lane", choices=[(label, key) for key, label, *_ in LANE_ROWS],
                               value="density", scale=2, min_width=150)
            level = FreeSlider(0, 1, value=0.8, step=0.05, label="Level", scale=2, min_width=160)
            shape_buttons = {shape: gr.Button(text, size="md", scale=1, min_width=90) for shape, text in
                             (("flat", "Flat"), ("ramp_up", "Ramp up"), ("ramp_down", "Ramp down"), ("free", "Free"))}
            free_all = gr.Button("Free all lanes", size="md", scale=1, min_width=110)

        with gr.Row(equal_height=True):
            style = FreeDropdown(label="Style", choices=list(webapp.STYLE_CHOICES), value=webapp.ANY_STYLE,
                                info="the controllable model only", min_width=140)
            model = FreeDropdown(label="Model", choices=drums.model_choices(), value=drums.default_model, scale=2)
            temperature = FreeSlider(0, webapp.MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature",
                                    info="0: the most likely drums; higher: more varied", min_width=180)
            seed = FreeNumber(0, precision=0, minimum=0, maximum=webapp.MAX_SEED, label="Seed",
                             info="same seed, same drums", min_width=120)
            loop = gr.Checkbox(False, label="Loop-ready", info="the last bar leads back into the first", min_width=120)
        with gr.Row():
            generate = gr.Button("Generate", variant="primary", scale=3)
            variation = gr.Button("New variation (new seed)", scale=1)

        summary = gr.Markdown(label="Summary", elem_id="drumgen-summary")
        # the take, drawn in the browser: the groove in a row of its own, one row per drum, editable
        grid = TakeGrid(label="The take: click to add or remove hits, drag a hit for its velocity", elem_id="drumgen-take")
        with gr.Row(elem_classes="drumgen-tools"):
            regen_bars = gr.Textbox(label="Bars to make new (the bars selected on the grid; or type them)",
                                    placeholder="5-8, 12 (empty: every bar)", scale=3, min_width=200,
                                    elem_id="drumgen-regen-bars")
            regen_lock = gr.CheckboxGroup(label="Voices to keep (the grid's padlocks)", visible=False,
                                          choices=[(H.VOICE_LABELS[v], v) for v in H.VOICES])
            regen_seed = gr.Number(None, visible=False, label="Regenerate seed (empty: a new one)")
            regen_follow = FreeSlider(0, 1, value=P.follow_default(drums.model()), step=0.05, label="Follow the kept bars",
                                      info="0: the new bars go their own way; 1: they lean on the kept bars around "
                                      "them (the controllable model)", scale=2, min_width=180, elem_id="drumgen-regen-follow")
            regenerate = gr.Button("Regenerate the selected bars (keep the rest and the locked drums)", scale=3,
                                   variant="primary")
        with gr.Row(elem_id="drumgen-takes"):
            undo = gr.Button("↶ Undo", size="md", scale=1, min_width=90, interactive=False)
            redo = gr.Button("↷ Redo", size="md", scale=1, min_width=90, interactive=False)
            ab = gr.Button("A/B", size="md", scale=2, min_width=150, interactive=False, elem_id="drumgen-ab")
            take_list = gr.Dropdown(label="Takes (pick one to hear it)", choices=[], value=None, scale=4, min_width=240,
                                    interactive=False, elem_id="drumgen-take-list")
        with gr.Row():
            mix = gr.Audio(label="Drums with your song", type="filepath", interactive=False, elem_id="drumgen-mix")
            alone = gr.Audio(label="Drums alone", type="filepath", interactive=False)
        with gr.Row():
            drums_midi = gr.File(label="MIDI: the drums", interactive=False, elem_id="drumgen-drums-midi")
            merged_midi = gr.File(label="MIDI: your song with the drums", interactive=False)
        # Export for your DAW (drumgen/export_page.py): the take shown, written for a drum instrument; no model runs
        daw = export_page.DawExport(drums)
        with gr.Accordion("Export for your DAW", open=False, elem_id="drumgen-export"):
            gr.Markdown(export_page.INTRO)
            with gr.Row(elem_classes="drumgen-tools"):
                daw_map = FreeDropdown(label="Drum map", choices=export_page.map_choices(), value="gm", scale=3,
                                       min_width=220, info="the note each voice is written on")
                daw_map_file = gr.File(label="Your drum map (.json, .yaml)", file_types=[".json", ".yaml", ".yml"],
                                       type="filepath", height=120, scale=2, min_width=160)
                daw_tracks = FreeDropdown(label="Tracks", choices=list(export_page.TRACK_CHOICES),
                                          value=export_page.ONE_TRACK, scale=2, min_width=160)
            daw_map_info = gr.Markdown(export_page.describe_map("gm"))
            with gr.Row(elem_classes="drumgen-tools"):
                daw_humanize = FreeSlider(0, 1, value=1.0, step=0.05, label="Humanize", min_width=160,
                                          info="0: every hit on the grid; 1: the model's micro-timing")
                daw_swing = FreeSlider(0, 1, value=0.0, step=0.05, label="Swing", min_width=160,
                                       info="0: straight; 0.5: an MPC's 58%; 1: triplet swing")
                daw_swing_grid = FreeDropdown(label="Swing grid", choices=list(export_page.SWING_GRID_CHOICES),
                                              value="16th", min_width=100)
                daw_low = gr.Textbox(label="Softest hit (1-127)", placeholder="as made", min_width=110,
                                     info="both empty: the dynamics as made")
                daw_high = gr.Textbox(label="Loudest hit (1-127)", placeholder="as made", min_width=110)
            with gr.Row(elem_classes="drumgen-tools"):
                daw_button = gr.Button("Export the drums MIDI", variant="primary", scale=1)
                daw_file = gr.File(label="MIDI for your DAW", interactive=False, scale=2, height=90)
        daw_inputs = [file, drums_midi, daw_map, daw_tracks, daw_humanize, daw_swing, daw_swing_grid, daw_low,
                      daw_high, daw_map_file, hearing]
        daw_map_file.upload(lambda _: export_page.MAP_FILE, daw_map_file, daw_map, api_visibility="private")
        for trigger in (daw_map.change, daw_map_file.change):
            trigger(export_page.describe_map, [daw_map, daw_map_file], daw_map_info, api_visibility="private",
                    show_progress="hidden")
        daw_button.click(daw.export, daw_inputs, daw_file, api_name="export", concurrency_id=page_limits.HEAVY,
                         concurrency_limit=page_limits.GRADIO_WORKERS).success(
            daw.preview, daw_inputs, [mix, alone], api_name="export_preview", concurrency_id=page_limits.HEAVY,
            concurrency_limit=page_limits.GRADIO_WORKERS)
        with gr.Row(elem_classes="drumgen-tools"):
            lossless_button = gr.Button("Lossless audio of the song with the drums (FLAC)", size="md", scale=1)
            lossless = gr.File(label="Lossless audio (FLAC, 44.1 kHz)", interactive=False, scale=2, height=90)

        settings = [file, track, lanes, style, model, temperature]
        results = [grid, mix, alone, drums_midi, merged_midi, summary]
        view = [undo, redo, ab, take_list]
        shown = [grid, mix, alone, drums_midi, merged_midi, summary, history, *view]  # a take shown again
        # the heavy events share one group; drumgen's WorkGate (page_limits) decides what runs in it
        heavy = dict(concurrency_id=page_limits.HEAVY, concurrency_limit=page_limits.GRADIO_WORKERS)
        light = dict(concurrency_id=page_limits.LIGHT, concurrency_limit=4, show_progress="hidden")
        page = dict(api_visibility="private")  # the page's own: the history is per session, not an API
        record = dict(fn=pages.record, inputs=[*results, history], outputs=[summary, history, *view], **page, **light)
        corrections = [hearing, heard_bpm, heard_bar_one, heard_sensitivity, heard_meter]
        shown_heard = dict(fn=heard.show, inputs=[file, hearing], outputs=[heard_box, heard_picture, heard_bpm,
                                                                          heard_bar_one], **page, **heavy)
        new_song = dict(fn=pages.new_song, inputs=[file, grid, history, hearing], outputs=[grid, history, *view], **page,
                        **light)
        file.change(heard.reset, file, [*corrections, heard_box, heard_picture], **page, **light).then(
            drums.analyze, [file, hearing], [info, track, roll, lanes], api_name="analyze", **heavy).success(
            **new_song).success(**shown_heard)
        hear_now = dict(fn=heard.corrections, inputs=corrections[1:], outputs=hearing, **page, **light)
        analyzed = dict(fn=drums.analyze, inputs=[file, hearing], outputs=[info, track, roll, lanes], **page, **heavy)
        hear_again.click(**hear_now).success(**analyzed).success(**new_song).success(**shown_heard)
        model.change(lambda name: P.follow_for(drums, name), model, regen_follow, **page, **light)  # its own pull
        for factor, button in tempo_fixes.items():  # the tempo box scaled, then Hear again
            button.click(lambda bpm, f, h, k=factor: heard.scale_tempo(k, bpm, f, h), [heard_bpm, file, hearing], heard_bpm,
                         **page, **heavy).success(**hear_now).success(**analyzed).success(**new_song).success(**shown_heard)
        use_take.click(heard.use_recording, take, file, **page, **light)
        use_taps.click(heard.use_taps, taps, file, js=STOP_JS, **page, **light)
        track.input(drums.groove, [file, track, hearing], roll, api_name="groove", **heavy)
        for shape, button in shape_buttons.items():
            button.click(drums.lane_shaper(shape), [lanes, lane, level], lanes, api_name=f"lane_{shape}", **light)
        free_all.click(drums.free_all, lanes, lanes, api_name="free_lanes", **light)
        generate.click(drums.generate, [*settings, seed, loop, hearing], results, api_name="generate",
                       **heavy).success(**record)
        variation.click(drums.new_variation, [*settings, loop, hearing], [seed, *results], api_name="new_variation",
                        **heavy).success(**record)
        regenerate.click(drums.regenerate, [file, track, grid, regen_bars, regen_lock, lanes, style, model,
                                            temperature, regen_seed, loop, hearing, regen_follow], [seed, *results],
                         api_name="regenerate",
                         **heavy).success(**record)
        # the API's edit (the page's own hand edits below keep the grid as the person left it)
        gr.on([], drums.edit, [file, track, grid, hearing], results, api_name="edit", **heavy)
        grid.input(pages.hand_edit, [file, track, grid, history, hearing], [mix, alone, drums_midi, merged_midi, summary,
                                                                    history, *view], trigger_mode="always_last",
                   **page, **heavy)
        grid.change(None, grid, regen_bars, js=BARS_TEXT_JS, **page)  # the bars selected, as text
        regen_bars.submit(pages.select_bars, [grid, regen_bars], grid, **page, **light)
        for button, how in ((undo, pages.undo), (redo, pages.redo), (ab, pages.swap)):
            button.click(how, [file, track, grid, history, hearing], shown, **page, **light)
        take_list.input(pages.show, [file, track, grid, history, take_list, hearing], shown, **page, **light)
        lossless_button.click(drums.lossless, [merged_midi, file, hearing], lossless, api_name="lossless_audio", **heavy)
    demo.queue(max_size=page_limits.QUEUE_SIZE)
    # the recording's corrections came last to every endpoint (and /lossless_audio's file before them):
    # a caller from before sends them not, and is served as before
    # (and /regenerate's follow after them: left out, the model's own)
    demo.validate_inputs = _too_few_values_in_words(demo.validate_inputs, {hearing}, {"lossless_audio": {file},
                                                                                      "regenerate": {regen_follow}})
    return demo


def _too_few_values_in_words(validate, may_leave_out=frozenset(), may_leave_out_of=None):
    """Gradio's check of an API call's input count, its message drumgen's: the endpoint, what it
    takes, what came (Gradio's own lists the components with their memory addresses). Values missing
    at the end for components in `may_leave_out` (or in `may_leave_out_of[api_name]`) are None."""
    may_leave_out_of = may_leave_out_of or {}

    def check(block_fn, inputs):
        missing = block_fn.inputs[len(inputs):]
        optional = {id(c) for c in (*may_leave_out, *may_leave_out_of.get(block_fn.api_name, ()))}
        if missing and all(id(component) in optional for component in missing):
            inputs.extend([None] * len(missing))  # the list Gradio goes on to read
        if len(inputs) < len(block_fn.inputs):
            names = [n for n in inspect.signature(block_fn.fn).parameters if n != "progress"][:len(block_fn.inputs)]
            raise gr.Error(f"/{block_fn.api_name or block_fn.name} takes {len(block_fn.inputs)} values "
                           f"({', '.join(names)}); {len(inputs)} came.", print_exception=False)
        return validate(block_fn, inputs)

    return check


def launch_options() -> dict:
    """What launch() needs besides host and port (the tests launch with the same)."""
    return dict(show_error=True, allowed_paths=[str(webapp.ASSETS)], max_file_size=MAX_UPLOAD, css=CSS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="drumgen's web page. Host and port also from "
                                     "GRADIO_SERVER_NAME / GRADIO_SERVER_PORT. The command-line demo: "
                                     "python -m drumgen demo")
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 7860, or the next free one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("drumgen").setLevel(logging.INFO)
    import torch

    # One thread per request: requests run side by side (CONCURRENCY), and on a busy CPU two
    # threads for a small model are a hundred times slower than one (they wait on each other).
    torch.set_num_threads(int(os.environ.get("DRUMGEN_TORCH_THREADS", "1")))
    drums = webapp.DrumApp()
    drums.folders.remove_on_signals()  # SIGTERM (kill, docker stop, a Space restart) and Ctrl-C leave no files
    print(f"drumgen: models {', '.join(f'{k} ({p.name})' for k, p in drums.models.items())}; loading...", flush=True)
    drums.warm_up()
    reason = webapp.audio.audio_unavailable_reason()
    if reason:
        print(f"drumgen: {reason}", flush=True)
    demo = build_app(drums)
    demo.launch(server_name=args.host, server_port=args.port, **launch_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
