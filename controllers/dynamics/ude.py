"""``UDE``: a universal differential equation (Rackauckas et al., 2020): known terms plus a network.

    dy/dt = known(t, y) + U_theta(y)

The known part is any torch callable; the network learns what it misses, e.g. the interaction terms
of Lotka-Volterra when the linear growth and decay are known; ``unknown(y)`` is the network's part alone
(what a sparse regression would turn back into an equation).
"""
from __future__ import annotations

import torch

from controllers.dynamics.base import FieldModel, network


class UDE(FieldModel):
    """``known(t, y) + network(y)`` with ``y`` of shape ``(batch, 2 * dof)``.

    Default network 2 x 32 tanh (the 2020 Lotka-Volterra example's width).
    """

    def __init__(self, known, dof: int = 1, hidden: int = 32, layers: int = 2, activation: str = "tanh",
                 periodic=None):
        super().__init__(dof, periodic)
        if not callable(known):
            raise TypeError(f"known must be a callable known(t, y) -> dy/dt, got {type(known).__name__}")
        self.known = known
        self.net = network(self.q_features + dof, self.dim, hidden, layers, activation)

    def unknown(self, y: torch.Tensor) -> torch.Tensor:
        """The network's part of the field, shape ``(batch, 2 * dof)``."""
        return self.net(self.features(self.check(y)))

    def forward(self, t, y):
        return self.known(t, self.check(y)) + self.unknown(y)
