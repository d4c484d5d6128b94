"""``AttentionSeq2Seq``: an encoder-decoder LSTM whose decoder attends over every encoder state.

An ``nn.LSTM`` encoder turns the history ``[x_t, u_t]`` into states ``h_1..h_T``. At each decoder step the
decoder LSTM (input ``[x_k, u_k, c_{k-1}]``, Luong's input feeding) gives ``d_k``; scores ``e_ki`` between
``d_k`` and each ``h_i`` give the weights ``beta_k = softmax_i(e_k)`` and the context ``c_k = sum_i beta_ki h_i``;
the change ``x_{k+1} - x_k`` is a linear map of ``[d_k, c_k]``. The score (``score=``):

* ``"additive"`` (Bahdanau): ``v^T tanh(W_h h_i + W_d d_k)``;
* ``"dot"`` (Luong): ``h_i . d_k / sqrt(hidden)``;
* ``"cosine"``: ``s cos(h_i, d_k)`` with a learned sharpness ``s`` (initially 5).

``attention["temporal"] (B, horizon, T)``: ``beta`` of each decoder step over the history.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from controllers.predictors.base import Predictor

SCORES = ("additive", "cosine", "dot")


class AttentionSeq2Seq(Predictor):
    def __init__(self, input_dim: int, exog_dim: int = 0, hidden: int = 64, score: str = "additive"):
        super().__init__(input_dim, exog_dim)
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        f = input_dim + exog_dim
        self.score, self.hidden = score, hidden
        self.encoder = nn.LSTM(f, hidden, batch_first=True)
        self.decoder = nn.LSTMCell(f + hidden, hidden)
        self.head = nn.Linear(2 * hidden, input_dim)
        if score == "additive":
            self.w_h = nn.Linear(hidden, hidden, bias=False)
            self.w_d = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)
        elif score == "cosine":
            self.sharpness = nn.Parameter(torch.tensor(5.0))

    def _scores(self, H, keys, d):
        """``(B, T)`` scores of decoder state ``d (B, h)`` against encoder states ``H (B, T, h)``."""
        if self.score == "additive":
            return self.v(torch.tanh(keys + self.w_d(d)[:, None])).squeeze(-1)
        if self.score == "dot":
            return (H @ d[:, :, None]).squeeze(-1) / math.sqrt(self.hidden)
        return self.sharpness * F.cosine_similarity(H, d[:, None], dim=-1)

    def _predict(self, x, horizon, u):
        T = x.shape[1]
        H, (h, c) = self.encoder(self.inputs_at(x, u, slice(0, T)))
        keys = self.w_h(H) if self.score == "additive" else None
        state = (h[-1], c[-1])
        context = torch.zeros_like(state[0])
        last, out, weights = x[:, -1], [], []
        for k in range(horizon):
            feat = [last, context] if u is None else [last, u[:, T - 1 + k], context]
            state = self.decoder(torch.cat(feat, -1), state)
            beta = torch.softmax(self._scores(H, keys, state[0]), dim=-1)
            context = (beta[:, :, None] * H).sum(1)
            last = last + self.head(torch.cat([state[0], context], -1))
            out.append(last)
            weights.append(beta)
        return torch.stack(out, 1), {"temporal": torch.stack(weights, 1)}
