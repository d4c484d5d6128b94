"""``MLPField``: the baseline neural ODE, an MLP from the state to its time derivative."""
from __future__ import annotations

from controllers.dynamics.base import FieldModel, network


class MLPField(FieldModel):
    """``dy/dt = f_theta(y)`` with no structure (the HNN paper's baseline; a plain neural ODE).

    ``y`` is ``(batch, 2 * dof)``; ``hidden`` units in each of ``layers`` hidden layers (default 2 x 200,
    tanh, orthogonal initialisation, no bias on the output layer, as the HNN paper's baseline).
    """

    def __init__(self, dof: int = 1, hidden: int = 200, layers: int = 2, activation: str = "tanh",
                 periodic=None):
        super().__init__(dof, periodic)
        self.net = network(self.q_features + dof, self.dim, hidden, layers, activation, out_bias=False)

    def forward(self, t, y):
        return self.net(self.features(self.check(y)))
