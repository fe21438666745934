"""Takes and what a musician says to keep of them (drumgen.takes): bars as typed, masks, the JSON form."""
import json

import mido
import numpy as np
import pytest

from drumgen import controls as C
from drumgen import hvo as H
from drumgen import midi
from drumgen import takes as T


def test_parse_bars_reads_what_musicians_type():
    assert T.parse_bars("5-8, 12", 16) == [4, 5, 6, 7, 11]
    assert T.parse_bars("5 - 8 12", 16) == T.parse_bars("5–8;12", 16) == [4, 5, 6, 7, 11]
    assert T.parse_bars("3", 4) == [2] and T.parse_bars(3, 4) == [2] and T.parse_bars([1, 2, 2], 4) == [0, 1]
    assert T.parse_bars("all", 3) == [0, 1, 2] and T.parse_bars("", 3) == [] and T.parse_bars(None, 3) == []


@pytest.mark.parametrize("bad, words", [
    ("17", "bar 17 is outside the song: it has 16 bars"), ("0", "bars count from 1"), ("8-5", "runs backwards"),
    ("five", "expected bar numbers"), (True, "expected bar numbers"), ([1.5], "whole bar numbers"),
    ({"bars": 1}, "expected bar numbers"),
])
def test_parse_bars_refuses_in_words(bad, words):
    with pytest.raises(ValueError, match=words):
        T.parse_bars(bad, 16)


def test_keep_mask_regenerates_bars_and_locks_voices():
    mask = T.keep_mask(64, regenerate=[1, 3])
    assert mask.shape == (64, 9) and mask[:16].all() and not mask[16:32].any() and mask[32:48].all() and not mask[48:].any()
    locked = T.keep_mask(64, regenerate=[1], lock="kick, Snare")
    assert locked[16:32, :2].all() and not locked[16:32, 2:].any() and locked[:16].all()
    everything_new_but_the_kick = T.keep_mask(32, lock=["kick"])
    assert everything_new_but_the_kick[:, 0].all() and not everything_new_but_the_kick[:, 1:].any()
    in_bar_one = T.keep_mask(32, lock="hat", lock_bars=[0])
    assert in_bar_one[:16, 2].all() and not in_bar_one[16:, 2].any()
    with pytest.raises(ValueError, match="unknown voice 'cowbell'"):
        T.keep_mask(32, lock="cowbell")
    with pytest.raises(ValueError, match="whole bars"):
        T.keep_mask(20)


def test_take_json_round_trip_is_exact():
    rng = np.random.default_rng(0)
    take = H.empty_hvo(64)
    hits = rng.random((64, 9)) < 0.2
    take[:, H.HITS] = hits
    take[:, H.VELOCITIES] = np.where(hits, rng.integers(1, 128, (64, 9)) / 127, 0)
    take[:, H.OFFSETS] = np.where(hits, rng.uniform(-0.5, 0.4999, (64, 9)), 0)
    value = json.loads(json.dumps(T.take_to_json(take, seed=3, model="controlled")))
    assert value["seed"] == 3 and value["steps"] == 64 and len(value["hits"]) == hits.sum()
    assert np.array_equal(T.take_from_json(value, 64), take)


@pytest.mark.parametrize("value, words", [
    ([1, 2], "expected"), ({"steps": 32}, "expected"), ({"steps": 20, "hits": []}, "whole number of bars"),
    ({"steps": 32, "hits": [[40, "kick", 0.5, 0]]}, "step must be 0 to 31"),
    ({"steps": 32, "hits": [[0, "cowbell", 0.5, 0]]}, "unknown voice"),
    ({"steps": 32, "hits": [[0, "kick", 1.5, 0]]}, "velocity must be"),
    ({"steps": 32, "hits": [[0, "kick", 0.5]]}, "each hit is"),
    ({"steps": 64, "hits": []}, "the take is 4 bars long and the song 2"),
    ({"steps": 32, "hits": [[0, "kick", 0.5, 0]] * 289}, "each cell holds one hit at most"),
    ("{steps", "not JSON"),
])
def test_take_from_json_refuses_in_words(value, words):
    with pytest.raises(ValueError, match=words):
        T.take_from_json(value, 32)


