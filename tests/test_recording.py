"""drumgen.recording: a recording heard as onsets, a tempo (map) and bar 1; bad input said in one sentence.
Clips are synthesized with numpy (decaying plucks), so the tests are fast and need no SoundFont."""
import io

import numpy as np
import pytest
import soundfile as sf

from drumgen import midi
from drumgen import audio_in
from drumgen import audio_tempo
from drumgen import recording as R

RATE = 22050


def pluck(rate, freq=220.0, seconds=0.3, level=0.8):
    """A plucked note: a few harmonics, a 1 ms attack, an exponential decay faded to 0 (no click)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3) if freq * k < rate / 2)
    return level * 0.6 * tone * np.exp(-t * 15) * np.minimum(1, t * 1000) * np.cos(np.pi / 2 * t / seconds)


def clip(times, rate=RATE, duration=None, levels=None, freq=220.0):
    """Mono float32 samples with a pluck starting at each time (s)."""
    duration = duration or max(times) + 1.0
    y = np.zeros(int(duration * rate), np.float32)
    levels = levels if levels is not None else [0.8] * len(times)
    for t, level in zip(times, levels):
        p = pluck(rate, freq, level=level)
        i = int(round(t * rate))
        y[i: i + len(p)] += p[: len(y) - i]
    return y


def steady(bpm=100.0, bars=4, start=0.5, rate=RATE):
    """8ths with a 16th pickup into beat 3 of each bar, downbeats loudest: times, levels."""
    beat = 60.0 / bpm
    steps = [0, 2, 4, 6, 7, 8, 10, 12, 14]
    times = [start + (16 * b + s) * beat / 4 for b in range(bars) for s in steps]
    levels = [0.9 if s % 16 == 0 else 0.7 if s % 4 == 0 else 0.45 for b in range(bars) for s in steps]
    return times, levels


def wav_bytes(y, rate=RATE, channels=1, subtype="PCM_16", fmt="WAV"):
    buf = io.BytesIO()
    data = np.repeat(np.asarray(y)[:, None], channels, axis=1) if channels > 1 else y
    sf.write(buf, data, rate, subtype=subtype, format=fmt)
    return buf.getvalue()


def test_onsets_found_where_the_notes_are():
    times, levels = steady()
    y = clip(times, levels=levels)
    found, strengths = R.detect_onsets(y, RATE)
    assert len(found) == len(times)
    assert np.abs(found - np.array(times)).max() < 0.03
    assert strengths.max() <= 1.0 and strengths.min() > 0


def test_tempo_and_groove_of_a_steady_clip():
    times, levels = steady(bpm=100.0)
    h = R.hear(wav_bytes(clip(times, levels=levels)))
    assert h.bpm == pytest.approx(100.0, rel=0.02)
    assert h.bar_one == pytest.approx(0.5, abs=0.02)
    groove = midi.song_to_groove(h.song)
    bar = groove[:16, 0] > 0.5
    assert list(np.flatnonzero(bar)) == [0, 2, 4, 6, 7, 8, 10, 12, 14]


def test_drifting_tempo_becomes_a_tempo_map():
    """From 90 to 110 BPM over 8 bars: the tempo map follows (no one tempo forced)."""
    n = 8 * 16
    bpm = np.linspace(90, 110, n)
    steps = np.cumsum(np.r_[0, 15.0 / bpm[:-1]]) + 0.5   # each 16th lasts a quarter of its beat
    keep = [k for k in range(n) if k % 2 == 0 or k % 16 == 7]
    levels = [0.9 if k % 16 == 0 else 0.7 if k % 4 == 0 else 0.45 for k in keep]
    h = R.hear(wav_bytes(clip(steps[keep], levels=levels)))
    tempos = [b for _, b in h.song.tempos]
    assert len(tempos) > 4
    assert tempos[0] < 97 and max(tempos[-4:]) > 103
    groove = midi.song_to_groove(h.song)
    assert (groove[: n, 0] > 0.5).sum() == pytest.approx(len(keep), abs=2)


def test_steady_tempo_is_fine_tuned_to_the_whole_take():
    """A guess 1% off is a 16th off after 25 beats: steady_tempo moves it to the take's own tempo."""
    period = 60.0 / 123.4
    onsets = 0.5 + period / 4 * np.array([k for k in range(16 * 24) if k % 4 != 1])
    strengths = np.where(np.arange(len(onsets)) % 3 == 0, 1.0, 0.5)
    assert audio_tempo.steady_tempo(onsets, strengths, 122.2) == pytest.approx(123.4, rel=5e-4)


