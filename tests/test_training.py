import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumgen import data, load_variational_mgt_model
from drumgen import hvo as H
from drumgen.models.vae import MonotonicGrooveVAE, tiny_config
from drumgen.models.base import weighted_score
from drumgen.training import TrainConfig, train
from tests.conftest import ROOT


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


@pytest.fixture(scope="session")
def smoke_cache(gmd_zip, tmp_path_factory):
    """A window cache shared by the script tests; prepare(n_bars) fills it once per window length, in
    this process (torchrun's ranks would otherwise both prepare the same files at once)."""
    cache = tmp_path_factory.mktemp("smoke_cache")
    done = set()

    def prepare(n_bars: int):
        if n_bars not in done:
            data.load_split("train", gmd_zip, n_bars=n_bars, hop_bars=1, min_hits=4, cache_dir=cache)
            done.add(n_bars)
        return cache

    return prepare


def test_training_script_smoke_run(gmd_zip, smoke_cache, tmp_path):
    """The script the model card cites, on a few real GMD windows: trains, resumes, chooses thresholds."""
    out = tmp_path / "run"
    cmd = [sys.executable, "train/train.py", "--data", str(gmd_zip), "--config", "train/configs/vae_smoke.yaml",
           "--out-dir", str(out), "--cache-dir", str(smoke_cache(2)), "--set", "train.epochs=1"]
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


def test_named_score_parts_are_logged_weighed_and_every_epoch_kept(tmp_path):
    """A score of named parts: each part in the log, the best epoch by their weighed mean, and with
    keep_epochs every epoch's weights beside best.pth (to choose among them by another rule later)."""
    values = iter([{"a": 0.2, "b": 0.9}, {"a": 0.6, "b": 0.3}])  # means 0.55, 0.45; weighed a x3: 0.375, 0.525
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), epochs=2, batch_size=16, warmup_steps=2, threads=1,
                      score_weights={"a": 3.0}, keep_epochs=True)
    train(MonotonicGrooveVAE(tiny_config()), _windows(32, 0), _windows(8, 1), cfg, score_fn=lambda m, w: next(values))
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_a"] for r in records] == [0.2, 0.6] and [r["best"] for r in records] == [True, True]
    assert [r["val_score"] for r in records] == pytest.approx([0.375, 0.525])
    assert (tmp_path / "run" / "epoch1.pth").is_file() and (tmp_path / "run" / "epoch2.pth").is_file()
    assert json.loads((tmp_path / "run" / "best.json").read_text())["meta"]["epoch"] == 2
    with pytest.raises(ValueError, match="score_weights names"):
        weighted_score({"a": 1.0}, {"f1_free": 2.0})
    for bad in ({"a": 0.0}, {"a": -1.0}, {"a": float("inf")}):  # no score of nan or +-inf: best.pth always written
        with pytest.raises(ValueError):
            weighted_score({"a": 0.5}, bad)
    for typo in ("f1_free=3", {"f1_free": "three"}):  # a mistyped --set, refused before the first epoch
        with pytest.raises(ValueError, match="score_weights"):
            TrainConfig(score_weights=typo)
    assert TrainConfig.from_dict({"score_weights": {"f1_free": 3}}).score_weights == {"f1_free": 3.0}


def test_a_part_named_as_a_logged_figure_is_refused(tmp_path):
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), epochs=1, batch_size=16, warmup_steps=2, threads=1)
    with pytest.raises(ValueError, match="val_recon"):
        train(MonotonicGrooveVAE(tiny_config()), _windows(32, 0), _windows(8, 1), cfg,
              score_fn=lambda m, w: {"recon": 0.5})


def test_an_interrupted_run_resumes_exactly_where_it_stopped(tmp_path):
    """Stopped after epoch 1 and run again, training ends with the very weights of an uninterrupted run:
    the epoch order, the augmentation and torch's RNG (latent noise, dropout) all continue."""

    class Stop(Exception):
        pass

    def score(stop_at):
        calls = []

        def fn(model, windows):
            calls.append(1)
            if len(calls) == stop_at:  # in epoch 2, before its resume file is written
                raise Stop
            return 0.0
        return fn

    def run(out, stops):
        cfg = TrainConfig(out_dir=str(out), epochs=3, batch_size=16, warmup_steps=2, threads=1)
        for stop_at in stops:
            torch.manual_seed(0)
            with contextlib.suppress(Stop):
                train(MonotonicGrooveVAE(tiny_config(beta_anneal_steps=10)), _windows(64, 0), _windows(16, 1), cfg,
                      score_fn=score(stop_at))
        return torch.load(out / "resume.pt", weights_only=False)

    whole, resumed = run(tmp_path / "whole", [None]), run(tmp_path / "resumed", [2, None])
    assert whole["epoch"] == resumed["epoch"] == 3 and whole["step"] == resumed["step"]
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])
    assert all(torch.equal(whole["ema"][k], resumed["ema"][k]) for k in whole["ema"])


