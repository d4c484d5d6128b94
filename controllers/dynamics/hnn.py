"""``HNN``: a Hamiltonian neural network (Greydanus, Dzamba and Yosinski, NeurIPS 2019).

A network gives a scalar ``H(q, p)``; the field is its symplectic gradient

    dq/dt = dH/dp,    dp/dt = -dH/dq,

so ``H`` is conserved exactly along the learned flow (up to the integrator's error) whatever the
weights are.
"""
from __future__ import annotations

import torch

from controllers.dynamics.base import FieldModel, gradient, network


class HNN(FieldModel):
    """Learned Hamiltonian; ``y = [q, p]`` of shape ``(batch, 2 * dof)``.

    Default network 2 x 200 tanh, orthogonal initialisation, no output bias (the paper's).
    """

    def __init__(self, dof: int = 1, hidden: int = 200, layers: int = 2, activation: str = "tanh",
                 periodic=None):
        super().__init__(dof, periodic)
        self.net = network(self.q_features + dof, 1, hidden, layers, activation, out_bias=False)

    def hamiltonian(self, y: torch.Tensor) -> torch.Tensor:
        """``H(q, p)``, shape ``(batch,)``."""
        return self.net(self.features(self.check(y))).squeeze(-1)

    def forward(self, t, y):
        dH = gradient(self.hamiltonian, self.check(y))
        dH_dq, dH_dp = self.split(dH)
        return torch.cat([dH_dp, -dH_dq], -1)
