"""The sound of a drum part (drumgen.audio: FluidSynth), without any UI."""
import sys
import threading
import types

import mido
import numpy as np
import pytest

from drumgen import audio as A
from drumgen import midi
from tests.conftest import make_midi, rock_beat

SR = 44100


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def fluidsynth_missing_reason():
    try:
        A._import_fluidsynth()
    except A.AudioUnavailable as exc:
        return str(exc)
    return None


needs_fluidsynth = pytest.mark.skipif(fluidsynth_missing_reason() is not None,
                                      reason=f"FluidSynth cannot be loaded here: {fluidsynth_missing_reason()}")


def onset_rms(audio, times, window=0.06):
    return np.array([rms(audio[int(t * SR): int((t + window) * SR)]) for t in times])


@needs_fluidsynth
def test_rock_beat_audio(rock_midi):
    assert A.audio_unavailable_reason() is None
    assert A.find_soundfont() is not None
    song = midi.read_song(rock_midi)
    hvo, _ = midi.song_to_hvo(song)
    audio = A.render_hvo_audio(hvo, song)
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    # 2 bars at 120 BPM = 4 s, + 1 s of tail
    assert len(audio) / SR == pytest.approx(4.0 + A.TAIL_SECONDS, abs=0.002)
    # the file itself ends with the last hat's note-off, a 16th before the bar line
    raw = A.render_audio(mido.MidiFile(rock_midi))
    assert len(raw) / SR == pytest.approx(4.0 - 0.125 + A.TAIL_SECONDS, abs=0.002)
    assert rms(audio) > 0.02
    assert np.abs(audio).max() == pytest.approx(A.PEAK, abs=1e-3)   # normalised, not clipped
    assert rms(audio[:, 0] - audio[:, 1]) > 0  # stereo (panned drums), not two copies of one channel
    # louder where the kick plays (with a hat) than on the hat-only eighths
    kick = onset_rms(audio, [b * 2.0 + s * 0.125 for b in range(2) for s in (0, 8)])
    hats = onset_rms(audio, [b * 2.0 + s * 0.125 for b in range(2) for s in (2, 6, 10, 14)])
    assert kick.min() > 1.5 * hats.max()
    # the tail fades out
    assert rms(audio[-SR // 10:]) < 0.1 * rms(audio)


@needs_fluidsynth
def test_tempo_map_is_followed(tmp_path):
    # kicks on beats 1 and 3 of bar 1 at 120 BPM, then bar 2 at 60 BPM
    ticks = [0, 960, 1920, 2880, 3840]
    path = make_midi(tmp_path / "tempo.mid", [(t, 36, 110) for t in ticks], tempos=((0, 120.0), (1920, 60.0)))
    audio = A.render_audio(mido.MidiFile(path), tail=0.5)
    times = [0.0, 1.0, 2.0, 4.0, 6.0]   # seconds: 0.5 s a beat, then 1 s a beat
    last_off = 6.0 + 120 / 480 * 1.0    # the last kick's note-off, a 16th later
    assert len(audio) / SR == pytest.approx(last_off + 0.5, abs=0.005)
    # each kick starts where the tempo map puts it: quiet just before, loud just after
    before = onset_rms(audio, [t - 0.05 for t in times[1:]], window=0.045)
    after = onset_rms(audio, times[1:], window=0.045)
    assert (after > 4 * before).all(), (before, after)


@needs_fluidsynth
def test_mix_and_drums_alone(rock_midi, tmp_path):
    bass = [(i * 480, 40 + (i % 4), 90, 0) for i in range(8)]
    song = midi.read_song(make_midi(tmp_path / "bass.mid", bass, channel=0))
    hvo, _ = midi.song_to_hvo(midi.read_song(rock_midi))
    mix = A.render_hvo_audio(hvo, song, with_input=True)
    drums = A.render_hvo_audio(hvo, song)
    bass_only = A.render_audio(song.source)
    for audio in (mix, drums, bass_only):
        assert rms(audio) > 0.01
    assert not np.allclose(mix[: len(drums)], drums[: len(mix)], atol=1e-3)


@needs_fluidsynth
def test_concurrent_renders_match_sequential(rock_midi, tmp_path):
    other = make_midi(tmp_path / "slow.mid", rock_beat(3), tempos=((0, 90.0),))
    files = [mido.MidiFile(rock_midi), mido.MidiFile(other)]
    sequential = [A.render_audio(f) for f in files]
    results, errors = [None, None], []

    def work(i):
        try:
            results[i] = A.render_audio(files[i])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for got, want in zip(results, sequential):
        assert got.shape == want.shape
        assert rms(got) > 0.02
        # the same song: FluidSynth's voices keep a little state between songs, so compare closely,
        # not bit for bit
        assert np.corrcoef(got[:, 0], want[:, 0])[0, 1] > 0.98
        assert rms(got - want) < 0.1 * rms(want)


@needs_fluidsynth
def test_render_audio_accepts_bytes_and_refuses_what_it_cannot_play(rock_midi):
    audio = A.render_audio(rock_midi.read_bytes(), sample_rate=22050, tail=0)
    assert len(audio) == pytest.approx(3.875 * 22050, abs=1)   # to the last note-off
    audio = A.render_audio(rock_midi.read_bytes(), sample_rate=22050, tail=0, until_tick=2 * 4 * 480)
    assert len(audio) == pytest.approx(4.0 * 22050, abs=1)     # to the end of bar 2
    assert rms(audio) > 0.02
    with pytest.raises(ValueError, match="minutes"):
        A.render_audio(mido.MidiFile(rock_midi), max_seconds=2)
    type2 = mido.MidiFile(type=2)
    type2.tracks.append(mido.MidiTrack())
    with pytest.raises(ValueError, match="type 2"):
        A.render_audio(type2)


def test_no_soundfont_says_why(monkeypatch, rock_midi):
    monkeypatch.setattr(A, "find_soundfont", lambda: None)
    if fluidsynth_missing_reason() is None:
        reason = A.audio_unavailable_reason()
        assert reason and "SoundFont" in reason
    else:
        reason = A.audio_unavailable_reason()
        assert reason and "FluidSynth" in reason
    with pytest.raises(A.AudioUnavailable, match="SoundFont|FluidSynth"):
        A.render_audio(mido.MidiFile(rock_midi))


def test_no_fluidsynth_says_why(monkeypatch, rock_midi):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)   # `import fluidsynth` fails
    reason = A.audio_unavailable_reason()
    assert reason and "pyfluidsynth" in reason
    with pytest.raises(A.AudioUnavailable, match="pyfluidsynth"):
        A.render_audio(mido.MidiFile(rock_midi))
    # the unrelated PyPI package called `fluidsynth`
    monkeypatch.setitem(sys.modules, "fluidsynth", types.ModuleType("fluidsynth"))
    assert "not pyfluidsynth" in A.audio_unavailable_reason()


@pytest.mark.parametrize("fmt", A.AUDIO_FORMATS)
def test_write_audio_formats(tmp_path, fmt):
    import soundfile

    t = np.arange(SR // 2) / SR
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, -tone], axis=1)
    path = tmp_path / f"tone.{fmt.lower()}"
    A.write_audio(stereo, path, SR, format=fmt)
    data, sr = soundfile.read(path)
    assert sr == SR and data.shape[1] == 2 and abs(len(data) - len(stereo)) < 2048
    assert rms(data) == pytest.approx(rms(stereo), rel=0.1)
    blob = A.audio_to_bytes(stereo, SR, fmt)
    assert blob[:4] in (b"RIFF", b"OggS", b"fLaC")
    with pytest.raises(ValueError, match="format"):
        A.write_audio(stereo, path, SR, format="MP4")