def random_take(steps=64, seed=0):
    rng = np.random.default_rng(seed)
    take = H.empty_hvo(steps)
    hits = rng.random((steps, 9)) < 0.2
    take[:, H.HITS] = hits
    take[:, H.VELOCITIES] = np.where(hits, rng.uniform(0.05, 1, (steps, 9)), 0)  # not only MIDI's 127 levels
    take[:, H.OFFSETS] = np.where(hits, rng.uniform(-0.5, 0.4999, (steps, 9)), 0)
    return take


def song_of(bars=4, bpm=120.0):
    """A song of `bars` bars at `bpm` (one note a bar), read as drumgen reads files."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
    for b in range(bars):
        track += [mido.Message("note_on", note=40, velocity=100, time=0 if b == 0 else 1800),
                  mido.Message("note_off", note=40, velocity=0, time=120)]
    mid.tracks.append(track)
    return midi.read_song(midi.midi_to_bytes(mid))


def test_a_take_for_its_song_round_trips_exactly_as_json_and_as_text():
    song = song_of(4, 96.0)
    take = random_take(64)
    value = T.song_take_json(take, song, seed=3)
    assert value["tempo_map"] == [[0.0, 96.0]] and value["seed"] == 3
    text = json.dumps(value)
    assert np.array_equal(T.take_for_song(json.loads(text), song), take)
    assert np.array_equal(T.take_for_song(text, song), take)  # JSON text too
    assert np.array_equal(T.take_for_song({"steps": 64, "hits": []}, song), H.empty_hvo(64))  # no tempo map: not checked


@pytest.mark.parametrize("change, words", [
    (lambda v: v.update(tempo_map=[[0.0, 120.0]]), "another tempo than the song"),
    (lambda v: v.update(tempo_map="fast"), "'tempo_map' must be"),
    (lambda v: v.update(steps=128), "The take is 8 bars long and the song 4"),
])
def test_a_take_of_another_song_is_refused_in_a_sentence(change, words):
    song = song_of(4, 96.0)
    value = T.song_take_json(random_take(64), song)
    change(value)
    with pytest.raises(ValueError, match=words):
        T.take_for_song(value, song)
    with pytest.raises(ValueError, match="not JSON"):
        T.take_for_song("{take", song)


def test_describe_change_says_what_a_hand_edit_did():
    old = random_take(64)
    new = old.copy()
    free = np.argwhere(new[16:32, H.HITS] == 0)[0] + [16, 0]
    new[free[0], free[1]], new[free[0], 9 + free[1]] = 1, 0.5
    hit = np.argwhere(new[48:, H.HITS] == 1)[0] + [48, 0]
    new[hit[0], 9 + hit[1]] = 0.25 if new[hit[0], 9 + hit[1]] != 0.25 else 0.5
    assert T.describe_change(old, new) == "1 hit added, 1 velocity changed in bars 2, 4"
    assert T.describe_change(old, old) == "no change"


# --- the takes of a session ------------------------------------------------------------------------------------

def test_history_undo_redo_and_a_b():
    h = T.TakeHistory()
    one, two, three = (random_take(32, s) for s in range(3))
    assert h.current is None and not (h.can_undo or h.can_redo or h.can_swap)
    assert h.add(one, "Generate, seed 0") == 1 and h.add(two, "Regenerate") == 2 and h.add(three, "hand edit") == 3
    assert np.array_equal(h.take(), three) and h.other == 2 and h.can_undo and not h.can_redo
    assert h.swap() == 2 and h.swap() == 3  # A/B: this take and the one before, back and forth
    assert h.undo() == 2 and h.undo() == 1 and not h.can_undo and h.undo() == 1
    assert h.redo() == 2 and h.redo() == 3 and not h.can_redo
    assert h.undo() == 2 and h.add(one, "hand edit") == 4  # a new take made from take 2: take 3 stays
    assert h.undo() == 2 and h.redo() == 4 and [n for _, n in h.choices()] == [1, 2, 3, 4]
    assert h.choices()[3][0] == "Take 4 · hand edit (from take 2)" and h.choices()[1][0] == "Take 2 · Regenerate"
    assert h.show(1) == 1 and h.swap() == 4 and h.swap() == 1  # two chosen takes
    for number, take in ((1, one), (2, two), (3, three), (4, one)):
        assert np.array_equal(h.take(number), take)  # kept exactly (velocities and offsets too)
    with pytest.raises(KeyError, match="no take 9"):
        h.show(9)


def test_history_stays_bounded_and_keeps_the_two_takes_of_a_b():
    h = T.TakeHistory(max_takes=3)
    for s in range(6):
        h.add(random_take(32, s), f"take {s}")
    assert [n for _, n in h.choices()] == [4, 5, 6] and h.current == 6 and h.other == 5
    h.show(4)
    for s in range(2):
        h.add(random_take(32, 10 + s))
    assert h.current == 8 and h.other == 7 and 4 not in h.entries and h.can_undo  # 8 was made from 7
    few = T.TakeHistory(max_hits=int(random_take(32)[:, H.HITS].sum()) * 2)
    for _ in range(5):
        few.add(random_take(32, 0))
    assert len(few) == 2 and few.current == 5 and few.other == 4


# --- generate(..., keep=take, keep_mask=mask): both models -------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each model kind, tiny and random, as the loader hands it out (with its traced fast path)."""
    import torch

    from drumgen.models.checkpoint import load_model
    from drumgen.models.controlled import RhythmDrivenDrumGen
    from drumgen.models.controlled import tiny_config as tiny_controlled
    from drumgen.models.vae import MonotonicGrooveVAE
    from drumgen.models.vae import tiny_config as tiny_vae

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("takes")
    out = {}
    for name, model in (("vae", MonotonicGrooveVAE(tiny_vae())), ("controlled", RhythmDrivenDrumGen(tiny_controlled()))):
        model.save(str(folder / f"{name}.pth"))
        out[name] = load_model(folder / f"{name}.pth", cache=False)
    return out


