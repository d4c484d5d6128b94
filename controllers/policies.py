"""Actors and critics for first-order policy optimisation (float64 torch modules).

:class:`Actor` maps observations to actions in the env's box ``[low, high]``: an MLP on
normalised observations gives the mean ``mu`` and log standard deviation of a Gaussian over
pre-squash actions; the action is ``low + (high - low) (tanh(z) + 1) / 2``. Its ``forward`` is
the deterministic policy (``z = mu``, what evaluation and deployment use);
:meth:`Actor.sample` draws ``z = mu + sigma * eps`` by reparameterisation, so the action keeps
its gradient w.r.t. the parameters *and* the observation (hence, through the simulator, the
earlier actions), and returns the log-density of the squashed action for entropy terms.

:class:`Critic` is an ensemble of value MLPs ``V(obs)`` on the same normalised observations.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class Gaussian(nn.Module):
    """The radial-basis activation ``exp(-x^2)`` (the SciML UDE Lotka-Volterra example's); torch has none."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-x * x)


ACTIVATIONS = {"elu": nn.ELU, "gaussian": Gaussian, "relu": nn.ReLU, "silu": nn.SiLU, "softplus": nn.Softplus,
               "tanh": nn.Tanh}


class RunningNorm(nn.Module):
    """Running mean/variance of observations (Welford over batches); ``update`` only while training."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).to(torch.float64)
        n = x.shape[0]
        mean, var = x.mean(0), x.var(0, unbiased=False)
        delta = mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + var * n + delta ** 2 * self.count * n / total) / total
        self.count = total

    def forward(self, x):
        """``(x - mean) / sqrt(var + 1e-8)``, as one fused multiply-add (its coefficients recomputed only when
        the statistics change)."""
        key = (id(self.mean), self.mean._version, id(self.var), self.var._version)
        if getattr(self, "_affine_key", None) != key:
            scale = torch.rsqrt(self.var + 1e-8)
            self._affine, self._affine_key = (scale, -self.mean * scale), key
        scale, shift = self._affine
        return torch.addcmul(shift, x, scale).to(x.dtype)


def squash(z: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``low + (high - low) (tanh(z) + 1) / 2``: an unbounded ``z`` onto the box ``[low, high]``."""
    return low + (high - low) * 0.5 * (torch.tanh(z) + 1.0)


def mlp(in_dim: int, hidden, out_dim: int, activation: str = "elu", layer_norm: bool = True,
        out_bias: bool = True) -> nn.Sequential:
    """``Linear -> [LayerNorm] -> activation`` blocks, then a plain ``Linear`` to ``out_dim``
    (without bias if ``out_bias=False``)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h)] + ([nn.LayerNorm(h)] if layer_norm else []) + [ACTIVATIONS[activation]()]
        d = h
    layers.append(nn.Linear(d, out_dim, bias=out_bias))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Squashed-Gaussian policy over the box ``[low, high]`` (shapes ``(act_dim,)``).

    ``state_std=False``: one learned log-std per action dimension (SHAC's actor), initialised at
    ``log_std_init``; ``True``: a second head gives it per state (SAPO's actor), clamped to
    ``[-5, 2]``. ``mean_init_scale`` multiplies the initial weights and bias of the layer that outputs the
    mean (PyTorch's default initialisation at 1): near 0 the policy starts at the box's centre.
    """

    LOG_STD_RANGE = (-5.0, 2.0)

    def __init__(self, obs_dim: int, act_dim: int, low, high, hidden=(64, 64), activation: str = "elu",
                 layer_norm: bool = True, state_std: bool = False, log_std_init: float = -1.0,
                 mean_init_scale: float = 1.0):
        super().__init__()
        if not 0 <= mean_init_scale < float("inf"):
            raise ValueError(f"mean_init_scale must be a finite factor >= 0, got {mean_init_scale!r}")
        self.norm = RunningNorm(obs_dim)
        self.act_dim, self.state_std = act_dim, state_std
        self.net = mlp(obs_dim, hidden, 2 * act_dim if state_std else act_dim, activation, layer_norm)
        with torch.no_grad():
            self.net[-1].weight[:act_dim] *= mean_init_scale
            self.net[-1].bias[:act_dim] *= mean_init_scale
        if state_std:
            with torch.no_grad():
                self.net[-1].bias[act_dim:] = log_std_init
            self.log_std = None
        else:
            self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std_init)))
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float64).reshape(act_dim))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float64).reshape(act_dim))
        self.double()

    def distribution(self, obs: torch.Tensor):
        """``(mu, log_std)`` of the pre-squash Gaussian, each ``(B, act_dim)``."""
        out = self.net(self.norm(obs))
        if self.state_std:
            mu, log_std = out[..., :self.act_dim], out[..., self.act_dim:].clamp(*self.LOG_STD_RANGE)
        else:
            mu, log_std = out, self.log_std.expand_as(out)
        return mu, log_std

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action ``(B, act_dim)`` (mean of the pre-squash Gaussian)."""
        return squash(self.distribution(obs)[0], self.low, self.high)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None):
        """``(action (B, act_dim), log_prob (B,))`` of a reparameterised draw; ``log_prob`` is the
        log-density of the squashed action ``tanh(z)`` in ``[-1, 1]`` (the box's own scale left out, so
        that entropy targets mean the same for every env)."""
        return self.draw(*self.distribution(obs), generator)

    def draw(self, mu: torch.Tensor, log_std: torch.Tensor, generator: torch.Generator | None = None,
             log_prob: bool = True, eps: torch.Tensor | None = None):
        """:meth:`sample` from a given ``(mu, log_std)`` of :meth:`distribution`, with standard normal noise ``eps``
        (drawn from ``generator`` when not given); ``log_prob=False``: ``None`` in place of the log-density,
        which is then not computed."""
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        z = torch.addcmul(mu, log_std.exp(), eps)
        if not log_prob:
            return squash(z, self.low, self.high), None
        gauss = -0.5 * eps ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        # d tanh(z) / d z = 1 - tanh(z)^2; log(1 - tanh^2) = 2 (log 2 - z - softplus(-2 z))
        log_det = 2.0 * (math.log(2.0) - z - nn.functional.softplus(-2.0 * z))
        return squash(z, self.low, self.high), (gauss - log_det).sum(-1)


class Critic(nn.Module):
    """``n`` value networks ``V_i(normalised obs)``; ``forward`` returns ``(n, B)`` in the input's dtype.

    The networks compute in ``dtype`` (float32 fits a value estimate and trains ~1.5x faster on a CPU;
    float64 where gradients are checked against finite differences)."""

    def __init__(self, obs_dim: int, hidden=(64, 64), n: int = 1, activation: str = "elu", layer_norm: bool = True,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.nets = nn.ModuleList(mlp(obs_dim, hidden, 1, activation, layer_norm) for _ in range(n))
        self.dtype = dtype
        self.to(dtype)

    def forward(self, obs_normalised: torch.Tensor) -> torch.Tensor:
        x = obs_normalised.to(self.dtype)
        return torch.stack([net(x).squeeze(-1) for net in self.nets]).to(obs_normalised.dtype)
