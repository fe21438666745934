"""RhythmDrivenDrumGen (drumgen.models.controlled): shapes and losses, the KV cache, causality in the drums,
seeds, checkpoints, long songs, controls, thread safety. Small random-weight models only."""
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from drumgen import controls as C
from drumgen import data, sampling
from drumgen import hvo as H
from drumgen.models.checkpoint import load_model
from drumgen.models.controlled import BEAT, RhythmDrivenDrumGen, tiny_config
from drumgen.models.engines import build_engine
from drumgen.models.format import read_checkpoint
from tests.conftest import random_groove

W = tiny_config().max_bars * H.STEPS_PER_BAR  # the tiny model's window: 4 bars = 64 steps = 16 tokens
RIDE = H.VOICES.index("ride")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RhythmDrivenDrumGen(tiny_config()).eval()


def _windows(n, seed, steps=W):
    """A small synthetic WindowSet: kick on beats, snare on 2 and 4, closed hats on most 8ths."""
    rng = np.random.default_rng(seed)
    hvo = np.zeros((n, steps, 27), np.float32)
    hvo[:, ::4, 0] = 1
    hvo[:, 4::8, 1] = 1
    hvo[:, ::2, 2] = rng.random((n, steps // 2)) < 0.9
    hvo[..., H.VELOCITIES] = hvo[..., H.HITS] * rng.uniform(0.3, 1.0, (n, steps, 9)).astype(np.float32)
    hvo[..., H.OFFSETS] = hvo[..., H.HITS] * rng.uniform(-0.2, 0.2, (n, steps, 9)).astype(np.float32)
    styles = np.array(["rock", "funk", "jazz"] * n)[:n]
    return data.WindowSet(hvo, np.zeros(n, int), np.zeros(n, int), styles, ["x.mid"])


def _random_drums(n, steps, seed):
    rng = np.random.default_rng(seed)
    hits = (rng.random((n, steps, 9)) < 0.3).astype(np.float32)
    return H.join_hvo(hits, rng.uniform(0.2, 1.0, hits.shape).astype(np.float32),
                      rng.uniform(-0.3, 0.3, hits.shape).astype(np.float32))


def _teacher_forced(model, groove, drums, ctrl):
    cond, style = (torch.from_numpy(a) for a in C.condition_array(ctrl))
    return model(torch.from_numpy(groove), drums if torch.is_tensor(drums) else torch.from_numpy(drums),
                 cond, style, temperature=0)


def same_drums(a, b):
    """Equal hits; velocities and offsets equal up to float rounding."""
    return np.array_equal(a[..., H.HITS], b[..., H.HITS]) and np.allclose(a, b, atol=1e-5)


# --- forward, loss, batches -------------------------------------------------------------------------------

def test_forward_shapes_and_loss_parts(model):
    batch = model.make_batch(_windows(4, 0), np.arange(4), None, None)
    with torch.no_grad():
        hit_logits, vel, off, mu, logvar = model(batch["groove"], batch["drums"], batch["cond"], batch["style"])
    assert hit_logits.shape == vel.shape == off.shape == (4, W, 9)
    assert mu.shape == logvar.shape == (4, model.config.latent_dim)
    assert vel.min() >= 0 and vel.max() <= 1 and off.abs().max() <= 0.5
    parts = model.loss(batch, step=5)
    assert set(parts) == {"loss", "recon", "hits", "velocity", "offset", "kl"}
    assert all(p.shape == () and torch.isfinite(p) for p in parts.values())
    assert torch.isclose(parts["recon"], parts["hits"] + 5 * parts["velocity"] + 5 * parts["offset"])
    assert torch.isclose(parts["loss"], parts["recon"] + 0.02 * 5 / 4000 * parts["kl"])  # KL annealed


@pytest.mark.parametrize("history_dropout", [0.0, 0.5])
def test_loss_backward_reaches_every_parameter(history_dropout):
    torch.manual_seed(1)
    m = RhythmDrivenDrumGen(tiny_config(history_dropout=history_dropout)).train()
    batch = m.make_batch(_windows(6, 1), np.arange(6), np.random.default_rng(0), data.AugmentConfig())
    m.loss(batch, step=100)["loss"].backward()
    for name, p in m.named_parameters():
        if name == "decoder.hidden_beat" and history_dropout == 0:
            continue  # the "hidden beat" stands in for hidden drum history only
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_history_dropout_acts_in_training_only():
    torch.manual_seed(2)
    m = RhythmDrivenDrumGen(tiny_config(history_dropout=0.5))
    batch = m.make_batch(_windows(3, 2), np.arange(3), None, None)
    args = (batch["groove"], batch["drums"], batch["cond"], batch["style"])
    with torch.no_grad():
        m.eval()
        a, b = m(*args, temperature=0)[0], m(*args, temperature=0)[0]
        m.train()
        torch.manual_seed(0)
        c = m(*args, temperature=0)[0]
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_own_history_mixes_the_models_own_beats_into_the_drums_it_hears():
    torch.manual_seed(3)
    m = RhythmDrivenDrumGen(tiny_config(own_history=0.5)).train()
    batch = m.make_batch(_windows(8, 4), np.arange(8), None, None)
    cond = batch["cond"].clone()
    cond[..., C.SHARES], cond[..., C.SHARES_KNOWN] = 0.0, 0.0                          # every share free ...
    cond[..., C.SHARES.start + RIDE], cond[..., C.SHARES_KNOWN.start + RIDE] = 0.0, 1.0  # ... but the ride's: muted
    batch["cond"] = cond
    m.thresholds = [0.0] * 9  # every voice over its threshold: the model's own beats are full of hits
    mixed = m.history_with_own_beats(batch)
    true = batch["drums"]
    assert mixed.shape == true.shape
    beats = (mixed != true).reshape(8, -1, BEAT * 27).any(-1)              # (N, tokens): beats replaced
    assert 0.25 < beats.float().mean() < 0.75                               # about half of them
    own = mixed.reshape(8, -1, BEAT, 27)[beats]                             # (k, 4, 27)
    assert (own[..., H.HITS][..., [v for v in range(9) if v != RIDE]] == 1).all()
    assert (own[..., RIDE] == 0).all() and (own[..., 9 + RIDE] == 0).all()  # a muted voice stays silent
    kept = ~beats
    assert torch.equal(mixed.reshape(8, -1, BEAT, 27)[kept], true.reshape(8, -1, BEAT, 27)[kept])
    # the loss trains on the true drums whatever the model heard, and reaches every parameter
    m.thresholds = [0.5] * 9
    loss = m.loss(batch, step=100)
    loss["loss"].backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if n != "decoder.hidden_beat")
    m.eval()
    m.history_with_own_beats = None  # outside training the model hears the true drums: never called
    with torch.no_grad():
        assert torch.isfinite(m.loss(batch)["loss"])


@pytest.mark.parametrize("max_bars", [4, 8])
def test_make_batch_for_validation_keeps_every_true_control(max_bars):
    m = RhythmDrivenDrumGen(tiny_config(max_bars=max_bars))
    windows = _windows(5, 2, steps=max_bars * 16)
    batch = m.make_batch(windows, np.array([4, 0, 2]), None, None)
    assert batch["groove"].shape == (3, m.window, 3) and batch["drums"].shape == (3, m.window, 27)
    assert batch["cond"].shape == (3, max_bars, C.CONDITION_DIM) and batch["style"].shape == (3, max_bars)
    assert batch["groove"].dtype == batch["drums"].dtype == batch["cond"].dtype == torch.float32
    assert batch["style"].dtype == torch.int64
    assert np.array_equal(batch["drums"].numpy(), windows.hvo[[4, 0, 2]])
    assert np.array_equal(batch["groove"].numpy(), H.hvo_to_groove(windows.hvo[[4, 0, 2]]))  # the full groove
    cond = batch["cond"].numpy()
    assert (cond[..., C.DENSITY_KNOWN] == 1).all() and (cond[..., C.INTENSITY_KNOWN] == 1).all()  # all known
    assert (cond[..., C.SHARES_KNOWN] == 1).all()
    measured = C.measure_controls(windows.hvo[[4, 0, 2]])
    assert np.allclose(cond[..., C.DENSITY], measured["density"]) and np.allclose(cond[..., C.SHARES], measured["instruments"])
    styles = [C.STYLES.index(s) for s in windows.style[[4, 0, 2]]]
    assert (batch["style"].numpy() == np.array(styles)[:, None]).all()
    with torch.no_grad():
        assert np.isfinite(float(m.loss(batch)["loss"]))


def test_make_batch_for_training_augments_and_drops_controls():
    m = RhythmDrivenDrumGen(tiny_config())
    windows = _windows(64, 3)
    index = np.arange(64)
    plain = m.make_batch(windows, index, None, None)
    aug = data.AugmentConfig(p_full=0.0, drum_gain=0.2)
    a = m.make_batch(windows, index, np.random.default_rng(5), aug)
    b = m.make_batch(windows, index, np.random.default_rng(5), aug)
    assert all(torch.equal(a[k], b[k]) for k in a)                       # the rng decides everything
    assert not torch.equal(a["groove"], plain["groove"])                # jittered, voice subsets
    assert not torch.equal(a["drums"], plain["drums"])                  # drum gain
    assert torch.equal(a["drums"][..., H.HITS], plain["drums"][..., H.HITS])
    assert (a["cond"][..., 1] == 0).any() and (a["cond"][..., 1] == 1).any()  # some densities free, some set
    assert (a["style"] == len(C.STYLES)).any() and (a["style"] < len(C.STYLES)).any()
    with torch.no_grad():
        assert np.isfinite(float(m.loss(a, step=10)["loss"]))
    # rng without augment: the full groove, controls still dropped
    c = m.make_batch(windows, index, np.random.default_rng(5), None)
    assert torch.equal(c["groove"], plain["groove"]) and not torch.equal(c["cond"], plain["cond"])
    # no dropout at all: the validation batch; all free: nothing known
    keep = RhythmDrivenDrumGen(tiny_config(control_dropout=0.0, all_free=0.0))
    kept = keep.make_batch(windows, index, np.random.default_rng(5), None)
    assert torch.equal(kept["cond"], plain["cond"]) and torch.equal(kept["style"], plain["style"])
    free = RhythmDrivenDrumGen(tiny_config(all_free=1.0)).make_batch(windows, index, np.random.default_rng(5), None)
    assert (free["cond"] == 0).all() and (free["style"] == len(C.STYLES)).all()


# --- the KV cache -----------------------------------------------------------------------------------------

def _decode_args(n, seed):
    groove = random_groove(n, bars=W // 16, seed=seed)
    noise = np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)
    ctrl = C.validate_controls({"density": 0.6, "style": "funk", "instruments": {"crash": 0.0}}, n, W // 16)
    return groove, ctrl, noise


@pytest.mark.parametrize("prefix_steps", [0, 4, 24, 32])
def test_kv_cache_gives_the_same_drums(model, prefix_steps):
    groove, ctrl, noise = _decode_args(3, prefix_steps)
    prefix = _random_drums(3, prefix_steps, 7) if prefix_steps else None
    thresholds = np.full(9, 0.5)
    cached = model.decode_window(groove, ctrl, noise, 1.0, thresholds, prefix, use_cache=True)
    plain = model.decode_window(groove, ctrl, noise, 1.0, thresholds, prefix, use_cache=False)
    for a, b in zip(cached[:3], plain[:3]):
        assert a.shape == (3, W, 9) and np.allclose(a, b, atol=1e-5)
    assert np.array_equal(cached[3], plain[3])
    crash = H.VOICES.index("crash")
    assert cached[3].any() and not cached[3][:, prefix_steps:, crash].any()  # a muted voice is never fed back
    if prefix is not None:
        assert np.array_equal(cached[3][:, :prefix_steps], prefix[..., H.HITS])  # the prefix is kept as played


@pytest.fixture(scope="module")
def engine(model):
    return build_engine(model)


@pytest.mark.parametrize("prefix_steps, n_steps", [(0, None), (4, None), (24, None), (32, 48), (0, 20)])
def test_traced_step_gives_the_same_drums(model, engine, prefix_steps, n_steps):
    assert engine is not None and not any("jit" in type(m).__name__.lower() for m in model.modules())
    groove, ctrl, noise = _decode_args(3, prefix_steps + 1)
    prefix = _random_drums(3, prefix_steps, 8) if prefix_steps else None
    rest = np.zeros((3, n_steps or W), bool)
    rest[1, 16:32] = True  # a silent bar of the second groove
    args = (groove, ctrl, noise, 1.0, np.full(9, 0.5), prefix)
    traced = model.decode_window(*args, n_steps=n_steps, rest=rest, engine=engine)
    eager = model.decode_window(*args, n_steps=n_steps, rest=rest)
    for a, b in zip(traced[:3], eager[:3]):
        assert a.shape == (3, n_steps or W, 9) and np.allclose(a, b, atol=1e-5)
    assert np.array_equal(traced[3], eager[3]) and traced[3].any()
    assert not traced[3][1, max(16, prefix_steps):32].any()  # rests, past what was already played


def test_building_the_engine_leaves_the_models_mode_alone():
    m = RhythmDrivenDrumGen(tiny_config()).train()
    assert build_engine(m) is not None
    assert all(module.training for module in m.modules())


def test_runtime_samples_with_the_traced_step(tmp_path, model, monkeypatch):
    path = tmp_path / "m.pth"
    model.save(str(path))
    runtime = load_model(path, cache=False)
    assert runtime.engine is not None
    calls = []
    original = RhythmDrivenDrumGen.decode_window

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("engine"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RhythmDrivenDrumGen, "decode_window", spy)
    groove = random_groove(2, bars=10, seed=5)  # longer than a window: continuation too
    controls = {"density": [0.2] * 5 + [0.9] * 5, "instruments": {"ride": 0.0}, "style": "jazz"}
    fast = runtime.generate(groove, controls, seed=3)
    assert calls and all(c is runtime.engine for c in calls)
    assert same_drums(fast, runtime.model.generate(groove, controls, seed=3))  # no engine: the eager path


def test_decoding_fewer_steps_gives_the_first_steps_of_the_window(model):
    groove, ctrl, noise = _decode_args(2, 11)
    full = model.decode_window(groove, ctrl, noise, 1.0, np.full(9, 0.5))
    part = model.decode_window(groove, ctrl, noise, 1.0, np.full(9, 0.5), n_steps=48)
    assert all(p.shape == (2, 48, 9) for p in part)
    assert np.array_equal(part[3], full[3][:, :48])
    assert all(np.allclose(p, f[:, :48], atol=1e-5) for p, f in zip(part[:3], full[:3]))


def test_decoding_feeds_back_its_own_hits(model):
    """decode_window's hits are the teacher-forced model's: its probabilities, given those drums as input."""
    groove, ctrl, noise = _decode_args(2, 12)
    probs, vel, off, hits = model.decode_window(groove, ctrl, None, 0.0, np.full(9, 0.5))
    played = H.join_hvo(hits, vel, off)
    with torch.no_grad():
        logits, v, o, _, _ = _teacher_forced(model, groove, played, ctrl)
    assert np.allclose(torch.sigmoid(logits).numpy(), probs, atol=1e-5)
    assert np.allclose(v.numpy(), vel, atol=1e-5) and np.allclose(o.numpy(), off, atol=1e-5)
    mute = sampling.mute_mask(ctrl, W)
    assert np.array_equal(hits > 0.5, (probs > 0.5) & ~mute)


# --- causality ----------------------------------------------------------------------------------------------

def _outputs(model, groove, drums, ctrl):
    with torch.no_grad():
        logits, v, o, _, _ = _teacher_forced(model, groove, drums, ctrl)
    return torch.cat([logits, v, o], dim=-1).numpy()  # (B, T, 27)


@pytest.mark.parametrize("beat", [0, 1, 3, 4, 7, 10, 15])
def test_beat_outputs_do_not_see_drums_of_that_beat_or_later(model, beat):
    """Token j predicts beat j (steps 4j..4j+3) from the drums of beats < j: changing every drum from step 4j
    on changes nothing up to the end of beat j, and does change beat j + 1 (the boundary is exactly there)."""
    groove, ctrl, _ = _decode_args(2, 20 + beat)
    drums = _random_drums(2, W, 1)
    changed = drums.copy()
    changed[:, beat * BEAT:] = _random_drums(2, W, 2)[:, beat * BEAT:]
    a, b = _outputs(model, groove, drums, ctrl), _outputs(model, groove, changed, ctrl)
    k = (beat + 1) * BEAT
    assert np.array_equal(a[:, :k], b[:, :k])
    if beat + 1 < W // BEAT:
        assert not np.allclose(a[:, k:k + BEAT], b[:, k:k + BEAT], atol=1e-4)


@pytest.mark.parametrize("beat", [1, 2, 5, 8, 15])
def test_beat_outputs_do_see_the_drums_before(model, beat):
    """The check above can fail: changing only beat j - 1's drums does change beat j's outputs."""
    groove, ctrl, _ = _decode_args(2, 40 + beat)
    drums = _random_drums(2, W, 3)
    changed = drums.copy()
    s = slice((beat - 1) * BEAT, beat * BEAT)
    changed[:, s] = _random_drums(2, W, 4)[:, s]
    assert not np.array_equal(drums[:, s], changed[:, s])
    a, b = _outputs(model, groove, drums, ctrl), _outputs(model, groove, changed, ctrl)
    assert np.array_equal(a[:, :beat * BEAT], b[:, :beat * BEAT])
    assert not np.allclose(a[:, beat * BEAT:(beat + 1) * BEAT], b[:, beat * BEAT:(beat + 1) * BEAT], atol=1e-4)


def test_gradients_flow_only_from_earlier_drums(model):
    """As audiocraft checks its transformers: d(outputs of beat j) / d(drums) is zero on every step from 4j on,
    and not zero on beat j - 1; the groove is seen whole (gradients reach every one of its beats)."""
    groove, ctrl, _ = _decode_args(1, 60)
    for beat in (1, 6, 11, 15):
        drums = torch.from_numpy(_random_drums(1, W, beat)).requires_grad_(True)
        g = torch.from_numpy(groove).requires_grad_(True)
        cond, style = (torch.from_numpy(a) for a in C.condition_array(ctrl))
        logits, v, o, _, _ = model(g, drums, cond, style, temperature=0)
        s = slice(beat * BEAT, (beat + 1) * BEAT)
        (logits[:, s].sum() + v[:, s].sum() + o[:, s].sum()).backward()
        per_step = drums.grad[0].abs().sum(-1)  # (T,)
        assert (per_step[beat * BEAT:] == 0).all(), beat
        assert per_step[(beat - 1) * BEAT:beat * BEAT].sum() > 0, beat
        assert (g.grad[0].abs().sum(-1).view(-1, BEAT).sum(-1) > 0).all(), beat


def test_the_masked_attention_is_what_makes_it_causal(model):
    """With the causal mask switched off the same check fails: the test sees a leak when there is one."""
    groove, ctrl, _ = _decode_args(1, 61)
    drums = _random_drums(1, W, 5)
    changed = drums.copy()
    changed[:, 8 * BEAT:] = 0
    blocks = model.decoder.blocks
    try:
        for block in blocks:
            block.attn.causal = False
        a, b = _outputs(model, groove, drums, ctrl), _outputs(model, groove, changed, ctrl)
    finally:
        for block in blocks:
            block.attn.causal = True
    assert not np.allclose(a[:, :8 * BEAT], b[:, :8 * BEAT], atol=1e-4)


# --- seeds and batches ----------------------------------------------------------------------------------------

def test_same_seed_same_drums_other_seed_differs(model):
    g = random_groove(4, bars=4, seed=1)
    a = model.generate(g, seed=7, temperature=1.0)
    assert a.shape == (4, 64, 27) and a.dtype == np.float32 and set(np.unique(a[..., H.HITS])) <= {0.0, 1.0}
    assert np.array_equal(a, model.generate(g, seed=7, temperature=1.0))
    assert not np.array_equal(a, model.generate(g, seed=8, temperature=1.0))
    assert not np.array_equal(a, model.generate(g, seed=7, temperature=2.0))
    zero = model.generate(g, seed=1, temperature=0.0)
    assert np.array_equal(zero, model.generate(g, seed=2, temperature=0.0))
    assert np.array_equal(zero, model.generate(g, seed=None, temperature=0.0))


def test_same_groove_same_drums_whatever_the_batch(model):
    g = random_groove(3, bars=6, seed=4)
    alone = model.generate(g[1:2], seed=9)
    in_batch = model.generate(g, seed=9)
    assert same_drums(in_batch[1:2], alone)
    per_item = model.generate(g, seed=[1, 9, 2])
    assert same_drums(per_item[1:2], alone)
    assert same_drums(per_item[0:1], model.generate(g[0:1], seed=1))
    assert not np.array_equal(per_item[0], in_batch[0])
    with pytest.raises(ValueError, match="one per groove"):
        model.generate(g, seed=[1, 2])


# --- checkpoints -------------------------------------------------------------------------------------------------

def test_casting_the_model_keeps_its_positions():
    """module.to(dtype) casts every buffer: a complex rotary table would lose its sines silently."""
    torch.manual_seed(4)
    m = RhythmDrivenDrumGen(tiny_config()).eval()
    batch = m.make_batch(_windows(2, 5), np.arange(2), None, None)
    args = (batch["groove"], batch["drums"], batch["cond"], batch["style"])
    with torch.no_grad():
        before = m(*args, temperature=0)[0]
        m.to(torch.float32)
        assert torch.allclose(m(*args, temperature=0)[0], before, atol=1e-6)
        m.double()
        again = m(*(a.double() if a.is_floating_point() else a for a in args), temperature=0)[0]
    assert torch.allclose(again.float(), before, atol=1e-4)


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(3)
    m = RhythmDrivenDrumGen(tiny_config(latent_dim=6)).eval()
    m.thresholds = [0.4] * 8 + [0.6]
    path = tmp_path / "c.pth"
    m.save(str(path), meta={"note": "test"})
    header = json.loads(path.with_suffix(".json").read_text())
    assert header["model_kind"] == "RhythmDrivenDrumGen" and header["format_version"] == 2
    assert header["config"]["latent_dim"] == 6 and header["sampling"]["thresholds"] == m.thresholds
    assert header["meta"]["note"] == "test" and "state_dict" not in header
    assert not any(k.startswith("rot") for k in read_checkpoint(path)["state_dict"])  # the rotary table is rebuilt
    runtime = load_model(path)
    assert isinstance(runtime.model, RhythmDrivenDrumGen) and runtime.kind == "RhythmDrivenDrumGen"
    assert runtime.config == m.config and runtime.thresholds == m.thresholds and not runtime.model.training
    g = random_groove(2, bars=7, seed=2)
    ctrl = {"density": [0.2, 0.4, 0.6, 0.8, 0.8, 0.5, 0.5], "style": "jazz", "instruments": {"ride": 0.0}}
    for kwargs in (dict(seed=3), dict(seed=[4, 5], temperature=1.5, controls=ctrl), dict(temperature=0.0)):
        assert same_drums(runtime.generate(g, **kwargs), m.generate(g, **kwargs)), kwargs  # traced step vs eager


# --- songs longer than a window -------------------------------------------------------------------------------

def test_long_songs_continue_window_by_window(model):
    """11 bars with a 4-bar window and 2 bars of context: windows start at bars 0, 2, 4, 6, 8. The first
    window is what a 4-bar call gives, and every bar is fixed once played: a longer song only adds bars."""
    g = random_groove(2, bars=11, seed=6)
    song = model.generate(g, seed=5)
    assert song.shape == (2, 176, 27)
    assert same_drums(song[:, :64], model.generate(g[:, :64], seed=5))   # the first window, alone
    assert same_drums(song[:, :96], model.generate(g[:, :96], seed=5))   # two windows
    assert same_drums(song[:, :160], model.generate(g[:, :160], seed=5))  # ten bars
    assert same_drums(song[:, :64], model.generate(g[:, :80], seed=5)[:, :64])  # a 5-bar song: same first window
    assert song[:, 64:, H.HITS].any()
    short = model.generate(g[:, :16], seed=5)
    assert short.shape == (2, 16, 27)


def test_long_songs_with_context_as_long_as_allowed():
    m = RhythmDrivenDrumGen(tiny_config(context_bars=3)).eval()  # each next window adds one bar only
    g = random_groove(1, bars=6, seed=7)
    song = m.generate(g, seed=1)
    assert song.shape == (1, 96, 27)
    assert same_drums(song[:, :80], m.generate(g[:, :80], seed=1))


# --- controls -----------------------------------------------------------------------------------------------------

def test_a_voice_with_weight_zero_never_plays(model):
    g = random_groove(3, bars=6, seed=8)
    out = model.generate(g, controls={"instruments": {"ride": 0.0}}, thresholds=0.0, rest_in_silent_bars=False)
    hits = out[..., H.HITS]
    assert not hits[..., RIDE].any()
    assert (np.delete(hits, RIDE, axis=-1) == 1).all()
    # per bar: muted in bars 1 and 4 only
    weights = [0.5, 0.0, np.nan, 0.5, 0.0, np.nan]
    out = model.generate(g, controls={"instruments": {"ride": weights}}, thresholds=0.0, rest_in_silent_bars=False)
    ride_bars = out[..., RIDE].reshape(3, 6, 16).max(-1)
    assert (ride_bars[:, [1, 4]] == 0).all() and (ride_bars[:, [0, 2, 3, 5]] == 1).all()


@pytest.mark.parametrize("controls", [
    {"density": [0.5, 0.5, 0.5]},               # 3 values for 4 bars
    {"instruments": np.full((4, 8), 0.1)},      # 8 voices
    {"density": 1.5},                           # out of range
    {"intensity": -0.1},
    {"density": float("inf")},
    {"style": "polka"},                         # unknown style
    {"style": ["rock"] * 3},                    # one name short
    {"instruments": {"cowbell": 0.0}},          # unknown voice
    {"tempo": 120},                             # unknown key
    "rock",                                     # not a dict
])
def test_bad_controls_are_refused(model, controls):
    with pytest.raises(ValueError):
        model.generate(random_groove(2, bars=4), controls=controls)


def test_style_as_a_name_per_bar_or_free(model):
    g = random_groove(2, bars=4, seed=9)
    by_name = model.generate(g, controls={"style": "Hip-Hop"}, temperature=0)
    per_bar = model.generate(g, controls={"style": ["hiphop"] * 4}, temperature=0)
    assert np.array_equal(by_name, per_bar)
    mixed = model.generate(g, controls={"style": ["funk", None, "jazz", "rock"]}, temperature=0)
    free = model.generate(g, controls={"style": None}, temperature=0)
    assert np.array_equal(free, model.generate(g, temperature=0))
    assert mixed.shape == free.shape == (2, 64, 27)
    assert not np.array_equal(free, by_name)  # the model hears the style
    per_item = model.generate(g, controls={"style": [["funk"] * 4, ["jazz"] * 4]}, temperature=0)
    assert same_drums(per_item[1:], model.generate(g[1:], controls={"style": "jazz"}, temperature=0))


def test_controls_reach_the_model_as_conditions(model):
    """The controlled model learns the controls: they are not steered at sampling time but change the
    probabilities themselves (a free control is the model's own choice)."""
    g = random_groove(1, bars=4, seed=10)
    with torch.no_grad():
        base = model.predict(g, C.validate_controls(None, 1, 4), np.array([0]), 0.0, np.full(9, 0.5)).probs
        dense = model.predict(g, C.validate_controls({"density": 0.9}, 1, 4), np.array([0]), 0.0, np.full(9, 0.5)).probs
    assert model.learns_controls and not np.allclose(base, dense)


def test_rest_in_silent_bars(model):
    g = random_groove(2, bars=4, seed=11)
    g[:, 16:32] = 0  # bar 1 silent
    out = model.generate(g, thresholds=0.0)
    assert not out[:, 16:32].any()
    assert (out[:, :16, H.HITS] == 1).all() and (out[:, 32:, H.HITS] == 1).all()
    played = model.generate(g, thresholds=0.0, rest_in_silent_bars=False)
    assert (played[:, 16:32, H.HITS] == 1).all()


# --- threads --------------------------------------------------------------------------------------------------------

def test_one_runtime_serves_many_threads(tmp_path, model):
    path = tmp_path / "c.pth"
    model.save(str(path))
    runtime = load_model(path)
    jobs = [dict(groove=random_groove(2, bars=3 + i % 4, seed=i), seed=i, temperature=float(i % 3),
                 controls={"density": 0.1 * i} if i % 2 else None) for i in range(8)]

    def run(job):
        return runtime.generate(job["groove"], controls=job["controls"], seed=job["seed"],
                                temperature=job["temperature"])

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(run, jobs * 2))
    for i, out in enumerate(concurrent):
        assert same_drums(out, sequential[i % 8]), i


@pytest.mark.parametrize("bad", [dict(context_bars=4), dict(context_bars=5), dict(context_bars=-1), dict(max_bars=0)])
def test_context_must_leave_room_for_new_bars(bad):
    """context_bars >= max_bars would start every next window where the last ended: generation of a song
    longer than a window never finished."""
    with pytest.raises(ValueError, match="context_bars"):
        tiny_config(**bad)
    with pytest.raises(ValueError, match="context_bars"):
        type(tiny_config()).from_dict({**tiny_config().to_dict(), **bad})


def test_drums_after_a_silent_bar_follow_the_silence_that_is_played(model):
    """With rest_in_silent_bars the output is empty where the groove is; the drums the model hears as its
    own history there must be that silence too, not hits that are thrown away afterwards."""
    g = random_groove(2, bars=4, seed=11)
    g[:, :16] = 0  # a silent first bar: an intro
    out = model.generate(g, seed=3, keep_groove_timing=False)
    assert not out[:, :16].any()
    noise = sampling.window_noise(np.array([3, 3]), np.array([0, 0]), (model.config.latent_dim,))
    heard = model.decode_window(H.validate_groove(g), C.validate_controls(None, 2, 4), noise, 1.0,
                                np.asarray(model.thresholds), prefix=np.zeros((2, 16, 27), np.float32))
    assert np.array_equal(out[:, 16:, H.HITS], heard[3][:, 16:])
    played = model.generate(g, seed=3, keep_groove_timing=False, rest_in_silent_bars=False)
    assert played[:, :16, H.HITS].any()  # without resting, the model plays (and hears) its intro


def test_continuation_hears_the_steered_drums(model, monkeypatch):
    """With density set, each next window starts from the bars as they will be played (steered),
    not from what the model alone would have played there."""
    prefixes = []
    decode = type(model).decode_window

    def spy(self, groove, ctrl, noise, temperature, thresholds, prefix=None, *args, **kwargs):
        prefixes.append(None if prefix is None else prefix.copy())
        return decode(self, groove, ctrl, noise, temperature, thresholds, prefix, *args, **kwargs)

    monkeypatch.setattr(type(model), "decode_window", spy)
    g = random_groove(1, bars=7, seed=2)
    out = model.generate(g, {"density": [0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1]}, seed=1, thresholds=0.5)
    assert prefixes[0] is None and len(prefixes) >= 2
    ctx = model.config.context_bars * 16
    start = model.window - ctx
    assert np.array_equal(prefixes[1][..., H.HITS], out[:, start:start + ctx, H.HITS])


def test_selection_score_of_an_editing_model_counts_the_edits(monkeypatch):
    """A model trained to edit takes is chosen on its edits too: two more generate calls with keep."""
    windows = _windows(6, 0, steps=8 * 16)
    calls = []
    for known in (False, True):
        model = RhythmDrivenDrumGen(tiny_config(max_bars=8, context_bars=4, known_drums=known)).eval()
        real = model.generate
        monkeypatch.setattr(model, "generate", lambda *a, _real=real, **k: calls.append("keep" in k) or _real(*a, **k))
        value = model.selection_score(windows)
        assert 0.0 <= value <= 1.0
    assert calls == [False, False, False, False, True, True]


def test_spliced_fills_change_the_drums_not_the_groove(monkeypatch):
    """The fill flag must mean something the groove does not already say: the groove is the beat's."""
    windows = _windows(8, 1, steps=4 * 16)
    clip = np.zeros((1, 17, 27), np.float32)
    clip[0, :16, 4:7], clip[0, :16, 13:16] = 1, 0.9
    monkeypatch.setattr(data.WindowSet, "fill_clip_bars", clip, raising=False)
    plain = data.AugmentConfig(p_full=1.0, velocity_jitter=0.0, offset_jitter=0.0)
    model = RhythmDrivenDrumGen(tiny_config(splice_fills=1.0, fill_control=True, control_dropout=0.0, all_free=0.0))
    batch = model.make_batch(windows, np.arange(8), np.random.default_rng(0), plain)
    toms = batch["drums"][..., 4:7].sum(dim=(1, 2))
    assert (toms > 0).all()  # every window got the fill clip somewhere
    assert torch.equal(batch["groove"], torch.from_numpy(H.hvo_to_groove(windows.hvo[:8])))  # the groove of the beat
    assert (batch["cond"][..., C.FILL_KNOWN] == 1).all() and (batch["cond"][..., C.FILL].sum(-1) >= 1).all()


def test_fill_history_dropout_hides_beats_of_fill_bars_only(monkeypatch):
    model = RhythmDrivenDrumGen(tiny_config(fill_control=True, fill_history_dropout=1.0)).train()
    seen = {}
    real = model.decoder.forward
    monkeypatch.setattr(model.decoder, "forward", lambda *a, **k: seen.update(hide=k.get("hide")) or real(*a, **k))
    ctrl = C.validate_controls({"fill": [0, 1, None, 1]}, 1, 4)
    cond, style = (torch.from_numpy(x) for x in C.condition_array(ctrl))
    drums = torch.zeros(1, W, 27)
    model(torch.zeros(1, W, 3), drums, cond, style)
    assert seen["hide"][0, :, 0].tolist() == [False] * 4 + [True] * 4 + [False] * 4 + [True] * 4
    model.eval()
    model(torch.zeros(1, W, 3), drums, cond, style)
    assert seen["hide"] is None  # never outside training


def test_the_selection_score_is_the_mean_of_its_named_parts(monkeypatch, capsys, tmp_path, tiny_model):
    from drumgen import selection

    windows = _windows(6, 0, steps=8 * 16)
    model = RhythmDrivenDrumGen(tiny_config(max_bars=8, context_bars=4, known_drums=True, fill_control=True)).eval()
    parts = model.selection_parts(windows)
    assert list(parts) == ["f1_true_controls", "f1_free", "bars_made_new", "kick_snare_kept", "fills_as_asked"]
    assert model.selection_score(windows) == pytest.approx(np.mean(list(parts.values())))
    weighed = (parts["f1_free"] * 3 + sum(parts.values()) - parts["f1_free"]) / 7
    assert model.selection_score(windows, {"f1_free": 3}) == pytest.approx(weighed)
    path = tmp_path / "tiny.pth"
    model.save(str(path))
    monkeypatch.setattr(data, "load_split", lambda *a, **k: windows)
    assert selection.main([str(path), "--threads", "1"]) == 0
    assert "= mean of f1_true_controls" in capsys.readouterr().out
    assert selection.main([str(path), "--threads", "1", "--weights", "f1_free=3"]) == 0
    assert f"score {model.selection_score(windows, {'f1_free': 3}):.4f} = weighed mean" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a part the score does not have: argparse's message, exit 2
        selection.main([str(path), "--threads", "1", "--weights", "f1_nothing=3"])
    tiny_model.save(str(tmp_path / "vae.pth"))  # chosen on 2-bar 4/4 windows: not what this compares
    assert selection.main([str(tmp_path / "vae.pth"), "--threads", "1"]) == 2