def kept_equal(new, take, mask):
    mask3 = np.tile(mask, 3)
    return np.array_equal(new[mask3], take[mask3])


@pytest.mark.parametrize("kind", ["vae", "controlled"])
@pytest.mark.parametrize("controls", [None, {"density": 0.8, "intensity": [0.3, 0.9, 0.5, 0.5, 0.9, 0.2]}])
def test_kept_cells_come_out_as_they_are(models, kind, controls):
    from tests.conftest import random_groove

    model = models[kind]
    groove = random_groove(n=3, bars=6, seed=1)
    take = model.generate(groove, controls, seed=0, temperature=1.5)
    mask = np.stack([T.keep_mask(96, regenerate=[1, 2]), T.keep_mask(96, regenerate=[4], lock="kick,snare"),
                     T.keep_mask(96, lock=["closed_hat"])])
    new = model.generate(groove, controls, seed=7, temperature=1.5, keep=take, keep_mask=mask)
    assert kept_equal(new, take, mask)
    assert not np.array_equal(new, take)  # the rest is new
    # an item's drums do not depend on the rest of the batch (values up to float rounding of batched matmuls)
    alone = model.generate(groove[1:2], controls, seed=7, temperature=1.5, keep=take[1:2], keep_mask=mask[1:2])
    assert kept_equal(alone, take[1:2], mask[1:2])
    assert np.array_equal(alone[0, :, :9], new[1, :, :9]) and np.allclose(alone[0], new[1], atol=1e-5)
    # one (T, 9) mask serves every item; the same seed gives the same new drums
    again = model.generate(groove, controls, seed=7, temperature=1.5, keep=take, keep_mask=mask[0])
    assert kept_equal(again, take, np.broadcast_to(mask[0], mask.shape))
    assert np.array_equal(again[0], new[0])


