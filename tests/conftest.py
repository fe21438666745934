import os
from pathlib import Path

import mido
import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
GMD_ZIP = ROOT.parent / "shared" / "data" / "groove-v1.0.0-midionly.zip"


def make_midi(path, notes, ticks_per_beat=480, tempos=((0, 120.0),), meters=((0, 4, 4),), channel=9,
              extra_tracks=()):
    """Write a type-1 MIDI file: notes are (tick, pitch, velocity[, channel]) onsets, 1/16 long."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    meta = [(t, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for t, b in tempos]
    meta += [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in meters]
    tracks = [meta]
    events = []
    for note in notes:
        tick, pitch, vel = note[:3]
        ch = note[3] if len(note) > 3 else channel
        events.append((tick, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
        events.append((tick + max(1, ticks_per_beat // 4), mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
    tracks.append(events)
    tracks.extend(extra_tracks)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return Path(path)


def rock_beat(bars=2, tpb=480):
    """Kick 1/3, snare 2/4, closed hat 8ths."""
    notes = []
    for bar in range(bars):
        for step in range(0, 16, 2):
            tick = (bar * 16 + step) * tpb // 4
            notes.append((tick, 42, 70))
            if step in (0, 8):
                notes.append((tick, 36, 110))
            if step in (4, 12):
                notes.append((tick, 38, 100))
    return notes


@pytest.fixture
def rock_midi(tmp_path):
    return make_midi(tmp_path / "rock.mid", rock_beat())


@pytest.fixture(scope="session")
def tiny_model():
    import torch

    from drumgen.models.vae import MonotonicGrooveVAE, tiny_config

    torch.manual_seed(0)
    return MonotonicGrooveVAE(tiny_config()).eval()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module, as the app runs: tiny models gain nothing from more, and on a
    busy CPU spinning threads cost a hundred times the work."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def gmd_zip():
    if not GMD_ZIP.is_file():
        pytest.skip(f"GMD zip not at {GMD_ZIP}")
    return GMD_ZIP


@pytest.fixture(scope="session")
def gmd_test_windows(gmd_zip, tmp_path_factory):
    """The GMD test split's windows, prepared once per test session in a private cache."""
    from drumgen import data

    return data.load_split("test", gmd_zip, cache_dir=tmp_path_factory.mktemp("gmd_cache"))


def random_groove(n=3, bars=2, seed=0):
    rng = np.random.default_rng(seed)
    g = np.zeros((n, 16 * bars, 3), np.float32)
    on = rng.random((n, 16 * bars)) < 0.5
    g[..., 0] = on
    g[..., 1] = on * rng.uniform(0.2, 1.0, on.shape)
    g[..., 2] = on * rng.uniform(-0.3, 0.3, on.shape)
    return g


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a minute or more (the page's soak and restart tests); -m 'not slow' skips")
