"""``CHNN``: a constrained Hamiltonian network in Cartesian coordinates (Finzi, Wang and Wilson, NeurIPS 2020).

Point masses ``x_i`` in ``R^d`` joined by rigid rods of known lengths, some tethered to fixed anchors. In
Cartesian coordinates the mass matrix is constant, so the Hamiltonian is

    H(x, p) = sum_i |p_i|^2 / (2 m_i) + V(x)

with learned masses ``m_i = exp(s_i)`` and a learned potential ``V`` (a network). Each rod is a holonomic
constraint ``g_k(x) = |x_a - x_b|^2 - l_k^2 = 0`` (``x_b`` an anchor for a tether), enforced by Lagrange
multipliers:

    M xddot = -grad V(x) - G(x)^T lambda,          G = dg/dx,
    lambda = (G M^-1 G^T)^-1 (G M^-1 (-grad V) + Gdot xdot),   so that  G xddot + Gdot xdot = 0,

where ``Gdot_k xdot = 2 |v_a - v_b|^2``. Because ``M`` is constant, ``[x, xdot]`` is a fixed linear image of
``[x, p]`` (``p = M xdot``) and this field is the paper's Hamiltonian field projected onto the constraint
manifold, written in the package's ``[q, qdot]`` convention so that the model trains on observed velocities.
The energy ``sum_i m_i |xdot_i|^2 / 2 + V(x)`` and the constraints ``g = 0``, ``G xdot = 0`` are invariants of
the learned flow whatever the weights are. The paper's CLNN is the same model in Lagrangian form.

:meth:`CHNN.rattle` is one RATTLE step of the learned system (``odeint(model, ..., method="rattle")``, or
``"rattle4"`` for its fourth-order composition): symmetric and symplectic, it keeps ``g = 0`` and ``G xdot = 0``
at every step, so a model can be trained through a symplectic integrator on trajectories.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from controllers.dynamics.base import FieldModel, gradient, network


class CHNN(FieldModel):
    """Constrained Hamiltonian network for ``points`` point masses in ``dim`` dimensions.

    ``y = [x, xdot]`` of shape ``(batch, 2 * points * dim)``, ``x`` point-major (``x_0``, then ``x_1``, ...;
    m, m/s). ``rods``: ``(a, b, length)`` joins points ``a`` and ``b``; ``tethers``: ``(a, anchor, length)`` joins
    point ``a`` to the fixed point ``anchor`` (``dim`` numbers). Potential network: ``layers`` x ``hidden`` tanh
    (the paper's 3 x 256), masses initialised at 1.
    """

    def __init__(self, points: int = 2, dim: int = 2, rods: Sequence = ((0, 1, 1.0),),
                 tethers: Sequence = ((0, (0.0, 0.0), 1.0),), hidden: int = 256, layers: int = 3):
        for name, v in (("points", points), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        super().__init__(points * dim)
        self.points, self.space = points, dim
        rows, anchors, lengths = [], [], []
        for a, b, length in rods:
            self._check_rod("rods", a, length)
            self._check_rod("rods", b, length)
            if a == b:
                raise ValueError(f"rods: a rod must join two different points, got ({a}, {b})")
            rows.append((a, b))
            anchors.append([0.0] * dim)
            lengths.append(float(length))
        for a, anchor, length in tethers:
            self._check_rod("tethers", a, length)
            anchor = [float(c) for c in anchor]
            if len(anchor) != dim:
                raise ValueError(f"tethers: the anchor must have dim = {dim} coordinates, got {anchor}")
            rows.append((a, None))
            anchors.append(anchor)
            lengths.append(float(length))
        if not rows or len(rows) >= points * dim:
            raise ValueError(f"need between 1 and {points * dim - 1} rods and tethers in all, got {len(rows)}")
        incidence = torch.zeros(len(rows), points, dtype=torch.float64)  # row k: +1 at a, -1 at b
        for k, (a, b) in enumerate(rows):
            incidence[k, a] = 1.0
            if b is not None:
                incidence[k, b] = -1.0
        self.register_buffer("incidence", incidence)
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float64))
        self.register_buffer("lengths", torch.tensor(lengths, dtype=torch.float64))
        self.log_mass = nn.Parameter(torch.zeros(points, dtype=torch.float64))
        self.potential_net = network(points * dim, 1, hidden, layers, "tanh", out_bias=False)

    def _check_rod(self, name, a, length):
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < self.points:
            raise ValueError(f"{name}: point indices must be ints in [0, {self.points - 1}], got {a!r}")
        if not float(length) > 0:
            raise ValueError(f"{name}: lengths must be > 0 m, got {length!r}")

    @property
    def masses(self) -> torch.Tensor:
        """Learned masses, shape ``(points,)``."""
        return self.log_mass.exp()

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """``V(x)``, shape ``(batch,)`` for positions ``(batch, points * dim)``."""
        return self.potential_net(x).squeeze(-1)

    def hamiltonian(self, y: torch.Tensor) -> torch.Tensor:
        """Energy ``sum_i m_i |xdot_i|^2 / 2 + V(x)`` (the Hamiltonian at ``p = M xdot``), shape ``(batch,)``."""
        x, v = self.split(self.check(y))
        kinetic = 0.5 * (self.masses * v.unflatten(-1, (self.points, self.space)).square().sum(-1)).sum(-1)
        return kinetic + self.potential(x)

    def constraints(self, y: torch.Tensor) -> torch.Tensor:
        """``[g(x), G(x) xdot]``: rod length errors (m^2) and their rates (m^2/s), shape ``(batch, 2 * rods)``."""
        x, v = self.split(self.check(y))
        rel, relv = self._relative(x, v)
        return torch.cat([rel.square().sum(-1) - self.lengths.square(), 2 * (rel * relv).sum(-1)], -1)

    def _inverse_mass_and_rod_gram(self):
        """``M^-1`` per point ``(n, 1)`` and ``W = D M^-1 D^T`` ``(C, C)`` (``D`` the incidence matrix), from which
        :meth:`_rod_gram` forms ``G(x_a) M^-1 G(x_b)^T`` (a rod's row of ``G`` is ``2 rel^T`` on its points)."""
        inv_mass = (-self.log_mass).exp()[:, None]
        return inv_mass, (self.incidence * inv_mass.T) @ self.incidence.T

    @staticmethod
    def _rod_gram(W, rel_a, rel_b):
        """``G(x_a) M^-1 G(x_b)^T`` ``(batch, C, C)`` from the rods' relative vectors at two positions."""
        return 4 * W * (rel_a @ rel_b.transpose(-1, -2))

    def _reaction(self, lam, rel):
        """``G^T lambda`` ``(batch, n, dim)`` for multipliers ``lam`` ``(batch, C, 1)``."""
        return self.incidence.T @ (2 * lam * rel)

    def _relative(self, x, v):
        shape = (self.points, self.space)
        rel = self.incidence @ x.unflatten(-1, shape) - self.anchors  # (batch, C, dim)
        return rel, self.incidence @ v.unflatten(-1, shape)

    def rattle(self, t, y: torch.Tensor, h, weights=(1.0,), iterations: int = 6) -> torch.Tensor:
        """RATTLE sub-steps of sizes ``w * h`` for ``w`` in ``weights``, in turn, from ``y`` (``h`` in s: a float or
        a ``(batch, 1)`` tensor; negative sub-steps allowed). Each sub-step, with ``F = -grad V`` and reactions
        ``G^T lambda`` along the rods::

            v' = v + h/2 M^-1 (F(x) - G(x)^T lambda),   x1 = x + h v',      lambda such that g(x1) = 0
            v1 = v' + h/2 M^-1 (F(x1) - G(x1)^T mu),                         mu such that G(x1) v1 = 0

        ``lambda`` by ``iterations`` Newton steps from zero (each a ``(C, C)`` solve; the residual falls
        quadratically from O(h^2)), ``mu`` by one linear solve; the force at a sub-step's end starts the next.
        ``t`` is unused (autonomous).
        """
        x, v = self.split(self.check(y))
        shape = (self.points, self.space)
        D = self.incidence
        inv_mass, W = self._inverse_mass_and_rod_gram()
        if isinstance(h, torch.Tensor):
            h = h.reshape(-1, 1, 1)
        x = x.unflatten(-1, shape)
        v = v.unflatten(-1, shape)

        def force(pos):
            return -gradient(self.potential, pos.flatten(-2)).unflatten(-1, shape)

        f = force(x)
        for w in weights:
            dt = w * h
            rel0 = D @ x - self.anchors  # (batch, C, dim)
            v_free = v + 0.5 * dt * inv_mass * f
            rel_free = D @ (x + dt * v_free) - self.anchors
            lam = torch.zeros(rel0.shape[:-1], dtype=x.dtype, device=x.device)  # lambda dt^2 / 2, (batch, C)
            for _ in range(iterations):
                rel1 = rel_free - 2 * W @ (lam.unsqueeze(-1) * rel0)
                g = rel1.square().sum(-1) - self.lengths.square()
                jac = -self._rod_gram(W, rel1, rel0)  # d g_k / d lam_j
                lam = lam - torch.linalg.solve(jac, g.unsqueeze(-1)).squeeze(-1)
            x1 = x + dt * v_free - inv_mass * self._reaction(lam.unsqueeze(-1), rel0)
            rel1 = D @ x1 - self.anchors
            f = force(x1)
            v_free = (x1 - x) / dt + 0.5 * dt * inv_mass * f
            b = 2 * (rel1 * (D @ v_free)).sum(-1)
            mu = torch.linalg.solve(self._rod_gram(W, rel1, rel1), b.unsqueeze(-1))  # (batch, C, 1)
            x, v = x1, v_free - inv_mass * self._reaction(mu, rel1)
        return torch.cat([x.flatten(-2), v.flatten(-2)], -1)

    def forward(self, t, y):
        x, v = self.split(self.check(y))
        force = -gradient(self.potential, x).unflatten(-1, (self.points, self.space))  # (batch, n, dim)
        rel, relv = self._relative(x, v)
        inv_mass, W = self._inverse_mass_and_rod_gram()
        b = 2 * (rel * (self.incidence @ (inv_mass * force))).sum(-1) + 2 * relv.square().sum(-1)
        lam = torch.linalg.solve(self._rod_gram(W, rel, rel), b.unsqueeze(-1))  # (batch, C, 1)
        acc = inv_mass * (force - self._reaction(lam, rel))
        return torch.cat([v, acc.flatten(-2)], -1)
