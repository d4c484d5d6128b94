"""``MLPField``: the baseline neural ODE, an MLP from the state to its time derivative."""
from __future__ import annotations

import torch

from controllers.dynamics.base import FieldModel, network


class MLPField(FieldModel):
    """``dy/dt = f_theta(y)`` with no structure (the HNN paper's baseline; a plain neural ODE).

    ``y`` is ``(batch, 2 * dof)``; ``hidden`` units in each of ``layers`` hidden layers (default 2 x 200,
    tanh, orthogonal initialisation, no bias on the output layer, as the HNN paper's baseline).
    ``second_order=True``: ``y = [q, qdot]`` and the network gives only the accelerations, ``dy/dt = [qdot,
    f_theta(y)]`` (the LNN paper's baseline).
    """

    def __init__(self, dof: int = 1, hidden: int = 200, layers: int = 2, activation: str = "tanh",
                 periodic=None, second_order: bool = False):
        super().__init__(dof, periodic)
        self.second_order = bool(second_order)
        out = dof if self.second_order else self.dim
        self.net = network(self.q_features + dof, out, hidden, layers, activation, out_bias=False)

    def forward(self, t, y):
        out = self.net(self.features(self.check(y)))
        return torch.cat([y[:, self.dof:], out], -1) if self.second_order else out
