"""``ControlledHNN``: a port-Hamiltonian network for actuated systems (Symplectic ODE-Net style).

    dq/dt = dH/dp,    dp/dt = -dH/dq - D(q) dH/dp + G(q) u,

with a learned Hamiltonian ``H(q, p)``, a learned input matrix ``G(q)`` (``dof x control_dim``) and,
if ``dissipation=True``, a learned diagonal damping ``D(q) >= 0`` (softplus). Without input and
damping ``H`` is conserved; with damping it can only decrease: ``dH/dt = -(dH/dp)^T D (dH/dp) <= 0``.
"""
from __future__ import annotations

import torch
from torch import nn

from controllers.dynamics.base import FieldModel, gradient, network


class ControlledHNN(FieldModel):
    """``model(t, y, u)`` with ``y = [q, p]`` ``(batch, 2 * dof)`` and ``u`` ``(batch, control_dim)``
    (zeros when omitted); ``model.with_control(u)`` is the field ``f(t, y)`` under a held input."""

    def __init__(self, dof: int = 1, control_dim: int = 1, hidden: int = 64, layers: int = 2,
                 activation: str = "tanh", dissipation: bool = True, periodic=None):
        super().__init__(dof, periodic)
        if isinstance(control_dim, bool) or not isinstance(control_dim, int) or control_dim < 1:
            raise ValueError(f"control_dim must be an int >= 1, got {control_dim!r}")
        self.control_dim = control_dim
        self.h_net = network(self.q_features + dof, 1, hidden, layers, activation, out_bias=False)
        self.g_net = network(self.q_features, dof * control_dim, hidden, layers, activation)
        self.d_net = network(self.q_features, dof, hidden, layers, activation) if dissipation else None
        if self.d_net is not None:
            nn.init.constant_(self.d_net[-1].bias, -3.0)  # start nearly undamped

    def hamiltonian(self, y: torch.Tensor) -> torch.Tensor:
        """``H(q, p)``, shape ``(batch,)``."""
        return self.h_net(self.features(self.check(y))).squeeze(-1)

    def input_matrix(self, q: torch.Tensor) -> torch.Tensor:
        """``G(q)``, shape ``(batch, dof, control_dim)``."""
        return self.g_net(self.encode_q(q)).reshape(*q.shape[:-1], self.dof, self.control_dim)

    def damping(self, q: torch.Tensor) -> torch.Tensor:
        """Diagonal of ``D(q) >= 0``, shape ``(batch, dof)`` (zeros without dissipation)."""
        if self.d_net is None:
            return torch.zeros_like(q)
        return nn.functional.softplus(self.d_net(self.encode_q(q)))

    def forward(self, t, y, u=None):
        q, _ = self.split(self.check(y))
        dH_dq, dH_dp = self.split(gradient(self.hamiltonian, y))
        dp = -dH_dq - self.damping(q) * dH_dp
        if u is not None:
            if u.shape != (*y.shape[:-1], self.control_dim):
                raise ValueError(f"u must have shape {(*y.shape[:-1], self.control_dim)}, got {tuple(u.shape)}")
            dp = dp + (self.input_matrix(q) @ u.unsqueeze(-1)).squeeze(-1)
        return torch.cat([dH_dp, dp], -1)

    def with_control(self, u: torch.Tensor):
        """The field ``f(t, y) = model(t, y, u)`` with ``u`` held (zero-order hold), for ``odeint``."""
        return lambda t, y: self(t, y, u)
