"""A hybrid predictor: a diffsim simulator plus a learned force that depends on the recent history, trained through
the simulator.

    x_{t+1} = dynamics.transition(x_t, u_t + f(x_{t-T+1..t}, u_{t-T+1..t}))

The simulator supplies the known physics; :class:`HistoryForce` supplies what it lacks (e.g. a friction with
memory, a delayed wind) from the last ``T`` states and inputs by attention over them: keys and values are
two-layer MLP embeddings of each step ``[x_i, u_i]`` plus a sinusoidal encoding of its lag, the query is the
newest step's embedding, and the force is a linear map of ``o + q`` (``o`` the attention-weighted values).
:class:`HybridModel` is a :class:`~controllers.predictors.base.Predictor` (same call, ``fit`` and ``predict``),
whose prediction runs the simulator step by step with the force added to the input: the loss of a predicted
trajectory is back-propagated through every simulator step (Warp's adjoints) into the force network.
``attention["memory"] (B, horizon, T)``: the force's weights over the window at each step.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from controllers.predictors.base import Predictor
from controllers.predictors.memory import lag_encoding


class HistoryForce(nn.Module):
    """``(force (B, A), weights (B, T))`` from a scaled window ``(B, T, S + A)`` of states and inputs."""

    def __init__(self, features: int, force_dim: int, embed: int = 32):
        super().__init__()
        self.embed = embed

        def mlp():
            return nn.Sequential(nn.Linear(features, embed), nn.Tanh(), nn.Linear(embed, embed))

        self.key, self.value, self.query = mlp(), mlp(), mlp()
        self.out = nn.Linear(embed, force_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # starts as the bare simulator

    def forward(self, window: torch.Tensor):
        lag = lag_encoding(window.shape[1], self.embed, window.dtype, window.device)
        k, v = self.key(window) + lag, self.value(window) + lag
        q = self.query(window[:, -1])
        p = torch.softmax((k @ q[:, :, None]).squeeze(-1) / math.sqrt(self.embed), dim=-1)
        o = (p[:, :, None] * v).sum(1)
        return self.out(o + q), p


class HybridModel(Predictor):
    """``dynamics`` (a diffsim functional dynamics with ``transition(state, action)``; its state is the predicted
    state, its action the input) plus a :class:`HistoryForce` over the last ``window`` steps. float64 (the
    simulators' precision)."""

    def __init__(self, dynamics, window: int = 10, embed: int = 32):
        state_dim, action_dim = int(dynamics.state_dim), int(dynamics.action_dim)
        super().__init__(state_dim, action_dim)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int >= 1, got {window!r}")
        self.__dict__["dynamics"] = dynamics  # not a submodule: no parameters of its own to train here
        self.window = window
        self.force = HistoryForce(state_dim + action_dim, action_dim, embed)
        self.double()

    def forward(self, history: torch.Tensor, horizon: int, exog: torch.Tensor | None = None):
        self.check(history, horizon, exog)
        T = history.shape[1]
        if T < self.window:
            raise ValueError(f"history must hold at least window = {self.window} steps, got {T}")
        x = history.to(torch.float64)
        u = exog.to(torch.float64)
        states = list(x[:, T - self.window:].unbind(1))
        s, out, weights = x[:, -1], [], []
        for k in range(horizon):
            lo = T - self.window + k  # the window's first step, in exog's indexing
            recent = torch.stack(states[-self.window:], 1)
            feats = torch.cat([(recent - self.state_mean) / self.state_std,
                               (u[:, lo:lo + self.window] - self.exog_mean) / self.exog_std], -1)
            force, p = self.force(feats)
            s, _ = self.dynamics.transition(s, u[:, T - 1 + k] + force)
            states.append(s)
            out.append(s)
            weights.append(p)
        return torch.stack(out, 1).to(history.dtype), {"memory": torch.stack(weights, 1)}
