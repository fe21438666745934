"""MonotonicGrooveVAE: a transformer-encoder VAE from a 2-bar groove to 9-voice drums.

After Haki et al., "Real-Time Drum Accompaniment Using Transformer Architecture" (AIMC 2022):

    groove (B, 32, 3) -> linear + positions -> transformer encoder -> flatten -> mu, logvar (B, L)
    z = mu + temperature * sigma * eps
    z -> linear -> (B, 32, d_dec) + positions -> transformer stack -> linear -> (B, 32, 27)
                                                      hit logits | velocities | offsets
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import controls as C
from .. import hvo as H
from .. import sampling
from ..data import augment_drums, augmented_grooves
from .base import DrumModel, ModelConfig, Prediction, elbo_loss, sample_latent


@dataclass
class VAEConfig(ModelConfig):
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
    o_activation: str = "tanh"  # offsets: "tanh" (scaled to +-0.5) or "sigmoid" (shifted)
    # loss
    hit_loss_weight: float = 1.0
    velocity_loss_weight: float = 5.0
    offset_loss_weight: float = 5.0
    beta: float = 0.05           # KL weight once annealed
    beta_anneal_steps: int = 4000


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


class MonotonicGrooveVAE(DrumModel):
    config_class = VAEConfig
    stitch_rule = "crossfade"  # how overlapping 2-bar windows are joined (sampling.STITCH_RULES)

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.encoder = GrooveEncoder(config)
        self.decoder = DrumDecoder(config)

    @property
    def window(self) -> int:
        return self.config.max_len_enc

    def forward(self, groove: torch.Tensor, temperature: float = 1.0, eps: torch.Tensor | None = None):
        mu, logvar = self.encoder(groove)
        hit_logits, velocities, offsets = self.decoder(sample_latent(mu, logvar, temperature, eps))
        return hit_logits, velocities, offsets, mu, logvar

    def make_batch(self, windows, index: np.ndarray, rng: np.random.Generator | None, augment) -> dict[str, torch.Tensor]:
        """Drums of the chosen windows and their grooves: augmented for training (rng and augment
        given), the full flattened kit otherwise (the evaluation's case)."""
        drums = windows.hvo[index]
        if rng is not None and augment is not None:
            drums = augment_drums(drums, augment, rng)
            groove = augmented_grooves(drums, augment, rng)
        else:
            groove = H.hvo_to_groove(drums)
        return {"groove": torch.from_numpy(groove), "drums": torch.from_numpy(np.ascontiguousarray(drums))}

    def loss(self, batch: dict[str, torch.Tensor], step: int = 0) -> dict[str, torch.Tensor]:
        """Losses by name for a batch of grooves (B, T, 3) and drums HVO (B, T, 27) (`elbo_loss`)."""
        return elbo_loss(self.config, *self(batch["groove"]), batch["drums"], step)

    @torch.inference_mode()
    def predict_windows(self, grooves: np.ndarray, noise: np.ndarray | None, temperature: float = 1.0,
                        engine: tuple | None = None):
        """Windows (M, 32, 3) and latent noise (M, L) -> hit probabilities, velocities, offsets,
        each numpy (M, 32, 9). `engine`: the loader's traced (encoder, decoder), called in their place."""
        encoder, decoder = engine if engine is not None and not self.training else (self.encoder, self.decoder)
        x = torch.from_numpy(np.ascontiguousarray(grooves, dtype=np.float32)).to(self.device)
        mu, logvar = encoder(x)
        eps = None if noise is None else torch.from_numpy(noise).to(self.device)
        hit_logits, velocities, offsets = decoder(sample_latent(mu, logvar, temperature, eps))
        return torch.sigmoid(hit_logits).cpu().numpy(), velocities.cpu().numpy(), offsets.cpu().numpy()

    def predict(self, groove: np.ndarray, controls: C.Controls, seeds: np.ndarray, temperature: float,
                thresholds: np.ndarray, engine: Any = None, rest: np.ndarray | None = None,
                steer: bool = False, kept: sampling.Kept | None = None, bars=None) -> Prediction:
        """2-bar windows on every bar line, each with the latent noise of (its groove's seed, its
        start), joined by `sampling.stitch_windows`. Controls act at sampling time only (the
        shared `to_hvo` steers hits and velocities to them); style is ignored: this model was not
        trained with styles. `rest` and `kept` need nothing here: the model does not hear its own
        drums (kept cells are put back by `to_hvo`); `bars` are 4/4 (`generate` refuses others for it)."""
        def window_fn(windows: np.ndarray, items: np.ndarray, starts: np.ndarray):
            noise = None if temperature == 0 else sampling.window_noise(seeds[items], starts, (self.config.latent_dim,))
            return self.predict_windows(windows, noise, temperature, engine)

        return Prediction(*sampling.stitch_windows(groove, window_fn, window=self.window, rule=self.stitch_rule))


def tiny_config(**overrides: Any) -> VAEConfig:
    """A small random-weight preset for tests and smoke runs."""
    base = dict(d_model_enc=16, d_model_dec=16, nhead_enc=2, nhead_dec=2, dim_feedforward_enc=32,
                dim_feedforward_dec=32, num_encoder_layers=1, num_decoder_layers=1, latent_dim=8, dropout=0.0)
    return VAEConfig(**{**base, **overrides})
