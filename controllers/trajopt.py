"""Trajectory optimisation through the simulator, and receding-horizon MPC on top.

``optimize_controls(cost_fn, u0, ...)`` minimises ``cost_fn(u)`` over an open-loop control
sequence ``u`` with Adam or L-BFGS; the gradient comes from back-propagating through a
differentiable rollout. ``MPC`` re-plans every step over a shifted, warm-started horizon.

Showcase (the seeds' "drone optimal control"): :func:`quadrotor_plan` flies the built-in
quadrotor to a goal with least rotor energy, the whole horizon being one
:func:`diffsim.rigid.rollout`; thrusts are kept in the rotors' range [0, 10] N by a sigmoid.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from diffsim.rigid import builtin_model, load_mjcf, rollout


def optimize_controls(cost_fn: Callable[[torch.Tensor], torch.Tensor], u0: torch.Tensor, iterations: int = 100,
                      method: str = "adam", lr: float = 0.05):
    """Minimise ``cost_fn(u)`` (a scalar tensor) from ``u0``; returns ``(u, costs per iteration)``.

    Raises ``FloatingPointError`` if the cost or its gradient becomes non-finite.
    """
    if method not in ("adam", "lbfgs"):
        raise ValueError(f"method must be 'adam' or 'lbfgs', got {method!r}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    u = u0.detach().clone().requires_grad_(True)
    history = []

    def closure():
        opt.zero_grad()
        cost = cost_fn(u)
        if not torch.isfinite(cost):
            raise FloatingPointError(f"non-finite cost {float(cost.detach())} after {len(history)} iterations")
        cost.backward()
        if not torch.isfinite(u.grad).all():
            raise FloatingPointError(f"non-finite gradient after {len(history)} iterations")
        return cost

    if method == "adam":
        opt = torch.optim.Adam([u], lr=lr)
        for _ in range(iterations):
            history.append(float(opt.step(closure).detach()))
    else:
        opt = torch.optim.LBFGS([u], lr=lr, max_iter=1, line_search_fn="strong_wolfe")
        for _ in range(iterations):
            history.append(float(opt.step(closure).detach()))
    return u.detach(), history


class QuadrotorGoal:
    """Cost of flying the built-in quadrotor from ``(qpos, qvel)`` toward ``goal`` (m) over the horizon.

    ``cost = w_goal * mean_t |p_t - goal|^2 + w_final * (|p_T - goal|^2 + |v_T|^2) + w_energy * mean |u|^2``;
    controls are unconstrained logits mapped to thrusts ``10 sigmoid(z)`` N.
    """

    def __init__(self, goal, w_goal=1.0, w_final=10.0, w_energy=1e-3, dtype=torch.float64):
        self.model = load_mjcf(builtin_model("quadrotor"), dtype=dtype)
        self.goal = torch.as_tensor(goal, dtype=dtype)
        self.w_goal, self.w_final, self.w_energy = w_goal, w_final, w_energy
        self.hover = float(self.model.body_mass.sum()) * 9.81 / 4

    @staticmethod
    def thrust(z):
        return 10.0 * torch.sigmoid(z)

    def logits(self, thrust):
        t = torch.as_tensor(thrust, dtype=torch.float64).clamp(1e-3, 10 - 1e-3) / 10.0
        return torch.log(t / (1 - t))

    def simulate(self, qpos, qvel, z):
        return rollout(self.model, qpos, qvel, self.thrust(z))

    def __call__(self, qpos, qvel, z):
        qs, vs = self.simulate(qpos, qvel, z)
        d2 = ((qs[:, 1:, :3] - self.goal) ** 2).sum(-1)
        final = d2[:, -1] + (vs[:, -1] ** 2).sum(-1)
        return (self.w_goal * d2.mean() + self.w_final * final.mean()
                + self.w_energy * (self.thrust(z) ** 2).mean())


def quadrotor_plan(goal, start=(0.0, 0.0, 1.0), steps: int = 300, iterations: int = 60, method: str = "adam",
                   lr: float = 0.1):
    """Open-loop least-energy flight to ``goal``: returns ``(thrusts (steps, 4), qpos_traj, costs)``."""
    task = QuadrotorGoal(goal)
    qpos = torch.tensor([[*start, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    qvel = torch.zeros(1, 6, dtype=torch.float64)
    z0 = task.logits(np.full((1, steps, 4), task.hover))
    z, costs = optimize_controls(lambda z: task(qpos, qvel, z), z0, iterations, method, lr)
    with torch.no_grad():
        qs, _ = task.simulate(qpos, qvel, z)
    return task.thrust(z)[0], qs[0], costs


class MPC:
    """Receding-horizon control: plan ``horizon`` steps, apply the first ``execute`` of them, shift, repeat."""

    def __init__(self, task: QuadrotorGoal, horizon: int = 100, iterations: int = 10, lr: float = 0.1,
                 execute: int = 10):
        if not 1 <= execute <= horizon:
            raise ValueError(f"execute must be in [1, horizon={horizon}], got {execute}")
        self.task, self.horizon, self.iterations, self.lr, self.execute = task, horizon, iterations, lr, execute
        self.z = task.logits(np.full((1, horizon, 4), task.hover))

    def act(self, qpos, qvel):
        """Re-plan from the current state; returns the thrusts (execute, 4) to apply now."""
        self.z, _ = optimize_controls(lambda z: self.task(qpos, qvel, z), self.z, self.iterations, "adam", self.lr)
        plan = self.task.thrust(self.z)[0, :self.execute]
        self.z = torch.cat([self.z[:, self.execute:], self.z[:, -1:].expand(1, self.execute, 4)], dim=1)  # warm start
        return plan

    def run(self, qpos, qvel, total_steps: int):
        """Closed loop on the true simulator for ``total_steps`` steps; returns the position trajectory."""
        positions = [qpos[0, :3].clone()]
        for _ in range(0, total_steps, self.execute):
            u = self.act(qpos, qvel)
            with torch.no_grad():
                qs, vs = self.task.simulate(qpos, qvel, self.task.logits(u)[None])
            qpos, qvel = qs[:, -1], vs[:, -1]
            positions.append(qpos[0, :3].clone())
        return torch.stack(positions), qpos, qvel
