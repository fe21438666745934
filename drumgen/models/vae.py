"""MonotonicGrooveVAE: a transformer-encoder VAE from a 2-bar groove to 9-voice drums.

After Haki et al., "Real-Time Drum Accompaniment Using Transformer Architecture" (AIMC 2022):

    groove (B, 32, 3) -> linear + positions -> transformer encoder -> flatten -> mu, logvar (B, L)
    z = mu + temperature * sigma * eps
    z -> linear -> (B, 32, d_dec) + positions -> transformer stack -> linear -> (B, 32, 27)
                                                      hit logits | velocities | offsets
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import hvo as H
from .. import sampling
from .checkpoint import load_model, register, save_checkpoint

log = logging.getLogger(__name__)


@dataclass
class VAEConfig:
    # architecture (names as in the original GrooveTransformer code)
    d_model_enc: int = 96
    d_model_dec: int = 96
    embedding_size_src: int = H.GROOVE_DIM
    embedding_size_tgt: int = H.HVO_DIM
    nhead_enc: int = 4
    nhead_dec: int = 4
    dim_feedforward_enc: int = 192
    dim_feedforward_dec: int = 192
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.1
    latent_dim: int = 128
    max_len_enc: int = 32
    max_len_dec: int = 32
    device: str = "cpu"
    o_activation: str = "tanh"  # offsets: "tanh" (scaled to +-0.5) or "sigmoid" (shifted)
    # loss
    hit_loss_weight: float = 1.0
    velocity_loss_weight: float = 5.0
    offset_loss_weight: float = 5.0
    beta: float = 0.05           # KL weight once annealed
    beta_anneal_steps: int = 4000
    # sampling defaults, chosen on the validation split after training
    thresholds: list[float] = field(default_factory=lambda: [0.5] * H.N_VOICES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VAEConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown VAEConfig fields: {sorted(unknown)}")
        return cls(**d)


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    position = torch.arange(length).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe  # (T, C)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, nhead: int, dropout: float):
        super().__init__()
        self.nhead, self.dropout = nhead, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.nhead, C // self.nhead).permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, T, C/h)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm transformer block, bidirectional: every step sees the whole 2-bar window."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, nhead, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, dim_feedforward), nn.ReLU(), nn.Linear(dim_feedforward, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.ff(self.ln2(x)))


def transformer_stack(d_model: int, nhead: int, dim_feedforward: int, num_layers: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(*[Block(d_model, nhead, dim_feedforward, dropout) for _ in range(num_layers)],
                         nn.LayerNorm(d_model))


class GrooveEncoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        self.embed = nn.Linear(c.embedding_size_src, c.d_model_enc)
        self.register_buffer("positions", sinusoidal_positions(c.max_len_enc, c.d_model_enc), persistent=False)
        self.dropout = nn.Dropout(c.dropout)
        self.stack = transformer_stack(c.d_model_enc, c.nhead_enc, c.dim_feedforward_enc, c.num_encoder_layers, c.dropout)
        self.to_latent = nn.Linear(c.max_len_enc * c.d_model_enc, 2 * c.latent_dim)

    def forward(self, groove: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(self.embed(groove) + self.positions)  # (B, T, C)
        x = self.stack(x)                                       # (B, T, C)
        mu, logvar = self.to_latent(x.flatten(1)).chunk(2, dim=-1)  # (B, L) each
        return mu, logvar.clamp(-12.0, 8.0)


class DrumDecoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        self.max_len, self.d_model = c.max_len_dec, c.d_model_dec
        self.from_latent = nn.Linear(c.latent_dim, c.max_len_dec * c.d_model_dec)
        self.register_buffer("positions", sinusoidal_positions(c.max_len_dec, c.d_model_dec), persistent=False)
        self.dropout = nn.Dropout(c.dropout)
        self.stack = transformer_stack(c.d_model_dec, c.nhead_dec, c.dim_feedforward_dec, c.num_decoder_layers, c.dropout)
        self.out = nn.Linear(c.d_model_dec, c.embedding_size_tgt)
        self.o_activation = c.o_activation

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.from_latent(z).view(-1, self.max_len, self.d_model)  # (B, T, C)
        x = self.stack(self.dropout(x + self.positions))               # (B, T, C)
        hit_logits, v, o = self.out(x).split(H.N_VOICES, dim=-1)       # (B, T, 9) each
        velocities = torch.sigmoid(v)
        offsets = 0.5 * torch.tanh(o) if self.o_activation == "tanh" else torch.sigmoid(o) - 0.5
        return hit_logits, velocities, offsets


def sample_latent(mu: torch.Tensor, logvar: torch.Tensor, temperature: float,
                  generator: torch.Generator | None) -> torch.Tensor:
    """Reparameterised z = mu + temperature * sigma * eps; temperature 0 gives mu itself."""
    if temperature == 0:
        return mu
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + temperature * torch.exp(0.5 * logvar) * eps


@register
class MonotonicGrooveVAE(nn.Module):
    config_class = VAEConfig

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = GrooveEncoder(config)
        self.decoder = DrumDecoder(config)
        self.meta: dict[str, Any] = {}

    @property
    def window(self) -> int:
        return self.config.max_len_enc

    # --- inference fast path: a traced + frozen encoder and decoder cut about a third of the
    # Python overhead of a 2-bar generation on a CPU. Built once by `prepare_inference()` (the
    # loaders call it), dropped when the weights or the mode change so it never runs stale
    # weights, and never rebuilt implicitly: every trace keeps memory torch does not give back.
    _traced: tuple | None = None

    def train(self, mode: bool = True):
        if mode:
            self._traced = None
        return super().train(mode)

    def load_state_dict(self, *args, **kwargs):
        self._traced = None
        return super().load_state_dict(*args, **kwargs)

    def prepare_inference(self) -> MonotonicGrooveVAE:
        """Switch to eval mode and build the traced fast path (CPU only; eager elsewhere)."""
        self.eval()
        if self.config.device != "cpu" or self._traced is not None:
            return self
        try:  # torch.jit is deprecated but still the cheapest CPU speed-up with no compile step
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                groove = torch.zeros(1, self.config.max_len_enc, self.config.embedding_size_src)
                z = torch.zeros(1, self.config.latent_dim)
                self._traced = (torch.jit.freeze(torch.jit.trace(self.encoder, groove)),
                                torch.jit.freeze(torch.jit.trace(self.decoder, z)))
        except Exception as exc:  # a torch without jit: eager is correct, only slower
            log.warning("inference tracing unavailable (%s); using eager mode", exc)
        return self

    def _inference_modules(self):
        if self.training or self._traced is None:
            return self.encoder, self.decoder
        return self._traced

    def forward(self, groove: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None):
        mu, logvar = self.encoder(groove)
        hit_logits, velocities, offsets = self.decoder(sample_latent(mu, logvar, temperature, generator))
        return hit_logits, velocities, offsets, mu, logvar

    def loss(self, groove: torch.Tensor, target: torch.Tensor, step: int = 0) -> dict[str, torch.Tensor]:
        """Losses by name for a batch; `target` is the drums HVO (B, T, 27).

        Each term is summed over a window's cells and averaged over the batch, so the KL term
        weighs against the whole window as in the ELBO (per-cell means make the KL win and the
        latent collapse). Velocity and offset errors count on the true hits only: elsewhere they
        are never heard.
        """
        c = self.config
        hit_logits, velocities, offsets, mu, logvar = self(groove)
        hits, true_v, true_o = target.split(H.N_VOICES, dim=-1)
        B = target.shape[0]
        hit_loss = F.binary_cross_entropy_with_logits(hit_logits, hits, reduction="sum") / B
        velocity_loss = ((velocities - true_v) ** 2 * hits).sum() / B
        offset_loss = ((offsets - true_o) ** 2 * hits).sum() / B
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / B
        beta = c.beta * min(1.0, step / max(c.beta_anneal_steps, 1))
        total = (c.hit_loss_weight * hit_loss + c.velocity_loss_weight * velocity_loss
                 + c.offset_loss_weight * offset_loss + beta * kl)
        return {"loss": total, "hits": hit_loss, "velocity": velocity_loss, "offset": offset_loss, "kl": kl}

    @torch.inference_mode()
    def predict_windows(self, grooves: np.ndarray, temperature: float = 1.0, seed: int | None = 0):
        """Windows (M, 32, 3) -> hit probabilities, velocities, offsets, each numpy (M, 32, 9)."""
        generator = None
        if seed is not None:
            generator = torch.Generator(device=self.config.device).manual_seed(int(seed))
        encoder, decoder = self._inference_modules()
        x = torch.from_numpy(np.ascontiguousarray(grooves, dtype=np.float32)).to(self.config.device)
        mu, logvar = encoder(x)
        hit_logits, velocities, offsets = decoder(sample_latent(mu, logvar, temperature, generator))
        return torch.sigmoid(hit_logits).cpu().numpy(), velocities.cpu().numpy(), offsets.cpu().numpy()

    def generate(self, groove: np.ndarray, seed: int | None = 0, temperature: float = 1.0,
                 thresholds: float | list[float] | None = None, max_hits: int | list[int] | None = None,
                 keep_groove_timing: bool = True, rest_in_silent_bars: bool = True) -> np.ndarray:
        """Grooves (N, T, 3), T a multiple of 16 (hit 0/1, velocity 0..1, offset in steps) ->
        drums HVO (N, T, 27) with hits in {0, 1}.

        seed: same seed, same drums (None: fresh randomness). temperature: scale of the latent
        noise (0 = the most likely drums, higher = more varied). thresholds: hit threshold, one or
        per voice (default: chosen on validation). max_hits: at most this many hits per voice in
        each 2 bars, one or per voice. keep_groove_timing: hits on the groove's onsets take its
        offset, and are scaled so the loudest has the groove's velocity. rest_in_silent_bars:
        bars where the groove has no onset get no drums.
        """
        groove = H.validate_groove(groove)
        if not np.isfinite(temperature) or not 0 <= temperature <= 100:
            raise ValueError(f"temperature must be a number from 0 to 100, got {temperature}")
        if seed is not None and not 0 <= int(seed) < 2 ** 63:
            raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed}")
        thresholds = sampling.per_voice(thresholds, self.config.thresholds, "thresholds", 0.0, 1.0)
        caps = None if max_hits is None else sampling.per_voice(max_hits, [0] * H.N_VOICES, "max_hits", 0)
        if self.training:  # dropout off; checked, not set each call (eval() walks every module)
            self.eval()
        probs, velocities, offsets = sampling.stitch_windows(
            groove, lambda w: self.predict_windows(w, temperature, seed), window=self.window)
        return sampling.to_hvo(groove, probs, velocities, offsets, thresholds, caps, keep_groove_timing,
                               rest_in_silent_bars)

    def save(self, path: str, meta: dict[str, Any] | None = None) -> None:
        """Write `path` (.pth: parameters + state dict) and the same name with .json (parameters)."""
        save_checkpoint(path, self, {**self.meta, **(meta or {})})


def load_variational_mgt_model(path: str, device: str = "cpu") -> MonotonicGrooveVAE:
    """Restore a MonotonicGrooveVAE written by `save`; needs no training code."""
    model = load_model(path, device)
    if not isinstance(model, MonotonicGrooveVAE):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a MonotonicGrooveVAE")
    return model


def tiny_config(**overrides: Any) -> VAEConfig:
    """A small random-weight preset for tests and smoke runs."""
    base = dict(d_model_enc=16, d_model_dec=16, nhead_enc=2, nhead_dec=2, dim_feedforward_enc=32,
                dim_feedforward_dec=32, num_encoder_layers=1, num_decoder_layers=1, latent_dim=8, dropout=0.0)
    return VAEConfig(**{**base, **overrides})
