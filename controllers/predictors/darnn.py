"""``DARNN``: the dual-stage attention RNN (Qin et al., IJCAI 2017), predicting several steps.

The history's ``n = D + E`` series (every state component and every input) are the driving series.

* **Input attention (encoder).** An ``nn.LSTMCell`` of size ``hidden`` reads the window step by step; before
  step ``t`` each series ``k`` is scored from the previous hidden and cell states and the series' *whole
  window* ``x^k (T,)``: ``e_t^k = v_e^T tanh(W_e [h_{t-1}; s_{t-1}] + U_e x^k)``; ``alpha_t = softmax_k(e_t)``
  reweights the step's inputs, ``alpha_t^k x_t^k``.
* **Temporal attention (decoder).** An ``nn.LSTMCell`` of size ``hidden`` steps through the horizon; at each
  step the encoder states ``h_i`` are scored from the previous decoder states ``[d; s']``:
  ``l_i = v_d^T tanh(W_d [d; s'] + U_d h_i)``, ``beta = softmax_i(l)``, context ``c = sum_i beta_i h_i``. Its
  input is a linear map of ``[x_k, u_k, c]`` (the paper's ``W~ [y_{t-1}; c_{t-1}]`` with the state and input
  vectors in place of the scalar target); the change ``x_{k+1} - x_k`` is ``V (W [d; c] + b_w) + b_v``.

The paper predicts one scalar target one step ahead; here the target is the whole state and the decoder
feeds its predictions back for ``horizon`` steps. The input attention scores whole windows, so the model is
built for one history length, ``window`` (the paper's best, 10, by default).
``attention["input"] (B, T, n)``: ``alpha`` per encoder step over the series (state components first, then
inputs); ``attention["temporal"] (B, horizon, T)``.
"""
from __future__ import annotations

import torch
from torch import nn

from controllers.predictors.base import Predictor


class DARNN(Predictor):
    def __init__(self, input_dim: int, exog_dim: int = 0, hidden: int = 64, window: int = 10):
        super().__init__(input_dim, exog_dim)
        n = input_dim + exog_dim
        self.hidden = hidden
        self.encoder = nn.LSTMCell(n, hidden)
        self.w_e = nn.Linear(2 * hidden, hidden)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1 (the history length T), got {window!r}")
        self.u_e = nn.Linear(window, hidden, bias=False)
        self.v_e = nn.Linear(hidden, 1, bias=False)
        self.decoder = nn.LSTMCell(hidden, hidden)
        self.w_d = nn.Linear(2 * hidden, hidden)
        self.u_d = nn.Linear(hidden, hidden, bias=False)
        self.v_d = nn.Linear(hidden, 1, bias=False)
        self.decoder_in = nn.Linear(n + hidden, hidden)
        self.w_y = nn.Linear(2 * hidden, hidden)
        self.v_y = nn.Linear(hidden, input_dim)
        self.window = window

    def _predict(self, x, horizon, u):
        B, T, _ = x.shape
        if T != self.window:
            raise ValueError(f"history must have T = window = {self.window} steps (the input attention scores whole "
                             f"windows), got {T}")
        series = self.inputs_at(x, u, slice(0, T))  # (B, T, n)
        by_series = self.u_e(series.transpose(1, 2))  # (B, n, hidden): U_e x^k, once per window
        h = s = series.new_zeros(B, self.hidden)
        H, alphas = [], []
        for t in range(T):
            e = self.v_e(torch.tanh(self.w_e(torch.cat([h, s], -1))[:, None] + by_series)).squeeze(-1)  # (B, n)
            alpha = torch.softmax(e, dim=-1)
            h, s = self.encoder(alpha * series[:, t], (h, s))
            H.append(h)
            alphas.append(alpha)
        H = torch.stack(H, 1)  # (B, T, hidden)
        keys = self.u_d(H)
        d = s2 = x.new_zeros(B, self.hidden)
        last, out, betas = x[:, -1], [], []
        context = x.new_zeros(B, self.hidden)
        for k in range(horizon):  # beta_k from the previous decoder state, the input with the previous context
            beta = torch.softmax(self.v_d(torch.tanh(self.w_d(torch.cat([d, s2], -1))[:, None] + keys)).squeeze(-1), -1)
            feat = [last, context] if u is None else [last, u[:, T - 1 + k], context]
            d, s2 = self.decoder(self.decoder_in(torch.cat(feat, -1)), (d, s2))
            context = (beta[:, :, None] * H).sum(1)
            last = last + self.v_y(self.w_y(torch.cat([d, context], -1)))
            out.append(last)
            betas.append(beta)
        return torch.stack(out, 1), {"input": torch.stack(alphas, 1), "temporal": torch.stack(betas, 1)}
