"""drumgen.onset_net: the onset detector's features, checkpoint round trip and peak picking, and the
shipped detector on clips it never heard (numpy plucks, as tests/test_recording.py makes them)."""
import numpy as np
import pytest
import torch

from drumgen import audio_in, onset_net
from tests.test_recording import RATE, clip, steady


def test_activation_peaks_keeps_local_maxima_over_the_threshold_30ms_apart():
    hop = audio_in.HOP
    act = np.zeros(100)
    act[10], act[12], act[30], act[50], act[51] = 0.9, 0.5, 0.3, 0.6, 0.6
    times, heights = onset_net.peaks(act, 0.4, RATE, hop)
    assert np.allclose(times, np.array([10, 50]) * hop / RATE)   # 12 is within 30 ms of 10; 30 is too low;
    assert np.allclose(heights, [0.9, 0.6])                        # a flat top is one onset, its first frame
    assert onset_net.peaks(np.zeros(0), 0.4, RATE)[0].shape == (0,)
    assert onset_net.peaks(act, 0.95, RATE)[0].shape == (0,)


def test_features_do_not_depend_on_the_recording_gain():
    cfg = onset_net.OnsetNetConfig()
    times, levels = steady(bars=1)
    y = clip(times, levels=levels)
    a, b = onset_net.features(y, cfg), onset_net.features(0.05 * y, cfg)
    assert a.shape == (len(cfg.n_ffts), cfg.n_mels, len(y) // cfg.hop + 1)
    assert np.allclose(a, b, atol=1e-4)
    assert a.min() >= 0.0 and a.max() == pytest.approx(1.0)


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = onset_net.OnsetNetConfig(extra={"note": "test"})
    model = onset_net.OnsetNet(cfg).eval()
    onset_net.save(model, cfg, tmp_path / "net.pth")
    loaded, cfg2 = onset_net.load(tmp_path / "net.pth")
    assert cfg2 == cfg and (tmp_path / "net.json").is_file()
    y = clip(steady(bars=1)[0])
    a = onset_net.activation(y, RATE, (model, cfg))
    b = onset_net.activation(y, RATE, (loaded, cfg2))
    assert np.allclose(a, b, atol=2e-3)        # weights are stored in float16
    with pytest.raises(ValueError, match="22050 Hz"):
        onset_net.activation(y, 44100, (model, cfg))


@pytest.mark.skipif(not onset_net.CHECKPOINT.is_file(), reason="no shipped onset detector")
def test_shipped_detector_finds_soft_notes_and_is_the_default():
    times, levels = steady(bpm=120.0)
    levels = [lv * (0.15 if k % 3 == 2 else 1.0) for k, lv in enumerate(levels)]   # every third note 16 dB down
    y = clip(times, levels=levels)
    found, strengths = audio_in.detect_onsets(y, RATE)
    assert len(found) == len(times)
    assert np.abs(found - np.array(times)).max() < 0.03
    assert np.all((strengths > 0) & (strengths <= 1))
    net_found, _ = audio_in.detect_onsets(y, RATE, method="net")
    assert np.array_equal(found, net_found)
    shy, _ = audio_in.detect_onsets(y, RATE, sensitivity=0.0)
    keen, _ = audio_in.detect_onsets(y, RATE, sensitivity=1.0)
    assert len(shy) <= len(found) <= len(keen)
    with pytest.raises(ValueError, match="'net' or 'flux'"):
        audio_in.detect_onsets(y, RATE, method="superflux")


def test_the_flux_detector_is_still_there():
    times, levels = steady()
    found, _ = audio_in.detect_onsets(clip(times, levels=levels), RATE, method="flux")
    assert len(found) == len(times)


@pytest.mark.skipif(not onset_net.CHECKPOINT.is_file(), reason="no shipped onset detector")
def test_a_recording_cut_off_mid_note_gains_no_onset_at_its_end():
    times, levels = steady(bars=2)
    y = clip(times, levels=levels)
    for cut in (0.07, 0.1, 0.15):      # s after the last note starts: it is still ringing (the net alone
        end = int((times[-1] + cut) * RATE)   # hears the cut as a note 40-100 ms after it)
        found, _ = audio_in.detect_onsets(y[:end], RATE)
        assert len(found) == len(times) and found[-1] < times[-1] + 0.03


def test_features_in_chunks_are_librosas_centred_frames():
    import librosa

    cfg = onset_net.OnsetNetConfig()
    y = clip(steady(bars=1)[0])
    whole = []
    for n_fft in cfg.n_ffts:
        mel = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=n_fft, hop_length=cfg.hop, n_mels=cfg.n_mels,
                                             fmin=cfg.fmin, fmax=cfg.fmax)
        whole.append(1 + librosa.power_to_db(mel, ref=np.max, top_db=cfg.top_db) / cfg.top_db)
    assert np.allclose(onset_net.features(y, cfg, chunk=37), np.stack(whole), atol=1e-5)


def test_no_checkpoint_says_so(monkeypatch):
    monkeypatch.setattr(onset_net, "shipped", lambda: None)
    with pytest.raises(RuntimeError, match="no onset detector"):
        onset_net.activation(np.zeros(RATE, np.float32), RATE)


def damped(times, levels, hold=0.08, fade=0.02):
    """Plucks let go (damped over `fade` s) `hold` s after they start: staccato. (Cut in 10 ms, the stop
    clicks, and the spectral flux hears a note there too.)"""
    from tests.test_recording import pluck

    y = np.zeros(int((max(times) + 1) * RATE), np.float32)
    for t, level in zip(times, levels):
        p = pluck(RATE, 196.0, seconds=0.3, level=level)[: int((hold + fade) * RATE)].copy()
        p[int(hold * RATE):] *= np.linspace(1, 0, len(p) - int(hold * RATE))
        i = int(round(t * RATE))
        y[i: i + len(p)] += p
    return y


@pytest.mark.skipif(not onset_net.CHECKPOINT.is_file(), reason="no shipped onset detector")
def test_a_note_let_go_is_no_onset():
    times, levels = steady(bpm=100.0)
    for hold in (0.05, 0.08, 0.12):
        found, _ = audio_in.detect_onsets(damped(times, levels, hold), RATE)
        assert len(found) == len(times), hold   # a detector trained on legato notes only heard each release