def test_a_tempo_no_simple_relative_of_librosas_guess_is_still_a_candidate():
    """librosa's estimate can be 1.2 times off (a 165 BPM groove guessed at 136): none of its relatives
    (1/3 .. 3 times) is within 4%, but the tempo whose grid fits the onsets best is a candidate, and chosen."""
    from drumgen import audio_tempo

    beat = 60.0 / 165.0
    steps = np.array([16 * b + s for b in range(12) for s in (0, 2, 3, 4, 6, 8, 10, 11, 12, 14)])
    onsets = 0.5 + steps * beat / 4
    accents = np.where(steps % 4 == 0, 1.0, 0.6)
    near = lambda bpms: np.abs(np.asarray(bpms) / 165.0 - 1) <= 0.04
    assert not near(audio_tempo.candidates(136.0, onsets, accents, peaks=0)[0]).any()
    assert near(audio_tempo.candidates(136.0, onsets, accents)[0]).any()
    assert audio_tempo.choose_tempo(136.0, onsets, accents) == pytest.approx(165.0, rel=0.01)


def test_grid_fit_prefers_the_grid_the_onsets_are_on():
    beats = 0.5 + 0.6 * np.arange(40)
    onsets = 0.5 + 0.15 * np.array([0, 2, 3, 6, 8, 11, 14, 16, 19, 22, 24, 27, 30])
    w = np.ones(len(onsets))
    slipped = np.concatenate([beats[:4], beats[4:] + 0.075])   # half a 16th late from beat 5 on
    assert audio_in.grid_fit(onsets, w, beats, 0.5) > 0.99
    assert audio_in.grid_fit(onsets, w, slipped, 0.5) < audio_in.grid_fit(onsets, w, beats, 0.5) - 0.3


def test_a_steady_syncopated_take_gets_a_steady_grid():
    """Off-beat comping (the 'and's stronger than the beats) at a steady 112 BPM: every onset on its 16th."""
    bpm, bars = 112.0, 8
    pattern = [0, 3, 6, 10, 11, 14]
    steps = [b * 16 + k for b in range(bars) for k in pattern]
    times = 0.5 + np.array(steps) * 15.0 / bpm
    levels = [0.5 if k % 16 == 0 else 0.9 if k % 16 in (6, 14) else 0.6 for k in steps]
    h = R.hear(wav_bytes(clip(times, levels=levels)))
    assert h.bpm == pytest.approx(bpm, rel=0.01)
    groove = midi.song_to_groove(h.song)
    assert list(np.flatnonzero(groove[:, 0] > 0.5)) == steps


def test_bar_one_is_the_first_note_played_at_least_softly():
    """A soft downbeat before loud backbeats is bar 1 (the loudest-onset rule put it on beat 2);
    a ghost-level tick before the music is not."""
    assert audio_in.first_strong_onset(np.array([0.2, 1.0, 1.6, 2.2]), np.array([0.05, 0.35, 1.0, 0.9])) == 1.0
    assert audio_in.first_strong_onset(np.array([0.2, 1.0]), np.array([0.05, 0.1])) == 1.0  # none strong: the loudest
    beat = 60.0 / 100.0
    times = [1.0 + k * beat / 2 for k in range(16)]
    levels = [0.2 if k % 4 == 0 else 0.9 if k % 4 == 2 else 0.5 for k in range(16)]  # 1 soft, 2 and 4 loud
    h = R.hear(wav_bytes(clip([0.3] + times, levels=[0.006] + levels)))
    assert h.bar_one == pytest.approx(1.0, abs=0.02)


def test_bar_one_given_or_found():
    times, levels = steady(start=1.0)
    data = wav_bytes(clip(times, levels=levels))
    found = R.hear(data)
    assert found.bar_one == pytest.approx(1.0, abs=0.02) and found.bar_one_from == "the first strong onset"
    beat = 60.0 / 100.0
    given = R.hear(data, bar_one=1.0 + beat)  # bar 1 a beat later: the first beat is a pickup
    assert given.bar_one == pytest.approx(1.0 + beat) and given.bar_one_from == "as given"
    assert given.n_dropped >= 1 and any("before bar 1" in n for n in given.notes)


