"""The transformer layers of the controllable model, apart from how it is assembled.

Pre-RMSNorm blocks of rotary self-attention (bidirectional for the groove, causal for the drums) and
a SwiGLU feed-forward. `c` is any config with d_model, n_heads, ffn_hidden and dropout
(`controlled.ControlledConfig`). Attention keeps keys and values in a growing cache for eager
sampling, or writes them into fixed-size caches in place (the traced step of `engines`).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary_table(length: int, head_dim: int) -> torch.Tensor:
    """(T, D/2, 2): cos and sin of the rotation of each channel pair at each position (real, so that
    `module.to(dtype)` keeps it whole; a complex buffer would lose its sines)."""
    inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(length).float(), inv)
    return torch.stack([angles.cos(), angles.sin()], dim=-1)


def apply_rotary(x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels (0, 1), (2, 3), ... of x (B, h, T, D) by position (rot: (T, D/2, 2)):
    attention then sees relative offsets. As one complex multiply: a few ops, not a dozen."""
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * torch.view_as_complex(rot.float())).flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, c: Any, causal: bool):
        super().__init__()
        self.n_heads, self.causal, self.dropout = c.n_heads, causal, c.dropout
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model, bias=False)
        self.proj = nn.Linear(c.d_model, c.d_model, bias=False)

    def forward(self, x: torch.Tensor, rotary: torch.Tensor, start: int = 0, cache: list | tuple | None = None
                ) -> torch.Tensor:
        """x (B, T, C) at positions start..start+T-1; with `cache` ([keys, values] of earlier
        positions), new keys and values are appended to it and attention covers all of them. A
        tuple (keys, values, position, mask) is a fixed-size cache (B, h, S, D) instead: the new keys
        and values are written in place at `position` (1,) and attention covers the `mask`ed ones
        (one shape at every position: the loader traces such a step, `engines.DecodeStep`)."""
        B, T, Cd = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, Cd // self.n_heads).permute(2, 0, 3, 1, 4).unbind(0)
        rot = rotary[start:start + T]
        q, k = apply_rotary(q, rot), apply_rotary(k, rot)  # (B, h, T, D)
        mask = None
        if isinstance(cache, tuple):
            keys, values, position, mask = cache
            k, v = keys.index_copy_(2, position, k), values.index_copy_(2, position, v)
        elif cache is not None:
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[0], cache[1] = k, v
        if self.causal and T > 1:  # query i (at start + i) sees keys up to start + i
            mask = torch.ones(T, k.shape[2], dtype=torch.bool, device=x.device).tril(diagonal=k.shape[2] - T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, Cd))


class SwiGLU(nn.Module):
    def __init__(self, c: Any):
        super().__init__()
        self.gate_up = nn.Linear(c.d_model, 2 * c.ffn_hidden, bias=False)
        self.down = nn.Linear(c.ffn_hidden, c.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, c: Any, causal: bool):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(c.d_model), RMSNorm(c.d_model)
        self.attn, self.ffn = Attention(c, causal), SwiGLU(c)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, rotary, start=0, cache=None):
        if not self.training:  # sampling: one call fewer per sub-block and token (dropout is off anyway)
            x = x + self.attn(self.norm1(x), rotary, start, cache)
            return x + self.ffn(self.norm2(x))
        x = x + self.drop(self.attn(self.norm1(x), rotary, start, cache))
        return x + self.drop(self.ffn(self.norm2(x)))
