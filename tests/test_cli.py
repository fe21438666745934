import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drumgen import cli, midi
from drumgen import hvo as H
from drumgen.models.checkpoint import SHIPPED
from tests.conftest import ROOT, make_midi, rock_beat


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model):
    path = tmp_path / "tiny.pth"
    tiny_model.save(str(path))
    return str(path)


def test_generate_writes_drum_midi_at_input_tempo(tmp_path, tiny_checkpoint, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat(3), tempos=((0, 93.0),))
    out = tmp_path / "out.mid"
    code = cli.main(["generate", str(src), "-o", str(out), "--checkpoint", tiny_checkpoint, "--seed", "3",
                     "--temperature", "0.5", "--threshold", "0.3"])
    assert code == 0 and out.is_file()
    song = midi.read_song(out)
    assert song.bpm == pytest.approx(93, abs=0.01)
    assert all(ch == midi.DRUM_CHANNEL for ch in song.notes[:, 1])
    assert "wrote" in capsys.readouterr().out


def test_generate_with_track_and_merge(tmp_path, tiny_checkpoint):
    import mido
    bass = [(i * 240, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(16)]
    src = make_midi(tmp_path / "in.mid", rock_beat(), extra_tracks=[bass])
    out = tmp_path / "out.mid"
    assert cli.main(["generate", str(src), "-o", str(out), "--track", "2", "--merge", "--checkpoint", tiny_checkpoint]) == 0
    assert len(midi.read_song(out).tracks) == 4


@pytest.mark.parametrize("content, args, message", [
    (b"", [], "empty"),
    (b"not midi at all", [], "not a MIDI file"),
    (None, ["--track", "9"], "no track 9"),
    (None, ["--temperature", "-2"], "temperature"),
    (None, ["--seed", "-5"], "seed"),
    (None, ["--threshold", "3"], "threshold"),
])
def test_bad_input_is_one_clear_line(tmp_path, tiny_checkpoint, capsys, content, args, message):
    src = tmp_path / "bad.mid"
    if content is None:
        make_midi(src, rock_beat())
    else:
        src.write_bytes(content)
    code = cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--checkpoint", tiny_checkpoint, *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and err.startswith("error:") and "\n" not in err
    assert "Traceback" not in err


def test_missing_checkpoint_is_clear(tmp_path, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat())
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--checkpoint", str(tmp_path / "no.pth")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_tracks_lists_tracks(tmp_path, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat())
    assert cli.main(["tracks", str(src)]) == 0
    out = capsys.readouterr().out
    assert "120.0 BPM" in out and "track 1" in out and "drums" in out


def test_module_entry_point_runs(tmp_path, tiny_checkpoint):
    src = make_midi(tmp_path / "in.mid", rock_beat())
    result = subprocess.run([sys.executable, "-m", "drumgen", "generate", str(src), "-o", str(tmp_path / "o.mid"),
                             "--checkpoint", tiny_checkpoint], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_tracks_reports_unmapped_drum_pitches(tmp_path, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat() + [(0, 81, 90), (480, 81, 90)])
    assert cli.main(["tracks", str(src)]) == 0
    assert "81 (2x)" in capsys.readouterr().out


def test_generate_from_one_channel(tmp_path, tiny_checkpoint):
    import mido
    other = [(i * 240, mido.Message("note_on", channel=4, note=50, velocity=90)) for i in range(16)]
    src = make_midi(tmp_path / "in.mid", rock_beat(), extra_tracks=[other])
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--channel", "5",
                     "--checkpoint", tiny_checkpoint]) == 0
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--channel", "3",
                     "--checkpoint", tiny_checkpoint]) == 2


def test_unexpected_errors_are_one_line(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from drumgen import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "make_drums", broken)
    src = make_midi(tmp_path / "in.mid", rock_beat())
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--checkpoint", tiny_checkpoint]) == 1
    err = capsys.readouterr().err
    assert "boom" in err and "Traceback" not in err and err.count("\n") == 1