def test_typed_tempo_is_a_steady_click():
    times, levels = steady(bpm=100.0)
    h = R.hear(wav_bytes(clip(times, levels=levels)), bpm=100)
    assert h.tempo_from == "typed" and h.bpm == pytest.approx(100.0)
    assert np.allclose(np.diff(h.beats), 0.6)


def test_taps_keep_their_timing():
    song = R.taps_to_song([(0.0, 0.9), (0.31, 0.5), (0.6, 0.8), (1.2, 1.0)], bpm=100)
    ticks = song.notes[:, 4]
    assert list(ticks) == [0, round(0.31 / 0.6 * 480), 480, 960]
    groove = midi.song_to_groove(song)
    assert groove[2, 0] == 1 and groove[2, 2] == pytest.approx(0.31 / 0.15 - 2, abs=0.01)


@pytest.mark.parametrize("rate,channels", [(8000, 1), (44100, 2), (48000, 1), (96000, 2)])
def test_any_rate_and_channels(rate, channels):
    times, levels = steady(bpm=120.0, bars=3)
    h = R.hear(wav_bytes(clip(times, rate=rate, levels=levels), rate, channels))
    assert h.sample_rate == rate and h.channels == channels
    assert h.bpm == pytest.approx(120.0, rel=0.03)
    assert len(h.onsets) == len(times)


def test_flac_and_path(tmp_path):
    times, levels = steady(bars=2)
    path = tmp_path / "riff.flac"
    path.write_bytes(wav_bytes(clip(times, levels=levels), fmt="FLAC"))
    h = R.hear(path)
    assert h.name == "riff.flac" and len(h.onsets) == len(times)
    assert R.read_source(str(path)).recording is not None


def test_looks_like_audio_on_a_mid_holding_wav(tmp_path):
    data = wav_bytes(clip([0.5, 1.0]))
    path = tmp_path / "groove.mid"
    path.write_bytes(data)
    assert R.looks_like_audio(str(path)) and R.looks_like_audio(data)
    assert not R.looks_like_audio(b"MThd\x00\x00\x00\x06")


def sentence(source, **kw):
    with pytest.raises(R.RecordingError) as err:
        R.hear(source, **kw)
    return str(err.value)


def test_silence():
    assert "silent" in sentence(wav_bytes(np.zeros(3 * RATE, np.float32)))


@pytest.mark.parametrize("kind", ["white", "pink", "hum"])
def test_noise_only_is_refused(kind):
    rng = np.random.default_rng(0)
    n = 6 * RATE
    if kind == "white":
        y = 0.2 * rng.standard_normal(n)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(n))
        y = np.fft.irfft(spectrum / np.sqrt(np.arange(1, len(spectrum) + 1)), n)
        y *= 0.2 / np.abs(y).max()
    else:
        y = 0.3 * np.sin(2 * np.pi * 50 * np.arange(n) / RATE) + 0.002 * rng.standard_normal(n)
    message = sentence(wav_bytes(y.astype(np.float32)))
    assert "sounds like noise" in message or "no onsets" in message or "only one onset" in message


def test_music_under_noise_is_heard():
    times, levels = steady(bpm=110.0)
    y = clip(times, levels=levels)
    rms = np.sqrt(np.mean(y[np.abs(y) > 1e-3] ** 2))
    y = y + rms * 0.1 * np.random.default_rng(1).standard_normal(len(y)).astype(np.float32)  # 20 dB SNR
    h = R.hear(wav_bytes(y))
    assert h.bpm == pytest.approx(110.0, rel=0.03)
    assert abs(len(h.onsets) - len(times)) <= 2


def test_too_short_for_a_bar():
    assert "at least a bar" in sentence(wav_bytes(clip([0.1, 0.4], duration=0.6)))
    message = sentence(wav_bytes(clip([0.1, 0.7, 1.3], duration=1.6)), bpm=60)
    assert "less than one bar" in message


def test_an_hour_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "hour.wav"   # an hour of 8-bit 8 kHz silence: 29 MB, refused from its header
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, format="WAV", subtype="PCM_U8") as f:
        block = np.zeros(8000 * 60, np.float32)
        for _ in range(60):
            f.write(block)
    monkeypatch.setattr(audio_in, "decode", lambda *a: pytest.fail("decoded"))
    message = sentence(path)
    assert "60.0 minutes" in message and "up to 10 minutes" in message


def test_unreadable_and_unsupported():
    assert "cannot read this audio file" in sentence(b"RIFF" + bytes(100))
    assert "empty" in sentence(b"")


