"""Inference fast paths, built once per loaded checkpoint by the `Runtime` and kept there, never in
the module training sees: on a CPU a sampling step is mostly per-operation overhead, which a traced
and frozen graph cuts. Each computes what the eager model does (the tests compare the drums).

The models never import this module: an engine is found by model kind (ENGINES) and read through
the model's public parts (its encoder, decoder, config and rotary table).
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from .. import hvo as H

log = logging.getLogger(__name__)

BEAT = H.STEPS_PER_BEAT
BEAT_DIM = BEAT * H.HVO_DIM  # a token of the controlled model: one beat of drums


def traced(module: nn.Module, example: tuple, check_trace: bool = True) -> Any:
    """`module` traced on `example` in eval mode and frozen, its modes left as they were; None (eager)
    where tracing is unavailable."""
    modes = [(m, m.training) for m in module.modules()]
    try:  # torch.jit is deprecated but still the cheapest CPU speed-up with no compile step
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.freeze(torch.jit.trace(module.eval(), example, check_trace=check_trace))
    except Exception as exc:  # a torch without jit: eager is correct, only slower
        log.warning("inference tracing unavailable (%s); using eager mode", exc)
        return None
    finally:
        for m, training in modes:
            m.training = training


# --------------------------------------------------------------------------- MonotonicGrooveVAE

def vae_engine(model) -> tuple | None:
    """The encoder and decoder traced: `predict_windows` calls them in place of its own."""
    c = model.config
    encoder = traced(model.encoder, torch.zeros(1, c.max_len_enc, c.embedding_size_src))
    decoder = None if encoder is None else traced(model.decoder, torch.zeros(1, c.latent_dim))
    return None if decoder is None else (encoder, decoder)


# --------------------------------------------------------------------------- RhythmDrivenDrumGen

class DecodeStep(nn.Module):
    """One token of sampling with keys and values in fixed-size caches, written in place at `position`,
    so that the step has one shape at every position and can be traced once and replayed. It is the
    decoder's own forward with `Attention`'s fixed-size caches; masked positions weigh exactly 0."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, prev_drums: torch.Tensor, base: torch.Tensor, conds: torch.Tensor, rot: torch.Tensor,
                mask: torch.Tensor, position: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """prev_drums (B, 1, 108), base (B, 1, C), conds (layers, B, 1, C), rot (1, D/2, 2), mask
        (1, 1, 1, S) bool (True up to `position`), position (1,) long, keys and values (layers, B, heads,
        S, D), updated in place -> the token's outputs before activations (B, 1, 108)."""
        caches = [(keys[i], values[i], position, mask) for i in range(len(self.decoder.blocks))]
        return self.decoder(prev_drums, (base, conds), rot, 0, caches)


class TracedDecoding:
    """The token loop of `RhythmDrivenDrumGen.decode_window` with a traced `DecodeStep`."""

    def __init__(self, model, step):
        self.model, self.step = model, step

    def decode(self, drums: torch.Tensor, base: torch.Tensor, conds: list, record: Callable, done: int,
               n_tokens: int) -> None:
        """drums (B, n_tokens + 1, 108): token j's input, the drums of beat j - 1, the first `done`
        beats (the prefix) already there; base (B, J, C) and conds (layers of (B, J, C)): the window's
        context. `record(j, last, raw)` keeps the outputs of tokens j..last-1 and feeds their hits back
        into `drums`."""
        model = self.model
        c, size, rotary, device = model.config, model.window // BEAT, model.rotary, drums.device
        keys = torch.zeros(c.decoder_layers, drums.shape[0], c.n_heads, size, c.d_model // c.n_heads, device=device)
        values, stacked = torch.zeros_like(keys), torch.stack(conds)           # (layers, B, J, C)
        position = torch.arange(size, device=device)
        masks = (position[None, :] <= position[:, None]).view(size, 1, 1, 1, size)
        if done:  # the prefix in one eager pass, its keys and values copied into the fixed caches
            caches = [[None, None] for _ in model.decoder.blocks]
            record(0, done, model.decoder(drums[:, :done], (base[:, :done], [cond[:, :done] for cond in conds]), rotary, 0,
                                          caches))
            for i, (k, v) in enumerate(caches):
                keys[i, :, :, :done], values[i, :, :, :done] = k, v
        for t in range(done, n_tokens):
            record(t, t + 1, self.step(drums[:, t:t + 1], base[:, t:t + 1], stacked[:, :, t:t + 1], rotary[t:t + 1],
                                       masks[t], position[t:t + 1], keys, values))


def controlled_engine(model) -> TracedDecoding | None:
    """A traced + frozen `DecodeStep` for windows of the model's size."""
    c, n_tokens = model.config, model.window // BEAT
    cache = torch.zeros(c.decoder_layers, 1, c.n_heads, n_tokens, c.d_model // c.n_heads)
    example = (torch.zeros(1, 1, BEAT_DIM), torch.zeros(1, 1, c.d_model), torch.zeros(c.decoder_layers, 1, 1, c.d_model),
               model.rotary[:1], torch.ones(1, 1, 1, n_tokens, dtype=torch.bool), torch.zeros(1, dtype=torch.long),
               cache, cache.clone())
    step = traced(DecodeStep(model.decoder), example, check_trace=False)
    return None if step is None else TracedDecoding(model, step)


ENGINES: dict[str, Callable[[nn.Module], Any]] = {
    "MonotonicGrooveVAE": vae_engine,
    "RhythmDrivenDrumGen": controlled_engine,
}


def build_engine(model: nn.Module) -> Any:
    """The fast path of a model, or None (eager): off the CPU, or for a kind without one."""
    builder = ENGINES.get(type(model).__name__)
    return None if builder is None or model.device.type != "cpu" else builder(model)