def test_silent_bars_rest_unless_asked(tmp_path, tiny_checkpoint):
    notes = [(tick + 2 * 1920, pitch, vel) for tick, pitch, vel in rock_beat(2)]  # two silent bars first
    src = make_midi(tmp_path / "in.mid", notes)
    for flag, expect_intro_hits in (([], False), (["--play-silent-bars"], True)):
        out = tmp_path / "o.mid"
        assert cli.main(["generate", str(src), "-o", str(out), "--threshold", "0.01", "--checkpoint", tiny_checkpoint,
                         *flag]) == 0
        song = midi.read_song(out)
        assert (song.notes[:, 4] < 2 * 1920).any() == expect_intro_hits


def test_merge_keeps_the_inputs_own_drums(tmp_path, tiny_checkpoint):
    """--merge copies every input track, its channel-10 drums included; the new drums come last, in their own track."""
    import mido
    bass = [(i * 240, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(16)]
    src = make_midi(tmp_path / "in.mid", rock_beat(), extra_tracks=[bass])
    for flags, names in (([], ["tempo", "drumgen drums"]), (["--merge"], ["", "", "", "drumgen drums"])):
        out = tmp_path / "out.mid"
        assert cli.main(["generate", str(src), "-o", str(out), "--threshold", "0.01", "--checkpoint", tiny_checkpoint,
                         *flags]) == 0
        song = midi.read_song(out)
        assert [t.name for t in song.tracks] == names
        assert len(song.select(track=len(names) - 1))  # the new drums
    kept = song.select(track=1)
    assert len(kept) == len(rock_beat()) and (kept[:, 1] == midi.DRUM_CHANNEL).all()


def _bars_with_drums(path) -> list[int]:
    song = midi.read_song(path)
    steps, _ = H.tick_to_step(song.notes[:, 4], song.ticks_per_beat)
    return sorted({int(s) // H.STEPS_PER_BAR for s in steps})


@pytest.mark.parametrize("args, bars", [
    (["--track", "1", "--channel", "1"], [0]),
    (["--track", "1", "--channel", "2"], [1]),
    (["--track", "1"], [0, 1]),
    (["--channel", "1"], [0, 2]),
    (["--channel", "1", "--track", "2"], [2]),
])
def test_generate_with_track_and_channel_together(tmp_path, tiny_checkpoint, args, bars):
    """Both filters apply: the drums play only in the bars where that track has notes on that channel."""
    import mido
    notes = [(i * 480, 60, 80, 0) for i in range(4)] + [(1920 + i * 480, 62, 70, 1) for i in range(4)]
    other = [(3840 + i * 480, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(4)]
    src = make_midi(tmp_path / "in.mid", notes, extra_tracks=[other])  # track 1: ch 1 bar 1, ch 2 bar 2; track 2: ch 1 bar 3
    out = tmp_path / "out.mid"
    assert cli.main(["generate", str(src), "-o", str(out), "--threshold", "0.01", "--checkpoint", tiny_checkpoint,
                     *args]) == 0
    assert _bars_with_drums(out) == bars


@pytest.mark.parametrize("args, message", [
    (["--track", "2", "--channel", "2"], "Track 2 has no notes on channel 2; its notes are on channels [1]."),
    (["--track", "1", "--channel", "10"], "There are no notes on channel 10"),
    (["--track", "5", "--channel", "1"], "There is no track 5"),
])
def test_track_and_channel_without_common_notes_is_one_clear_line(tmp_path, tiny_checkpoint, capsys, args, message):
    import mido
    notes = [(i * 480, 60, 80, 0) for i in range(4)] + [(1920 + i * 480, 62, 70, 1) for i in range(4)]
    other = [(3840 + i * 480, mido.Message("note_on", channel=0, note=40, velocity=90)) for i in range(4)]
    src = make_midi(tmp_path / "in.mid", notes, extra_tracks=[other])
    out = tmp_path / "out.mid"
    assert cli.main(["generate", str(src), "-o", str(out), "--checkpoint", tiny_checkpoint, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and not out.exists()


def test_module_entry_point_with_track_and_channel(tmp_path, tiny_checkpoint):
    src = make_midi(tmp_path / "in.mid", [(i * 480, 60, 80, 0) for i in range(4)] + [(240, 62, 70, 1)])
    command = [sys.executable, "-m", "drumgen", "generate", str(src), "-o", str(tmp_path / "o.mid"),
               "--checkpoint", tiny_checkpoint, "--track", "1"]
    ok = subprocess.run([*command, "--channel", "2"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*command, "--channel", "3"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: There are no notes on channel 3; channels with notes: [1, 2]."


# --- per-bar controls, style and model choice (issue #7) ---------------------------------------------

@pytest.fixture
def tiny_controlled_checkpoint(tmp_path):
    import torch

    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config

    torch.manual_seed(0)
    path = tmp_path / "tiny_controlled.pth"
    RhythmDrivenDrumGen(tiny_config()).save(str(path))
    return str(path)


def _notes_per_bar(path, pitch=None, bars=4) -> list[int]:
    song = midi.read_song(path)
    rows = song.notes if pitch is None else song.notes[song.notes[:, 2] == pitch]
    steps, _ = H.tick_to_step(rows[:, 4], song.ticks_per_beat)
    return [int((steps // H.STEPS_PER_BAR == b).sum()) for b in range(bars)]


def _generate(tmp_path, checkpoint, *args, bars=4):
    src = make_midi(tmp_path / "in.mid", rock_beat(bars))
    out = tmp_path / "out.mid"
    return cli.main(["generate", str(src), "-o", str(out), "--checkpoint", checkpoint, *args]), out


@pytest.mark.parametrize("which", ["mgvae", "controlled"])
def test_mute_removes_a_voice(tmp_path, tiny_checkpoint, tiny_controlled_checkpoint, which):
    checkpoint = tiny_checkpoint if which == "mgvae" else tiny_controlled_checkpoint
    code, out = _generate(tmp_path, checkpoint, "--threshold", "0.01")
    assert code == 0 and sum(_notes_per_bar(out, 36)) > 0  # the kick plays when free
    code, out = _generate(tmp_path, checkpoint, "--threshold", "0.01", "--mute", "kick", "--mute", "ride,hat")
    pitches = set(midi.read_song(out).notes[:, 2].tolist())
    assert code == 0 and pitches and not pitches & {36, 51, 42}


def test_density_sets_how_many_notes(tmp_path, tiny_checkpoint):
    """The VAE applies density at sampling time: each bar gets round(counts_from_density(d)) hits."""
    from drumgen import controls as C

    counts = {}
    for density in ("0.05", "0.95"):
        code, out = _generate(tmp_path, tiny_checkpoint, "--density", density)
        assert code == 0
        counts[density] = _notes_per_bar(out)
        expected = int(C.counts_from_density(float(density)) + 0.5)
        assert counts[density] == [expected] * 4
    assert sum(counts["0.05"]) < sum(counts["0.95"])


def test_density_ramp_and_per_bar_list(tmp_path, tiny_checkpoint):
    code, out = _generate(tmp_path, tiny_checkpoint, "--density", "0.05-0.95")
    ramp = _notes_per_bar(out)
    assert code == 0 and ramp == sorted(ramp) and ramp[0] < ramp[-1]
    code, out = _generate(tmp_path, tiny_checkpoint, "--density", "0.9,0.1")  # the last value repeats
    listed = _notes_per_bar(out)
    assert code == 0 and listed[0] > listed[1] == listed[2] == listed[3]


def test_intensity_per_bar(tmp_path, tiny_checkpoint):
    code, out = _generate(tmp_path, tiny_checkpoint, "--intensity", "0.2,0.9", "--threshold", "0.3", bars=2)
    song = midi.read_song(out)
    steps, _ = H.tick_to_step(song.notes[:, 4], song.ticks_per_beat)
    means = [song.notes[steps // 16 == b, 3].mean() / 127 for b in range(2)]
    assert code == 0 and means == pytest.approx([0.2, 0.9], abs=0.03)


def test_weights_set_a_voices_share(tmp_path, tiny_checkpoint):
    code, out = _generate(tmp_path, tiny_checkpoint, "--density", "0.5", "--weight", "snare=0.5")
    assert code == 0 and _notes_per_bar(out, 38) == [9] * 4 and _notes_per_bar(out) == [18] * 4
    code, out = _generate(tmp_path, tiny_checkpoint, "--density", "0.5", "--weight", "snare=0.2-0.8,kick=0.1")
    snare = _notes_per_bar(out, 38)
    assert code == 0 and snare == [4, 7, 11, 14] and _notes_per_bar(out, 36) == [2] * 4


def test_style_with_each_model(tmp_path, tiny_checkpoint, tiny_controlled_checkpoint, capsys):
    code, out = _generate(tmp_path, tiny_controlled_checkpoint, "--style", "funk")
    captured = capsys.readouterr()
    assert code == 0 and "RhythmDrivenDrumGen" in captured.out and captured.err == ""
    code, out = _generate(tmp_path, tiny_checkpoint, "--style", "Hip-Hop")
    captured = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert captured.err.startswith("note: MonotonicGrooveVAE ignores style") and captured.err.count("\n") == 1
    code, _ = _generate(tmp_path, tiny_checkpoint, "--style", "any")
    assert code == 0 and capsys.readouterr().err == ""


@pytest.mark.parametrize("args, message", [
    (["--density", "lots"], "density: curve 'lots'"),
    (["--density", "1.5"], "between 0 and 1"),
    (["--intensity", "0.2-1.2"], "intensity"),
    (["--density", "0.1,0.2,0.3,0.4,0.5"], "5 values for 4 bars"),
    (["--mute", "cowbell"], "unknown voice 'cowbell'; voices: kick, snare"),
    (["--weight", "cowbell=0.2"], "unknown voice 'cowbell'"),
    (["--weight", "snare"], "expected VOICE=VALUE"),
    (["--weight", "snare=loud"], "weight snare"),
    (["--weight", "snare=0.2", "--weight", "snare=0.3"], "given twice"),
    (["--weight", "snare=0.7,kick=0.6"], "add up to 1.30 in bar 1"),
    (["--mute", "kick", "--weight", "kick=0.2"], "kick is both muted and given a weight"),
    (["--mute", ",".join(H.VOICES)], "every voice is muted"),
    (["--style", "polka"], "unknown style 'polka'; styles: any, afrobeat"),
    (["--model", "big"], "unknown model 'big'"),
])
def test_bad_controls_are_one_clear_line(tmp_path, tiny_checkpoint, capsys, args, message):
    code, out = _generate(tmp_path, tiny_checkpoint, *args)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_model_choice_and_its_fallback(tmp_path, tiny_checkpoint, tiny_controlled_checkpoint, monkeypatch, capsys):
    controlled = tmp_path / "shipped" / "controlled_gmd.pth"
    monkeypatch.setitem(SHIPPED, "controlled", controlled)
    monkeypatch.setitem(SHIPPED, "mgvae", Path(tiny_checkpoint))
    src = make_midi(tmp_path / "in.mid", rock_beat())
    command = ["generate", str(src), "-o", str(tmp_path / "o.mid")]
    assert cli.main(command) == 0 and "(MonotonicGrooveVAE)" in capsys.readouterr().out  # no controlled: the VAE
    assert cli.main([*command, "--model", "controlled"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    controlled.parent.mkdir()
    controlled.write_bytes(Path(tiny_controlled_checkpoint).read_bytes())
    assert cli.main(command) == 0 and "(RhythmDrivenDrumGen)" in capsys.readouterr().out  # now the default
    assert cli.main([*command, "--model", "mgvae"]) == 0 and "(MonotonicGrooveVAE)" in capsys.readouterr().out
    assert cli.main([*command, "--model", "mgvae", "--checkpoint", str(controlled)]) == 0  # --checkpoint wins
    assert "(RhythmDrivenDrumGen)" in capsys.readouterr().out


def test_module_entry_point_with_controls(tmp_path, tiny_controlled_checkpoint):
    src = make_midi(tmp_path / "in.mid", rock_beat(4))
    command = [sys.executable, "-m", "drumgen", "generate", str(src), "-o", str(tmp_path / "o.mid"),
               "--checkpoint", tiny_controlled_checkpoint, "--density", "0.2-0.9", "--intensity", "0.5,0.7",
               "--mute", "ride,crash", "--weight", "snare=0.3", "--style", "funk"]
    ok = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    bad = subprocess.run([*command, "--density", "0.1,0.2,0.3,0.4,0.5,0.6"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "error: density: curve '0.1,0.2,0.3,0.4,0.5,0.6': 6 values for 4 bars\n"


@pytest.mark.parametrize("which", ["mgvae", "controlled"])
def test_regenerate_changes_only_the_bars_asked_and_keeps_locked_voices(tmp_path, tiny_checkpoint,
                                                                         tiny_controlled_checkpoint, capsys, which):
    from drumgen import takes

    checkpoint = tiny_checkpoint if which == "mgvae" else tiny_controlled_checkpoint
    src = make_midi(tmp_path / "in.mid", rock_beat(6), tempos=((0, 97.0), (4 * 480 * 3, 130.0)))
    first, second, third = (tmp_path / f"take{i}.mid" for i in (1, 2, 3))
    base = ["--checkpoint", checkpoint, "--threshold", "0.3", "--temperature", "2"]
    assert cli.main(["generate", str(src), "-o", str(first), "--seed", "1", *base]) == 0
    assert cli.main(["regenerate", str(src), "--take", str(first), "--bars", "2-3, 5", "-o", str(second),
                     "--seed", "2", *base]) == 0
    assert "new drums in bars" in capsys.readouterr().out
    assert cli.main(["regenerate", str(src), "--take", str(second), "--lock", "kick,snare", "-o", str(third),
                     "--seed", "3", *base]) == 0
    song = midi.read_song(src)
    one, two, three = (takes.take_from_midi(p, song) for p in (first, second, third))
    changed = (one != two).any(-1).reshape(6, 16).any(-1)
    assert not changed[[0, 3, 5]].any() and changed.any()  # bars 1, 4 and 6 as they were, through MIDI
    kick_snare = [0, 1, 9, 10, 18, 19]
    assert np.array_equal(two[:, kick_snare], three[:, kick_snare])
    assert midi.read_song(third).tempos == midi.read_song(first).tempos


def test_regenerate_follow_sets_the_pull_toward_the_kept_bars(tmp_path, tiny_controlled_checkpoint, capsys):
    from drumgen import takes

    src = make_midi(tmp_path / "in.mid", rock_beat(6))
    take, full, none = (tmp_path / f"{n}.mid" for n in ("take", "full", "none"))
    base = ["--checkpoint", tiny_controlled_checkpoint, "--threshold", "0.3", "--seed", "2"]
    assert cli.main(["generate", str(src), "-o", str(take), *base]) == 0
    for out, follow in ((full, "1"), (none, "0")):
        assert cli.main(["regenerate", str(src), "--take", str(take), "--bars", "3", "--follow", follow,
                         "-o", str(out), *base]) == 0
    song = midi.read_song(src)
    was, pulled, fresh = (takes.take_from_midi(p, song)[:, :9] for p in (take, full, none))
    around = (was[16:32] + was[48:64] + was[:16] + was[64:80]) / 4        # bars 2, 4, 1 and 5 of the take
    assert np.array_equal(pulled[32:48], (around > 0.3).astype(np.float32)) and not np.array_equal(pulled, fresh)
    capsys.readouterr()
    assert cli.main(["regenerate", str(src), "--take", str(take), "--follow", "2", "-o", str(none), *base]) == 2
    assert "--follow must be a number from 0 to 1, got 2.0" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--bars", "9"], "bar 9 is outside the song: it has 4 bars"),
    (["--bars", "2-1"], "runs backwards"),
    (["--bars", ""], "names no bar"),
    (["--lock", "cowbell"], "unknown voice 'cowbell'"),
])
def test_regenerate_refuses_in_one_line(tmp_path, tiny_checkpoint, capsys, args, words):
    src = make_midi(tmp_path / "in.mid", rock_beat(4))
    take = tmp_path / "take.mid"
    assert cli.main(["generate", str(src), "-o", str(take), "--checkpoint", tiny_checkpoint]) == 0
    capsys.readouterr()
    code = cli.main(["regenerate", str(src), "--take", str(take), "-o", str(tmp_path / "o.mid"),
                     "--checkpoint", tiny_checkpoint, *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1


def test_regenerate_refuses_a_take_of_another_song(tmp_path, tiny_checkpoint, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat(4))
    other = make_midi(tmp_path / "other.mid", rock_beat(4), tempos=((0, 140.0),))
    longer = make_midi(tmp_path / "longer.mid", rock_beat(8))
    no_drums = make_midi(tmp_path / "keys.mid", rock_beat(4), channel=0)
    for take, words in ((other, "another tempo"), (longer, "8 bars long and the song 4"), (no_drums, "No drum notes")):
        code = cli.main(["regenerate", str(src), "--take", str(take), "-o", str(tmp_path / "o.mid"),
                         "--checkpoint", tiny_checkpoint])
        assert code == 2 and words in capsys.readouterr().err


def test_generate_for_a_daw_kit_with_a_track_per_voice(tmp_path, tiny_checkpoint):
    import mido

    from drumgen import drum_maps
    src = make_midi(tmp_path / "in.mid", rock_beat(2))
    out = tmp_path / "out.mid"
    assert cli.main(["generate", str(src), "-o", str(out), "--checkpoint", tiny_checkpoint, "--threshold", "0.2",
                     "--drum-map", "ad2", "--per-voice-tracks", "--humanize", "0", "--velocity-range", "40-100"]) == 0
    mid = mido.MidiFile(str(out))
    assert [t.name for t in mid.tracks] == ["tempo"] + [H.VOICE_LABELS[v] for v in H.VOICES]
    song = midi.read_song(out)
    assert len(song.notes) and set(song.notes[:, 2].tolist()) <= set(drum_maps.AD2.notes.values())
    assert song.notes[:, 3].min() >= 40 and song.notes[:, 3].max() <= 100
    assert (song.notes[:, 4] % (song.ticks_per_beat // 4) == 0).all()  # humanize 0: on the grid
    plain = tmp_path / "plain.mid"
    assert cli.main(["generate", str(src), "-o", str(plain), "--checkpoint", tiny_checkpoint, "--threshold", "0.2"]) == 0
    as_ad2 = midi.song_to_hvo(song, drum_map="ad2")[0][:, H.HITS]
    assert (as_ad2 == midi.song_to_hvo(midi.read_song(plain))[0][:, H.HITS]).all()  # same drums, other notes


def test_generate_with_swing_and_a_map_file(tmp_path, tiny_checkpoint):
    src = make_midi(tmp_path / "in.mid", rock_beat(2))
    kit = tmp_path / "pads.json"
    kit.write_text('{"fallback": "gm", "kick": 24, "snare": 25}')
    out = tmp_path / "out.mid"
    assert cli.main(["generate", str(src), "-o", str(out), "--checkpoint", tiny_checkpoint, "--threshold", "0.2",
                     "--drum-map", str(kit), "--humanize", "0", "--swing", "1", "--swing-grid", "8th"]) == 0
    song = midi.read_song(out)
    sixteenth = song.ticks_per_beat // 4
    offbeat_8ths = song.notes[:, 4] % (4 * sixteenth) == 2 * sixteenth + round(2 * sixteenth / 3)
    assert ((song.notes[:, 4] % sixteenth == 0) | offbeat_8ths).all()
    assert {36, 38}.isdisjoint(song.notes[:, 2].tolist())


@pytest.mark.parametrize("args, message", [
    (["--humanize", "2"], "humanize must be a number from 0 to 1"),
    (["--swing", "-0.5"], "swing must be a number from 0 to 1"),
    (["--velocity-range", "0-300"], "velocity range must be LOW-HIGH with 1 <= LOW <= HIGH <= 127"),
    (["--velocity-range", "soft"], "velocity range must be two whole numbers"),
    (["--drum-map", "ezdrummer"], "unknown drum map 'ezdrummer'; maps: gm, logic, ad2, ssd5"),
    (["--drum-map", "missing.json"], "cannot read drum map file"),
])
def test_bad_export_options_are_one_clear_line(tmp_path, tiny_checkpoint, capsys, args, message):
    src = make_midi(tmp_path / "in.mid", rock_beat())
    code = cli.main(["generate", str(src), "-o", str(tmp_path / "o.mid"), "--checkpoint", tiny_checkpoint, *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and err.startswith("error:") and "\n" not in err


def test_drum_maps_lists_the_maps_and_checks_a_file(tmp_path, capsys):
    assert cli.main(["drum-maps"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}: " in out for name in ("gm", "logic", "ad2", "ssd5")) and "closed_hat 49" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"kick": 300}')
    assert cli.main(["drum-maps", str(bad)]) == 2
    assert "kick: a MIDI note must be a whole number 0..127" in capsys.readouterr().err


def test_regenerate_shares_the_export_options(tmp_path, tiny_checkpoint, capsys):
    import mido
    src = make_midi(tmp_path / "in.mid", rock_beat(2))
    take, new = tmp_path / "take.mid", tmp_path / "new.mid"
    base = ["--checkpoint", tiny_checkpoint, "--threshold", "0.3"]
    assert cli.main(["generate", str(src), "-o", str(take), *base]) == 0
    assert cli.main(["regenerate", str(src), "--take", str(take), "--bars", "2", "-o", str(new), "--seed", "4",
                     "--per-voice-tracks", "--drum-map", "ssd5", *base]) == 0
    assert len(mido.MidiFile(str(new)).tracks) == 1 + H.N_VOICES
    capsys.readouterr()
    assert cli.main(["regenerate", str(src), "--take", str(take), "--bars", "2", "-o", str(new), "--swing", "0.5",
                     *base]) == 0
    assert "apply again to every note written" in capsys.readouterr().err  # a swung take would swing twice


def test_regenerate_reads_a_take_written_with_a_drum_map(tmp_path, tiny_checkpoint):
    from drumgen import takes

    src = make_midi(tmp_path / "in.mid", rock_beat(4))
    first, second = tmp_path / "take1.mid", tmp_path / "take2.mid"
    base = ["--checkpoint", tiny_checkpoint, "--threshold", "0.3", "--drum-map", "ad2"]
    assert cli.main(["generate", str(src), "-o", str(first), "--seed", "1", *base]) == 0
    assert cli.main(["regenerate", str(src), "--take", str(first), "--bars", "2", "-o", str(second), "--seed", "2",
                     *base]) == 0
    song = midi.read_song(src)
    one, two = (takes.take_from_midi(p, song, drum_map="ad2") for p in (first, second))
    changed = (one != two).any(-1).reshape(4, 16).any(-1)
    assert one[..., :9].any() and not changed[[0, 2, 3]].any()  # the kept bars, through an AD2 note map


def test_generate_with_fills_and_a_loop(tmp_path, tiny_checkpoint, capsys):
    src = make_midi(tmp_path / "in.mid", rock_beat(4))
    plain, looped = tmp_path / "plain.mid", tmp_path / "loop.mid"
    args = ["--checkpoint", tiny_checkpoint, "--seed", "2", "--threshold", "0.3"]
    assert cli.main(["generate", str(src), "-o", str(plain), *args]) == 0
    assert cli.main(["generate", str(src), "-o", str(looped), "--loop", *args]) == 0
    song = midi.read_song(src)
    a, _ = midi.song_to_hvo(midi.read_song(plain))
    b, _ = midi.song_to_hvo(midi.read_song(looped))
    assert a.shape == b.shape and np.array_equal(a[:48, :9], b[:48, :9])  # only the last bar may change
    assert song.n_bars == 4
    capsys.readouterr()
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "f.mid"), "--fill", "4", *args]) == 0
    assert "ignores fill" in capsys.readouterr().err  # the tiny model was not trained with fills
    assert cli.main(["generate", str(src), "-o", str(tmp_path / "f.mid"), "--fill", "9", *args]) == 2
    assert "bar 9 is outside the song" in capsys.readouterr().err