def test_clipping_is_a_note():
    times, levels = steady(bars=2)
    y = np.clip(clip(times, levels=[3.0] * len(times)), -1, 1)
    h = R.hear(wav_bytes(y, subtype="FLOAT"))
    assert any("clips" in n for n in h.notes)


def test_parse_hearing():
    assert R.parse_hearing('{"bpm": 96, "bar_one": 1.2}') == {"bpm": 96.0, "bar_one": 1.2, "sensitivity": 0.5,
                                                             "meter": (4, 4)}
    with pytest.raises(ValueError):
        R.parse_hearing({"tempo": 1})


def _hearing(beats, bar_one, onsets, duration=None):
    onsets = np.sort(np.asarray(onsets, np.float64))
    return R.Hearing(name="made", duration=float(duration or beats[-2]), sample_rate=RATE, channels=1,
                     onsets=onsets, strengths=np.ones(len(onsets)), beats=np.asarray(beats, np.float64),
                     bar_one=float(bar_one), bpm=120.0)


def _tick_seconds(song, tick):
    from drumgen import audio

    return audio.seconds_at_tick(song.source, int(tick))


def test_a_drifting_tempo_map_plays_each_onset_where_it_was_heard():
    """Bar 1 between two beats of a speeding take: tick 0 plays at the tempo of the beat it falls in, so
    every onset's tick, through the Song's tempo map, sounds where it was heard (to a tick's rounding)."""
    periods = np.linspace(0.6, 0.4, 24)
    beats = np.concatenate([[-0.6], -0.6 + np.cumsum(periods)])
    bar_one = (beats[2] + beats[3]) / 2 + 0.05
    onsets = np.concatenate([[bar_one], beats[3:18] + 0.01])
    h = _hearing(beats, bar_one, onsets)
    heard = np.array([_tick_seconds(h.song, t) for t in h.song.notes[:, 4]]) + bar_one
    assert np.abs(heard - onsets).max() < 0.001
    assert len({t for t, _ in h.song.tempos}) == len(h.song.tempos) and h.song.tempos[0][0] == 0


def test_bar_one_a_hair_before_a_beat_holds_one_tempo_at_tick_zero():
    beats = np.concatenate([[0.0, 0.5], 0.5 + 0.4 * np.arange(1, 20)])  # 120 BPM, then 150
    bar_one = 0.9 - 1e-5
    h = _hearing(beats, bar_one, [bar_one, 1.3, 1.7, 2.1, 2.5])
    assert h.song.tempos[0] == (0, pytest.approx(150.0))
    assert [t for t, _ in h.song.tempos] == sorted({t for t, _ in h.song.tempos})


