"""``LNN``: a Lagrangian neural network (Cranmer, Greydanus, Hoyer et al., 2020).

A network gives a scalar ``L(q, qdot)``; accelerations solve the Euler-Lagrange equations

    d/dt dL/dqdot = dL/dq   =>   qddot = (d2L/dqdot2)^+ [dL/dq - (d2L/dqdot dq) qdot],

with Hessians by automatic differentiation and a pseudo-inverse, as the paper. The
energy ``E = qdot . dL/dqdot - L`` is conserved along the learned flow.

For the default network (``Linear`` layers with softplus or tanh between them) the derivatives are propagated
through the layers explicitly -- the input gradient by a reverse sweep and the ``dof + 1`` Hessian-vector
products by its forward-mode tangent, all as batched matrix products -- a training step about 1.7x faster on a
CPU (batch 256, 3 x 128) than ``torch.func``'s per-sample ``vmap(jvp(grad))``, which other activations keep (the
two are equal to rounding).
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
    accelerations through its pseudo-inverse are ill-conditioned; the prior makes it ``~ c I`` from the start.
    ``0`` (default) is the paper's LNN. Trained with the errors of nearly singular states capped and
    :func:`inverse_dynamics_error` as a second loss (``demos.lnn``), the paper's LNN learns the double pendulum from
    every initialisation tried, better than one with the prior (BENCHMARKS.md).
    ``velocity_scale = s`` feeds ``qdot / s`` to the network (a fixed input normalisation, ``s`` in the units of
    ``qdot``); 1 (default) feeds ``qdot`` as it is.
    """

    def __init__(self, dof: int = 1, hidden: int = 128, layers: int = 3, activation: str = "softplus",
                 periodic=None, kinetic_prior: float = 0.0, velocity_scale: float = 1.0):
        super().__init__(dof, periodic)
        if not velocity_scale > 0:
            raise ValueError(f"velocity_scale must be > 0, got {velocity_scale!r}")
        self.velocity_scale = float(velocity_scale)
        if not kinetic_prior >= 0:
            raise ValueError(f"kinetic_prior must be >= 0, got {kinetic_prior!r}")
        self.kinetic_prior = float(kinetic_prior)
        self.net = network(self.q_features + dof, 1, hidden, layers, activation, out_bias=False)  # L + c: same motion
        self._activation_derivatives = _ACTIVATION_DERIVATIVES.get(activation)  # None: torch.func's path

    def lagrangian(self, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
        """``L(q, qdot)``, shape ``(batch,)`` for ``q``, ``qdot`` of shape ``(batch, dof)``."""
        L = self.net(torch.cat([self.encode_q(q), qdot / self.velocity_scale], -1)).squeeze(-1)
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

    def _derivatives_explicit(self, q, qdot):
        """:meth:`_derivatives` for a whole batch, propagated through the layers by hand. The input tangents are
        the ``dof`` unit directions in ``qdot`` and ``(d encode_q / dq) qdot`` in the encoded ``q``."""
        n, dof = q.shape
        jac = self.encode_q_jacobian(q)  # (n, q_features, dof)
        u = q.new_zeros(n, dof + 1, self.q_features + dof)  # input tangents
        u[:, 0, :self.q_features] = (jac @ qdot.unsqueeze(-1)).squeeze(-1)
        u[:, 1:, self.q_features:] = torch.eye(dof, dtype=q.dtype, device=q.device) / self.velocity_scale
        linears, activation = self.net[::2], self.net[1]  # Linear, activation, ..., Linear
        d1, d2 = self._activation_derivatives
        x = torch.cat([self.encode_q(q), qdot / self.velocity_scale], -1)
        s1, s2, dzs = [], [], []  # per hidden layer: sigma', sigma'' and the tangents (n, dof + 1, width) at z
        h, dh = x, u
        for lin in linears[:-1]:
            z, dz = lin(h), dh @ lin.weight.T
            a1 = d1(z)
            s1.append(a1), s2.append(d2(z)), dzs.append(dz)
            h, dh = activation(z), a1.unsqueeze(1) * dz
        back = linears[-1].weight[0].expand(n, -1)  # dL/dh of the last hidden layer
        dback = None
        for i in range(len(s1) - 1, -1, -1):
            delta = back * s1[i]  # dL/dz_i
            ddelta = back.unsqueeze(1) * s2[i].unsqueeze(1) * dzs[i]
            if dback is not None:
                ddelta = ddelta + dback * s1[i].unsqueeze(1)
            back, dback = delta @ linears[i].weight, ddelta @ linears[i].weight
        g_x, hvp = back, dback  # dL/dx (n, in), H_x u (n, dof + 1, in)
        dL_dq = (jac.transpose(1, 2) @ g_x[:, :self.q_features].unsqueeze(-1)).squeeze(-1)
        hvp_v = hvp[:, :, self.q_features:] / self.velocity_scale  # the qdot rows, d/dqdot = (1 / s) d/dx_v
        return dL_dq, hvp_v[:, 1:], hvp_v[:, 0]

    def accelerations(self, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
        """``qddot`` from the Euler-Lagrange equations, shape ``(batch, dof)``."""
        return self.accelerations_and_mass(q, qdot)[0]

    def accelerations_and_mass(self, q: torch.Tensor, qdot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``qddot`` ``(batch, dof)`` and the learned mass matrix ``d2L/dqdot2`` ``(batch, dof, dof)`` it was solved
        with (the kinetic prior included), from one pass of derivatives."""
        mass, rhs = self.euler_lagrange(q, qdot)
        return solve_euler_lagrange(mass, rhs), mass

    def euler_lagrange(self, q: torch.Tensor, qdot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Euler-Lagrange equations as ``mass @ qddot = rhs``: ``mass = d2L/dqdot2`` ``(batch, dof, dof)`` (the
        kinetic prior included) and ``rhs = dL/dq - (d2L/dqdot dq) qdot`` ``(batch, dof)``."""
        require_autograd()
        if self._activation_derivatives is not None:
            dL_dq, H_vv, H_vq_qdot = self._derivatives_explicit(q, qdot)
            if self.kinetic_prior:
                H_vv = H_vv + self.kinetic_prior * torch.eye(self.dof, dtype=q.dtype, device=q.device)
        else:
            dL_dq, H_vv, H_vq_qdot = vmap(self._derivatives)(q, qdot)  # H_vv: (batch, dof, dof), d2L / dqdot2
        return H_vv, dL_dq - H_vq_qdot

    def forward(self, t, y):
        q, qdot = self.split(self.check(y))
        return torch.cat([qdot, self.accelerations(q, qdot)], -1)

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        """``E = qdot . dL/dqdot - L``, shape ``(batch,)``."""
        q, qdot = self.split(self.check(y))
        dL_dv = vmap(grad(self._single, argnums=1))(q, qdot)
        return (qdot * dL_dv).sum(-1) - self.lagrangian(q, qdot)


def _check_mass(mass: torch.Tensor) -> None:
    """Refuse a batch of mass matrices not of shape ``(batch, dof, dof)``."""
    if mass.dim() != 3 or mass.shape[-1] != mass.shape[-2]:
        raise ValueError(f"mass must have shape (batch, dof, dof), got {tuple(mass.shape)}")


def check_margin(margin: float, dof: int, name: str = "margin") -> None:
    """Refuse an :func:`indefiniteness` margin outside ``[0, 1 / dof)`` (no ``dof`` shares can each exceed 1 / dof),
    naming the argument ``name``."""
    if not 0 <= margin < 1 / dof:
        raise ValueError(f"{name} must be in [0, 1 / dof) = [0, {1 / dof:.3g}), got {margin!r}")


def indefiniteness(mass: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """How far a batch of learned mass matrices ``(batch, dof, dof)`` is from one definite sign (0 when it is).

    A mechanical Lagrangian's ``d2L/dqdot2`` is positive definite (the kinetic energy); ``-L`` gives the same motion,
    so a learned one may be definite of either sign -- the sign of the batch's mean trace is taken as the intended
    one. Per matrix, with its eigenvalues ``lambda_i`` times that sign divided by the sum of their magnitudes
    (``r_i`` in ``[-1, 1]``, scale-free): ``sum_i relu(margin - r_i)``; returned: the batch mean. ``margin = 0``
    counts only eigenvalues of the wrong sign, so a matrix with an eigenvalue at zero (singular) costs nothing;
    ``margin > 0`` (in ``[0, 1 / dof)``) also asks each eigenvalue to be at least that share of the sum. Eigenvalues
    only, so the gradient stays finite where two eigenvalues meet.
    """
    _check_mass(mass)
    check_margin(margin, mass.shape[-1])
    ev = torch.linalg.eigvalsh(0.5 * (mass + mass.transpose(1, 2)))
    sign = torch.sign(ev.sum(-1).mean()).detach()
    share = sign * ev / ev.abs().sum(-1, keepdim=True).clamp_min(torch.finfo(ev.dtype).tiny)
    return torch.relu(margin - share).sum(-1).mean()


def solve_euler_lagrange(mass: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``qddot = mass^+ rhs`` ``(batch, dof)`` for :meth:`LNN.euler_lagrange`'s terms (a pseudo-inverse, as the
    paper)."""
    return (torch.linalg.pinv(mass) @ rhs.unsqueeze(-1)).squeeze(-1)


def inverse_dynamics_error(mass: torch.Tensor, rhs: torch.Tensor, qddot: torch.Tensor) -> torch.Tensor:
    """How far accelerations ``qddot`` ``(batch, dof)`` are from satisfying learned Euler-Lagrange equations
    ``mass @ qddot = rhs`` (:meth:`LNN.euler_lagrange`), in units of acceleration: the residual
    ``mass @ qddot - rhs`` divided by the batch's mean ``|trace(mass)| / dof``; shape ``(batch, dof)``.

    The inverse-dynamics error of Deep Lagrangian Networks (Lutter et al., 2019): it needs no inverse of the learned
    mass matrix, so it stays finite and keeps its gradient where that matrix is singular -- the states a network must
    cross to turn an indefinite mass matrix definite, where the forward error ``qddot_learned - qddot`` blows up.
    Dividing by the matrix's scale makes it the same for ``L`` and ``c L`` (the same motion for any ``c != 0``; the
    sign follows ``c``'s) and zero exactly where ``qddot`` solves the learned equations.
    """
    _check_mass(mass)
    if rhs.shape != mass.shape[:2] or qddot.shape != rhs.shape:
        raise ValueError(f"rhs and qddot must have shape {tuple(mass.shape[:2])}, got {tuple(rhs.shape)} and "
                         f"{tuple(qddot.shape)}")
    dof = mass.shape[-1]
    scale = (torch.diagonal(mass, dim1=-2, dim2=-1).sum(-1).abs().mean() / dof).clamp_min(torch.finfo(mass.dtype).tiny)
    return ((mass @ qddot.unsqueeze(-1)).squeeze(-1) - rhs) / scale


def _softplus_d1(z):  # torch's softplus (beta 1) is the identity above its threshold 20
    return torch.where(z > 20.0, torch.ones_like(z), torch.sigmoid(z))


def _softplus_d2(z):
    s = torch.sigmoid(z)
    return torch.where(z > 20.0, torch.zeros_like(z), s * (1.0 - s))


def _tanh_d1(z):
    return 1.0 - torch.tanh(z).square()


def _tanh_d2(z):
    t = torch.tanh(z)
    return -2.0 * t * (1.0 - t.square())


_ACTIVATION_DERIVATIVES = {"softplus": (_softplus_d1, _softplus_d2), "tanh": (_tanh_d1, _tanh_d2)}
