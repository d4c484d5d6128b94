"""Policies: MLPs (deterministic or Gaussian) with observation normalisation and action squashing."""
from __future__ import annotations

import torch
from torch import nn


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
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).to(x.dtype)


class MLPPolicy(nn.Module):
    """obs -> action in ``[low, high]`` via tanh squashing; ``stochastic`` adds a learned Gaussian."""

    def __init__(self, obs_dim: int, act_dim: int, low, high, hidden=(64, 64), stochastic: bool = False):
        super().__init__()
        self.norm = RunningNorm(obs_dim)
        layers, d = [], obs_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.Tanh()]
            d = h
        layers.append(nn.Linear(d, act_dim))
        self.net = nn.Sequential(*layers)
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float64))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float64))
        self.stochastic = stochastic
        self.log_std = nn.Parameter(torch.full((act_dim,), -1.0)) if stochastic else None
        self.double()

    def forward(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        pre = self.net(self.norm(obs))
        if self.stochastic:
            noise = torch.randn(pre.shape, generator=generator, dtype=pre.dtype, device=pre.device)
            pre = pre + self.log_std.exp() * noise  # reparameterised: gradients flow through the sample
        return self.low + (self.high - self.low) * 0.5 * (torch.tanh(pre) + 1.0)