def test_a_recording_given_as_bytes_is_not_kept_by_the_cache(tmp_path):
    """The cache is for the page's paths: bytes (up to 200 MB a call from the Python API) are heard each
    time and nothing of them stays in it; a path is heard once, and again once its file is replaced."""
    times, levels = steady(bars=2)
    data = wav_bytes(clip(times, levels=levels))
    R._hear.cache_clear()
    R.hear(data)
    assert R._hear.cache_info().currsize == 0
    path = tmp_path / "take.wav"
    path.write_bytes(data)
    first = R.hear(path)
    assert R.hear(path) is first
    other = tmp_path / "other.wav"
    other.write_bytes(wav_bytes(clip(times, levels=levels)[::-1].copy()))
    import os

    st = os.stat(path)
    os.replace(other, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and time, another file
    assert R.hear(path) is not first


@pytest.mark.parametrize("bad", [{"meter": [[1], [2]]}, {"meter": ["a", "b"]}, {"meter": (3.5, 4)}, {1: 2, "x": 3}])
def test_parse_hearing_says_odd_values_in_a_sentence(bad):
    """A meter of lists or fractions, keys of several types: a ValueError (a sentence), not a TypeError
    (the page's "failed unexpectedly, please report it") nor a meter silently cut to 3/4."""
    with pytest.raises(ValueError, match="meter must be like|unknown hearing setting"):
        R.parse_hearing(bad)


def test_a_midi_file_with_bad_corrections_is_told(tmp_path):
    from tests.conftest import make_midi

    path = make_midi(tmp_path / "g.mid", [(i * 240, 36, 100, 0) for i in range(16)])
    assert R.read_source(str(path), {"bpm": 96}).n_bars >= 1
    with pytest.raises(ValueError):
        R.read_source(str(path), {"tempo": 96})


def test_a_tap_with_no_velocity_is_said_as_such():
    with pytest.raises(ValueError, match="velocity"):
        R.taps_to_song([(0.0, 0.9), (0.5, float("nan"))], bpm=100)


def test_a_takes_drums_midi_is_at_the_heard_songs_tempo():
    """A drifting tempo map (a tempo a beat, each a float): the drums MIDI written for the Song and read
    back is at the Song's tempo, so the DAW export, its preview and Regenerate from the drums MIDI take
    it (before, one tempo in twenty rounded across a thousandth of a BPM: 'The take is at another tempo')."""
    from drumgen import takes
    from drumgen import hvo as H

    periods = 0.6 + 0.0123457 * np.sin(np.arange(60) / 3.0)
    beats = np.concatenate([[-0.6], -0.6 + np.cumsum(periods)])
    h = _hearing(beats, 0.0, np.arange(0.0, beats[-5], 0.3))
    song = h.song
    assert len(song.tempos) > 40
    take = H.empty_hvo(song.n_steps)
    take[::4, 0], take[::4, H.N_VOICES] = 1.0, 0.8
    buf = io.BytesIO()
    midi.hvo_to_midi(take, song).save(file=buf)
    back = midi.read_song(buf.getvalue())
    assert back.tempos == song.tempos
    assert takes.take_from_midi(back, song).shape == take.shape


def test_a_take_trimmed_to_its_downbeat_keeps_its_first_note():
    """A loop cut at its first note (music from sample 0) is heard from that note: its first frame has
    nothing before it, and without a floor frame before it its rise was lost (bar 1 an 8th late)."""
    for start in (0.0, 0.01):
        times, levels = steady(bpm=100.0, start=start)
        hearing = R.hear(wav_bytes(clip(times, levels=levels)))
        assert hearing.onsets[0] < start + 0.05  # heard (within the figures' 50 ms), not lost
        assert abs(hearing.bar_one - start) < 0.03


def test_an_onsets_velocity_follows_how_loud_the_note_is():
    """Notes 6 and 20 dB under the loudest play at the General MIDI curve's velocities for those
    levels (10 ** (-6 / 40) = 0.71, 10 ** (-20 / 40) = 0.32), whatever the order they come in."""
    from drumgen.audio_in import onset_velocities

    rate = 22050
    gains = [1.0, 0.5, 0.1, 1.0, 0.1, 0.5] * 4
    y = np.zeros(int(rate * 0.25 * len(gains)) + rate, np.float32)
    t = np.arange(int(rate * 0.2)) / rate
    note = (np.sin(2 * np.pi * 220 * t) * np.exp(-t * 12)).astype(np.float32)
    onsets = []
    for k, g in enumerate(gains):
        start = int(rate * (0.1 + 0.25 * k))
        y[start:start + len(note)] += 0.5 * g * note
        onsets.append(start / rate)
    v = onset_velocities(y, rate, np.array(onsets))
    expected = np.array([10 ** (20 * np.log10(g) / 40) for g in gains])
    assert np.allclose(v, expected, atol=0.04)
    assert onset_velocities(y, rate, np.zeros(0)).shape == (0,)


def test_a_soft_note_just_before_an_accent_keeps_its_own_velocity():
    """Bursts 100 ms apart, all soft but one: the soft ones on both sides of the accent stay soft
    (a level frame reaching into the next note would give the one before it the accent's level)."""
    from drumgen.audio_in import onset_velocities

    rate = 22050
    rng = np.random.default_rng(0)
    burst = rng.standard_normal(int(rate * 0.03)).astype(np.float32) * np.exp(-np.arange(int(rate * 0.03)) / 200.0)
    y = np.zeros(int(rate * 6.2), np.float32)
    onsets = []
    for k in range(59):
        start = int(rate * (0.1 + 0.1 * k))
        y[start:start + len(burst)] += (1.0 if k == 10 else 0.05) * burst
        onsets.append(start / rate)
    v = onset_velocities(y, rate, np.array(onsets))
    assert v[10] == 1.0 and np.median(v) < 0.7
    assert abs(v[9] - np.median(v)) < 0.15 and abs(v[11] - np.median(v)) < 0.15
    assert np.array_equal(onset_velocities(y, rate, np.array(onsets)[::-1]), v[::-1])  # in any order