def test_kept_cells_hold_against_controls_and_silent_bars(models):
    """A kept hit in a bar muted by the controls or silent in the groove still plays: the take says so."""
    model = models["controlled"]
    groove = np.zeros((1, 64, 3), np.float32)
    groove[0, 16::4] = [1, 0.8, 0.0]  # bar 1 silent
    take = H.empty_hvo(64)[None]
    take[0, 0, 0], take[0, 0, 9] = 1, 0.9   # a kick on beat 1 of the silent bar
    take[0, 20, 1], take[0, 20, 10] = 1, 0.7  # a snare in bar 2
    mask = T.keep_mask(64, regenerate=[2, 3])[None]
    new = model.generate(groove, {"instruments": {"kick": [0, 0, 0, 0], "snare": 0}}, keep=take, keep_mask=mask)
    assert kept_equal(new, take, mask) and new[0, 0, 0] == 1 and new[0, 20, 1] == 1
    assert not new[0, 32:, :2].any()  # the bars made new follow the mutes


def test_the_controlled_model_hears_the_kept_cells(models):
    """What it plays after a kept bar depends on that bar (it hears it); the MonotonicGrooveVAE does not
    hear drums at all, so its new bars are the same whatever was kept."""
    from tests.conftest import random_groove

    groove = random_groove(n=1, bars=4, seed=3)
    mask = T.keep_mask(64, regenerate=[1, 2, 3])[None]
    full, empty = H.empty_hvo(64)[None], H.empty_hvo(64)[None]
    full[0, :16, :9], full[0, :16, 9:18] = 1.0, 0.8
    outs = {}
    for kind, model in models.items():
        a = model.generate(groove, seed=2, keep=full, keep_mask=mask)
        b = model.generate(groove, seed=2, keep=empty, keep_mask=mask)
        outs[kind] = not np.array_equal(a[0, 16:], b[0, 16:])
    assert outs == {"controlled": True, "vae": False}


def test_traced_and_eager_decoding_keep_alike(models):
    from tests.conftest import random_groove

    runtime = models["controlled"]
    groove = random_groove(n=2, bars=7, seed=4)
    take = runtime.generate(groove, seed=1)
    mask = T.keep_mask(112, regenerate=[2, 5], lock="kick")[None].repeat(2, axis=0)
    traced = runtime.generate(groove, seed=3, keep=take, keep_mask=mask)
    eager = runtime.model.generate(groove, seed=3, keep=take, keep_mask=mask)
    assert runtime.engine is not None and kept_equal(traced, take, mask) and kept_equal(eager, take, mask)
    assert np.array_equal(traced[..., :9], eager[..., :9]) and np.allclose(traced, eager, atol=1e-5)


@pytest.mark.parametrize("keep, mask, words", [
    ("take", None, "go together"),
    (np.zeros((1, 32, 27)), np.ones((1, 32, 9), bool), "shaped like the drums"),
    ("take", np.ones((1, 64, 9)), "booleans"),
    ("take", np.ones((1, 64, 8), bool), "keep_mask must be"),
    ("bad", np.ones((1, 64, 9), bool), "hits 0 or 1"),
])
def test_bad_takes_and_masks_are_refused_in_words(models, keep, mask, words):
    from tests.conftest import random_groove

    groove = random_groove(n=1, bars=4)
    take = models["vae"].generate(groove)
    if isinstance(keep, str):
        keep = take if keep == "take" else take * 2
    with pytest.raises(ValueError, match=words):
        models["vae"].generate(groove, keep=keep, keep_mask=mask)


