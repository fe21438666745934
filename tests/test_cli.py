import subprocess
import sys

import pytest

from drumgen import cli, midi
from drumgen import hvo as H
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

    monkeypatch.setattr(pipeline, "midi_to_drum_midi", broken)
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
