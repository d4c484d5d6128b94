"""``LNN``: a Lagrangian neural network (Cranmer, Greydanus, Hoyer et al., 2020).

A network gives a scalar ``L(q, qdot)``; accelerations solve the Euler-Lagrange equations

    d/dt dL/dqdot = dL/dq   =>   qddot = (d2L/dqdot2)^+ [dL/dq - (d2L/dqdot dq) qdot],

with Hessians by automatic differentiation (``torch.func``) and a pseudo-inverse, as the paper. The
energy ``E = qdot . dL/dqdot - L`` is conserved along the learned flow.
"""
from __future__ import annotations

import torch
from torch.func import grad, jvp, vmap

from controllers.dynamics.base import FieldModel, network, require_autograd


class LNN(FieldModel):
    """Learned Lagrangian; ``y = [q, qdot]`` of shape ``(batch, 2 * dof)``.

    Default network 3 x 128 softplus (smooth second derivatives; the paper used 3 x 600).
    ``kinetic_prior = c > 0`` adds ``c |qdot|^2 / 2`` to the network's ``L``: at initialisation the network's own
    ``d2L/dqdot2`` is tiny and indefinite (eigenvalues ~1e-3 for the double pendulum's inputs), so the
    accelerations through its pseudo-inverse are ill-conditioned and training stalls; the prior makes it
    ``~ c I`` from the start. ``0`` (default) is the paper's LNN.
    """

    def __init__(self, dof: int = 1, hidden: int = 128, layers: int = 3, activation: str = "softplus",
                 periodic=None, kinetic_prior: float = 0.0):
        super().__init__(dof, periodic)
        if not kinetic_prior >= 0:
            raise ValueError(f"kinetic_prior must be >= 0, got {kinetic_prior!r}")
        self.kinetic_prior = float(kinetic_prior)
        self.net = network(self.q_features + dof, 1, hidden, layers, activation, out_bias=False)  # L + c: same motion

    def lagrangian(self, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
        """``L(q, qdot)``, shape ``(batch,)`` for ``q``, ``qdot`` of shape ``(batch, dof)``."""
        L = self.net(torch.cat([self.encode_q(q), qdot], -1)).squeeze(-1)
        return L + 0.5 * self.kinetic_prior * qdot.square().sum(-1) if self.kinetic_prior else L

    def _single(self, q, qdot):
        return self.lagrangian(q[None], qdot[None])[0]

    def _derivatives(self, q, qdot):
        """For one state: ``dL/dq``, the columns of ``d2L/dqdot2`` and ``(d2L/dqdot dq) qdot``, from one
        forward-over-reverse pass per direction (``dof`` unit directions in qdot, then ``qdot`` in q)."""
        dof = q.shape[0]
        eye = torch.eye(dof, dtype=q.dtype, device=q.device)
        dq = torch.cat([torch.zeros_like(eye), qdot[None]])  # (dof + 1, dof) tangents in q
        dv = torch.cat([eye, torch.zeros_like(qdot)[None]])  # ... and in qdot
        grads = grad(self._single, argnums=(0, 1))

        def directional(tq, tv):
            (g_q, _), (_, t_v) = jvp(grads, (q, qdot), (tq, tv))
            return g_q, t_v

        g_q, t_v = vmap(directional)(dq, dv)
        return g_q[0], t_v[:dof].T, t_v[dof]  # H_vv symmetric: columns = rows

    def accelerations(self, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
        """``qddot`` from the Euler-Lagrange equations, shape ``(batch, dof)``."""
        require_autograd()
        dL_dq, H_vv, H_vq_qdot = vmap(self._derivatives)(q, qdot)  # H_vv: (batch, dof, dof), d2L / dqdot2
        rhs = dL_dq - H_vq_qdot
        return (torch.linalg.pinv(H_vv) @ rhs.unsqueeze(-1)).squeeze(-1)

    def forward(self, t, y):
        q, qdot = self.split(self.check(y))
        return torch.cat([qdot, self.accelerations(q, qdot)], -1)

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        """``E = qdot . dL/dqdot - L``, shape ``(batch,)``."""
        q, qdot = self.split(self.check(y))
        dL_dv = vmap(grad(self._single, argnums=1))(q, qdot)
        return (qdot * dL_dv).sum(-1) - self.lagrangian(q, qdot)