def test_windows_a_take_keeps_whole_are_skipped_without_changing_the_drums(models, monkeypatch):
    from tests.conftest import random_groove

    runtime = models["controlled"]  # tiny: 4-bar windows continuing from the last 2 bars
    groove = random_groove(n=2, bars=12, seed=5)
    take = runtime.generate(groove, seed=1)
    mask = T.keep_mask(192, regenerate=[6], lock="kick")
    fast = runtime.generate(groove, seed=2, keep=take, keep_mask=mask)
    monkeypatch.setattr(type(runtime.model), "skip_kept_windows", False)
    slow = runtime.generate(groove, seed=2, keep=take, keep_mask=mask)
    assert np.array_equal(fast, slow) and kept_equal(fast, take, mask[None].repeat(2, 0))


def test_a_model_with_the_known_drums_input_starts_as_the_one_without_and_then_hears_the_bars_after():
    import torch

    from drumgen.models.controlled import RhythmDrivenDrumGen, tiny_config
    from tests.conftest import random_groove

    torch.manual_seed(0)
    plain = RhythmDrivenDrumGen(tiny_config()).eval()
    editing = RhythmDrivenDrumGen(tiny_config(known_drums=True)).eval()
    missing, unexpected = editing.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all("embed_known" in k for k in missing)
    groove = random_groove(n=1, bars=4, seed=3)
    mask = T.keep_mask(64, regenerate=[1])[None]
    full, empty = H.empty_hvo(64)[None], H.empty_hvo(64)[None]
    full[0, 32:, :9], full[0, 32:, 9:18] = 1.0, 0.8  # what the take keeps after the new bar
    same = [m.generate(groove, seed=2, keep=full, keep_mask=mask) for m in (plain, editing)]
    assert np.array_equal(*same)  # zero-initialised: nothing changes until it is trained
    with torch.no_grad():
        editing.encoder.embed_known.weight.normal_(0, 1.0)
    a = editing.generate(groove, seed=2, keep=full, keep_mask=mask)
    b = editing.generate(groove, seed=2, keep=empty, keep_mask=mask)
    assert not np.array_equal(a[0, 16:32], b[0, 16:32])  # bar 2 depends on the kept bars 3-4 after it
    c = plain.generate(groove, seed=2, keep=full, keep_mask=mask)
    d = plain.generate(groove, seed=2, keep=empty, keep_mask=mask)
    assert np.array_equal(c[0, 16:32], d[0, 16:32])  # causal alone: it cannot


# --- loop-ready parts and models that hear the kept bars after ----------------------------------------------

@pytest.fixture(scope="module")
def known_model():
    """A tiny controlled model with the known-drums inputs and the fill control, its new weights not zero."""
    import torch

    from drumgen.models.controlled import RhythmDrivenDrumGen
    from drumgen.models.controlled import tiny_config as tiny_controlled

    torch.manual_seed(1)
    model = RhythmDrivenDrumGen(tiny_controlled(known_drums=True, fill_control=True)).eval()
    with torch.no_grad():
        for layer in (model.encoder.embed_known, model.decoder.embed_known):
            layer.weight.normal_(0, 0.5)
    return model


def test_a_model_with_known_drums_hears_the_bars_after(known_model):
    from tests.conftest import random_groove

    groove = random_groove(n=1, bars=4, seed=3)
    mask = T.keep_mask(64, regenerate=[0])[None]           # bar 1 new, bars 2-4 kept
    full, empty = H.empty_hvo(64)[None], H.empty_hvo(64)[None]
    full[0, 16:, :9], full[0, 16:, 9:18] = 1.0, 0.8
    a = known_model.generate(groove, seed=2, keep=full, keep_mask=mask)
    b = known_model.generate(groove, seed=2, keep=empty, keep_mask=mask)
    assert kept_equal(a, full, mask) and kept_equal(b, empty, mask)
    assert not np.array_equal(a[0, :16], b[0, :16])  # what comes after changed bar 1


