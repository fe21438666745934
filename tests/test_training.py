import json

import numpy as np

from drumgen import data
from drumgen import hvo as H
from drumgen.models.vae import MonotonicGrooveVAE, load_variational_mgt_model, tiny_config
from drumgen.training import TrainConfig, train


def _windows(n, seed):
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, 32, 27), np.float32)
    hvo[:, ::4, 0] = 1
    hvo[:, 4::8, 1] = 1
    hvo[:, ::2, 2] = rng.random((n, 16)) < 0.9
    hvo[..., H.VELOCITIES] = hvo[..., H.HITS] * 0.7
    return data.WindowSet(hvo, np.zeros(n, int), np.zeros(n, int), np.array(["rock"] * n), ["x.mid"])


def test_smoke_training_learns_saves_and_resumes(tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), epochs=3, batch_size=16, lr=3e-3, warmup_steps=2, threads=1)
    model = MonotonicGrooveVAE(tiny_config(beta_anneal_steps=10))
    best = train(model, _windows(128, 0), _windows(32, 1), cfg)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records[-1]["val_hits"] < records[0]["val_hits"]          # it learns
    assert best.is_file() and best.with_suffix(".json").is_file()
    loaded = load_variational_mgt_model(str(best))
    assert loaded.generate(H.hvo_to_groove(_windows(2, 3).hvo)).shape == (2, 32, 27)

    cfg.epochs = 4                                                     # resume: one more epoch only
    train(MonotonicGrooveVAE(tiny_config(beta_anneal_steps=10)), _windows(128, 0), _windows(32, 1), cfg)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]


def test_train_config_roundtrip():
    cfg = TrainConfig(epochs=7, augment=data.AugmentConfig(p_full=0.9))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_training_script_smoke_run(gmd_zip, tmp_path):
    """The script the model card cites, on a few real GMD windows: trains, resumes, chooses thresholds."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "run"
    cmd = [sys.executable, "train/train.py", "--data", str(gmd_zip), "--config", "train/configs/vae_smoke.yaml",
           "--out-dir", str(out), "--cache-dir", str(tmp_path / "cache"), "--set", "train.epochs=1"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    cmd[-1] = "train.epochs=2"
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "resumed" in result.stderr
    header = json.loads((out / "best.json").read_text())
    assert header["meta"]["thresholds"].startswith("per-voice") and len(header["sampling"]["thresholds"]) == 9
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_bf16_autocast_training_runs(tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path / "bf16"), epochs=1, batch_size=16, warmup_steps=2, threads=1, bf16=True)
    best = train(MonotonicGrooveVAE(tiny_config()), _windows(64, 0), _windows(16, 1), cfg)
    record = json.loads((tmp_path / "bf16" / "metrics.jsonl").read_text())
    assert np.isfinite(record["train_loss"]) and np.isfinite(record["val_recon"]) and best.is_file()
