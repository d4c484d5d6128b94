"""``WarpVectorField``: a vector field written as a Warp function, with parameters.

The function has the signature ``f(t, y, p) -> dy/dt`` and is written generically
(``typing.Any`` annotations) so that the same source compiles for float32 and
float64::

    @wp.func
    def van_der_pol(t: Any, y: Any, p: Any):
        mu = p[0]
        return type(y)(y[1], mu * (type(mu)(1.0) - y[0] * y[0]) * y[1] - y[0])

    field = WarpVectorField(van_der_pol, dim=2, params=torch.tensor([1.0]))

``t`` is a scalar, ``y`` a length-``dim`` Warp vector, ``p`` a length-``P`` Warp
vector. ``params`` is a torch tensor of shape ``(P,)`` (shared by every
trajectory) or ``(*batch, P)`` (one row per trajectory, matching ``y0``'s batch
shape); it may require grad.
"""
from __future__ import annotations

from typing import Sequence

import torch
import warp as wp


class WarpVectorField:
    def __init__(self, func: wp.Function, dim: int, params: torch.Tensor | Sequence[float] = (),
                 name: str | None = None):
        if not isinstance(func, wp.Function):
            raise TypeError(f"func must be a @wp.func vector field, got {type(func).__name__}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if not isinstance(params, torch.Tensor):
            params = torch.tensor(list(params), dtype=torch.float64)
        if params.dim() == 0:
            raise ValueError("params must have shape (P,) or (*batch, P), got a scalar")
        self.func = func
        self.dim = dim
        self.params = params
        self.name = name or func.key

    @property
    def num_params(self) -> int:
        return int(self.params.shape[-1])

    def with_params(self, params: torch.Tensor) -> "WarpVectorField":
        """The same field with other parameters (e.g. a batch of them)."""
        return WarpVectorField(self.func, self.dim, params, self.name)

    def evaluate(self, y: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """``f(t, y, p)`` at every row of ``y`` ``(*batch, dim)`` in one launch (no gradient): e.g. exact
        derivative targets for learning a field from its trajectories."""
        from diffsim.ode.warp_solver import evaluate_field

        return evaluate_field(self, y, t)

    def __repr__(self) -> str:
        return f"WarpVectorField({self.name}, dim={self.dim}, params shape={tuple(self.params.shape)})"