@pytest.mark.parametrize("kind", ["vae", "controlled", "known"])
def test_loop_ready_changes_only_the_last_bar(models, known_model, kind):
    from tests.conftest import random_groove

    model = known_model if kind == "known" else models[kind]
    groove = random_groove(n=2, bars=4, seed=4)
    plain = model.generate(groove, seed=5, temperature=1.5)
    looped = model.generate(groove, seed=5, temperature=1.5, loop=True)
    assert np.array_equal(looped[:, :48], plain[:, :48])  # bars 1-3 as without --loop
    assert looped.shape == plain.shape and set(np.unique(looped[..., :9])) <= {0.0, 1.0}
    # cells a caller keeps stay kept in the last bar too
    mask = T.keep_mask(64, lock="kick")[None].repeat(2, 0)
    kept = model.generate(groove, seed=6, temperature=1.5, keep=plain, keep_mask=mask, loop=True)
    assert kept_equal(kept, plain, mask)
    one_bar = model.generate(groove[:, :16], seed=5, loop=True)  # its last bar is its first: as it is
    assert np.array_equal(one_bar, model.generate(groove[:, :16], seed=5))


@pytest.mark.parametrize("bars", [4, 8, 16, 2048])
def test_loop_ready_hears_the_loops_start(known_model, bars):
    """The last bar depends on what the first bars are (it leads into them), whatever the length:
    what is made again is one window, the loop's start inside it (a tiny model's window is 4 bars)."""
    steps = bars * 16
    groove = np.zeros((1, steps, 3), np.float32)
    groove[0, ::2] = [1, 0.7, 0.0]
    take = np.zeros((1, steps, 27), np.float32)
    take[0, ::4, 0], take[0, ::4, 9] = 1, 0.8
    other = take.copy()
    other[0, :16, :9] = 1 - other[0, :16, :9]
    other[0, :16, 9:18] = other[0, :16, :9] * 0.9
    other[0, :16, 18:] = 0
    mask = T.keep_mask(steps, regenerate=[bars - 1])[None]
    ctrl = C.validate_controls(None, 1, bars)
    a = known_model.loop_ready(groove, ctrl, take, None, seed=np.array([0]))
    b = known_model.loop_ready(groove, ctrl, other, None, seed=np.array([0]))
    assert kept_equal(a, take, mask) and kept_equal(b, other, mask)
    assert not np.array_equal(a[0, -16:], b[0, -16:])


def test_the_fill_control_reaches_the_model(known_model):
    from tests.conftest import random_groove

    groove = random_groove(n=1, bars=4, seed=8)
    plain = known_model.generate(groove, seed=1)
    fills = known_model.generate(groove, {"fill": [0, 0, 0, 1]}, seed=1)
    assert known_model.follows_fills and not np.array_equal(plain, fills)


def test_fill_guidance_changes_only_what_it_should(known_model, monkeypatch):
    from drumgen.models.engines import build_engine
    from tests.conftest import random_groove

    groove = random_groove(n=2, bars=10, seed=9)  # two windows: the second continues from a prefix
    asked = {"fill": [0, 0, 0, 1, 0, 0, 0, 1, 0, 1]}
    plain = known_model.generate(groove, asked, seed=3)
    monkeypatch.setattr(known_model.config, "fill_guidance", 3.0)
    guided = known_model.generate(groove, asked, seed=3)
    assert not np.array_equal(plain, guided)
    assert np.array_equal(known_model.generate(groove, seed=3), known_model.generate(groove, seed=3))
    monkeypatch.setattr(known_model.config, "fill_guidance", 1.0)
    free_plain = known_model.generate(groove, seed=3)
    monkeypatch.setattr(known_model.config, "fill_guidance", 3.0)
    assert np.array_equal(free_plain, known_model.generate(groove, seed=3))  # no fill asked: no guidance
    engine = build_engine(known_model)
    fast = known_model.generate(groove, asked, seed=3, engine=engine)
    assert np.array_equal(fast[..., :9], guided[..., :9]) and np.allclose(fast, guided, atol=1e-5)
    take = guided
    mask = T.keep_mask(160, regenerate=[3, 4])[None].repeat(2, 0)
    again = known_model.generate(groove, asked, seed=4, keep=take, keep_mask=mask, engine=engine)
    assert kept_equal(again, take, mask)
    alone = known_model.generate(groove[1:], asked, seed=3)
    assert np.array_equal(alone[0, :, :9], guided[1, :, :9])  # an item's drums do not depend on the batch


