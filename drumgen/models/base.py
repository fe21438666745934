"""What every drumgen model offers, so the training loop, checkpoints, evaluation, CLI and app never
ask which model they hold.

A model kind subclasses `DrumModel` and provides:

* `config_class`: a dataclass with `to_dict` / `from_dict` (the checkpoint's "config");
* `window`: the steps it sees at once;
* `make_batch(windows, index, rng, augment) -> dict of tensors` and `loss(batch, step) -> dict`
  with a "loss" entry and a "recon" entry (the loop logs every entry by name);
* `predict(groove, controls, seeds, temperature, thresholds, engine, rest, steer) -> Prediction`: the
  model-specific part of generation; `generate` wraps it with the argument checks and the shared
  sampling steps (`drumgen.sampling`).

The loader wraps a model in a `Runtime` (runtime.py), which holds the kind's inference fast path
(engines.py); a model module imports neither, and holds only the eager model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import controls as C
from .. import hvo as H
from .. import meter as M
from .. import sampling
from ..thresholds import quick_f1
from .format import save_checkpoint


class ModelConfig:
    """Mixin for a model's config dataclass: a plain dict out, and back with unknown names refused."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**d)


@dataclass
class Prediction:
    """Per-step outputs of a model for grooves (N, T, 3), each (N, T, 9). `hits` is set by models
    that decide hits while they generate (an autoregressive model feeds them back)."""

    probs: np.ndarray
    velocities: np.ndarray
    offsets: np.ndarray
    hits: np.ndarray | None = None


def sample_latent(mu: torch.Tensor, logvar: torch.Tensor, temperature: float = 1.0,
                  eps: torch.Tensor | None = None) -> torch.Tensor:
    """Reparameterised z = mu + temperature * sigma * eps (eps drawn here when not given);
    temperature 0 gives mu itself."""
    if temperature == 0:
        return mu
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + temperature * torch.exp(0.5 * logvar) * eps


def elbo_loss(c: Any, hit_logits: torch.Tensor, velocities: torch.Tensor, offsets: torch.Tensor, mu: torch.Tensor,
              logvar: torch.Tensor, target: torch.Tensor, step: int,
              cell_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Losses by name of outputs (B, T, 9) each and latents (B, L) against drums HVO (B, T, 27); `c`
    holds the loss weights, beta and its annealing steps.

    Each term is summed over a window's cells and averaged over the batch, so the KL term weighs
    against the whole window as in the ELBO (per-cell means make the KL win and the latent
    collapse). Velocity and offset errors count on the true hits only: elsewhere they are never
    heard. The KL weight grows linearly to beta over the first beta_anneal_steps. `cell_weight`
    (B, T, 9), if given, weighs each cell's terms (a take's kept cells can count less than new ones)."""
    hits, true_v, true_o = target.split(H.N_VOICES, dim=-1)
    B = target.shape[0]
    w = 1.0 if cell_weight is None else cell_weight
    hit_loss = (F.binary_cross_entropy_with_logits(hit_logits, hits, reduction="none") * w).sum() / B
    velocity_loss = ((velocities - true_v) ** 2 * hits * w).sum() / B
    offset_loss = ((offsets - true_o) ** 2 * hits * w).sum() / B
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / B
    beta = c.beta * min(1.0, step / max(c.beta_anneal_steps, 1))
    recon = c.hit_loss_weight * hit_loss + c.velocity_loss_weight * velocity_loss + c.offset_loss_weight * offset_loss
    return {"loss": recon + beta * kl, "recon": recon, "hits": hit_loss, "velocity": velocity_loss,
            "offset": offset_loss, "kl": kl}


LOOP_BARS = 2  # a loop-ready last bar hears this many bars of the loop's start after it


def check_score_weights(weights: Any) -> dict[str, float]:
    """{part name: weight} as training's `score_weights` must be: a mapping of finite weights >= 0."""
    if weights is None:
        return {}
    if not isinstance(weights, dict):
        raise ValueError(f"score_weights: a mapping of part name to weight, e.g. {{f1_free: 3}}; got {weights!r}")
    out = {}
    for name, value in weights.items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"score_weights[{name!r}]: a number, got {value!r}") from None
        if not np.isfinite(out[str(name)]) or out[str(name)] < 0:
            raise ValueError(f"score_weights[{name!r}]: a finite number >= 0, got {value!r}")
    return out


def weighted_score(parts: dict[str, float], weights: dict[str, float] | None = None) -> float:
    """The mean of a model's named selection parts, each weighed (default 1)."""
    weights = check_score_weights(weights)
    unknown = set(weights) - set(parts)
    if unknown:
        raise ValueError(f"score_weights names {sorted(unknown)}; the score's parts are {sorted(parts)}")
    w = np.array([weights.get(k, 1.0) for k in parts])
    if not w.sum() > 0:
        raise ValueError(f"score_weights weigh every part 0: {weights}")
    value = float(np.dot(w, list(parts.values())) / w.sum())
    if not np.isfinite(value):
        raise ValueError(f"the selection score is not a number: parts {parts}")
    return value


