"""``CausalTransformer``: a decoder-only transformer over the window of past steps.

Each step ``[x_t, u_t]`` becomes a token (a linear map plus a sinusoidal encoding of its lag behind the newest
step); ``layers`` pre-norm blocks of causal self-attention (``nn.MultiheadAttention``, each token sees itself
and the steps before it) and a GELU MLP follow; the last token's output, through a linear head, is the change
``x_{T+1} - x_T``. Predictions are appended to the window and the oldest step dropped (the window keeps ``T``
tokens), so each step attends over the latest ``T`` states. ``attention["self"] (B, horizon, T)``: the newest
token's weights over the window in the last block (averaged over heads), per predicted step.
"""
from __future__ import annotations

import torch
from torch import nn

from controllers.predictors.base import Predictor
from controllers.predictors.memory import lag_encoding


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def newest_weights(self, a):
        """The newest token's attention weights over all tokens (B, T), averaged over heads: the last row of what
        ``nn.MultiheadAttention`` returns with ``need_weights=True`` (before attention dropout), computed from its
        own projections for that one row, so the block itself runs the fused attention (3x faster)."""
        B, T, D = a.shape
        H = self.attn.num_heads
        w, b = self.attn.in_proj_weight, self.attn.in_proj_bias
        q = nn.functional.linear(a[:, -1], w[:D], b[:D]).view(B, H, 1, D // H)
        k = nn.functional.linear(a, w[D:2 * D], b[D:2 * D]).view(B, T, H, D // H).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)).squeeze(2) / (D // H) ** 0.5  # the newest token may see every token
        return scores.softmax(-1).mean(1)

    def forward(self, h, mask, newest_weights: bool, newest_only: bool = False):
        """``h (B, T, dim)`` through the block; also the newest token's weights ``(B, T)`` if asked, else None.
        ``newest_only``: only the newest token's output, ``(B, 1, dim)`` (what the last block's head reads; its
        query sees every token, so no mask, and the cost is linear in T instead of quadratic)."""
        a = self.norm1(h)
        if newest_only:
            out, _ = self.attn(a[:, -1:], a, a, need_weights=False)
            h = h[:, -1:] + out
        else:
            out, _ = self.attn(a, a, a, attn_mask=mask, need_weights=False)
            h = h + out
        return h + self.mlp(self.norm2(h)), (self.newest_weights(a) if newest_weights else None)


class CausalTransformer(Predictor):
    def __init__(self, input_dim: int, exog_dim: int = 0, dim: int = 64, heads: int = 4, layers: int = 2,
                 dropout: float = 0.0):
        super().__init__(input_dim, exog_dim)
        self.dim = dim
        self.tokens = nn.Linear(input_dim + exog_dim, dim)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, input_dim)

    def _predict(self, x, horizon, u):
        T = x.shape[1]
        window = self.inputs_at(x, u, slice(0, T))
        position = lag_encoding(T, self.dim, x.dtype, x.device)  # by lag: the newest token always at lag 0
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=1)  # True: not allowed
        last, out, weights = x[:, -1], [], []
        for k in range(horizon):
            h = self.tokens(window) + position
            for i, block in enumerate(self.blocks):
                last_block = i == len(self.blocks) - 1
                h, w = block(h, mask, newest_weights=last_block, newest_only=last_block)
            last = last + self.head(self.norm(h[:, -1]))
            out.append(last)
            weights.append(w)
            if k + 1 < horizon:
                step = last if u is None else torch.cat([last, u[:, T + k]], -1)
                window = torch.cat([window[:, 1:], step[:, None]], 1)
        return torch.stack(out, 1), {"self": torch.stack(weights, 1)}