def test_an_item_without_fills_is_not_guided_beside_one_with(known_model, monkeypatch):
    from tests.conftest import random_groove

    groove = random_groove(n=2, bars=4, seed=10)
    monkeypatch.setattr(known_model.config, "fill_guidance", 3.0)
    fills = np.array([[0, 0, 0, 1], [np.nan] * 4], np.float32)
    both = known_model.generate(groove, {"fill": fills}, seed=2)
    alone = known_model.generate(groove[1:], seed=2)
    assert np.array_equal(both[1, :, :9], alone[0, :, :9]) and np.allclose(both[1], alone[0], atol=1e-5)


def test_a_checkpoint_whose_encoder_alone_heard_kept_drums_still_loads(tmp_path):
    import torch

    from drumgen.models.checkpoint import load_model
    from drumgen.models.controlled import RhythmDrivenDrumGen
    from drumgen.models.controlled import tiny_config as tiny_controlled

    model = RhythmDrivenDrumGen(tiny_controlled(known_drums=True))
    path = tmp_path / "old.pth"
    model.save(str(path))
    ckpt = torch.load(path, weights_only=True)
    for key in ("decoder.embed_known.weight", "decoder.embed_known.bias"):
        del ckpt["state_dict"][key]
    torch.save(ckpt, path)
    loaded = load_model(path, cache=False)
    assert not loaded.model.decoder.embed_known.weight.any()


# --- new cells drawn toward what the kept bars around them play (kept_bars_prior) ---------------------------

def test_what_the_kept_bars_around_a_cell_play():
    from drumgen import meter as M
    from drumgen.sampling import Kept

    bars = M.Bars(((4, 4), (4, 4), (4, 4), (3, 4), (4, 4), (4, 4), (6, 8), (3, 4)))   # 16 x 3, 12, 16, 16, 12, 12
    take = H.empty_hvo(bars.n_steps)[None]
    take[0, 0, 0] = 1.0                                        # bar 1: a kick on beat 1; bar 2 none
    take[0, 80, 2] = 1.0                                       # bar 6: a hat on beat 2
    take[0, 92, 1] = 1.0                                       # bar 7 (6/8): a snare on its first step
    mask = np.zeros((1, bars.n_steps, 9), bool)
    mask[0, :32] = mask[0, 48:60] = mask[0, 76:104] = True     # bars 1, 2, 4 (3/4), 6 and 7 (6/8) kept
    prior, known = Kept(take, mask).around(bars)
    assert known[0, 32:48].all() and prior[0, 32, 0] == 0.5    # bar 3 hears bars 1 (a kick) and 2 (none)
    assert prior[0, 36, 0] == 0.0 and prior[0, 32, 1:].max() == 0.0
    assert not known[0, 48:60].any()                           # the 3/4 bar has no 3/4 bar kept around it
    assert known[0, 60:76].all() and prior[0, 64, 2] == 1.0    # bar 5 hears bar 6 (4 is 3/4, 3 is new)
    assert not known[0, 104:116].any()                          # the last 3/4 bar: not the 6/8 one before it
    heard = np.ones((1, bars.n_steps), bool)
    heard[0, 76:92] = False                                    # bar 6 a fill, or silent: no pattern to follow
    prior, known = Kept(take, mask).around(bars, heard)
    assert not known[0, 60:76].any() and known[0, 32:48].all()
    cut = Kept(take[:, :70], mask[:, :70]).around(bars)        # a take that ends inside bar 5: no bar 6
    assert not cut[1][0, 60:70].any()