@needs_fluidsynth
def test_mono_parts_are_the_mean_of_the_two_sides(rock_midi, tmp_path):
    bass = make_midi(tmp_path / "bass.mid", [(i * 480, 40 + (i % 4), 90, 0) for i in range(8)], channel=0)
    stereo = A.render_parts([mido.MidiFile(bass), mido.MidiFile(rock_midi)], 32000)
    mono = A.render_parts([mido.MidiFile(bass), mido.MidiFile(rock_midi)], 32000, mono=True)
    for two, one in zip(stereo, mono):
        assert one.shape == (len(two),) and one.dtype == np.float32 and one.flags.c_contiguous
        assert rms(one) > 0.005
        # renders of one file differ a little (FluidSynth's voices keep some state): close, not equal
        assert np.corrcoef(one, two.mean(axis=1))[0, 1] > 0.98


@needs_fluidsynth
def test_previews_are_light_mono_ogg_files_that_play_the_song(rock_midi, tmp_path):
    import soundfile

    from drumgen import previews

    bass = make_midi(tmp_path / "bass.mid", [(i * 480, 40 + (i % 4), 90, 0) for i in range(8)], channel=0)
    mix, drums = previews.write_previews(mido.MidiFile(bass), mido.MidiFile(rock_midi), tmp_path, "rock", 4.0)
    assert mix.endswith("rock_with_drums.ogg") and drums.endswith("rock_drums.ogg")
    for path in (mix, drums):
        info = soundfile.info(path)
        assert info.format == "OGG" and info.channels == 1 and info.samplerate == previews.PREVIEW_RATE
        assert info.duration == pytest.approx(4.0 + A.TAIL_SECONDS, abs=0.01)
        samples, _ = soundfile.read(path, dtype="float32")
        assert rms(samples) > 0.02 and np.abs(samples).max() == pytest.approx(A.PEAK, abs=0.05)
    heard = [soundfile.read(p, dtype="float32")[0] for p in (mix, drums)]
    assert not np.allclose(heard[0], heard[1], atol=1e-2)  # the bass is in the mix only
