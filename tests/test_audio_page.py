"""Drums for a recording or taps, around drumgen.recording: the mix (the drums delayed to bar 1 over the
recording itself), the page's pieces (corrections, taps, the picture of what was heard), the command line
and the real app through gradio_client (tempo and bars heard, the drums aligned to the recording in the
mix, bad recordings and bad corrections answered with a sentence). The clips are made here: clicks in
numpy, a bass line through FluidSynth."""
import json
from pathlib import Path
from types import SimpleNamespace

import mido
import numpy as np
import pytest
import soundfile as sf
import torch

from drumgen import audio, midi, previews
from drumgen import recording as R
from drumgen import recording_page as RP
from drumgen.page_input import describe_song
from tests.conftest import ROOT, make_midi

AUDIO = audio.audio_unavailable_reason() is None
needs_audio = pytest.mark.skipif(not AUDIO, reason="no FluidSynth or SoundFont here")
RATE = 22050


def click_track(path, bpm=120.0, bars=4, lead=0.5, rate=RATE, pattern=(0, 1, 2, 3, 3.5)):
    """A take of clicks (beat 1 higher and louder), `lead` seconds of silence before bar 1."""
    n = int((lead + bars * 4 * 60 / bpm + 1.0) * rate)
    y = np.zeros(n, np.float32)
    t = np.arange(int(0.05 * rate)) / rate
    fade = np.cos(np.pi / 2 * t / t[-1])   # to 0 at its end: a burst cut off at 5% of its level clicks there,
    for bar in range(bars):                # 30 dB down, and the onset detector hears that click as a note
        for beat in pattern:
            at = int(round((lead + (bar * 4 + beat) * 60 / bpm) * rate))
            pitch = 880 if beat == 0 else 440 * (1 + (beat % 1 > 0))
            burst = (0.9 if beat == 0 else 0.5) * np.sin(2 * np.pi * pitch * t) * np.exp(-t * 60) * fade
            y[at:at + len(burst)] += burst
    audio.write_audio(y, path, rate)
    return Path(path)