def test_the_pull_hears_kept_bars_past_the_window(known_model):
    """A song longer than a window: its last new bar hears the kept bars after it, in the next window."""
    from tests.conftest import random_groove

    n_bars = known_model.config.max_bars + 4
    groove = random_groove(n=1, bars=n_bars, seed=6)
    take = H.empty_hvo(16 * n_bars)[None]
    take[:, ::2, 2], take[:, ::2, 11] = 1.0, 0.7               # a closed hat on every 8th
    last_of_window = known_model.config.max_bars - 1
    mask = T.keep_mask(16 * n_bars, regenerate=[last_of_window - 1, last_of_window])[None]
    mask[:, :16 * (last_of_window - 1), 2] = False              # the hats before the new bars unknown: only after
    out = known_model.generate(groove, seed=0, keep=take, keep_mask=mask, follow_kept_bars=1.0)
    new = slice(16 * last_of_window, 16 * (last_of_window + 1))
    assert np.array_equal(out[0, new, 2], take[0, new, 2])      # the hats of the bars after, in the next window


def test_kept_bars_prior_draws_new_bars_toward_the_bars_around_them(known_model, monkeypatch):
    from tests.conftest import random_groove

    groove = random_groove(n=2, bars=8, seed=5)
    take = H.empty_hvo(128)[None].repeat(2, 0)
    take[:, ::4, 2], take[:, ::4, 11] = 1.0, 0.7            # a closed hat on every beat of every bar
    mask = T.keep_mask(128, regenerate=[2, 3])[None].repeat(2, 0)
    plain = known_model.generate(groove, seed=1, keep=take, keep_mask=mask)
    monkeypatch.setattr(known_model.config, "kept_bars_prior", 1.0)   # all prior: the new bars play what is around
    drawn = known_model.generate(groove, seed=1, keep=take, keep_mask=mask)
    assert kept_equal(plain, take, mask) and kept_equal(drawn, take, mask)
    assert np.array_equal(drawn[:, 32:64, :9], take[:, 32:64, :9]) and not np.array_equal(plain, drawn)
    asked = {"fill": [0, 0, 0, 1, 0, 0, 0, 0]}                  # a fill asked in bar 4: the model's, not the prior's
    filled = known_model.generate(groove, asked, seed=1, keep=take, keep_mask=mask)
    assert np.array_equal(filled[:, 32:48, :9], take[:, 32:48, :9]) and not np.array_equal(filled[:, 48:64], drawn[:, 48:64])
    free = known_model.generate(groove, seed=1)                 # nothing kept: nothing to draw toward
    off = known_model.generate(groove, seed=1, keep=take, keep_mask=mask, follow_kept_bars=0.0)
    last_new = T.keep_mask(128, regenerate=[7])[None].repeat(2, 0)
    last_drawn = known_model.generate(groove, seed=1, keep=take, keep_mask=last_new)
    looped = known_model.generate(groove, seed=1, keep=take, keep_mask=last_new, loop=True)
    monkeypatch.setattr(known_model.config, "kept_bars_prior", 0.0)
    assert np.array_equal(free, known_model.generate(groove, seed=1)) and np.array_equal(off, plain)
    assert np.array_equal(drawn, known_model.generate(groove, seed=1, keep=take, keep_mask=mask, follow_kept_bars=1.0))
    assert np.array_equal(last_drawn[:, 112:, :9], take[:, 112:, :9])   # bar 8 made new: the hats around it, but
    assert not np.array_equal(looped[:, 112:, :9], take[:, 112:, :9])   # made to loop, the model's own lead into bar 1
    for bad in (1.5, -0.1, float("nan"), "a", [0.5, 0.5]):
        with pytest.raises(ValueError, match="follow_kept_bars"):
            known_model.generate(groove, seed=1, keep=take, keep_mask=mask, follow_kept_bars=bad)
