import json

import numpy as np
import pytest
import torch

import drumgen
from drumgen import hvo as H
from drumgen.models.checkpoint import load_model
from drumgen.models.format import read_checkpoint
from drumgen.models.vae import MonotonicGrooveVAE, VAEConfig, tiny_config
from tests.conftest import random_groove


def test_forward_shapes_and_loss_parts(tiny_model):
    groove = torch.from_numpy(random_groove(4))
    with torch.no_grad():
        hit_logits, vel, off, mu, logvar = tiny_model(groove)
    assert hit_logits.shape == vel.shape == off.shape == (4, 32, 9)
    assert mu.shape == logvar.shape == (4, 8)
    assert vel.min().item() >= 0 and vel.max().item() <= 1 and off.abs().max().item() <= 0.5
    target = torch.zeros(4, 32, 27)
    parts = tiny_model.loss({"groove": groove, "drums": target}, step=10)
    assert set(parts) == {"loss", "recon", "hits", "velocity", "offset", "kl"}
    assert all(torch.isfinite(v) for v in parts.values())


def test_generate_contract(tiny_model):
    out = tiny_model.generate(random_groove(3))
    assert out.shape == (3, 32, 27) and out.dtype == np.float32
    assert set(np.unique(out[..., H.HITS])) <= {0.0, 1.0}
    hits = out[..., H.HITS] > 0
    assert (out[..., H.VELOCITIES][~hits] == 0).all() and (out[..., H.OFFSETS][~hits] == 0).all()