def bass_take(path, bpm=100.0, bars=4):
    """A bass line (a fingered bass, 8ths and 16ths, beat 1 loud) rendered with FluidSynth, as a WAV."""
    tpb, notes = 480, []
    for bar in range(bars):
        for step, vel in ((0, 115), (3, 80), (6, 95), (8, 110), (10, 85), (12, 100), (14, 80)):
            notes.append(((bar * 16 + step) * tpb // 4, 40 + (7 if step == 8 else 0), vel, 0))
    source = make_midi(Path(path).with_suffix(".mid"), notes, tempos=((0, bpm),),
                       extra_tracks=([(0, mido.Message("program_change", channel=0, program=33))],))
    audio.write_audio(audio.render_audio(source, sample_rate=RATE), path, RATE)
    return Path(path)


def fake_hearing(recording, bar_one, rate=RATE):
    return SimpleNamespace(bar_one=bar_one, read_samples=lambda r: np.asarray(recording, np.float32))


def lag_of(mix, drums, rate, most=3.0):
    """Where the drums sit in the mix (seconds): the peak of their cross-correlation over lags 0..most s."""
    n = 1 << int(np.ceil(np.log2(len(mix) + len(drums))))
    corr = np.fft.irfft(np.fft.rfft(mix, n) * np.conj(np.fft.rfft(drums, n)), n)[:int(most * rate)]
    return float(np.argmax(corr)) / rate


# --- the mix --------------------------------------------------------------------------------------------

def test_the_drums_are_delayed_to_bar_one_and_balanced():
    rate = 8000
    recording = 0.3 * np.sin(np.arange(3 * rate) * 0.05).astype(np.float32)     # 3 s of a steady tone
    drums = np.zeros(3 * rate, np.float32)
    drums[[0, 1300, 5100, 9000, 17000]] = 1.0                                  # five hits, unevenly
    mix = previews.mix_with_recording(drums, fake_hearing(recording, 0.75), rate, normalize=False)
    assert mix.shape == (int(0.75 * rate) + len(drums),)                         # the drums ring past the take
    assert np.flatnonzero(np.abs(mix - np.pad(recording, (0, len(mix) - len(recording)))) > 1e-4)[0] == int(0.75 * rate)
    assert lag_of(mix, drums, rate) == pytest.approx(0.75, abs=1 / rate)
    stereo = previews.mix_with_recording(np.stack([drums, drums], 1), fake_hearing(recording, 0.75), rate)
    assert stereo.shape == (len(mix), 2) and np.abs(stereo).max() == pytest.approx(audio.PEAK, rel=1e-5)
    drums_part = mix - np.pad(recording, (0, len(mix) - len(recording)))      # the drums' level: the recording's x 0.9
    assert previews._level(drums_part) / previews._level(recording) == pytest.approx(previews.DRUMS_OVER_RECORDING, rel=1e-3)
    silent = previews.mix_with_recording(np.zeros(100, np.float32), fake_hearing(recording, 0.0), rate)
    assert np.abs(silent).max() == pytest.approx(audio.PEAK, rel=1e-5)          # silent drums: the recording alone


# --- the page's pieces ----------------------------------------------------------------------------------

def test_corrections_are_one_value_and_bad_ones_a_sentence():
    assert RP.corrections(None, "", 0.5, "4/4") is None                          # nothing corrected
    assert RP.corrections(96, " 1.25 ", 0.7, "3/4") == {"bpm": 96, "bar_one": "1.25", "sensitivity": 0.7, "meter": "3/4"}
    assert R.parse_hearing(RP.corrections(96, "1.25", None, "6/8")) == {"bpm": 96.0, "bar_one": 1.25,
                                                                     "sensitivity": 0.5, "meter": (6, 8)}
    for args, words in (((500, None, None, None), "tempo must be from 30 to 300 BPM"),
                        ((None, "soon", None, None), "bar 1 must be a time in seconds"),
                        ((None, None, 2, None), "sensitivity must be a number from 0 to 1"),
                        ((None, None, None, "7/16"), "cannot play this groove in 7/16")):
        with pytest.raises(ValueError, match=words):
            RP.corrections(*args)


def test_taps_become_a_groove_with_their_own_timing():
    bpm, beat = 120, 0.5
    taps = [[-1.5, 1.0], [-0.01, 0.9], [beat + 0.02, 0.4], [2 * beat, 0.8], [4 * beat, 1.0], [6.5 * beat, 0.6]]
    song = RP.taps_song({"bpm": bpm, "meter": "4/4", "bars": 2, "taps": taps})
    assert song.n_bars == 2 and song.bpm == bpm and song.meter_label == "4/4"
    ticks = song.notes[:, 4].tolist()
    assert ticks[0] == 0 and ticks[1] == round(1.04 * 480) and ticks[2:] == [960, 1920, 3120]  # the count-in tap left out
    assert song.notes[0, 3] > song.notes[1, 3]                                  # velocity kept (0.9 > 0.4)
    three = RP.taps_song({"bpm": 90, "meter": "3/4", "taps": [[0, 1], [0.66, 0.5], [2.0, 0.9]]})
    assert three.meter_label == "3/4" and three.n_bars == 2
    for value, words in ((None, "no taps"), ({"bpm": 100, "taps": []}, "no taps"),
                         ({"taps": [[0, 1]]}, "needs the tempo"), ({"bpm": 100, "taps": [[-9, 1]]}, "no tap falls after bar 1"),
                         ({"bpm": 100, "taps": [["x", 1]]}, "a tap must be"), ({"bpm": 100, "tempo": 3, "taps": [[0, 1]]},
                                                                                 "unknown tap pad setting 'tempo'"),
                         ("{oops", "taps: expected an object"),
                         ({"bpm": 100, "taps": [["x", 1]] * (R.MAX_TAPS + 1)}, "too many taps")):
        with pytest.raises(ValueError, match=words):
            RP.taps_song(value)


def test_what_was_heard_is_drawn_and_said(tmp_path):
    heard = R.hear(click_track(tmp_path / "clicks.wav"))
    png = RP.hearing_figure(heard)
    assert png[:4] == b"\x89PNG"
    assert RP.bar_times(heard)[:3] == pytest.approx([heard.bar_one, heard.bar_one + 2.0, heard.bar_one + 4.0], abs=0.05)
    said = describe_song(heard.song, "clicks.wav")
    assert "(a recording): 4 bars of 4/4" in said and heard.describe()[1:] in said and "Hear again" in said
    early = R.hear(click_track(tmp_path / "clicks.wav"), bar_one=2.5)          # bar 1 given late: a pickup left out
    assert "left out" in describe_song(early.song, "clicks.wav")


def test_tempo_buttons_scale_the_tempo_typed_or_heard(tmp_path):
    """Half, 2/3, 3/2 and double the tempo box, or the tempo heard when it is empty (with the corrections
    in force); out of range, no recording or a bad box: a sentence."""
    import gradio as gr

    page = RP.RecordingPage(SimpleNamespace())
    path = str(click_track(tmp_path / "clicks.wav", bpm=120.0))
    heard = R.hear(path).bpm
    assert heard == pytest.approx(120.0, rel=0.01)
    assert page.scale_tempo(0.5, None, path) == round(heard / 2, 2) and page.scale_tempo(2.0, "", path) == round(heard * 2, 2)
    assert page.scale_tempo(1.5, 90, path) == 135.0 and page.scale_tempo(2 / 3, "96", path) == 64.0
    assert page.scale_tempo(2.0, None, path, {"bpm": 100}) == 200.0  # the tempo typed before, as heard now
    for factor, bpm, file, words in ((2.0, 180, path, "180.0 BPM x 2 is 360 BPM; drumgen takes 30 to 300 BPM"),
                                     (2.0, 100, str(ROOT / "assets" / "funk_bass.mid"), "Load a recording first"),
                                     (2.0, 100, None, "Load a recording first"),
                                     (2.0, "fast", path, "tempo must be a number of BPM")):
        with pytest.raises(gr.Error, match=words):
            page.scale_tempo(factor, bpm, file)


# --- the command line -----------------------------------------------------------------------------------

def cli(*args):
    """drumgen's command line in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from drumgen import cli as C

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = C.main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@needs_audio
def test_the_command_line_takes_a_recording(tmp_path):
    take = click_track(tmp_path / "take.wav", bpm=120, lead=0.5)
    done = cli("generate", take, "-o", tmp_path / "drums.mid", "--mix", tmp_path / "mix.wav", "--model", "mgvae",
               "--seed", "2")
    assert done.returncode == 0, done.stderr
    assert "over 4 bars of 4/4 at 12" in done.stdout and "mix.wav: the drums with the recording" in done.stdout
    assert "heard 20 onsets" in done.stderr
    drums = midi.read_song(tmp_path / "drums.mid")
    assert np.median([bpm for _, bpm in drums.tempos]) == pytest.approx(120, rel=0.02)  # a tempo a beat, as heard
    mix, rate = sf.read(tmp_path / "mix.wav")
    alone = audio.render_audio(tmp_path / "drums.mid", sample_rate=rate).mean(axis=1)
    assert mix.shape[1] == 2 and len(mix) / rate > 8.0 and np.abs(mix).max() > 0.5
    assert lag_of(mix.mean(axis=1), alone, rate) == pytest.approx(0.5, abs=0.03)  # the drums start at bar 1

    said = cli("tracks", take, "--bpm", 120, "--bar-one", 0.5)
    assert said.returncode == 0 and "a recording; heard 20 onsets" in said.stdout and "tempo 120.0 BPM (typed)" in said.stdout
    assert "4 bars of 4/4 from bar 1" in said.stdout


def test_bad_recordings_on_the_command_line_exit_2_with_a_sentence(tmp_path):
    audio.write_audio(np.zeros(RATE * 3, np.float32), tmp_path / "silence.wav", RATE)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64))
    click_track(tmp_path / "take.wav")
    for args, words in ((("tracks", tmp_path / "silence.wav"), "This recording is silent"),
                        (("tracks", tmp_path / "broken.wav"), "cannot read this audio file"),
                        (("tracks", tmp_path / "take.wav", "--bpm", "fast"), "tempo must be a number of BPM"),
                        (("generate", tmp_path / "take.wav", "-o", tmp_path / "d.mid", "--mix", tmp_path / "mix.mp4"),
                         "--mix: write a .wav, .flac or .ogg file")):
        done = cli(*args)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1


# --- the app, through gradio_client ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from gradio_client import Client

    from tests.test_app import launch_app

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    demo, url = launch_app(tmp_path_factory.mktemp("audio_app"))
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()
        torch.set_num_threads(threads)


@needs_audio
def test_a_recording_through_the_api(served, tmp_path):
    from gradio_client import handle_file

    take = bass_take(tmp_path / "bass.wav", bpm=100, bars=4)
    heard = {"bpm": 100, "bar_one": 0}
    info, tracks, roll, lanes = served.predict(handle_file(str(take)), heard, api_name="/analyze")
    assert "(a recording): 4 bars of 4/4 from bar 1 at 100.0 BPM" in info and len(lanes["density"]) == 4
    take_value, mix, alone, drums_mid, merged_mid, summary = served.predict(
        handle_file(str(take)), "all", {}, "any", "mgvae", 1.0, 1, False, heard, api_name="/generate")
    assert "over 4 bars at 100 BPM for **bass.wav**" in summary and take_value["take"]["steps"] == 64
    assert midi.read_song(drums_mid).bpm == pytest.approx(100)
    mixed, rate = sf.read(mix)
    drums, _ = sf.read(alone)
    recorded = R.hear(take, **heard).read_samples(rate)
    assert np.abs(mixed).max() > 0.5 and len(mixed) >= len(recorded)            # the whole take, not silent
    assert abs(np.corrcoef(mixed[:len(recorded)], recorded)[0, 1]) > 0.3        # the recording itself is in it
    assert lag_of(mixed, drums, rate) == pytest.approx(0.0, abs=0.01)           # bar 1 at 0 s: the drums from the start

    late = {"bpm": 100, "bar_one": 0.6}                                          # bar 1 later: the drums later
    _, mix2, alone2, drums2, merged2, _ = served.predict(handle_file(str(take)), "all", {}, "any", "mgvae", 1.0, 1, False,
                                                    late, api_name="/generate")
    assert lag_of(sf.read(mix2)[0], sf.read(alone2)[0], rate) == pytest.approx(0.6, abs=0.01)

    exported_mix, exported_alone = served.predict(handle_file(str(take)), handle_file(drums2), "ad2", "one", 0.0,
                                                  hearing=late, api_name="/export_preview")  # the export's timing, heard
    assert lag_of(sf.read(exported_mix)[0], sf.read(exported_alone)[0], rate) == pytest.approx(0.6, abs=0.01)
    flac = served.predict(handle_file(merged2), handle_file(str(take)), late, api_name="/lossless_audio")
    lossless, flac_rate = sf.read(flac)
    assert flac_rate == 44100 and lossless.shape[1] == 2 and len(lossless) / flac_rate >= len(recorded) / rate - 0.01
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not made for this recording"):            # another bar 1 than the take's
        served.predict(handle_file(merged2), handle_file(str(take)), heard, api_name="/lossless_audio")
    # a MIDI groove's calls without the corrections work as before
    assert "drum hits" in served.predict(handle_file(str(ROOT / "assets" / "funk_bass.mid")), "all", {}, "any", "mgvae",
                                         1.0, 0, api_name="/generate")[-1]


def test_bad_recordings_and_corrections_through_the_api(served, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    audio.write_audio(np.zeros(RATE * 3, np.float32), tmp_path / "silence.wav", RATE)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64))
    take = click_track(tmp_path / "take.wav")
    for path, heard, words in ((tmp_path / "silence.wav", None, "This recording is silent"),
                               (tmp_path / "broken.wav", None, "cannot read this audio file"),
                               (take, {"bpm": "fast"}, "tempo must be a number of BPM"),
                               (take, {"bar_one": 99}, "past the end of the recording"),
                               (take, {"tempo": 100}, "unknown hearing setting 'tempo'"),
                               (take, "[1, 2]", "hearing must be an object")):
        for endpoint, args in (("/analyze", (heard,)), ("/generate", ("all", {}, "any", "mgvae", 1.0, 0, False, heard))):
            with pytest.raises(AppError) as error:
                served.predict(handle_file(str(path)), *args, api_name=endpoint)
            assert words in str(error.value) and "Traceback" not in str(error.value), (path.name, endpoint, str(error.value))


def test_a_take_and_taps_go_down_the_file_inputs_path(tmp_path):
    import gradio as gr

    from drumgen import webapp

    drums = webapp.DrumApp({"mgvae": ROOT / "checkpoints" / "mgvae_gmd.pth"}, work_dir=tmp_path / "work")
    page = RP.RecordingPage(drums)
    take = click_track(tmp_path / "take.wav")
    assert page.use_recording(str(take)) == str(take) and page.use_recording({"path": str(take)}) == str(take)
    for bad, words in ((None, "Record a take"), (str(ROOT / "assets" / "funk_bass.mid"), "not a recording")):
        with pytest.raises(gr.Error, match=words):
            page.use_recording(bad)
    path = Path(page.use_taps({"bpm": 90, "meter": "3/4", "taps": [[0, 1], [0.66, 0.5], [2.0, 0.9]]}))
    assert path.name == "taps_90bpm_3-4.mid" and path.is_relative_to(tmp_path / "work")
    song = midi.read_song(path)                                      # a MIDI file, read as any other
    assert song.meter_label == "3/4" and song.bpm == pytest.approx(90) and len(song.notes) == 3
    with pytest.raises(gr.Error, match="no taps"):
        page.use_taps({"bpm": 90, "taps": []})
    box, picture, bpm_hint, bar_hint = page.show(str(take), {"bpm": 120})
    assert box.visible and Path(picture).read_bytes()[:4] == b"\x89PNG" and "heard 120.0 BPM (typed)" in bpm_hint.info
    assert page.show(str(path), None)[0].visible is False            # MIDI: nothing heard to show
    reset = page.reset(str(take))
    assert reset[0] is None and reset[1].value is None and reset[2].value is None
    assert reset[1].info == RP.BPM_INFO and reset[3:5] == (R.DEFAULT_SENSITIVITY, "4/4")
    # a recording's corrections are shown before it is heard: one drumgen cannot hear ("type its tempo")
    # is corrected there; MIDI or no file hides them
    assert reset[5].visible is True and reset[6] is None
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(RATE * 2, np.float32), RATE)
    assert page.reset(str(silent))[5].visible is True
    assert page.reset(str(path))[5].visible is False and page.reset(None)[5].visible is False
    assert RP.examples() == [str(ROOT / "assets" / "bass_take.ogg")]


def test_the_page_takes_the_recordings_drumgen_takes():
    """Gradio's upload limit lets through a 10-minute WAV, CD quality or a DAW's 48 kHz 24-bit stereo (the
    100 MB limit refused both, while drumgen says it takes 10 minutes)."""
    import app
    from gradio.utils import _parse_file_size

    limit = _parse_file_size(app.launch_options()["max_file_size"])
    for rate, width in ((44100, 2), (48000, 3)):
        assert limit >= 600 * rate * 2 * width + 44


@needs_audio
def test_the_command_lines_mix_plays_the_drums_on_the_general_midi_kit(tmp_path):
    """--mix with --drum-map ad2 (the hi-hat on 49, GM's crash): the mix sounds as with gm (before: crashes)."""
    from drumgen import cli, drum_maps, pipeline
    from drumgen import hvo as H

    song = R.hear(click_track(tmp_path / "take.wav", bpm=120, bars=2)).song
    take = H.empty_hvo(song.n_steps)
    take[::2, H.VOICES.index("closed_hat")] = 1.0
    take[::2, H.N_VOICES + H.VOICES.index("closed_hat")] = 0.8
    mixes = []
    for name in ("gm", "ad2"):
        part = pipeline.take_part(song, take, export=midi.ExportOptions(drum_map=drum_maps.resolve(name)))
        cli.write_mix(part, tmp_path / f"{name}.wav")
        mixes.append(sf.read(tmp_path / f"{name}.wav")[0])
    a, b = (m.mean(axis=1) for m in mixes)
    assert len(a) == len(b) and np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)) > 0.99  # crashes: 0.19


def test_callers_from_before_the_corrections_are_served_as_before(served):
    """A raw HTTP caller that sends the values an endpoint took before #15 (no trailing `hearing`, and
    /lossless_audio without file and hearing) is served; one that sends too few still hears why."""
    import httpx

    url = served.src.rstrip("/") + "/"

    def call(endpoint, data):
        sent = httpx.post(url + f"gradio_api/call/{endpoint}", json={"data": data}).json()["event_id"]
        return httpx.get(url + f"gradio_api/call/{endpoint}/{sent}", timeout=300).text

    with open(ROOT / "assets" / "funk_bass.mid", "rb") as f:
        path = httpx.post(url + "gradio_api/upload", files={"files": ("funk_bass.mid", f)}).json()[0]
    groove = {"path": path, "meta": {"_type": "gradio.FileData"}}
    reply = call("generate", [groove, "all", {}, "any", "mgvae", 1.0, 0, False])
    assert "event: complete" in reply and "drum hits" in reply
    assert "takes 9 values" in call("generate", [groove])
    merged = [x for x in json.loads(reply.split("data: ", 1)[1].splitlines()[0]) if isinstance(x, dict)
              and str(x.get("path", "")).endswith(".mid") and "with_drums" in x["path"]][0]
    if AUDIO:
        assert "event: complete" in call("lossless_audio", [merged])


def test_the_warm_up_hears_clicks_so_the_first_recording_is_quick():
    from drumgen import recording

    before = recording._hear.cache_info().currsize
    RP.hear_clicks()  # compiles librosa's numba code; clicks as bytes are not kept by the cache
    assert recording._hear.cache_info().currsize == before
    song = recording.hear(_clicks_wav(120.0)).song
    assert 110 < song.bpm < 130


def _clicks_wav(bpm, rate=22050, seconds=6.0):
    import io

    import soundfile

    clip = np.zeros(int(rate * seconds), np.float32)
    for start in range(rate // 4, len(clip) - 400, int(rate * 60 / bpm)):
        clip[start:start + 400] += 0.5 * np.sin(np.arange(400) * 0.3).astype(np.float32)
    data = io.BytesIO()
    soundfile.write(data, clip, rate, format="WAV")
    return data.getvalue()


def test_the_recording_controls_are_for_recordings_only(tmp_path):
    from drumgen.recording_page import is_recording

    take, groove = ROOT / "assets" / "bass_take.ogg", ROOT / "assets" / "son_clave.mid"
    misnamed = tmp_path / "take.mid"
    misnamed.write_bytes(take.read_bytes())                               # a recording saved under a MIDI name
    assert is_recording(str(take)) and is_recording({"path": str(take)}) and is_recording(misnamed)
    assert not any(is_recording(v) for v in (None, str(groove), {"path": str(groove)}, {}, "", 3))
