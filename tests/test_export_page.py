"""The page's "Export for your DAW" without a browser: each option reaches the file (a map's notes, a
track per voice, humanize, swing, the velocity range), the file keeps the song's tempo map and is
named after the take, the previews follow the export, and bad values get one sentence."""
import json
from pathlib import Path

import gradio as gr
import mido
import numpy as np
import pytest

from drumgen import audio, drum_maps, export_page, midi, takes, webapp
from drumgen import hvo as H
from tests.conftest import ROOT, make_midi
from tests.test_midi import _note_ons
from tests.test_webapp import groove_notes

SHIPPED = ROOT / "checkpoints" / "mgvae_gmd.pth"
AUDIO = audio.audio_unavailable_reason() is None
BARS, BPM = 4, 97.0

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(DawExport, the song's path, the take Generate gave (its drums MIDI), the take's Result)."""
    tmp = tmp_path_factory.mktemp("export")
    song = make_midi(tmp / "song.mid", groove_notes(BARS), tempos=((0, BPM), (2 * 4 * 480, BPM + 20)))
    drums = webapp.DrumApp({"mgvae": SHIPPED}, work_dir=tmp / "work")
    result = drums.run(str(song), "all", {"density": [0.8] * BARS}, "any", "mgvae", 1.2, 7)
    return export_page.DawExport(drums), song, result.drums_midi, result


def note_ons(path):
    """(tick, pitch, velocity, track) of every note-on of a MIDI file, in time order, and the file."""
    mid = mido.MidiFile(path)
    out = sorted((tick, note, velocity, track) for track, tick, note, velocity in _note_ons(mid))
    return np.array(out, np.int64).reshape(-1, 4), mid


def export(page, **options):
    daw, song, take, _ = page
    return daw.export(str(song), take, **options)


def test_the_defaults_write_the_take_as_it_is_with_the_song_s_tempo_map(page):
    daw, song, take, result = page
    path = export(page)
    assert Path(path).name == "song_drums_seed7_gm.mid"
    ours, mid = note_ons(path)
    theirs, _ = note_ons(take)
    np.testing.assert_array_equal(ours[:, :3], theirs[:, :3])
    tempo = [(m.type, getattr(m, "tempo", None)) for m in mid.tracks[0] if m.type in ("set_tempo", "time_signature")]
    assert sorted(t for t, _ in tempo) == ["set_tempo", "set_tempo", "time_signature"]
    tempos = midi.read_song(path).tempos
    assert [t for t, _ in tempos] == [0, 2 * 4 * mid.ticks_per_beat]
    assert [b for _, b in tempos] == pytest.approx([BPM, BPM + 20])
    assert "drumgen export: drum map gm, one track" in [m.text for m in mid.tracks[0] if m.type == "text"][0]
    assert [m.name for m in mid.tracks[1] if m.type == "track_name"] == [drum_maps.DRUMS_TRACK_NAME]
    assert len(ours) == H.hit_count(result.hvo)


def test_a_map_that_is_not_gm_writes_its_notes(page):
    path = export(page, drum_map="AD2")
    assert Path(path).name == "song_drums_seed7_ad2.mid"
    notes, _ = note_ons(path)
    assert set(notes[:, 1].tolist()) <= set(drum_maps.AD2.notes.values())
    song = midi.read_song(page[1])
    back = takes.take_from_midi(path, song, drum_map="ad2")
    np.testing.assert_array_equal(back[:, H.HITS], page[3].hvo[:, H.HITS])
    hats = page[3].hvo[:, H.VOICES.index("closed_hat")].sum()
    assert hats and (notes[:, 1] == 49).sum() == hats  # AD2's closed hat is GM's crash note
    with pytest.raises(midi.MidiError, match="an export written with the drum map ad2"):
        takes.take_from_midi(path, song)  # read as GM it would turn the hats into crashes: refused


def test_a_track_per_voice_holds_only_its_voice(page):
    path = export(page, drum_map="ssd5", tracks="per_voice")
    notes, mid = note_ons(path)
    names = [next(m.name for m in t if m.type == "track_name") for t in mid.tracks]
    assert names == ["tempo"] + [H.VOICE_LABELS[v] for v in H.VOICES]
    for index, voice in enumerate(H.VOICES, start=1):
        mine = notes[notes[:, 3] == index]
        assert set(mine[:, 1].tolist()) <= {drum_maps.SSD5.notes[voice]}
        assert len(mine) == int(page[3].hvo[:, H.VOICES.index(voice)].sum())
    assert (notes[:, 3] > 0).all()


def test_humanize_0_puts_every_hit_on_the_grid(page):
    notes, mid = note_ons(export(page, humanize=0))
    step = mid.ticks_per_beat // H.STEPS_PER_BEAT
    assert len(notes) and (notes[:, 0] % step == 0).all()
    loose, _ = note_ons(export(page, humanize=1))
    assert (loose[:, 0] % step != 0).any()  # the model's micro-timing is there to remove


@pytest.mark.parametrize("grid", ["16th", "8th"])
def test_swing_moves_only_the_off_beats(page, grid):
    straight, mid = note_ons(export(page, humanize=0))
    swung, _ = note_ons(export(page, humanize=0, swing=0.75, swing_grid=grid))
    step = mid.ticks_per_beat // H.STEPS_PER_BEAT
    pair = drum_maps.SWING_GRIDS[grid]
    by_voice = {}
    for tick, pitch, *_ in swung:
        by_voice.setdefault(pitch, []).append(tick)
    moved = 0
    for tick, pitch, *_ in straight:
        off_beat = (tick // step) % pair == pair // 2
        delay = round(0.75 * pair / 6 * step) if off_beat else 0
        assert tick + delay in by_voice[pitch], (tick, pitch, off_beat)
        moved += off_beat
    assert moved and len(swung) == len(straight)


def test_the_velocity_range_spans_the_hits(page):
    notes, _ = note_ons(export(page, velocity_low="40", velocity_high=100))
    assert notes[:, 2].min() == 40 and notes[:, 2].max() == 100
    same, _ = note_ons(export(page, velocity_low=None, velocity_high=""))
    theirs, _ = note_ons(page[2])
    np.testing.assert_array_equal(same[:, 2], theirs[:, 2])


def test_a_map_from_an_uploaded_file(page, tmp_path):
    kit = tmp_path / "my kit.json"
    kit.write_text(json.dumps({"kick": 24, "snare": 26, "fallback": "gm"}))
    path = export(page, drum_map="file", map_file=str(kit))
    assert Path(path).name == "song_drums_seed7_my_kit.mid"
    notes, _ = note_ons(path)
    assert 24 in notes[:, 1] and 36 not in notes[:, 1] and 42 in notes[:, 1]
    assert "kick 24" in export_page.describe_map("file", str(kit)) and "Upload" in export_page.describe_map("file")
    assert "closed hi-hat 49" in export_page.describe_map("ad2")
    assert [v for _, v in export_page.map_choices()] == [*drum_maps.MAPS, "file"]


@pytest.mark.parametrize("options, words", [
    (dict(drum_map="ezdrummer"), "unknown drum map 'ezdrummer'; maps: gm, logic, ad2, ssd5, or file"),
    (dict(drum_map="/etc/passwd"), "unknown drum map '/etc/passwd'"),
    (dict(drum_map="file"), "Upload a drum map file for the map 'file'"),
    (dict(humanize=1.5), "humanize must be a number from 0 to 1, got 1.5"),
    (dict(humanize="lots"), "humanize must be a number from 0 to 1, got 'lots'"),
    (dict(swing=-0.2), "swing must be a number from 0 to 1, got -0.2"),
    (dict(swing_grid="4th"), "swing grid must be 16th or 8th, got '4th'"),
    (dict(tracks="two"), "tracks must be 'one' (one track for all drums) or 'per_voice'"),
    (dict(velocity_low=110, velocity_high=40), "velocity_low (110) is above velocity_high (40)"),
    (dict(velocity_low=0, velocity_high=40), "velocity_low must be a whole number from 1 to 127, got 0"),
    (dict(velocity_low=30.5, velocity_high=40), "got 30.5"),
    (dict(velocity_low=30), "Give both velocity_low and velocity_high"),
])
def test_bad_values_get_a_sentence(page, options, words):
    with pytest.raises(gr.Error) as error:
        export(page, **options)
    assert words in error.value.message


def test_a_take_that_is_not_the_drums_of_this_song_is_refused(page, tmp_path):
    daw, song, take, result = page
    other = make_midi(tmp_path / "other.mid", groove_notes(BARS), tempos=((0, 120.0),))
    ad2 = export(page, drum_map="ad2")
    for bad, words in ((None, "Generate first"), (result.merged_midi, "other notes than drums"),
                       (str(song), "other notes than drums"), (ad2, "an export \\(drum map ad2\\)"),
                       (str(tmp_path / "gone.mid"), "This result has expired")):
        with pytest.raises(gr.Error, match=words):
            daw.export(str(song), bad)
    notes, mid = note_ons(ad2)
    mid.tracks[0] = mido.MidiTrack(m for m in mid.tracks[0] if m.type != "text")  # written by another tool
    unmarked = tmp_path / "unmarked.mid"
    mid.save(unmarked)
    if (notes[:, 1] > 51).any():  # AD2's own notes (open hat, toms, crash, ride): not General MIDI drums
        with pytest.raises(gr.Error, match="not General MIDI drums drumgen writes"):
            daw.export(str(song), str(unmarked))
    with pytest.raises(gr.Error, match="another tempo than the song"):
        daw.export(str(other), take)


@pytest.mark.skipif(not AUDIO, reason="no FluidSynth or SoundFont here")
def test_the_previews_follow_the_export(page):
    import soundfile

    daw, song, take, result = page
    mix, alone = daw.preview(str(song), take, "ad2", "per_voice", 0, 1.0, "8th", 20, 127)
    assert Path(alone).name == "song_drums_seed7_ad2_drums.ogg"
    before, rate = soundfile.read(result.drums_audio)
    after, rate_after = soundfile.read(alone)
    assert rate == rate_after and abs(len(after) - len(before)) <= rate // 10
    assert np.sqrt(np.mean(after ** 2)) > 0.01 and np.sqrt(np.mean(soundfile.read(mix)[0] ** 2)) > 0.01
    assert not np.allclose(after[: len(before)], before[: len(after)], atol=1e-3)  # the swung take, not the take
