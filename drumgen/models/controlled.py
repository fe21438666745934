"""RhythmDrivenDrumGen: a groove encoder and a causal drum decoder steered bar by bar.

    groove (B, T, 3) -> beats (B, J, 12) -> linear (+ meter) -> bidirectional blocks -> memory (B, J, C)
                                                                  mean pool -> mu, logvar (B, L)
    drums so far, one beat behind (B, J, 108) -> linear + memory + beat-in-bar embedding (+ meter) -> x (B, J, C)
    per layer: x += W_l [z ; bar conditions ; style]   (MuseMorphose's "in-attention")
               x -> causal self-attention (rotary) -> SwiGLU                      (pre-RMSNorm)
    x -> linear -> (B, J, 4, 27) = each beat's 4 steps: hit logits | velocities | offsets

A token is a beat (4 sixteenths): 8 bars are 32 decoding steps, so generation stays well inside a
CPU's real-time budget with cached keys and values, and every bar's conditions (density,
intensity, 9 instrument shares, style, each free or set; `drumgen.controls`) reach every layer of
every token of that bar. The decoder is causal in the drums: beat j's outputs depend on the drums
of beats before j only (and on the whole groove, which is known in advance).

Meters (`meter_aware`): a token stays 4 sixteenths, whatever the meter; what each of its steps is in
its bar (downbeat, felt beat, place in the bar and the beat, the bar's and the beat's length:
`meter.Bars.features`) reaches the encoder and every decoder token, and each token takes the
conditions of the bar its first step is in (`WindowBars`), so a 3/4 bar is 3 tokens, a 12/8 bar 6,
and a 7/8 bar ends half-way through its fourth token.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .. import controls as C
from .. import fills, sampling
from .. import hvo as H
from .. import meter as M
from ..augment import (
    COMPOUND,
    augment_drums,
    augmented_grooves,
    random_keep_masks,
    recut_meters,
    remove_voices,
    shift_loudness,
    splice_fills,
    tap_grooves,
)
from ..metrics import score
from ..takes import keep_mask
from .base import DrumModel, ModelConfig, Prediction, elbo_loss, sample_latent
from .layers import Block, RMSNorm, rotary_table

BEAT = H.STEPS_PER_BEAT
BEATS_PER_BAR = H.STEPS_PER_BAR // BEAT
BEAT_DIM = BEAT * H.HVO_DIM  # 108 numbers of drums per beat
KNOWN_DIM = H.HVO_DIM + H.N_VOICES  # per step: the kept drums (27, zero where not kept) and the keep mask (9)


@dataclass
class WindowBars:
    """Where the steps of windows sit in their bars: meter features (B, W, F), the bar of each step
    counted from the window's first bar (B, W), and each token's beat in its bar (B, J), 0..3."""

    features: np.ndarray
    step_bar: np.ndarray
    token_beat: np.ndarray

    @classmethod
    def of(cls, bars: M.Bars, start: int, width: int, n_items: int = 1) -> WindowBars:
        """Steps start..start+width-1 of a song laid out in `bars` (which must cover them), for n_items."""
        index = bars.step_bar[start:start + width]
        position = bars.step_position[start:start + width]
        beat = np.minimum(position[::BEAT] // BEAT, BEATS_PER_BAR - 1)
        return cls(bars.features[None, start:start + width], (index - index[0])[None], beat[None]).repeat(n_items)

    @classmethod
    def stack(cls, rows: list[WindowBars]) -> WindowBars:
        return cls(*(np.concatenate([getattr(r, k) for r in rows]) for k in ("features", "step_bar", "token_beat")))

    def repeat(self, n: int) -> WindowBars:
        """The same window for n items (self holds one)."""
        if len(self.step_bar) == n:
            return self
        return WindowBars(*(np.repeat(getattr(self, k), n, axis=0) for k in ("features", "step_bar", "token_beat")))

    @property
    def token_bar(self) -> np.ndarray:
        return self.step_bar[:, ::BEAT]

    @property
    def n_bars(self) -> int:
        return int(self.step_bar.max()) + 1

    def tensors(self, device=None) -> dict[str, torch.Tensor]:
        """The model's inputs: meter (B, W, F), token_bar and token_beat (B, J), step_bar (B, W)."""
        return {"meter": torch.from_numpy(np.ascontiguousarray(self.features)).to(device),
                "token_bar": torch.from_numpy(np.ascontiguousarray(self.token_bar)).to(device),
                "token_beat": torch.from_numpy(np.ascontiguousarray(self.token_beat)).to(device),
                "step_bar": torch.from_numpy(np.ascontiguousarray(self.step_bar)).to(device)}


LAYOUT_KEYS = ("meter", "token_bar", "token_beat")


_FOUR_FOUR_WINDOWS: dict[int, WindowBars] = {}


def four_four_window(width: int) -> WindowBars:
    """(1, width) steps of 4/4 from a bar line: what every window was before meters."""
    if width not in _FOUR_FOUR_WINDOWS:
        _FOUR_FOUR_WINDOWS[width] = WindowBars.of(M.Bars.covering("4/4", width), 0, width, 1)
    return _FOUR_FOUR_WINDOWS[width]


