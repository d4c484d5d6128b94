"""``MemoryNetwork``: an end-to-end memory network over the past states (Sukhbaatar et al., 2015, as a predictor).

Every step ``i`` of the window (``f_i = [x_i, u_i]``, plus a sinusoidal encoding of its lag behind the newest
step) is written to memory twice: a memory embedding ``m_i = A(f_i)`` to match against and an output
embedding ``c_i = C(f_i)`` to read. The query is the newest step, ``q = B(f_T)``. Then

    p_i = softmax_i(q . m_i),   o = sum_i p_i c_i,   x_{T+1} - x_T = W1 (o + q) + W2 x_T

(with ``hops > 1`` the query is refined, ``q <- q + o``, and matched again before the output). Each prediction
is appended to the window and the oldest step dropped, so the memory holds the last ``T`` steps throughout.
``A``, ``B``, ``C`` are two-layer MLPs. ``attention["memory"] (B, horizon, T)``: ``p`` of the last hop per step
(oldest step first).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from controllers.predictors.base import Predictor


def lag_encoding(T: int, dim: int, dtype, device) -> torch.Tensor:
    """``(T, dim)`` sinusoidal encoding of lags ``T-1, ..., 0`` (the oldest step first)."""
    lag = torch.arange(T - 1, -1, -1, dtype=dtype, device=device)[:, None]
    freq = torch.exp(-math.log(1000.0) * torch.arange(0, dim, 2, dtype=dtype, device=device) / dim)
    enc = torch.zeros(T, dim, dtype=dtype, device=device)
    enc[:, 0::2] = torch.sin(lag * freq)
    enc[:, 1::2] = torch.cos(lag * freq)[:, : dim // 2]
    return enc


class MemoryNetwork(Predictor):
    def __init__(self, input_dim: int, exog_dim: int = 0, embed: int = 64, hops: int = 1):
        super().__init__(input_dim, exog_dim)
        if isinstance(hops, bool) or not isinstance(hops, int) or hops < 1:
            raise ValueError(f"hops must be an int >= 1, got {hops!r}")
        f = input_dim + exog_dim

        def embedding():
            return nn.Sequential(nn.Linear(f, embed), nn.Tanh(), nn.Linear(embed, embed))

        self.embed, self.hops = embed, hops
        self.memory_embedding, self.query_embedding, self.output_embedding = embedding(), embedding(), embedding()
        self.w1 = nn.Linear(embed, input_dim)
        self.w2 = nn.Linear(input_dim, input_dim, bias=False)
        nn.init.zeros_(self.w2.weight)

    def _predict(self, x, horizon, u):
        T = x.shape[1]
        window = self.inputs_at(x, u, slice(0, T))
        lag = lag_encoding(T, self.embed, x.dtype, x.device)
        last, out, weights = x[:, -1], [], []
        for k in range(horizon):
            m = self.memory_embedding(window) + lag
            c = self.output_embedding(window) + lag
            q = self.query_embedding(window[:, -1])
            for hop in range(self.hops):
                p = torch.softmax((m @ q[:, :, None]).squeeze(-1), dim=-1)
                o = (p[:, :, None] * c).sum(1)
                if hop + 1 < self.hops:
                    q = q + o
            last = last + self.w1(o + q) + self.w2(last)
            out.append(last)
            weights.append(p)
            if k + 1 < horizon:
                step = last if u is None else torch.cat([last, u[:, T + k]], -1)
                window = torch.cat([window[:, 1:], step[:, None]], 1)
        return torch.stack(out, 1), {"memory": torch.stack(weights, 1)}
