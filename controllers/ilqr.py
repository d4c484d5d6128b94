"""Iterative LQR model-predictive control from the simulator's own derivatives, batched over worlds.

At every control step :class:`ILQRMPC` improves, for every world at once, a plan of ``horizon``
actions by ``iterations`` iLQR iterations (Li & Todorov 2004; Tassa et al. 2012) on the cost
``c = -(reward + shaping)`` of the differentiable env step, applies the first action and keeps the
rest, shifted by one, as the next step's warm start. One iteration:

1. roll the plan out (``horizon`` batched steps);
2. linearise every step of every world in one batch: ``f_x``, ``f_u`` by reverse-mode autodiff
   through the Warp kernels (one backward pass per state component), the cost gradient by one
   more, and the cost Hessian by central differences of that gradient (Warp kernels have no
   second derivatives);
3. the backward Riccati pass (``Q_uu`` made positive definite per world: its eigenvalues replaced
   by their absolute values plus ``reg``, the Levenberg-Marquardt term), giving feed-forward
   ``k_t`` and feedback ``K_t``;
4. a forward pass ``u_t = u_t + alpha k_t + K_t (x_t - x_t_nominal)`` for several step sizes
   ``alpha`` at once (batched), keeping per world the best plan found (the old one if none is
   better; ``reg`` grows there and shrinks where a step was taken).

Actions are planned as ``z`` with ``u = low + (high - low) (tanh(z) + 1) / 2``, so they never leave
the action box. Angles an env wraps (its ``angle_dims``) enter state differences wrapped. A
fresh plan (the first control step) is grown from a 10-step horizon, so that its nominal
trajectory does not fall far from where the local models hold.

Near a goal it is LQR on the true model (a test checks it against scipy's Riccati solution); from
far away, local quadratic models can settle for a poorer swing-up than gradient shooting
(:class:`controllers.mpc.ShootingMPC`): both are measured in ``BENCHMARKS.md``.
"""
from __future__ import annotations

import math

import torch

from controllers.mpc import Planner
from controllers.policies import squash


