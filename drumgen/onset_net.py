"""A small convolutional onset detector: frames of a log-mel spectrogram in, the chance that a note
starts in each frame out (after Schlüter & Böck, "Improved musical onset detection with convolutional
neural networks", ICASSP 2014). Spectral flux rises with every louder frame and cannot tell a ghost
note inside a piano's decay from the decay's own wobble; a network that sees 150 ms around each frame
in two resolutions learns what an attack looks like. Trained here on audio rendered from GMD train
grooves and made grooves with General MIDI patches other than the four the figures use, with noise,
reverb and colouring (train/onsets.py; the card: checkpoints/onset_net.md). `audio_in.detect_onsets`
picks its peaks."""
from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "onset_net.pth"


@dataclass
class OnsetNetConfig:
    rate: int = 22050
    hop: int = 256                      # ~11.6 ms a frame, as audio_in.HOP
    n_ffts: tuple = (1024, 2048)        # two resolutions, stacked as channels
    n_mels: int = 80
    fmin: float = 30.0
    fmax: float = 10000.0
    top_db: float = 80.0                # levels from the recording's loudest down to this, scaled 0-1
    channels: tuple = (8, 16)
    hidden: int = 64
    head_width: int = 7                 # frames the head sees of the pooled bands
    extra: dict = field(default_factory=dict)   # what training wrote about itself (data, scores)


def features(y: np.ndarray, cfg: OnsetNetConfig, chunk: int = 2048) -> np.ndarray:
    """(len(n_ffts), n_mels, frames) float32: log-mel levels, 0 = top_db under the loudest bin of the
    recording, 1 = it, so a recording's gain does not matter. Centred frames (frame k at k * hop), as
    librosa's, computed `chunk` frames at a time so a 10-minute recording needs no 1 GB spectrogram."""
    import librosa

    y = np.asarray(y, np.float32)
    frames = 1 + len(y) // cfg.hop
    out = []
    for n_fft in cfg.n_ffts:
        padded = np.pad(y, n_fft // 2)                 # librosa's centring (pad_mode "constant")
        parts = []
        for first in range(0, frames, chunk):
            count = min(chunk, frames - first)
            seg = padded[first * cfg.hop: (first + count - 1) * cfg.hop + n_fft]
            seg = np.pad(seg, (0, max(0, (count - 1) * cfg.hop + n_fft - len(seg))))
            parts.append(librosa.feature.melspectrogram(y=seg, sr=cfg.rate, n_fft=n_fft, hop_length=cfg.hop,
                                                        center=False, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                                        fmax=cfg.fmax)[:, :count])
        mel = np.concatenate(parts, axis=1)
        db = librosa.power_to_db(mel, ref=np.max, top_db=cfg.top_db)
        out.append(1.0 + db / cfg.top_db)
    return np.stack(out).astype(np.float32)


class OnsetNet(nn.Module):
    """(B, channels, n_mels, T) -> logits (B, T). Convolutions over frequency and time, pooled over
    frequency only, so every frame gets its own answer; a 1-d head over time on the pooled bands."""

    def __init__(self, cfg: OnsetNetConfig):
        super().__init__()
        c1, c2 = cfg.channels
        self.conv = nn.Sequential(
            nn.Conv2d(len(cfg.n_ffts), c1, (3, 7), padding=(1, 3)), nn.ReLU(), nn.MaxPool2d((3, 1)),
            nn.Conv2d(c1, c2, (3, 3), padding=(1, 1)), nn.ReLU(), nn.MaxPool2d((3, 1)))
        bands = cfg.n_mels // 3 // 3
        self.head = nn.Sequential(
            nn.Conv1d(c2 * bands, cfg.hidden, cfg.head_width, padding=cfg.head_width // 2), nn.ReLU(),
            nn.Conv1d(cfg.hidden, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return self.head(h.flatten(1, 2))[:, 0]


def save(model: OnsetNet, cfg: OnsetNetConfig, path: str | Path) -> None:
    path = Path(path)
    config = json.loads(json.dumps(asdict(cfg), default=float))   # plain types only: weights_only loads it
    torch.save({"config": config, "state": {k: v.half() for k, v in model.state_dict().items()}}, path)
    path.with_suffix(".json").write_text(json.dumps(config, indent=2) + "\n")


def load(path: str | Path = CHECKPOINT) -> tuple[OnsetNet, OnsetNetConfig]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    raw = dict(blob["config"])
    cfg = OnsetNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    model = OnsetNet(cfg)
    model.load_state_dict({k: v.float() for k, v in blob["state"].items()})
    return model.eval(), cfg


_LOADED: dict = {}
_LOCK = threading.Lock()


def shipped() -> tuple[OnsetNet, OnsetNetConfig] | None:
    """The shipped detector, loaded once a process (None when the checkpoint is missing)."""
    with _LOCK:
        if "net" not in _LOADED:
            _LOADED["net"] = load(CHECKPOINT) if CHECKPOINT.is_file() else None
        return _LOADED["net"]


def activation(y: np.ndarray, rate: int, net: tuple[OnsetNet, OnsetNetConfig] | None = None) -> np.ndarray:
    """Per frame (hop apart, centred) the chance 0-1 that a note starts there. y: mono at cfg.rate."""
    net = net if net is not None else shipped()
    if net is None:
        raise RuntimeError(f"no onset detector at {CHECKPOINT}: train one (train/onsets.py) or hear with method='flux'")
    model, cfg = net
    if rate != cfg.rate:
        raise ValueError(f"the onset detector hears {cfg.rate} Hz audio, got {rate} Hz")
    x = torch.from_numpy(features(y, cfg))[None]
    with torch.inference_mode():
        return torch.sigmoid(model(x))[0].numpy().astype(np.float64)


def peaks(act: np.ndarray, threshold: float, rate: int, hop: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, heights) of the detector's activation: the frames at or over
    `threshold` that are the highest within 30 ms either side, 30 ms apart or more (the earlier kept)."""
    import scipy.ndimage as ndi

    act = np.asarray(act, np.float64)
    if not len(act):
        return np.zeros(0), np.zeros(0)
    around = max(1, int(round(0.03 * rate / hop)))
    rising = np.r_[True, act[1:] > act[:-1]]          # a flat top is one onset, at its first frame
    candidates = np.flatnonzero((act == ndi.maximum_filter1d(act, 2 * around + 1)) & (act >= threshold) & rising)
    peaks, last = [], -around
    for c in candidates:
        if c - last >= around:
            peaks.append(c)
            last = c
    peaks = np.array(peaks, np.int64)
    return peaks * hop / rate, act[peaks]
