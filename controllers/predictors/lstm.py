"""``LSTMSeq2Seq``: the encoder-decoder baseline (no attention).

An ``nn.LSTM`` encoder reads the history ``[x_t, u_t]``, t < T; its final state starts an ``nn.LSTM`` decoder that
takes one step at a time: from ``[x_k, u_k]`` (the last observed state first, then its own predictions) it
outputs the change ``x_{k+1} - x_k`` through a linear head. The whole history reaches the decoder through one
fixed-size state, the bottleneck attention is meant to remove.
"""
from __future__ import annotations

import torch
from torch import nn

from controllers.predictors.base import Predictor


class LSTMSeq2Seq(Predictor):
    def __init__(self, input_dim: int, exog_dim: int = 0, hidden: int = 64, layers: int = 1):
        super().__init__(input_dim, exog_dim)
        f = input_dim + exog_dim
        self.encoder = nn.LSTM(f, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(f, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, input_dim)

    def _predict(self, x, horizon, u):
        T = x.shape[1]
        _, state = self.encoder(self.inputs_at(x, u, slice(0, T)))
        last, out = x[:, -1], []
        for k in range(horizon):
            step_u = None if u is None else u[:, T - 1 + k]
            feat = last if step_u is None else torch.cat([last, step_u], -1)
            h, state = self.decoder(feat[:, None], state)
            last = last + self.head(h[:, 0])
            out.append(last)
        return torch.stack(out, 1), {}