class ILQRMPC(Planner):
    """iLQR MPC for a :class:`envs.core.ClassicDynamics` (``act(state (B, S)) -> action (B, A)``).

    ``horizon`` planned steps, ``iterations`` iLQR iterations per control step (the first control
    step of an episode plans from scratch, ``first_iterations`` on horizons 10, 20, 40, ... up to ``horizon``),
    ``alphas`` the forward-pass step sizes tried,
    ``reg`` the initial Levenberg-Marquardt regularisation, ``gamma`` the discount inside the plan,
    ``fd_eps`` the central-difference step of the cost Hessian.
    """

    def __init__(self, dyn, horizon: int = 30, iterations: int = 3, first_iterations: int = 10,
                 alphas=(1.0, 0.5, 0.25, 0.1, 0.03), reg: float = 1e-3, gamma: float = 1.0, fd_eps: float = 1e-5):
        for name, v in dict(horizon=horizon, iterations=iterations, first_iterations=first_iterations).items():
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        for name, v in dict(reg=reg, fd_eps=fd_eps).items():
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if not alphas or not all(a > 0 for a in alphas):
            raise ValueError(f"alphas must be a non-empty sequence of step sizes > 0, got {alphas!r}")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        super().__init__(dyn)
        self.horizon, self.iterations, self.first_iterations = horizon, iterations, first_iterations
        self.alphas = torch.tensor(alphas, dtype=torch.float64)
        self.reg0, self.gamma, self.fd_eps = reg, gamma, fd_eps
        self.angle_dims = list(getattr(dyn, "angle_dims", ()))
        self.discount = gamma ** torch.arange(horizon, dtype=torch.float64)
        self.reg = None

    def reset(self):
        """Forget the warm start and the regularisation (call between episodes)."""
        super().reset()
        self.reg = None

    # --- pieces of one iteration ------------------------------------------------------------
    def _cost(self, x, z):
        """Stage cost ``-(reward + shaping)`` ``(N,)`` and next state of a batch of ``(x, z)``."""
        u = squash(z, self.low, self.high)
        nxt, reward = self.dyn.transition(x, u)
        extra = self.dyn.shaping(x, u, nxt)
        return -(reward if extra is None else reward + extra), nxt

    def _rollout(self, x0, z):
        """States ``(H + 1, N, S)`` and discounted total cost ``(N,)`` of plans ``z (N, H, A)`` from ``x0``."""
        xs, total = [x0], torch.zeros(x0.shape[0], dtype=torch.float64)
        for t in range(z.shape[1]):
            c, nxt = self._cost(xs[-1], z[:, t])
            total = total + self.discount[t] * c
            xs.append(nxt)
        return torch.stack(xs), total

    def _diff(self, a, b):
        d = a - b
        if self.angle_dims:
            d[..., self.angle_dims] = torch.remainder(d[..., self.angle_dims] + math.pi, 2 * math.pi) - math.pi
        return d

    def _linearise(self, x, z):
        """At ``x (M, S)``, ``z (M, A)``: ``f_x (M, S, S)``, ``f_z (M, S, A)``, cost gradient ``(M, S + A)`` and
        Hessian ``(M, S + A, S + A)``."""
        s_dim = x.shape[1]
        x = x.detach().clone().requires_grad_(True)
        z = z.detach().clone().requires_grad_(True)
        c, nxt = self._cost(x, z)
        rows = []
        for i in range(s_dim):
            gx, gz = torch.autograd.grad(nxt[:, i].sum(), (x, z), retain_graph=True)
            rows.append(torch.cat([gx, gz], -1))
        jac = torch.stack(rows, 1)  # (M, S, S + A)
        grad = torch.cat(torch.autograd.grad(c.sum(), (x, z)), -1)

        def cost_grad(y):
            y = y.detach().requires_grad_(True)
            return torch.autograd.grad(self._cost(y[:, :s_dim], y[:, s_dim:])[0].sum(), y)[0]

        y = torch.cat([x, z], -1).detach()
        cols = []
        for j in range(y.shape[1]):
            e = torch.zeros_like(y)
            e[:, j] = self.fd_eps
            cols.append((cost_grad(y + e) - cost_grad(y - e)) / (2 * self.fd_eps))
        hess = torch.stack(cols, -1)
        return jac[..., :s_dim], jac[..., s_dim:], grad, 0.5 * (hess + hess.transpose(-1, -2))

    def _backward(self, fx, fz, grad, hess, reg):
        """Feed-forward ``k (H, B, A)`` and feedback ``K (H, B, A, S)`` of the Riccati recursion."""
        h, b, s_dim = fx.shape[0], fx.shape[1], fx.shape[2]
        vx = torch.zeros(b, s_dim, dtype=torch.float64)
        vxx = torch.zeros(b, s_dim, s_dim, dtype=torch.float64)
        ks, gains = [], []
        for t in reversed(range(h)):
            w = self.discount[t]
            cx, cz = w * grad[t, :, :s_dim], w * grad[t, :, s_dim:]
            cxx, czz = w * hess[t, :, :s_dim, :s_dim], w * hess[t, :, s_dim:, s_dim:]
            czx = w * hess[t, :, s_dim:, :s_dim]
            A, B = fx[t], fz[t]
            At, Bt = A.transpose(1, 2), B.transpose(1, 2)
            qx = cx + (At @ vx[..., None])[..., 0]
            qz = cz + (Bt @ vx[..., None])[..., 0]
            qxx = cxx + At @ vxx @ A
            qzz = czz + Bt @ vxx @ B
            qzx = czx + Bt @ vxx @ A
            evals, evecs = torch.linalg.eigh(0.5 * (qzz + qzz.transpose(1, 2)))
            evals = evals.abs() + reg[:, None]  # negative curvature: step along it, scaled by |lambda|
            inv = evecs @ torch.diag_embed(1.0 / evals) @ evecs.transpose(1, 2)
            k = -(inv @ qz[..., None])[..., 0]
            K = -inv @ qzx
            Kt = K.transpose(1, 2)
            qzz_pd = evecs @ torch.diag_embed(evals) @ evecs.transpose(1, 2)
            vx = qx + (Kt @ (qzz_pd @ k[..., None]))[..., 0] + (Kt @ qz[..., None])[..., 0] \
                + (qzx.transpose(1, 2) @ k[..., None])[..., 0]
            vxx = qxx + Kt @ qzz_pd @ K + Kt @ qzx + qzx.transpose(1, 2) @ K
            vxx = 0.5 * (vxx + vxx.transpose(1, 2))
            ks.append(k)
            gains.append(K)
        return torch.stack(ks[::-1]), torch.stack(gains[::-1])

    def _forward(self, x0, z, xs, k, K):
        """Every step size at once: new plans ``(n_alpha, B, H, A)`` and their total costs ``(n_alpha, B)``."""
        na, b = self.alphas.shape[0], x0.shape[0]
        x = x0.repeat(na, 1)
        alpha = self.alphas.repeat_interleave(b)[:, None]
        zs, total = [], torch.zeros(na * b, dtype=torch.float64)
        for t in range(z.shape[1]):
            dx = self._diff(x, xs[t].repeat(na, 1))
            dz = alpha * k[t].repeat(na, 1) + (K[t].repeat(na, 1, 1) @ dx[..., None])[..., 0]
            zt = z[:, t].repeat(na, 1) + dz
            c, x = self._cost(x, zt)
            total = total + self.discount[t] * c
            zs.append(zt)
        return torch.stack(zs, 1).reshape(na, b, z.shape[1], -1), total.reshape(na, b)

    def improve(self, x0, z, iterations: int):
        """``iterations`` iLQR iterations on plans ``z (B, H, A)`` from ``x0 (B, S)``; returns the new plans."""
        b, a_dim = z.shape[0], z.shape[2]
        if self.reg is None or self.reg.shape[0] != b:
            self.reg = torch.full((b,), self.reg0, dtype=torch.float64)
        with torch.no_grad():
            xs, cost = self._rollout(x0, z)
        for _ in range(iterations):
            h = z.shape[1]
            fx, fz, grad, hess = self._linearise(xs[:-1].reshape(h * b, -1), z.transpose(0, 1).reshape(h * b, a_dim))
            s_dim = fx.shape[1]
            fx, fz = fx.reshape(h, b, s_dim, s_dim), fz.reshape(h, b, s_dim, a_dim)
            grad, hess = grad.reshape(h, b, -1), hess.reshape(h, b, s_dim + a_dim, s_dim + a_dim)
            with torch.no_grad():
                k, K = self._backward(fx, fz, grad, hess, self.reg)
                plans, costs = self._forward(x0, z, xs, k, K)
                best = costs.argmin(0)
                better = costs[best, torch.arange(b)] < cost
                if not torch.isfinite(costs[best, torch.arange(b)]).all():
                    raise FloatingPointError("iLQR: non-finite planned cost")
                z = torch.where(better[:, None, None], plans[best, torch.arange(b)], z)
                self.reg = torch.where(better, self.reg / 2, self.reg * 10).clamp(1e-6, 1e6)
                xs, cost = self._rollout(x0, z)
        return z

    # --- the controller -----------------------------------------------------------------------
    def act(self, state: torch.Tensor) -> torch.Tensor:
        """The action ``(B, A)`` to apply now in each world of ``state (B, S)``."""
        state = state.detach().to(torch.float64)
        b, a_dim = state.shape[0], self.low.shape[0]
        if self.plan is None or self.plan.shape[0] != b:  # a fresh plan: horizons growing from 10 steps (a long
            self.reg = None                               # plan of zeros may fall far from where the cost is useful)
            z = torch.zeros(b, 0, a_dim, dtype=torch.float64)
            for h in sorted({min(self.horizon, 10 * 2 ** i) for i in range(12)}):
                z = torch.cat([z, torch.zeros(b, h - z.shape[1], a_dim, dtype=torch.float64)], 1)
                z = self.improve(state, z, self.first_iterations)
        else:
            z = self.improve(state, self.plan, self.iterations)
        self.plan = torch.cat([z[:, 1:], z[:, -1:]], dim=1)  # shifted warm start
        return squash(z[:, 0], self.low, self.high)