class DrumModel(nn.Module):
    config_class: type
    window: int
    learns_controls = False  # True: trained with the controls (style included), not only steered at sampling time
    follows_fills = False    # True: trained with the fill control (controls.FILL)
    plays_meters = False     # True: hears where each step is in its bar, for any meter (drumgen.meter)
    kept_bars_pull: float | None = None  # how far its new cells lean toward the kept bars (None: it cannot)

    def __init__(self, config: Any):
        super().__init__()
        self.config = config
        self.thresholds: list[float] = [0.5] * H.N_VOICES  # sampling defaults, saved beside the config
        self.meta: dict[str, Any] = {}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def kind(self) -> str:
        return type(self).__name__

    def selection_parts(self, windows) -> dict[str, float]:
        """What training keeps the best epoch by (higher is better), by name: hit F1 on validation windows.
        Training calls this (not selection_score) and weighs the parts by its `score_weights`."""
        return {"f1": quick_f1(self, windows.hvo)}

    def selection_score(self, windows, weights: dict[str, float] | None = None) -> float:
        """The mean of selection_parts, each weighed as training's `score_weights` says (default 1)."""
        return weighted_score(self.selection_parts(windows), weights)

    def make_batch(self, windows, index: np.ndarray, rng: np.random.Generator | None, augment) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def upgrade_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of an earlier config of this model, made fit to start fine-tuning from (default: as they are)."""
        return state

    def loss(self, batch: dict[str, torch.Tensor], step: int = 0) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, groove: np.ndarray, controls: C.Controls, seeds: np.ndarray, temperature: float,
                thresholds: np.ndarray, engine: Any = None, rest: np.ndarray | None = None,
                steer: bool = False, kept: sampling.Kept | None = None, bars: M.Bars | None = None) -> Prediction:
        """`bars`: the song's bars (None: 16 steps each). `rest` (N, T) bool: steps the output will
        leave empty whatever the model plays (silent bars);
        a model that hears its own drums must hear silence there too. `steer`: the output's hits will
        be steered to the controls (`sampling.steer_hits`), so such a model must hear those. `kept`:
        cells of a take that come out as they are (`to_hvo` puts them back last), so such a model
        must hear those instead of its own."""
        raise NotImplementedError

    def generate(self, groove: np.ndarray, controls: dict | C.Controls | None = None, seed: int | list[int] | None = 0,
                 temperature: float = 1.0, thresholds: float | list[float] | None = None,
                 max_hits: int | list[int] | None = None, keep_groove_timing: bool = True,
                 rest_in_silent_bars: bool = True, steer: bool = True, engine: Any = None,
                 keep: np.ndarray | None = None, keep_mask: np.ndarray | None = None, loop: bool = False,
                 bars: M.Bars | str | None = None, follow_kept_bars: float | None = None) -> np.ndarray:
        """Grooves (N, T, 3) (hit 0/1, velocity 0..1, offset in steps) -> drums HVO (N, T, 27) with
        hits in {0, 1}.

        bars: the song's bars and their meters (`meter.Bars`, e.g. `Song.bars`), or one meter for all
        ('3/4'); None: 4/4, T a multiple of 16. Every per-bar argument counts these bars.

        controls: per-bar density, intensity, instrument weights and style (`drumgen.controls`;
        None or NaN = the model decides). seed: one for every item, or one per item; an item's
        drums depend only on its groove, controls and seed, not on the rest of the batch (None:
        fresh randomness). temperature: 0 = the most likely drums, higher = more varied.
        thresholds: hit threshold, one or per voice (default: chosen on validation). max_hits:
        at most this many hits per voice in each 2 bars. keep_groove_timing: hits on the
        groove's onsets take its offset, and are scaled so the loudest has the groove's velocity.
        rest_in_silent_bars: bars where the groove has no onset get no drums. steer: also make
        each bar meet its requested density, instrument shares and intensity at sampling time
        (`sampling.steer_hits`, `sampling.steer_velocities`), on top of what a model learnt; False
        leaves the controls to the model alone (a model that did not learn them then ignores all
        but mutes, which always hold). engine: the loader's fast path (the `Runtime` passes it).
        keep (N, T, 27), keep_mask (N, T, 9) or (T, 9): a take and the cells of it to keep (True):
        those come out exactly as they are in `keep`, and the rest is made to go with them
        (`drumgen.takes` builds masks from "bars 5-8" or "keep the kick"). follow_kept_bars (0-1): how
        far a new cell's hit probability is drawn toward what the kept bars around it play at its
        place (None: the checkpoint's `kept_bars_prior`; models without it ignore it). loop: make the
        last bar lead back into the first, so the part loops without a seam (`loop_ready`).
        """
        groove = H.validate_groove(groove, whole_bars=bars is None)
        bars = M.bars_for(bars, groove.shape[1])
        if bars.n_bars > H.MAX_BARS:
            raise ValueError(f"the song is {bars.n_bars} bars long; drumgen takes at most {H.MAX_BARS} bars")
        if not bars.is_four_four and not self.plays_meters:
            odd = next(m for m in bars.meters if m not in M.PLAYED_AS_FOUR_FOUR)
            raise ValueError(f"this {self.kind} checkpoint plays 4/4 only (its bars are 16 steps), and this song is in "
                             f"{bars.label()}; the shipped controllable model plays {M.meter_name(odd)}")
        if not isinstance(loop, (bool, np.bool_)):
            raise ValueError(f"loop must be True or False, got {loop!r}")
        n, length, _ = groove.shape
        t = H.real_array(temperature, "temperature")
        if t.ndim != 0 or not np.isfinite(t) or not 0 <= t <= 100:
            raise ValueError(f"temperature must be a number from 0 to 100, got {temperature}")
        temperature = float(t)
        seeds = sampling.item_seeds(seed, n)
        thresholds = sampling.per_voice(thresholds, self.thresholds, "thresholds", 0.0, 1.0)
        caps = None if max_hits is None else sampling.per_voice(max_hits, [0] * H.N_VOICES, "max_hits", 0, integer=True)
        ctrl = C.validate_controls(controls, n, bars.n_bars)
        kept = sampling.check_keep(keep, keep_mask, n, length, follow_kept_bars)
        if n == 0:  # an empty batch: nothing to play (the models' window code needs at least one item)
            return np.zeros((0, length, H.HVO_DIM), np.float32)
        if self.training:  # dropout off; checked, not set each call (eval() walks every module)
            self.eval()
        layout = None if bars.is_four_four and bars.n_steps == length else bars  # None: the 4/4 paths, as before
        rest = sampling.silent_bars(groove, layout)[..., 0] if rest_in_silent_bars else None
        out = self.predict(groove, ctrl, seeds, temperature, thresholds, engine, rest, steer and ctrl.any_set(), kept,
                           layout)
        hvo = sampling.to_hvo(groove, out.probs, out.velocities, out.offsets, thresholds, caps, keep_groove_timing,
                              rest_in_silent_bars, ctrl, out.hits, steer, kept, layout)
        if loop:
            settings = dict(seed=seeds, temperature=temperature, thresholds=thresholds, max_hits=max_hits,
                            keep_groove_timing=keep_groove_timing, rest_in_silent_bars=rest_in_silent_bars,
                            steer=steer, engine=engine)
            hvo = self.loop_ready(groove, ctrl, hvo, None if kept is None else kept.mask, bars=bars, **settings)
        return hvo

    def loop_ready(self, groove: np.ndarray, ctrl: C.Controls, take: np.ndarray, kept_mask: np.ndarray | None,
                   bars: M.Bars | None = None, **settings) -> np.ndarray:
        """The take with its last bar made again to lead into its first: the song is followed by its
        own first LOOP_BARS bars, kept as the take has them, and only the last bar is new (cells a
        caller kept stay kept), so the last bar hears where the loop goes next as a regenerated bar
        hears the bars after it; what is made again is one window of the model (the bars before the
        last, kept, the last bar and the loop's start), so the loop's start is inside the window that
        makes the last bar whatever the song's length. A one-bar part is left as it is (its last bar
        is its first)."""
        n, length, _ = groove.shape
        bars = M.bars_for(bars, length)
        if bars.n_steps != length:
            raise ValueError(f"a loop is whole bars: the groove ends {bars.n_steps - length} steps before its last bar does")
        n_bars, starts = bars.n_bars, bars.starts
        if n_bars < 2:
            return take
        wrap_bars = min(LOOP_BARS, n_bars - 1)
        wrap = int(starts[wrap_bars])
        last = int(starts[-2])
        # one window: the song's last bars (heard before it, kept) + the last bar + the loop's start
        first = n_bars - 2
        while first > 0 and length - starts[first - 1] + wrap <= self.window:
            first -= 1
        start = int(starts[first])
        steps = np.r_[start:length, 0:wrap]
        mask = np.ones((n, len(steps), H.N_VOICES), bool)
        mask[:, last - start:length - start] = False
        if kept_mask is not None:
            mask[:, :length - start] |= kept_mask[:, start:]
        order = np.r_[first:n_bars, 0:wrap_bars]
        wrapped_ctrl = C.Controls(*(getattr(ctrl, k)[:, order] for k in C.CONTROL_KEYS))
        wrapped_bars = bars.slice(first, n_bars) + bars.slice(0, wrap_bars)
        # the last bar alone is new, drawn toward nothing but the model's own sense of the loop: pulled toward
        # the bars around it (follow_kept_bars), it joined bar 1 less well on the test split (edit_figures)
        out = self.generate(groove[:, steps], wrapped_ctrl, keep=take[:, steps], keep_mask=mask, bars=wrapped_bars,
                            follow_kept_bars=0.0, **settings)
        looped = take.copy()
        looped[:, last:] = out[:, last - start:length - start]
        return looped

    def save(self, path: str, meta: dict[str, Any] | None = None) -> None:
        """Write `path` (.pth: parameters + state dict) and the same name with .json (parameters)."""
        save_checkpoint(path, self, {**self.meta, **(meta or {})})