def _run_script(args, n_processes=1):
    """train/train.py as a user runs it: alone, or under torchrun on CPUs (gloo), one thread each.
    --standalone: the rendezvous binds a free port itself (a port picked here and passed as --master_port
    can be taken by another process before torchrun listens on it)."""
    launcher = [sys.executable]
    if n_processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n_processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(launcher + ["train/train.py", *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("config, n_bars, resume", [("vae_smoke", 2, True), ("controlled_smoke", 8, False)])
def test_training_script_under_torchrun(gmd_zip, smoke_cache, tmp_path, config, n_bars, resume):
    """Two processes (DistributedDataParallel over gloo): both train, rank 0 alone writes; resuming
    restores each rank's RNG streams. The controlled model holds a parameter its loss leaves out
    without history dropout (hidden_beat): DDP must not stop at the second step over it."""
    from drumgen.models.checkpoint import load_model

    out = tmp_path / "run"
    args = ["--data", str(gmd_zip), "--config", f"train/configs/{config}.yaml", "--out-dir", str(out),
            "--cache-dir", str(smoke_cache(n_bars)), "--set", "train.epochs=1"]
    result = _run_script(args, n_processes=2)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stderr.count("windows: train") == 2                      # two processes ran the script
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1]                             # one line an epoch: rank 0 alone
    assert records[0]["step"] == 2 and np.isfinite(records[0]["train_loss"]) and np.isfinite(records[0]["val_recon"])
    assert json.loads((out / "train_config.json").read_text())["world_size"] == 2
    state = torch.load(out / "resume.pt", weights_only=False)
    assert len(state["numpy_rng"]) == len(state["torch_rng"]) == 2
    assert state["numpy_rng"][0] != state["numpy_rng"][1]                   # each rank augments its own way
    runtime = load_model(out / "best.pth", cache=False)
    assert runtime.kind == {"vae_smoke": "MonotonicGrooveVAE", "controlled_smoke": "RhythmDrivenDrumGen"}[config]
    assert all(torch.isfinite(p).all() for p in runtime.model.parameters())
    assert runtime.generate(H.hvo_to_groove(_windows(2, 3).hvo)).shape == (2, 32, 27)
    if resume:
        args[-1] = "train.epochs=2"
        result = _run_script(args, n_processes=2)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        assert result.stderr.count("resumed from") == 2                     # both ranks
        assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_training_script_trains_the_controlled_model(gmd_zip, smoke_cache, tmp_path):
    """The one script trains the second model kind too (8-bar windows), single process."""
    from drumgen.models.checkpoint import load_model

    out = tmp_path / "run"
    result = _run_script(["--data", str(gmd_zip), "--config", "train/configs/controlled_smoke.yaml", "--out-dir", str(out),
                          "--cache-dir", str(smoke_cache(8)), "--set", "train.epochs=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["step"] == 4 and "val_score" in records[0]   # 32 windows / 8
    assert json.loads((out / "train_config.json").read_text())["world_size"] == 1
    header = json.loads((out / "best.json").read_text())
    assert header["model_kind"] == "RhythmDrivenDrumGen" and header["format_version"] == 2
    assert header["config"]["max_bars"] == 8 and len(header["sampling"]["thresholds"]) == 9
    runtime = load_model(out / "best.pth", cache=False)
    assert runtime.thresholds == header["sampling"]["thresholds"]
    song = runtime.generate(H.hvo_to_groove(np.tile(_windows(1, 4).hvo[:, :16], (1, 10, 1))), controls={"style": "funk"})
    assert song.shape == (1, 160, 27)


def test_a_resume_file_of_the_first_release_still_resumes(tmp_path):
    """The first release saved one numpy RNG state (order and augmentation alike) and rank 0's torch
    state, no order_rng: a rerun of such a run must go on, not stop with a KeyError."""
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), epochs=1, batch_size=16, warmup_steps=2, threads=1, ema_decay=0.0)
    train(MonotonicGrooveVAE(tiny_config(beta_anneal_steps=10)), _windows(64, 0), _windows(16, 1), cfg)
    path = tmp_path / "run" / "resume.pt"
    state = torch.load(path, weights_only=False)
    old = {k: state[k] for k in ("model", "optimizer", "step", "epoch", "best", "ema")}
    old.update(numpy_rng=state["numpy_rng"][0], torch_rng=state["torch_rng"][0])
    torch.save(old, path)
    cfg.epochs = 2
    train(MonotonicGrooveVAE(tiny_config(beta_anneal_steps=10)), _windows(64, 0), _windows(16, 1), cfg)
    assert torch.load(path, weights_only=False)["epoch"] == 2