def test_same_seed_same_output_other_seed_differs(tiny_model):
    g = random_groove(4)
    a = tiny_model.generate(g, seed=7, temperature=1.0, thresholds=0.5)
    b = tiny_model.generate(g, seed=7, temperature=1.0, thresholds=0.5)
    c = tiny_model.generate(g, seed=8, temperature=1.0, thresholds=0.5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    zero = tiny_model.generate(g, seed=1, temperature=0.0)
    assert np.array_equal(zero, tiny_model.generate(g, seed=2, temperature=0.0))


def test_thresholds_and_max_hits_for_every_item(tiny_model):
    g = random_groove(5)
    low = tiny_model.generate(g, thresholds=0.0)
    assert (low[..., H.HITS] == 1).all()
    per_voice = [0.0] * 9
    per_voice[0] = 1.0
    out = tiny_model.generate(g, thresholds=per_voice)
    assert out[..., 0].sum() == 0 and (out[..., 1] == 1).all()
    capped = tiny_model.generate(g, thresholds=0.0, max_hits=[2, 32, 0, 32, 32, 32, 32, 32, 1])
    per_item = capped[..., H.HITS].sum(axis=1)  # (5, 9)
    assert (per_item[:, 0] == 2).all() and (per_item[:, 2] == 0).all() and (per_item[:, 8] == 1).all()


def test_long_grooves_are_stitched(tiny_model):
    g = random_groove(2, bars=7)
    out = tiny_model.generate(g)
    assert out.shape == (2, 112, 27)
    one_bar = tiny_model.generate(random_groove(1, bars=1))
    assert one_bar.shape == (1, 16, 27)


def test_keep_groove_timing(tiny_model):
    g = random_groove(2)
    out = tiny_model.generate(g, thresholds=0.0)
    onsets = g[..., 0] > 0
    assert np.allclose(out[..., H.OFFSETS][onsets], np.repeat(g[..., 2:3], 9, -1)[onsets])
    assert np.allclose(H.hvo_to_groove(out)[onsets], g[onsets], atol=1e-6)  # the input's groove comes back


@pytest.mark.parametrize("kwargs", [dict(temperature=-1), dict(temperature=float("nan")), dict(seed=-1), dict(seed=2**64),
                                    dict(thresholds=[0.5] * 3), dict(max_hits=[1, 2])])
def test_bad_generate_arguments(tiny_model, kwargs):
    with pytest.raises(ValueError):
        tiny_model.generate(random_groove(1), **kwargs)


def test_save_load_roundtrip(tmp_path, tiny_model):
    path = tmp_path / "m.pth"
    tiny_model.save(str(path))
    assert path.is_file() and path.with_suffix(".json").is_file()
    header = json.loads(path.with_suffix(".json").read_text())
    assert header["model_kind"] == "MonotonicGrooveVAE" and header["config"]["d_model_enc"] == 16
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == 2 and "state_dict" in raw and raw["sampling"]["thresholds"] == [0.5] * 9
    assert "device" not in raw["config"] and "thresholds" not in raw["config"]
    loaded = drumgen.load_variational_mgt_model(str(path), "cpu")
    assert loaded.config == tiny_model.config
    g = random_groove(3, bars=4)
    assert np.allclose(loaded.generate(g, seed=3), tiny_model.generate(g, seed=3), atol=1e-5)
    assert isinstance(load_model(path).model, MonotonicGrooveVAE)
    assert read_checkpoint(path)["config"] == tiny_model.config.to_dict()


def test_config_roundtrip_and_unknown_fields():
    c = VAEConfig(d_model_enc=64, beta=0.3)
    assert VAEConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown"):
        VAEConfig.from_dict({"nope": 1})


def test_loader_refuses_non_checkpoints(tmp_path):
    bad = tmp_path / "x.pth"
    torch.save({"a": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not a drumgen checkpoint"):
        drumgen.load_variational_mgt_model(str(bad))
    with pytest.raises(FileNotFoundError):
        drumgen.load_variational_mgt_model(str(tmp_path / "missing.pth"))


def test_window_and_output_layout_follow_the_config():
    """The window the sampler stitches by is the model's own, and outputs keep the 27-column layout."""
    m = MonotonicGrooveVAE(tiny_config(max_len_enc=16, max_len_dec=16)).eval()
    assert m.window == 16
    out = m.generate(random_groove(2, bars=3), thresholds=0.0)
    assert out.shape == (2, 48, 27) and (out[..., H.HITS] == 1).all()


def test_fast_path_lives_in_the_runtime_and_matches_eager(tmp_path):
    torch.manual_seed(1)
    model = MonotonicGrooveVAE(tiny_config()).eval()
    g = random_groove(4, bars=3)
    eager = model.generate(g, seed=5)
    path = tmp_path / "m.pth"
    model.save(str(path))
    runtime = load_model(path)                      # the loader builds the fast path, outside the module
    assert runtime.engine is not None and not any("jit" in type(m).__name__.lower() for m in runtime.model.modules())
    assert np.allclose(runtime.generate(g, seed=5), eager, atol=1e-5)
    assert load_model(path) is runtime              # one loaded model per file and device
    model.save(str(path), meta={"changed": True})   # a new version of the file is loaded again
    assert load_model(path) is not runtime


def same_drums(a, b):
    """Equal hits; velocities and offsets equal up to float rounding (batched kernels sum in another order)."""
    return np.array_equal(a[..., H.HITS], b[..., H.HITS]) and np.allclose(a, b, atol=1e-5)


def test_same_groove_same_drums_whatever_the_batch(tiny_model):
    g = random_groove(3, bars=2, seed=4)
    alone = tiny_model.generate(g[1:2], seed=9)
    in_batch = tiny_model.generate(g, seed=9)
    assert same_drums(in_batch[1:2], alone)
    per_item = tiny_model.generate(g, seed=[1, 9, 2])
    assert same_drums(per_item[1:2], alone) and not np.array_equal(per_item[0], in_batch[0])
    with pytest.raises(ValueError, match="one per groove"):
        tiny_model.generate(g, seed=[1, 2])


def test_first_bar_does_not_depend_on_song_length(tiny_model):
    g = random_groove(1, bars=4, seed=5)
    two = tiny_model.generate(g[:, :32], seed=3, thresholds=0.5)
    four = tiny_model.generate(g, seed=3, thresholds=0.5)
    assert same_drums(two[:, :16], four[:, :16])


def test_reloading_does_not_grow_memory(tmp_path):
    import gc

    from drumgen.bench import _rss_mb

    path = tmp_path / "m.pth"
    MonotonicGrooveVAE(tiny_config(d_model_enc=64, d_model_dec=64)).save(str(path))
    load_model(path).generate(random_groove(1))
    gc.collect()
    before = _rss_mb("VmRSS")
    for _ in range(20):
        load_model(path).generate(random_groove(1))
    gc.collect()
    assert _rss_mb("VmRSS") - before < 50


def test_unknown_kind_and_newer_format_are_refused(tmp_path, tiny_model):
    path = tmp_path / "m.pth"
    tiny_model.save(str(path))
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "model_kind": "DrumGPT"}, tmp_path / "kind.pth")
    with pytest.raises(ValueError, match="unknown model kind 'DrumGPT'"):
        load_model(tmp_path / "kind.pth")
    torch.save({**raw, "format_version": 99}, tmp_path / "new.pth")
    with pytest.raises(ValueError, match="format 99.*Update drumgen"):
        load_model(tmp_path / "new.pth")


def test_first_format_checkpoints_still_load(tmp_path, tiny_model):
    path = tmp_path / "v1.pth"
    tiny_model.save(str(path))
    raw = torch.load(path, weights_only=True)
    v1 = {**raw, "format_version": 1, "config": {**raw["config"], "device": "cpu", "thresholds": [0.3] * 9}}
    del v1["sampling"]
    torch.save(v1, path)
    loaded = load_model(path)
    assert loaded.thresholds == [0.3] * 9 and loaded.config == tiny_model.config


def test_registry_knows_every_kind_without_importing_models():
    import subprocess
    import sys

    code = ("from drumgen.models.checkpoint import MODEL_KINDS, model_class; import sys; "
            "assert 'drumgen.models.vae' not in sys.modules; "
            "print(sorted(k for k in MODEL_KINDS if model_class(k).__name__ == k))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "MonotonicGrooveVAE" in out and "RhythmDrivenDrumGen" in out


HUGE = 10 ** 400  # too big for a float


@pytest.mark.parametrize("kwargs", [
    dict(temperature=True), pytest.param(dict(temperature=HUGE), id="huge-temperature"), dict(temperature=np.complex128(1)),
    dict(temperature="1"), pytest.param(dict(thresholds=HUGE), id="huge-thresholds"), dict(thresholds=True),
    dict(thresholds="0.5"), dict(max_hits=2.5), pytest.param(dict(max_hits=HUGE), id="huge-max-hits"),
])
def test_odd_generate_arguments_are_value_errors(tiny_model, kwargs):
    with pytest.raises(ValueError, match="temperature|thresholds|max_hits"):
        tiny_model.generate(random_groove(1), **kwargs)


def test_an_empty_batch_gives_no_drums(tiny_model):
    assert tiny_model.generate(np.zeros((0, 32, 3), np.float32), seed=[]).shape == (0, 32, 27)
    assert tiny_model.generate(np.zeros((0, 32, 3), np.float32), seed=None).shape == (0, 32, 27)


@pytest.mark.parametrize("groove", [{}, random_groove(1).astype(np.complex64),
                                    random_groove(1) > 0.5, np.array([[["a", 0, 0]] * 32]),
                                    np.zeros((1, 16 * 2049, 3), np.float32)])
def test_odd_grooves_are_value_errors(tiny_model, groove):
    with pytest.raises(ValueError, match="groove"):
        tiny_model.generate(groove)


def test_a_new_version_with_the_same_mtime_and_size_is_loaded_again(tmp_path, tiny_model):
    """Two saves within one tick of the file system clock (a few ms) keep mtime and size when only the
    thresholds change: the cache must still see a new file."""
    import os

    path = tmp_path / "m.pth"
    tiny_model.save(str(path))
    old = load_model(path)
    before = path.stat()
    changed = MonotonicGrooveVAE(tiny_model.config)
    changed.load_state_dict(tiny_model.state_dict())
    changed.thresholds = [0.25] * 9
    changed.save(str(path))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert load_model(path).thresholds == [0.25] * 9 and old.thresholds == tiny_model.thresholds


def test_a_shared_runtime_cannot_be_changed_under_its_other_users(tmp_path, tiny_model):
    path = tmp_path / "m.pth"
    tiny_model.save(str(path))
    first = load_model(path)
    with pytest.raises(ValueError, match="shared"):
        first.thresholds = [0.1] * 9
    first.thresholds[0] = 0.9           # a copy: the model's own list is not touched
    assert load_model(path).thresholds == tiny_model.thresholds
    private = load_model(path, cache=False)
    private.thresholds = [0.1] * 9      # a private copy can be tuned and saved
    assert private.thresholds == [0.1] * 9 and load_model(path).thresholds == tiny_model.thresholds
