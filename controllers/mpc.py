"""Model-predictive control by gradient shooting through the differentiable env step.

At every control step, for every world of the batch, :class:`ShootingMPC` optimises an
open-loop plan of ``horizon`` actions with ``iterations`` Adam steps on the return predicted
by the simulator itself (back-propagated through ``horizon`` differentiable steps, all worlds
and restarts in one batch), applies the first action and keeps the rest, shifted by one, as the
next step's warm start. Actions are ``low + (high - low) (tanh(z) + 1) / 2`` so the plan never
leaves the action box and nothing is clipped inside the gradient path. ``restarts`` > 1 adds
fresh random plans beside the warm start; the best one per world is kept.

It needs no training: it is both a controller on its own and a teacher. It acts on simulator
*states* (``act(state)``); :meth:`ShootingMPC.rollout` runs it in closed loop on the
differentiable env, batched over worlds.
"""
from __future__ import annotations

import numpy as np
import torch

from controllers.policies import squash
from controllers.shac import action_bounds, closed_loop


class Planner:
    """What every MPC here shares: the env's action box (``low``, ``high`` tensors), a warm-started plan
    (``self.plan``, forgotten by :meth:`reset`) and the closed loop on the env (:meth:`rollout`). Subclasses
    implement ``act(state (B, S)) -> action (B, A)``."""

    def __init__(self, dyn):
        self.dyn = dyn
        low, high = action_bounds(dyn)
        self.low = torch.as_tensor(np.asarray(low, dtype=np.float64))
        self.high = torch.as_tensor(np.asarray(high, dtype=np.float64))
        self.plan = None

    def reset(self):
        """Forget the warm start (call between episodes)."""
        self.plan = None

    def rollout(self, state: torch.Tensor, steps: int):
        """Closed loop on the env for ``steps`` steps from ``state (B, S)``: :func:`controllers.shac.closed_loop`'s
        ``(returns (B,), states (steps + 1, B, S))``."""
        self.reset()
        return closed_loop(self.dyn, self.act, state, steps)


class ShootingMPC(Planner):
    """Gradient-shooting MPC for a :class:`envs.core.ClassicDynamics`.

    ``horizon`` steps planned (env steps), ``iterations`` Adam steps of size ``lr`` per control step,
    ``restarts`` plans per world (the warm start plus random ones, ``z ~ N(0, init_std^2)``),
    ``gamma`` the discount inside the plan. Rewards include the env's training ``shaping``.
    """

    def __init__(self, dyn, horizon: int = 25, iterations: int = 30, lr: float = 0.3, restarts: int = 1,
                 gamma: float = 1.0, init_std: float = 1.5, seed: int = 0):
        for name, v in dict(horizon=horizon, iterations=iterations, restarts=restarts).items():
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(dyn)  # self.plan: (B, horizon, A) pre-squash warm start
        self.horizon, self.iterations, self.lr = horizon, iterations, lr
        self.restarts, self.gamma, self.init_std = restarts, gamma, init_std
        self.gen = torch.Generator().manual_seed(seed)

    def _returns(self, state, z):
        """Discounted planned return ``(B',)`` of plans ``z (B', H, A)`` from ``state (B', S)``."""
        total = torch.zeros(state.shape[0], dtype=torch.float64)
        s = state
        for t in range(self.horizon):
            a = squash(z[:, t], self.low, self.high)
            s_next, reward = self.dyn.transition(s, a)  # no observation or termination needed to plan
            extra = self.dyn.shaping(s, a, s_next)
            total = total + self.gamma ** t * (reward if extra is None else reward + extra)
            s = s_next
        return total

    def act(self, state: torch.Tensor) -> torch.Tensor:
        """The action ``(B, A)`` to apply now in each world of ``state (B, S)``."""
        state = state.detach().to(torch.float64)
        b, a_dim, r = state.shape[0], self.low.shape[0], self.restarts
        if self.plan is None or self.plan.shape[0] != b:
            self.plan = torch.zeros(b, self.horizon, a_dim, dtype=torch.float64)
        fresh = self.init_std * torch.randn(b * (r - 1), self.horizon, a_dim, generator=self.gen, dtype=torch.float64)
        z = torch.cat([self.plan, fresh]).requires_grad_(True)  # restart k of world i: row k * b + i
        states = state.repeat(r, 1)
        opt = torch.optim.Adam([z], lr=self.lr)
        for _ in range(self.iterations):
            returns = self._returns(states, z)
            if not torch.isfinite(returns).all():
                raise FloatingPointError("MPC: non-finite planned return")
            opt.zero_grad()
            (-returns.sum()).backward()
            opt.step()
        with torch.no_grad():
            returns = self._returns(states, z).reshape(r, b)
            best = z.detach().reshape(r, b, self.horizon, a_dim)[returns.argmax(0), torch.arange(b)]
        self.plan = torch.cat([best[:, 1:], best[:, -1:]], dim=1)  # shifted warm start
        return squash(best[:, 0], self.low, self.high)
