"""LQR from the simulator's own derivatives.

``linearize(dynamics, x_eq, u_eq)`` differentiates one env step ``x' = f(x, u)`` of any
diffsim dynamics (``envs.core.ClassicDynamics`` and subclasses) at an equilibrium with
autodiff, giving the discrete-time ``A = df/dx`` and ``B = df/du``;
``lqr_gain(A, B, Q, R)`` solves the discrete algebraic Riccati equation with
``scipy.linalg.solve_discrete_are`` for the feedback ``u = u_eq - K (x - x_eq)``.

For states with a quaternion (free bodies), pass ``state_map``/``state_unmap`` (e.g.
from :func:`quaternion_tangent_maps`) to work in minimal tangent coordinates.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch


def _identity(x):
    return x


def linearize(dynamics, x_eq, u_eq, state_map=None, state_unmap=None):
    """(A, B) of one env step at ``(x_eq, u_eq)`` by autodiff (float64 numpy arrays).

    With ``state_map`` (state -> coordinates z) and ``state_unmap`` (z -> state), the
    Jacobians are those of ``z' = map(f(unmap(z), u))`` at ``z_eq = map(x_eq)``.
    """
    to_z, from_z = state_map or _identity, state_unmap or _identity
    x = torch.as_tensor(x_eq, dtype=torch.float64).reshape(1, -1)
    u = torch.as_tensor(u_eq, dtype=torch.float64).reshape(1, -1)
    z = to_z(x)[0]

    def f(zz, uu):
        return to_z(dynamics.transition(from_z(zz.reshape(1, -1)), uu.reshape(1, -1))[0])[0]

    A, B = torch.autograd.functional.jacobian(f, (z, u[0]))
    return A.numpy(), B.numpy()


def linearize_fd(dynamics, x_eq, u_eq, eps: float = 1e-6):
    """The same Jacobians by central finite differences (for checking)."""
    x0 = np.asarray(x_eq, dtype=np.float64)
    u0 = np.asarray(u_eq, dtype=np.float64)

    def f(x, u):
        with torch.no_grad():
            return dynamics.transition(torch.as_tensor(x)[None], torch.as_tensor(u)[None])[0][0].numpy()

    A = np.stack([(f(x0 + eps * e, u0) - f(x0 - eps * e, u0)) / (2 * eps) for e in np.eye(len(x0))], 1)
    B = np.stack([(f(x0, u0 + eps * e) - f(x0, u0 - eps * e)) / (2 * eps) for e in np.eye(len(u0))], 1)
    return A, B


def lqr_gain(A, B, Q, R):
    """Infinite-horizon discrete LQR gain K (u = -K x) and the Riccati solution P."""
    A, B = np.asarray(A), np.asarray(B)
    Q, R = np.atleast_2d(Q), np.atleast_2d(R)
    if Q.shape != (A.shape[0],) * 2 or R.shape != (B.shape[1],) * 2:
        raise ValueError(f"Q must be {A.shape[0]}x{A.shape[0]} and R {B.shape[1]}x{B.shape[1]}, "
                         f"got {Q.shape} and {R.shape}")
    P = scipy.linalg.solve_discrete_are(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    return K, P


class LQRController:
    """``u = clip(u_eq - K (z(x) - z(x_eq)))`` on the dynamics' control range; works on batches."""

    def __init__(self, dynamics, x_eq, u_eq, Q, R, state_map=None, state_unmap=None):
        self.map = state_map or _identity
        self.x_eq = np.asarray(x_eq, dtype=np.float64)
        self.u_eq = np.asarray(u_eq, dtype=np.float64)
        self.z_eq = self.map(torch.as_tensor(self.x_eq)[None])[0].numpy()
        self.A, self.B = linearize(dynamics, self.x_eq, self.u_eq, state_map, state_unmap)
        self.K, self.P = lqr_gain(self.A, self.B, Q, R)
        self.low = getattr(dynamics, "ctrl_low", None)
        self.high = getattr(dynamics, "ctrl_high", None)

    def __call__(self, x):
        z = self.map(torch.as_tensor(np.atleast_2d(x), dtype=torch.float64)).numpy()
        u = self.u_eq - (z - self.z_eq) @ self.K.T
        if self.low is not None:
            u = np.clip(u, self.low, self.high)
        return u

    def closed_loop_spectral_radius(self) -> float:
        return float(np.abs(np.linalg.eigvals(self.A - self.B @ self.K)).max())


def _quat_mul(a, b):
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def quaternion_tangent_maps(quat_slice: slice, reference=(1.0, 0.0, 0.0, 0.0)):
    """State maps replacing a unit quaternion (w, x, y, z) by the rotation vector ~ 2 (x, y, z) of
    ``reference^-1 q`` (its rotation away from ``reference``, identity by default).

    For small rotations about the reference, as in a hover; returns ``(state_map, state_unmap)``.
    """
    a, b = quat_slice.start, quat_slice.stop
    ref = torch.as_tensor(reference, dtype=torch.float64)
    ref = ref / ref.norm()
    ref_inv = ref * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64)

    def to_z(x):
        q = x[:, a:b] / x[:, a:b].norm(dim=1, keepdim=True)
        q = _quat_mul(ref_inv.to(q.dtype).expand_as(q), q)
        return torch.cat([x[:, :a], 2.0 * q[:, 1:] * torch.sign(q[:, :1]), x[:, b:]], dim=1)

    def from_z(z):
        r = 0.5 * z[:, a:a + 3]
        w = torch.sqrt(torch.clamp(1.0 - (r ** 2).sum(1, keepdim=True), min=1e-12))
        q = _quat_mul(ref.to(z.dtype).expand(z.shape[0], 4), torch.cat([w, r], dim=1))
        return torch.cat([z[:, :a], q, z[:, a + 3:]], dim=1)

    return to_z, from_z
