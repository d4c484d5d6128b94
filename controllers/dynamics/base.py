"""What every learned dynamics model shares: the calling convention, input checks, networks.

Every model is a torch ``nn.Module`` called as ``model(t, y) -> dy/dt`` with ``y`` of shape
``(batch, 2 * dof)`` (``[q, p]`` for :class:`~controllers.dynamics.hnn.HNN`, ``[q, qdot]`` for the
others), so it drops into :func:`diffsim.ode.odeint` as a torch field. ``t`` (s) is accepted and
ignored by the autonomous models.

``periodic`` (one bool per degree of freedom) feeds an angle ``q_i`` to the network as
``(cos q_i, sin q_i)``: the learned function is then 2 pi-periodic in that coordinate, as a
pendulum's energy is, without the jump that wrapping the angle would put into the inputs.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from controllers.policies import mlp


def network(in_dim: int, out_dim: int, hidden: int, layers: int, activation: str,
            out_bias: bool = True) -> nn.Sequential:
    """An MLP with ``layers`` hidden layers of width ``hidden``, orthogonal weights and zero biases
    (the HNN paper's initialisation), float64."""
    if not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be an int >= 1, got {layers!r}")
    net = mlp(in_dim, [hidden] * layers, out_dim, activation, layer_norm=False, out_bias=out_bias)
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net.double()


class FieldModel(nn.Module):
    """Base of the learned fields: ``dof`` degrees of freedom, state width ``dim = 2 * dof``."""

    def __init__(self, dof: int, periodic: Sequence[bool] | None = None):
        super().__init__()
        if isinstance(dof, bool) or not isinstance(dof, int) or dof < 1:
            raise ValueError(f"dof must be an int >= 1 (the state y is [q, p] or [q, qdot], width 2 * dof), "
                             f"got {dof!r}")
        self.dof, self.dim = dof, 2 * dof
        periodic = [False] * dof if periodic is None else [bool(x) for x in periodic]
        if len(periodic) != dof:
            raise ValueError(f"periodic must have one entry per degree of freedom ({dof}), got {len(periodic)}")
        self.periodic = tuple(periodic)
        self.register_buffer("_angle", torch.tensor(periodic, dtype=torch.bool), persistent=False)

    @property
    def q_features(self) -> int:
        """Width of the network input that encodes ``q``."""
        return self.dof + sum(self.periodic)

    def encode_q(self, q: torch.Tensor) -> torch.Tensor:
        """``q`` with each periodic coordinate replaced by its cosine and sine."""
        if not any(self.periodic):
            return q
        a = self._angle
        return torch.cat([q[..., ~a], torch.cos(q[..., a]), torch.sin(q[..., a])], -1)

    def encode_q_jacobian(self, q: torch.Tensor) -> torch.Tensor:
        """``d encode_q(q) / dq``, shape ``(batch, q_features, dof)`` for ``q`` of shape ``(batch, dof)``."""
        a = self._angle
        eye = torch.eye(self.dof, dtype=q.dtype, device=q.device).expand(q.shape[0], -1, -1)
        if not any(self.periodic):
            return eye
        angles = eye[:, a]  # rows of the periodic coordinates
        return torch.cat([eye[:, ~a], -torch.sin(q[:, a]).unsqueeze(-1) * angles,
                          torch.cos(q[:, a]).unsqueeze(-1) * angles], 1)

    def check(self, y: torch.Tensor, name: str = "y") -> torch.Tensor:
        """Shape and dtype check (no device sync): ``y`` must be a floating ``(batch, 2 * dof)`` tensor."""
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
        if y.dim() != 2 or y.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (batch, {self.dim}) = (batch, 2 * dof) for dof = {self.dof}, "
                             f"got {tuple(y.shape)}")
        if not y.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {y.dtype}")
        return y

    def split(self, y: torch.Tensor):
        return y[..., :self.dof], y[..., self.dof:]

    def features(self, y: torch.Tensor) -> torch.Tensor:
        """The network input for a state ``y``: ``[encode_q(q), second half of y]``."""
        q, v = self.split(y)
        return torch.cat([self.encode_q(q), v], -1)


def require_autograd() -> None:
    """Fields built from autograd derivatives (HNN, LNN, ControlledHNN) cannot run under
    ``torch.inference_mode()``: say so, and what to use instead."""
    if torch.is_inference_mode_enabled():
        raise RuntimeError("this model's field is made of derivatives taken by autograd, which "
                           "torch.inference_mode() disables: evaluate it under torch.no_grad() instead")


def gradient(fn, x: torch.Tensor) -> torch.Tensor:
    """``d fn(x).sum() / dx``, differentiable again when grad mode is on (training through it), plain
    under ``torch.no_grad()`` (evaluation)."""
    require_autograd()
    create = torch.is_grad_enabled()
    with torch.enable_grad():
        x_ = x if x.requires_grad else x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(x_).sum(), x_, create_graph=create)
    return g