def known_input(hvo: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """What the encoder sees of a take: its drums where kept (zero elsewhere) and the mask, (B, T, 36)."""
    mask = np.asarray(mask, bool)
    return np.concatenate([np.where(np.tile(mask, 3), hvo, 0.0), mask], axis=-1).astype(np.float32)


@dataclass
class ControlledConfig(ModelConfig):
    d_model: int = 128
    n_heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 4
    ffn_hidden: int = 256
    dropout: float = 0.1
    latent_dim: int = 32
    style_dim: int = 16
    max_bars: int = 8            # the window: 8 bars = 128 steps = 32 tokens
    context_bars: int = 4        # longer songs: each next window starts with this many bars already played
    # loss
    hit_loss_weight: float = 1.0
    velocity_loss_weight: float = 5.0
    offset_loss_weight: float = 5.0
    beta: float = 0.02
    beta_anneal_steps: int = 4000
    # training: how often a control is left free, so every one can be at sampling time
    control_dropout: float = 0.3
    all_free: float = 0.2        # share of windows trained with every control free
    history_dropout: float = 0.0  # share of beats whose drum history input is hidden (word dropout)
    own_history: float = 0.0     # share of beats whose history is the model's own prediction (scheduled sampling)
    # The groove made from the drums implies their density and loudness, so a model trained on such
    # pairs alone ignores those controls. These break the link where a control explains the change:
    thin_drums: float = 0.0      # share of windows whose target loses some voices (density, shares given)
    shift_loudness: float = 0.0  # share of windows whose target is louder or softer than its groove (intensity given)
    # editing a take: the encoder also sees the drums a take keeps (and where), in both directions, so
    # new bars fit the kept bars after them as well as before; trained with random keep masks
    known_drums: bool = False
    known_share: float = 0.6     # share of training windows with some drums known (the rest: nothing known)
    known_spans: int = 1         # the most spans of new bars a training keep mask has (random_keep_masks)
    known_cell_weight: float = 1.0  # loss weight of the known cells: kept cells are copied at sampling time
    # anyway, so what the model must learn there is the new cells around them
    # fills: a per-bar fill flag among the conditions (controls.FILL, as the fill judge hears each bar);
    # GMD's one-bar fill clips are spliced into the drums of beat windows, their groove left as it was:
    # the groove of a drummer's own fill already plays the fill, and a model trained on those alone
    # follows the groove and ignores the flag (as it ignored density before thin_drums)
    fill_control: bool = False
    splice_fills: float = 0.0    # share of training windows whose drums (not groove) get a fill clip in one bar
    fill_history_dropout: float = 0.0  # share of the beats of fill bars whose drum history is hidden
    fills_any_meter: bool = False  # clips spliced into bars of every meter too (augment.fit_fill), so the
    # flag is learnt in every meter (False: 4/4 bars only, and fills elsewhere are left to the model)
    # sampling (no effect on training): classifier-free guidance in the bars asked to be fills, hit
    # logits = free + g (asked - free); 1 = none. Trained with the flag dropped at random, the model
    # knows both; g > 1 makes an asked fill surer at the cost of one more decoder pass (other bars, a
    # "no fill" included, play as the model has them: it keeps fills out of them well on its own)
    fill_guidance: float = 1.0
    # sampling: meters (besides 4/4) whose bars take the fill flag from a model trained with fills in
    # 4/4 bars only, measured to play them there (`meter_figures` figure 3; set with
    # `python -m drumgen.models.format CKPT --fill-meters 3/4,6/8`); fills_any_meter: every meter
    fill_meters: tuple[str, ...] = ()
    # sampling: when a take keeps bars, a new cell's hit probability is drawn this far toward what the
    # kept bars 1 and 2 before and after it play at its place (sampling.Kept.around; 0 = the model alone):
    # drummers repeat themselves, and the model alone under-weighs it (chosen on validation: model card)
    kept_bars_prior: float = 0.0
    # meters: where each step is in its bar (meter.Bars.features) reaches the encoder and the decoder
    # (zero weights at first, so a model fine-tuned from a 4/4 one starts as it; in 4/4 the bars and
    # beats are as before, so such a model plays 4/4 as it did)
    meter_aware: bool = False
    meter_recut: float = 0.0     # share of 4/4 training windows re-cut into bars of 7/8, 3/4, 2/4, 5/8, 5/4 (data.recut_meters)
    compound_recut: float = 0.0  # share of 4/4 windows in triplets played in a compound meter (augment.triplet_feel)
    meter_changes: float = 0.0   # share of the re-cut windows with bars of 4/4 before or after (augment.change_meter)
    tap_grooves: float = 0.0     # share of the windows not in 4/4 whose groove is taps on the beats (augment.tap_grooves)
    compound_meters: tuple[str, ...] = ("6/8", "12/8")  # what compound_recut plays windows in (9/8 too: augment.COMPOUND)

    def __post_init__(self) -> None:
        w = self.kept_bars_prior
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:  # NaN fails the range
            raise ValueError(f"kept_bars_prior must be a number from 0 to 1, got {w!r}")
        if isinstance(self.fill_meters, str) or not all(isinstance(m, str) for m in self.fill_meters):
            raise ValueError(f"fill_meters: a list of meters such as ['3/4', '6/8'], got {self.fill_meters!r}")
        self.fill_meters = tuple(M.meter_name(M.parse_meter(m)) for m in self.fill_meters)
        meters = self.compound_meters
        if (isinstance(meters, str) or not isinstance(meters, (list, tuple)) or not meters
                or not all(isinstance(m, str) and m in COMPOUND for m in meters) or len(set(meters)) < len(meters)):
            raise ValueError(f"compound_meters: some of {list(COMPOUND)}, each once, got {meters!r}")
        self.compound_meters = tuple(meters)
        # each next window must add at least one bar, or a song longer than a window never finishes
        if not 0 <= self.context_bars < self.max_bars:
            raise ValueError(f"context_bars must be from 0 to max_bars - 1 ({self.max_bars - 1}), got {self.context_bars} "
                             f"(max_bars {self.max_bars})")


class GrooveEncoder(nn.Module):
    def __init__(self, c: ControlledConfig):
        super().__init__()
        self.embed = nn.Linear(BEAT * H.GROOVE_DIM, c.d_model)
        if c.known_drums:  # zero at first: a model fine-tuned from one without it starts as that model
            self.embed_known = nn.Linear(BEAT * KNOWN_DIM, c.d_model)
            nn.init.zeros_(self.embed_known.weight)
            nn.init.zeros_(self.embed_known.bias)
        if c.meter_aware:
            self.embed_meter = zero_linear(BEAT * M.N_FEATURES, c.d_model)
        self.blocks = nn.ModuleList(Block(c, causal=False) for _ in range(c.encoder_layers))
        self.norm = RMSNorm(c.d_model)
        self.to_latent = nn.Linear(c.d_model, 2 * c.latent_dim)

    def forward(self, groove: torch.Tensor, rotary, known: torch.Tensor | None = None,
                meter: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """groove (B, T, 3); known (B, T, 36): the drums a take keeps and where (see known_input);
        meter (B, T, F): meter.Bars.features of the window's steps."""
        B, T, _ = groove.shape
        x = self.embed(groove.reshape(B, T // BEAT, BEAT * H.GROOVE_DIM))  # (B, J, C)
        if known is not None and hasattr(self, "embed_known"):
            x = x + self.embed_known(known.reshape(B, T // BEAT, BEAT * KNOWN_DIM))
        if meter is not None and hasattr(self, "embed_meter"):
            x = x + self.embed_meter(meter.reshape(B, T // BEAT, BEAT * M.N_FEATURES))
        for block in self.blocks:
            x = block(x, rotary)
        memory = self.norm(x)                                               # (B, J, C)
        mu, logvar = self.to_latent(memory.mean(dim=1)).chunk(2, dim=-1)   # (B, L) each
        return memory, mu, logvar.clamp(-12.0, 8.0)


class DrumDecoder(nn.Module):
    def __init__(self, c: ControlledConfig):
        super().__init__()
        self.embed_drums = nn.Linear(BEAT_DIM, c.d_model)
        self.hidden_beat = nn.Parameter(torch.zeros(c.d_model))  # stands in for a beat hidden in training
        self.embed_memory = nn.Linear(c.d_model, c.d_model)
        self.beat_in_bar = nn.Embedding(BEATS_PER_BAR, c.d_model)
        self.style = nn.Embedding(len(C.STYLES) + 1, c.style_dim)  # the last index: any style
        self.n_conditions = C.CONDITION_DIM if c.fill_control else C.BASE_CONDITION_DIM
        cond_dim = c.latent_dim + self.n_conditions + c.style_dim
        if c.known_drums:  # each token also hears the kept cells of its own beat (zero at first, as in the encoder)
            self.embed_known = nn.Linear(BEAT * KNOWN_DIM, c.d_model)
            nn.init.zeros_(self.embed_known.weight)
            nn.init.zeros_(self.embed_known.bias)
        if c.meter_aware:
            self.embed_meter = zero_linear(BEAT * M.N_FEATURES, c.d_model)
        self.condition = nn.ModuleList(nn.Linear(cond_dim, c.d_model) for _ in range(c.decoder_layers))
        self.blocks = nn.ModuleList(Block(c, causal=True) for _ in range(c.decoder_layers))
        self.norm = RMSNorm(c.d_model)
        self.out = nn.Linear(c.d_model, BEAT_DIM)

    def conditions(self, z: torch.Tensor, cond: torch.Tensor, style: torch.Tensor, token_bar: torch.Tensor) -> torch.Tensor:
        """Per-token condition (B, J, L + K + S) from z (B, L), per-bar controls (B, bars, CONDITION_DIM)
        and styles (B, bars), each token taking its bar's (token_bar (B, J)); a model without the fill
        control reads the first K = BASE_CONDITION_DIM of them."""
        per_bar = torch.cat([cond[..., :self.n_conditions], self.style(style)], dim=-1)
        index = token_bar.clamp(0, per_bar.shape[1] - 1)[..., None].expand(-1, -1, per_bar.shape[-1])
        per_token = per_bar.gather(1, index)
        return torch.cat([z[:, None].expand(-1, per_token.shape[1], -1), per_token], dim=-1)

    def context(self, memory: torch.Tensor, condition: torch.Tensor, token_beat: torch.Tensor,
                known: torch.Tensor | None = None, meter: torch.Tensor | None = None) -> tuple[torch.Tensor, list]:
        """What a window's tokens get besides the drums: memory, beat-in-bar (token_beat (B, J)), the
        meter of their steps and the kept cells of their beat (B, J, C), and each layer's condition
        term (B, J, C). None depends on the drums played, so sampling computes them once a window,
        not once a token."""
        B, J, _ = memory.shape
        base = self.embed_memory(memory) + self.beat_in_bar(token_beat)
        if known is not None and hasattr(self, "embed_known"):
            base = base + self.embed_known(known.reshape(B, J, BEAT * KNOWN_DIM))
        if meter is not None and hasattr(self, "embed_meter"):
            base = base + self.embed_meter(meter.reshape(B, J, BEAT * M.N_FEATURES))
        return base, [cond(condition) for cond in self.condition]

    def forward(self, prev_drums: torch.Tensor, context: tuple[torch.Tensor, list], rotary: torch.Tensor,
                start: int = 0, caches: list | None = None, hide: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens start..start+n-1: prev_drums (B, n, 108) = the drums of the beat before each, and
        `context` of those tokens -> outputs (B, n, 108) before activations. `hide` (B, n, 1) bool
        replaces those drum inputs by a learnt "unknown" vector (training only)."""
        base, conds = context
        drums = self.embed_drums(prev_drums)
        if hide is not None:
            drums = torch.where(hide, self.hidden_beat.to(drums.dtype), drums)
        x = drums + base
        for i, (block, cond) in enumerate(zip(self.blocks, conds)):
            x = block(x + cond, rotary, start, None if caches is None else caches[i])
        return self.out(self.norm(x))


def layout_args(batch: dict) -> dict:
    """The WindowBars tensors of a batch, as forward takes them (none: 4/4 windows)."""
    return {k: batch[k] for k in LAYOUT_KEYS if k in batch}


def window_bars(bars: M.Bars, width: int) -> WindowBars:
    """A training window's layout from its Bars (cached per meter: few meters, many windows)."""
    key = (bars.meters, width)
    if key not in _WINDOW_CACHE:
        _WINDOW_CACHE[key] = WindowBars.of(bars, 0, width)
    return _WINDOW_CACHE[key]


_WINDOW_CACHE: dict = {}


def measure_windows(drums: np.ndarray, layouts: list[M.Bars], four_four: np.ndarray,
                    fills_any_meter: bool = False) -> dict[str, np.ndarray]:
    """measure_controls of windows in mixed meters: the 4/4 ones in one go, the others by their bars,
    padded to the most bars of any (free there). The fill flag of a bar that is not 16 steps is free
    unless fills_any_meter (a model that learns fills in 4/4 bars only, as before it existed)."""
    if four_four.all():
        return C.measure_controls(drums)
    n, length, _ = drums.shape
    parts = {}
    if four_four.any():
        parts[True] = C.measure_controls(drums[four_four])
    parts[False] = C.measure_controls(drums[~four_four], [b for b, f in zip(layouts, four_four) if not f])
    n_bars = max(p["density"].shape[1] for p in parts.values())
    out = {"density": np.full((n, n_bars), np.nan, np.float32), "intensity": np.full((n, n_bars), np.nan, np.float32),
           "instruments": np.full((n, n_bars, H.N_VOICES), np.nan, np.float32),
           "fill": np.full((n, n_bars), np.nan, np.float32)}
    for flag, measured in parts.items():
        rows = np.nonzero(four_four == flag)[0]
        for k, v in measured.items():
            out[k][rows, :v.shape[1]] = v
    if not fills_any_meter:
        for i in np.nonzero(~four_four)[0]:
            lengths = np.asarray(layouts[i].lengths)[:n_bars]
            out["fill"][i, :len(lengths)][lengths != H.STEPS_PER_BAR] = np.nan
    return out


def zero_linear(n_in: int, n_out: int) -> nn.Linear:
    """A linear input that adds nothing until trained: a model fine-tuned to hear it starts as it was."""
    layer = nn.Linear(n_in, n_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def split_outputs(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, n, 108) -> hit logits, velocities, offsets, each (B, 4n, 9)."""
    B, n, _ = raw.shape
    hit_logits, v, o = raw.view(B, n * BEAT, H.HVO_DIM).split(H.N_VOICES, dim=-1)
    return hit_logits, torch.sigmoid(v), 0.5 * torch.tanh(o)


class RhythmDrivenDrumGen(DrumModel):
    config_class = ControlledConfig
    learns_controls = True

    @property
    def follows_fills(self) -> bool:
        return self.config.fill_control

    @property
    def plays_meters(self) -> bool:
        return self.config.meter_aware

    @property
    def kept_bars_pull(self) -> float:
        return self.config.kept_bars_prior

    def follows_kept_bars(self, kept: sampling.Kept) -> float:
        """How far new cells lean toward the kept bars around them: the call's, else the checkpoint's."""
        return self.kept_bars_pull if kept.follow is None else kept.follow

    skip_kept_windows = True  # a window a take keeps whole is not decoded (the same drums, only faster)

    def __init__(self, config: ControlledConfig):
        super().__init__(config)
        self.encoder = GrooveEncoder(config)
        self.decoder = DrumDecoder(config)
        self.register_buffer("rotary", rotary_table(self.window // BEAT, config.d_model // config.n_heads // 2 * 2),
                             persistent=False)

    @property
    def window(self) -> int:
        return self.config.max_bars * H.STEPS_PER_BAR

    def forward(self, groove, drums, cond, style, temperature: float = 1.0, eps=None, known=None,
                meter=None, token_bar=None, token_beat=None):
        """Teacher forcing: groove (B, T, 3), true drums (B, T, 27), controls (B, bars, 24) and
        (B, bars), known drums (B, T, 36) or None, and where the steps are in their bars (WindowBars'
        tensors; None: 4/4 from a bar line) -> hit logits, velocities, offsets (B, T, 9) each, mu, logvar."""
        B, T, _ = groove.shape
        rotary = self.rotary
        if token_bar is None:
            layout = four_four_window(T).repeat(B).tensors(groove.device)
            meter, token_bar, token_beat = layout["meter"], layout["token_bar"], layout["token_beat"]
        memory, mu, logvar = self.encoder(groove, rotary, known, meter)
        z = sample_latent(mu, logvar, temperature, eps)
        beats = drums.reshape(B, T // BEAT, BEAT_DIM)
        prev = torch.cat([torch.zeros_like(beats[:, :1]), beats[:, :-1]], dim=1)  # one beat behind
        hide = None
        if self.training and self.config.history_dropout > 0:  # the decoder must not lean on copying alone
            hide = torch.rand(B, T // BEAT, 1, device=groove.device) < self.config.history_dropout
        if self.training and self.config.fill_history_dropout > 0 and self.config.fill_control:
            # inside a bar asked to be a fill, the fill's own beats before would tell the decoder to go
            # on with it: hidden, the fill has to come from the flag, as it must when sampling begins one
            asked = (cond[..., C.FILL] > 0.5) & (cond[..., C.FILL_KNOWN] > 0.5)                   # (B, bars)
            in_fill = asked.gather(1, token_bar.clamp(0, asked.shape[1] - 1))[..., None]            # (B, J, 1)
            drop = in_fill & (torch.rand(B, T // BEAT, 1, device=groove.device) < self.config.fill_history_dropout)
            hide = drop if hide is None else hide | drop
        context = self.decoder.context(memory, self.decoder.conditions(z, cond, style, token_bar), token_beat, known, meter)
        raw = self.decoder(prev, context, rotary, hide=hide)
        return (*split_outputs(raw), mu, logvar)

    def make_batch(self, windows, index: np.ndarray, rng: np.random.Generator | None, augment) -> dict[str, torch.Tensor]:
        """Drums, grooves and the controls measured from the drums themselves (the training
        targets of "what a slider means"). For training: augmented, some targets thinned or made
        louder / softer than their groove (with the controls that say so always given), and the
        other controls dropped to free at random. Without rng: the full groove and every true
        control (validation)."""
        drums = windows.hvo[index]
        n = len(index)
        layouts = windows.bars_of(index)                       # one Bars per window (4/4 for most)
        four_four = np.array([b.is_four_four for b in layouts])
        thin = shift = np.zeros(n, bool)
        if rng is not None and augment is not None:
            drums = augment_drums(drums, augment, rng)
            if self.config.meter_recut > 0 or self.config.compound_recut > 0:  # meters the GMD has little of, from its 4/4
                drums, layouts = recut_meters(drums, list(windows.meter[index]), rng, self.config.meter_recut, four_four,
                                              self.config.compound_recut, self.config.meter_changes,
                                              self.config.compound_meters)
                four_four = np.array([b.is_four_four for b in layouts])
            groove_from = drums
            if self.config.splice_fills > 0:  # the fill in the drums only: a song's bass line rarely plays
                drums = splice_fills(drums, windows.fill_clip_bars, rng, self.config.splice_fills,  # the drummer's fill
                                     where=four_four | self.config.fills_any_meter, layouts=layouts)
            groove = augmented_grooves(groove_from, augment, rng)
            if self.config.tap_grooves > 0:  # what a musician taps: the drums must come from the meter
                groove = tap_grooves(groove, groove_from, layouts, rng, self.config.tap_grooves, ~four_four)
            thin = rng.random(n) < self.config.thin_drums
            shift = rng.random(n) < self.config.shift_loudness
            drums = drums.copy()
            if thin.any():
                drums[thin] = remove_voices(drums[thin], rng)
            if shift.any():
                drums[shift] = shift_loudness(drums[shift], rng)
        else:
            groove = H.hvo_to_groove(drums)
        true = C.controls_from_measure(measure_windows(drums, layouts, four_four, self.config.fills_any_meter),
                                       windows.style[index])
        ctrl = true
        if rng is not None:
            ctrl = C.drop_controls(true, rng, self.config.control_dropout)
            free = (rng.random(n) < self.config.all_free) & ~thin & ~shift
            ctrl.density[free], ctrl.intensity[free], ctrl.instruments[free], ctrl.style[free] = np.nan, np.nan, np.nan, -1
            ctrl.fill[free] = np.nan
            ctrl.density[thin] = true.density[thin]
            removed = thin[:, None, None] & (true.instruments == 0)
            ctrl.instruments[removed] = 0.0
            ctrl.intensity[shift] = true.intensity[shift]
        cond, style = C.condition_array(ctrl)
        batch = {"groove": torch.from_numpy(groove), "drums": torch.from_numpy(np.ascontiguousarray(drums)),
                 "cond": torch.from_numpy(cond), "style": torch.from_numpy(style),
                 **WindowBars.stack([window_bars(b, drums.shape[1]) for b in layouts]).tensors()}
        if self.config.known_drums and rng is not None:  # a take to edit: some of the true drums known
            mask = random_keep_masks(n, drums.shape[1], rng, self.config.known_share,  # spans: the window's own bars
                                     M.step_bars(layouts, n, drums.shape[1])[0], self.config.known_spans)
            batch["known"] = torch.from_numpy(known_input(drums, mask))
        return batch

    def upgrade_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return upgrade_state_dict(state, self.config)

    @torch.no_grad()
    def history_with_own_beats(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The true drums with a share of beats (`own_history`) replaced by what the model itself plays
        there given the true beats before (one teacher-forced pass, hits over its thresholds, muted
        voices silent): parallel scheduled sampling (Duckworth et al. 2019). At sampling time the
        decoder hears its own drums, mistakes included; trained on true drums alone it learns to copy
        the previous beat and drifts once its own differ."""
        target, cond = batch["drums"], batch["cond"]
        known_drums = batch.get("known")
        hit_logits, velocities, offsets, _, _ = self(batch["groove"], target, cond, batch["style"], known=known_drums,
                                                     **layout_args(batch))
        threshold = torch.as_tensor(self.thresholds, dtype=torch.float32, device=target.device)
        shares, known = cond[..., C.SHARES], cond[..., C.SHARES_KNOWN]
        muted_bars = (shares == 0) & (known > 0)                                          # (B, bars, 9)
        if "step_bar" in batch:
            step_bar = batch["step_bar"].clamp(0, muted_bars.shape[1] - 1)[..., None].expand(-1, -1, H.N_VOICES)
            muted = muted_bars.gather(1, step_bar)                                          # (B, T, 9)
        else:
            muted = muted_bars.repeat_interleave(H.STEPS_PER_BAR, dim=1)
        hits = ((torch.sigmoid(hit_logits.float()) > threshold) & ~muted).float()
        own = torch.cat([hits, velocities.float() * hits, offsets.float() * hits], dim=-1)
        B, T, _ = target.shape
        pick = torch.rand(B, T // BEAT, 1, device=target.device) < self.config.own_history
        own = torch.where(pick.repeat_interleave(BEAT, dim=1), own, target)
        if known_drums is not None:  # kept cells are heard as the take has them, as at sampling time
            own = torch.where(known_drums[..., H.HVO_DIM:].bool().repeat(1, 1, 3), target, own)
        return own

    def loss(self, batch: dict[str, torch.Tensor], step: int = 0) -> dict[str, torch.Tensor]:
        """The MonotonicGrooveVAE's loss (`elbo_loss`). In training, a share of the drum history can be
        the model's own (`own_history`); the targets stay the true drums."""
        c, target = self.config, batch["drums"]
        history = self.history_with_own_beats(batch) if self.training and c.own_history > 0 else target
        outputs = self(batch["groove"], history, batch["cond"], batch["style"], known=batch.get("known"),
                       **layout_args(batch))
        known = batch.get("known")
        weight = None
        if known is not None and c.known_cell_weight != 1.0:
            kept = known[..., -H.N_VOICES:]
            weight = 1.0 + (c.known_cell_weight - 1.0) * kept
        return elbo_loss(c, *(x.float() for x in outputs), target, step, weight)  # float32 sums under bf16 autocast

    def selection_parts(self, windows) -> dict[str, float]:
        """Hit F1 on (up to) 256 validation windows with the true controls and with all free:
        the model must both follow the controls and play well without them. A model trained to edit
        takes (`known_drums`) is also scored on it: two bars made new with the other bars true, and
        the voices but kick and snare made new with those true (F1 of the new cells); one trained
        with the fill control on how often fills come where asked and not elsewhere."""
        odd = windows.subset(~windows.four_four) if self.config.meter_aware else None
        windows = windows.subset(windows.four_four)
        pick = np.unique(np.linspace(0, len(windows) - 1, min(256, len(windows))).astype(int))  # spread over files
        true = windows.hvo[pick]
        groove = H.hvo_to_groove(true)
        measured = C.controls_from_measure(C.measure_controls(true), windows.style[pick])
        scores = {"f1_true_controls": score(self.generate(groove, measured), true)["f1"],
                  "f1_free": score(self.generate(groove), true)["f1"]}
        if self.config.known_drums:
            steps = true.shape[1]
            phrase_ends = [b for b in range(steps // H.STEPS_PER_BAR) if b % 4 >= 2]  # bars 3-4, 7-8 new
            for name, mask in (("bars_made_new", keep_mask(steps, regenerate=phrase_ends)),
                               ("kick_snare_kept", keep_mask(steps, lock=["kick", "snare"]))):
                out = self.generate(groove, keep=true, keep_mask=mask)
                new = np.tile(~mask, 3)
                scores[name] = score(out * new, true * new)["f1"]
        if self.config.fill_control:  # fills asked in bars 4 and 8, none in the others: judged as asked
            asked = np.arange(true.shape[1] // H.STEPS_PER_BAR) % 4 == 3
            judged = fills.fill_flags(self.generate(groove, {"fill": asked.astype(np.float32)})) > 0
            scores["fills_as_asked"] = 0.5 * (judged[:, asked].mean() + 1 - judged[:, ~asked].mean())
        if odd is not None and len(odd):  # the other meters: F1 with all free, each meter's windows in its bars
            f1 = []
            for name in np.unique(odd.meter):
                these = odd.subset(odd.meter == name)
                true_odd = these.hvo[:64]
                out = self.generate(H.hvo_to_groove(true_odd), bars=these.bars_of([0])[0])
                f1.append(score(out, true_odd)["f1"])
            scores["f1_free_other_meters"] = float(np.mean(f1))
        return {k: float(v) for k, v in scores.items()}

    @torch.inference_mode()
    def decode_window(self, groove: np.ndarray, ctrl: C.Controls, noise: np.ndarray | None, temperature: float,
                      thresholds: np.ndarray, prefix: np.ndarray | None = None, use_cache: bool = True,
                      n_steps: int | None = None, rest: np.ndarray | None = None, engine: Any = None,
                      kept: sampling.Kept | None = None, layout: WindowBars | None = None,
                      around: tuple[np.ndarray, np.ndarray] | None = None):
        """One window, token by token. groove (B, W, 3), padded to the window with silence as in
        training; prefix (B, P, 27): drums already played in its first P steps (a multiple of 4),
        kept as they are; n_steps: how many steps to generate (default all W); rest (B, n_steps)
        bool: steps that stay empty (as muted voices do), so the drums fed back are the ones played;
        kept (B, n_steps): cells of a take fed back as they are instead of the model's own;
        engine: the loader's fast path (`engines.TracedDecoding`: the same loop with a traced step,
        used with the cache only); layout: where the window's steps are in their bars, and which of
        ctrl's bars each belongs to (None: 4/4 from a bar line); around: what the kept bars around each
        new cell play and where (`Kept.around`, (B, n_steps, 9) each), its hit probability drawn that
        way by `kept_bars_prior`.
        Returns probs, velocities, offsets, hits (B, n_steps, 9) as numpy."""
        B, W, _ = groove.shape
        W = W if n_steps is None else n_steps
        device, rotary = self.device, self.rotary
        layout = (four_four_window(groove.shape[1]) if layout is None else layout).repeat(B)
        where = layout.tensors(device)
        known = None
        if kept is not None and self.config.known_drums:  # the encoder sees the window's kept drums, after too
            whole = kept.steps(0, groove.shape[1])  # padded to the window: nothing kept past the take
            known = torch.from_numpy(known_input(whole.hvo, whole.mask)).to(device)
        elif self.config.known_drums:  # nothing kept: all zeros, as training shows a window with nothing known
            known = torch.zeros(B, groove.shape[1], KNOWN_DIM, device=device)
        memory, mu, logvar = self.encoder(torch.from_numpy(np.ascontiguousarray(groove)).to(device), rotary, known,
                                          where["meter"])
        z = mu if noise is None else sample_latent(mu, logvar, temperature, torch.from_numpy(noise).to(device))
        cond, style = (torch.from_numpy(a).to(device) for a in C.condition_array(ctrl))
        fill_bars = np.nan_to_num(ctrl.fill) > 0.5                              # (B, bars): fills asked for
        guided = self.config.fill_control and self.config.fill_guidance != 1.0 and bool(fill_bars.any())
        if guided:  # classifier-free guidance on the fill flag: a second half of the batch with the fills free
            unguided = C.Controls(ctrl.density, ctrl.intensity, ctrl.instruments, ctrl.style)
            cond = torch.cat([cond, torch.from_numpy(C.condition_array(unguided)[0]).to(device)])
            style, z, memory = torch.cat([style, style]), torch.cat([z, z]), torch.cat([memory, memory])
            known = None if known is None else torch.cat([known, known])
            where = {k: torch.cat([v, v]) for k, v in where.items()}
        conditions = self.decoder.conditions(z, cond, style, where["token_bar"])
        base, conds = self.decoder.context(memory, conditions, where["token_beat"], known, where["meter"])  # once a window
        step_bar = layout.step_bar[:, :W]
        mute = M.per_step(ctrl.instruments == 0, step_bar)                       # (B, W, 9)
        if rest is not None:
            mute = mute | np.asarray(rest, bool)[:, :W, None]
        mute = torch.from_numpy(mute).to(device)
        threshold = torch.as_tensor(thresholds, dtype=torch.float32, device=device)
        if around is not None:  # new cells drawn toward the kept bars around them, but where a fill is asked
            weight = self.follows_kept_bars(kept) * (around[1] & ~M.per_step(fill_bars, layout.step_bar[:, :W])[..., None])
            around = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in (around[0], weight.astype(np.float32))]
        if kept is not None:  # kept cells are heard as they are (hits, velocities, offsets)
            kept_mask = torch.from_numpy(np.ascontiguousarray(kept.mask[:, :W])).to(device)
            kept_hits, kept_vel, kept_off = (torch.from_numpy(np.ascontiguousarray(a[:, :W])).to(device)
                                             for a in H.split_hvo(kept.hvo))
        n_tokens, done = W // BEAT, 0 if prefix is None else prefix.shape[1] // BEAT
        halves = 2 if guided else 1
        if guided:  # g on the steps of fill bars, 1 (the model as it is) elsewhere
            guidance = torch.from_numpy(np.where(M.per_step(fill_bars, step_bar), self.config.fill_guidance,
                                                 1.0)[:, :, None].astype(np.float32)).to(device)
        drums = torch.zeros(halves * B, n_tokens + 1, BEAT_DIM, device=device)  # token j's input: drums of beat j-1
        if done:
            drums[:, 1:done + 1] = torch.from_numpy(prefix).to(device).reshape(B, done, BEAT_DIM).repeat(halves, 1, 1)
        probs, vel, off = (torch.zeros(B, W, H.N_VOICES, device=device) for _ in range(3))

        def record(j: int, last: int, raw: torch.Tensor) -> None:
            """Keep the outputs of tokens j..last-1 and feed back the hits of those past the prefix."""
            hit_logits, v, o = split_outputs(raw[:B])                              # (B, 4 * (last - j), 9)
            if guided:  # in the bars asked to be fills: free + g (asked - free), the fill made surer
                free_logits = split_outputs(raw[B:])[0]
                scale = guidance[:, j * BEAT:last * BEAT]  # 1 outside fill bars: the asked logits exactly
                hit_logits = torch.where(scale != 1, free_logits + scale * (hit_logits - free_logits), hit_logits)
            steps = slice(j * BEAT, last * BEAT)
            probs[:, steps], vel[:, steps], off[:, steps] = torch.sigmoid(hit_logits), v, o
            if around is not None:
                probs[:, steps] = torch.lerp(probs[:, steps], around[0][:, steps], around[1][:, steps])
            for t in range(max(j, done), last):  # the prefix was already played: kept as it is
                s = slice(t * BEAT, (t + 1) * BEAT)
                hit = ((probs[:, s] > threshold) & ~mute[:, s]).float()
                played = torch.cat([hit, vel[:, s] * hit, off[:, s] * hit], dim=-1)
                if kept is not None:
                    keep = kept_mask[:, s].repeat(1, 1, 3)
                    played = torch.where(keep, torch.cat([kept_hits[:, s], kept_vel[:, s] * kept_hits[:, s],
                                                          kept_off[:, s] * kept_hits[:, s]], dim=-1), played)
                drums[:, t + 1] = played.reshape(B, BEAT_DIM).repeat(halves, 1)  # both halves hear what is played

        if engine is not None and use_cache and not self.training and device.type == "cpu":
            engine.decode(drums, base, conds, record, done, n_tokens)  # the loader's traced step, token by token
        else:
            caches = [[None, None] for _ in self.decoder.blocks] if use_cache else None
            j = 0
            while j < n_tokens:
                # with a cache: the prefix in one pass, then one token at a time; without: all tokens so far again
                first = j if use_cache else 0
                last = max(done, j + 1) if (use_cache and j == 0) else j + 1
                context = base[:, first:last], [c[:, first:last] for c in conds]
                raw = self.decoder(drums[:, first:last], context, rotary, first, caches)
                record(j, last, raw[:, -(last - j):])
                j = last
        played = drums[:B, 1:].reshape(B, W, H.HVO_DIM)
        return probs.cpu().numpy(), vel.cpu().numpy(), off.cpu().numpy(), played[..., H.HITS].cpu().numpy()

    def predict(self, groove: np.ndarray, controls: C.Controls, seeds: np.ndarray, temperature: float,
                thresholds: np.ndarray, engine: Any = None, rest: np.ndarray | None = None,
                steer: bool = False, kept: sampling.Kept | None = None, bars: M.Bars | None = None) -> Prediction:
        """Songs of any length: the first window is generated from scratch; every next one starts
        `context_bars` x 16 steps before the end of what is done (on the latest bar line there when
        one falls on a token), with those steps as its prefix. Steps in `rest` (silent bars) are
        fed back as silence, and with `steer` the prefix holds the hits steered to the controls, as
        they will be played; `kept` cells are heard as the take has them. `bars`: the song's (None:
        4/4); a song that ends inside a token is padded with silence to the token's end."""
        n, length, _ = groove.shape
        bars = M.bars_for(bars, length)
        pad = -length % BEAT
        if pad:  # the model's tokens are 4 steps: silence to the end of the last one, cut again below
            groove = np.pad(groove, ((0, 0), (0, pad), (0, 0)))
            rest = None if rest is None else np.pad(rest, ((0, 0), (0, pad)), constant_values=True)
            kept = None if kept is None else kept.steps(0, length + pad)
            padded_bars = bars if bars.n_steps >= length + pad else bars + M.Bars.covering(bars.meters[-1], pad)
            out = self.predict(groove, controls, seeds, temperature, thresholds, engine, rest, steer, kept, padded_bars)
            return Prediction(*(None if a is None else a[:, :length] for a in (out.probs, out.velocities, out.offsets,
                                                                                out.hits)))
        W, context = self.window, self.config.context_bars * H.STEPS_PER_BAR
        four_four = bars.is_four_four
        laid_out = bars + M.Bars.covering(bars.meters[-1], W)  # bars past the end, so every window is laid out
        bar_of_step, bar_lines = laid_out.bar_of_step(), set(laid_out.starts.tolist())
        out = [np.zeros((n, length, H.N_VOICES), np.float32) for _ in range(4)]
        start, done = 0, 0
        song_around = None
        if kept is not None and self.follows_kept_bars(kept) > 0:  # what the kept bars around each cell play,
            asked_fills = M.per_step(np.nan_to_num(controls.fill) > 0.5, bar_of_step[None, :length].repeat(n, 0))
            heard = ~asked_fills if rest is None else ~asked_fills & ~np.asarray(rest, bool)  # fills, silences: none
            song_around = kept.around(laid_out, heard)  # over the whole song: a window's last bars hear the next

        def next_start(done: int) -> int:
            """Where the window after `done` begins: `context` steps back (in 4/4 a bar line), else the
            latest bar line on a token (the prefix must be whole tokens) up to half that far back, so
            every window adds at least W - context steps; none there: `context` back, inside a bar
            (the model hears where its bar lines are)."""
            at = done - context
            for line in range(at, max(done - context // 2, 0), BEAT):
                if line in bar_lines:
                    return line
            return at

        while done < length:
            end = min(start + W, length)
            if kept is not None and self.skip_kept_windows and kept.mask[:, done:end].all():
                # nothing new to make here: the take is played as it is, and the next window hears it
                hits, velocities, offsets = H.split_hvo(kept.hvo[:, done:end])
                for acc, values in zip(out, (hits, velocities, offsets, hits)):
                    acc[:, done:end] = values
                done = end
                start = next_start(done)
                continue
            piece = np.zeros((n, W, H.GROOVE_DIM), np.float32)
            piece[:, :min(W, length - start)] = groove[:, start:start + W]
            first_bar, stop_bar = int(bar_of_step[start]), int(bar_of_step[start + W - 1]) + 1
            song_bars = min(stop_bar, bars.n_bars)
            window_ctrl = controls.bars(first_bar, song_bars).padded(stop_bar - first_bar)
            layout = None if four_four else WindowBars.of(laid_out, start, W, n)
            noise = None if temperature == 0 else sampling.window_noise(seeds, np.full(n, start), (self.config.latent_dim,))
            prefix = None
            if done > start:
                hits, velocities, offsets = out[3][:, start:done], out[1][:, start:done], out[2][:, start:done]
                prefix = H.join_hvo(hits, velocities, offsets)
            window_kept = None if kept is None else kept.steps(start, end)
            around = None if song_around is None else tuple(a[:, start:end] for a in song_around)
            result = self.decode_window(piece, window_ctrl, noise, temperature, thresholds, prefix, n_steps=end - start,
                                        rest=None if rest is None else rest[:, start:end], engine=engine,
                                        kept=window_kept, layout=layout, around=around)
            if steer:  # the next window continues from the bars as they will sound
                probs = result[0] if rest is None else np.where(rest[:, start:end, None], 0.0, result[0])
                if window_kept is not None:
                    probs = window_kept.probs_onto(probs)
                hits = self.steer_window(probs, thresholds, window_ctrl, laid_out, start, first_bar)
                result = (*result[:3], hits if window_kept is None else window_kept.hits_onto(hits))
            if window_kept is not None:  # the prefix of the next window: the kept cells as they are
                _, kept_vel, kept_off = H.split_hvo(window_kept.hvo)
                result = (result[0], np.where(window_kept.mask, kept_vel, result[1]),
                          np.where(window_kept.mask, kept_off, result[2]), result[3])
            for acc, values in zip(out, result):
                acc[:, done:end] = values[:, done - start:end - start]
            done = end
            start = next_start(done)
        return Prediction(out[0], out[1], out[2], out[3])

    @staticmethod
    def steer_window(probs: np.ndarray, thresholds: np.ndarray, ctrl: C.Controls, laid_out: M.Bars, start: int,
                     first_bar: int) -> np.ndarray:
        """sampling.steer_hits on one window's steps start..start+w-1 in their bars: padded on the
        left with impossible cells (probability 0) to the first bar line, the last bar cut short
        where the window ends (steer_hits then asks it for the hits of the steps it has)."""
        w = probs.shape[1]
        last_bar = int(laid_out.bar_of_step()[start + w - 1])
        left, right = start - int(laid_out.starts[first_bar]), int(laid_out.starts[last_bar + 1]) - start - w
        if not left and not right and laid_out.slice(first_bar, last_bar + 1).is_four_four:
            return sampling.steer_hits(probs, thresholds, ctrl.bars(0, last_bar + 1 - first_bar))
        padded = np.pad(probs, ((0, 0), (left, 0), (0, 0)))
        hits = sampling.steer_hits(padded, thresholds, ctrl.bars(0, last_bar + 1 - first_bar),
                                   laid_out.slice(first_bar, last_bar + 1))
        return hits[:, left:left + w]



def upgrade_state_dict(state: dict, config: ControlledConfig) -> dict:
    """Weights of a model made before the fill control, for one with it (fine-tuning): the new
    condition inputs (FILL, FILL_KNOWN) get zero weights, so the model starts as the old one; of
    one whose kept drums reached its encoder only, for one whose decoder hears them too (zeros: as it
    was); and of a 4/4 model for one that hears the meter (zeros)."""
    state = dict(state)
    if config.known_drums and "encoder.embed_known.weight" in state and "decoder.embed_known.weight" not in state:
        weight = state["encoder.embed_known.weight"]
        state["decoder.embed_known.weight"] = torch.zeros_like(weight)
        state["decoder.embed_known.bias"] = torch.zeros_like(state["encoder.embed_known.bias"])
    if config.meter_aware:  # a 4/4 model, for one that hears the meter: zeros, so it starts as it was
        for part in ("encoder", "decoder"):
            if f"{part}.embed_meter.weight" not in state:
                state[f"{part}.embed_meter.weight"] = torch.zeros(config.d_model, BEAT * M.N_FEATURES)
                state[f"{part}.embed_meter.bias"] = torch.zeros(config.d_model)
    at = config.latent_dim + C.BASE_CONDITION_DIM
    for key, weight in list(state.items()):
        if (config.fill_control and key.startswith("decoder.condition.") and key.endswith(".weight")
                and weight.shape[1] == config.latent_dim + C.BASE_CONDITION_DIM + config.style_dim):
            zeros = weight.new_zeros(weight.shape[0], C.CONDITION_DIM - C.BASE_CONDITION_DIM)
            state[key] = torch.cat([weight[:, :at], zeros, weight[:, at:]], dim=1)
    return state


def tiny_config(**overrides: Any) -> ControlledConfig:
    """A small random-weight preset for tests and smoke runs."""
    base = dict(d_model=16, n_heads=2, encoder_layers=1, decoder_layers=2, ffn_hidden=32, latent_dim=4, style_dim=4,
                dropout=0.0, max_bars=4, context_bars=2)
    return ControlledConfig(**{**base, **overrides})
