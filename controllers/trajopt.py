"""Trajectory optimisation through the simulator, and receding-horizon MPC on top.

``optimize_controls(cost_fn, u0, ...)`` minimises ``cost_fn(u)`` over an open-loop control
sequence ``u`` with Adam or L-BFGS; the gradient comes from back-propagating through a
differentiable rollout. ``MPC`` re-plans every step over a shifted, warm-started horizon.

Showcase (the seeds' "drone optimal control"): :func:`quadrotor_plan` flies the built-in
quadrotor to a goal position (climbing, sideways, any direction) and stops there with least
rotor energy, the whole horizon being one :func:`diffsim.rigid.rollout`.

The plan is parametrised so that plain first-order optimisation works on an unstable
vehicle: thrusts are piecewise linear in time between ``knots`` and written in mixer
coordinates (collective, roll, pitch and yaw thrust differences, N, relative to hover), so
that the well-conditioned collective and the weak attitude directions get their own Adam
step sizes; the rotors' range [0, 10] N is a quadratic penalty.
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


MIXER = torch.tensor([[1.0, 1.0, 1.0, 1.0],     # collective
                      [1.0, 1.0, -1.0, -1.0],   # roll: +y rotors up
                      [-1.0, 1.0, 1.0, -1.0],   # pitch: -x rotors up
                      [1.0, -1.0, 1.0, -1.0]],  # yaw (drag torque signs of the MJCF)
                     dtype=torch.float64)
"""Rows map (collective, roll, pitch, yaw) thrust offsets (N) to the four rotors of the built-in quadrotor."""


def knot_weights(times: np.ndarray, knot_times: np.ndarray) -> torch.Tensor:
    """Linear-interpolation weights ``(len(times), len(knot_times))`` (values clamp at the ends)."""
    times = np.clip(np.asarray(times, dtype=np.float64), knot_times[0], knot_times[-1])
    j = np.clip(np.searchsorted(knot_times, times, side="right") - 1, 0, len(knot_times) - 2)
    w = (times - knot_times[j]) / (knot_times[j + 1] - knot_times[j])
    out = np.zeros((len(times), len(knot_times)))
    out[np.arange(len(times)), j] = 1.0 - w
    out[np.arange(len(times)), j + 1] = w
    return torch.tensor(out)


class QuadrotorGoal:
    """Cost of flying the built-in quadrotor from ``(qpos, qvel)`` to ``goal`` (m, world frame) in ``steps`` steps.

    Controls ``c (B, knots, 4)``: (collective, roll, pitch, yaw) thrust offsets from hover (N)
    at ``knots`` evenly spaced times; thrusts ``(B, steps, 4) = hover + interp(c) @ MIXER``.
    ``cost = w_goal * mean_t |p_t - goal|^2 + w_final * (|p_T - goal|^2 + |v_T|^2 + |quat_xy_T|^2)
    + w_energy * mean |thrust|^2 + w_range * mean(out-of-range thrust^2)``.
    """

    def __init__(self, goal, steps: int = 1000, knots: int = 12, w_goal=0.0, w_final=10.0, w_energy=1e-3,
                 w_range=100.0, dtype=torch.float64):
        if steps < 1 or knots < 2:
            raise ValueError(f"steps must be >= 1 and knots >= 2, got steps={steps}, knots={knots}")
        self.model = load_mjcf(builtin_model("quadrotor"), dtype=dtype)
        self.goal = torch.as_tensor(goal, dtype=dtype)
        self.steps, self.knots = steps, knots
        self.w_goal, self.w_final, self.w_energy, self.w_range = w_goal, w_final, w_energy, w_range
        self.hover = float(self.model.body_mass.sum()) * 9.81 / 4
        self.knot_times = np.linspace(0.0, steps - 1, knots)
        self.weights = knot_weights(np.arange(steps), self.knot_times).to(dtype)
        self.mixer = MIXER.to(dtype)

    def initial(self, batch: int = 1) -> torch.Tensor:
        """Hover everywhere: zeros ``(batch, knots, 4)``."""
        return torch.zeros(batch, self.knots, 4, dtype=self.weights.dtype)

    def thrust(self, c: torch.Tensor) -> torch.Tensor:
        return self.hover + torch.einsum("sk,bkm,mr->bsr", self.weights, c, self.mixer)

    def shift(self, c: torch.Tensor, steps: int) -> torch.Tensor:
        """The plan ``steps`` later (warm start for receding horizons; the last knot is held)."""
        return torch.einsum("kj,bjm->bkm", knot_weights(self.knot_times + steps, self.knot_times).to(c.dtype), c)

    def simulate(self, qpos, qvel, c):
        return rollout(self.model, qpos, qvel, self.thrust(c))

    def __call__(self, qpos, qvel, c):
        u = self.thrust(c)
        qs, vs = rollout(self.model, qpos, qvel, u)
        d2 = ((qs[:, 1:, :3] - self.goal) ** 2).sum(-1)
        final = d2[:, -1] + (vs[:, -1] ** 2).sum(-1) + (qs[:, -1, 4:6] ** 2).sum(-1)  # at rest, not tilted
        out_of_range = torch.relu(-u) ** 2 + torch.relu(u - 10.0) ** 2
        return (self.w_goal * d2.mean() + self.w_final * final.mean() + self.w_energy * (u ** 2).mean()
                + self.w_range * out_of_range.mean())


def quadrotor_plan(goal, start=(0.0, 0.0, 1.0), steps: int = 1000, knots: int = 12, iterations: int = 400,
                   method: str = "adam", lr: float = 0.01, **weights):
    """Open-loop least-energy flight from rest at ``start`` to rest, untilted, at ``goal`` (m) in ``steps``
    steps of 2 ms.

    Returns ``(thrusts (steps, 4) N, qpos trajectory (steps + 1, 7), cost per iteration)``.
    """
    task = QuadrotorGoal(goal, steps=steps, knots=knots, **weights)
    qpos = torch.tensor([[*start, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    qvel = torch.zeros(1, 6, dtype=torch.float64)
    c, costs = optimize_controls(lambda c: task(qpos, qvel, c), task.initial(), iterations, method, lr)
    with torch.no_grad():
        qs, _ = task.simulate(qpos, qvel, c)
    return task.thrust(c)[0], qs[0], costs


def hover_lqr(goal, heading=(1.0, 0.0, 0.0, 0.0)):
    """LQR holding ``diffsim/Quadrotor-v0``'s drone level at ``goal`` (m) with the yaw of the quaternion
    ``heading``, from the simulator's own derivatives; acts on the env's state (10 ms steps)."""
    from controllers.lqr import LQRController, quaternion_tangent_maps
    from envs.quadrotor import HOVER, QuadrotorDynamics

    w, z = float(heading[0]), float(heading[3])
    yaw = np.array([w, 0.0, 0.0, z]) / np.hypot(w, z)  # the heading's yaw alone
    to_q, from_q = quaternion_tangent_maps(slice(3, 7), reference=yaw)
    goal_t = torch.as_tensor(goal, dtype=torch.float64)

    def to_z(x):  # position, rotation vector, velocities: the env's goal is a constant, not a state
        return to_q(x)[:, :12]

    def from_z(zz):
        return from_q(torch.cat([zz, goal_t.expand(zz.shape[0], 3)], dim=1))

    dyn = QuadrotorDynamics()
    x_eq = np.concatenate([np.asarray(goal, dtype=np.float64), yaw, np.zeros(6), np.asarray(goal, dtype=np.float64)])
    Q = np.diag([10.0] * 3 + [1.0] * 3 + [1.0] * 6)
    return dyn, LQRController(dyn, x_eq, np.full(4, HOVER), Q, 0.1 * np.eye(4), state_map=to_z, state_unmap=from_z)


def fly_to(goal, start=(0.0, 0.0, 1.0), hold_steps: int = 200, **plan_kwargs):
    """The showcase: the least-energy open-loop plan to ``goal``, then LQR hover there for ``hold_steps``
    env steps (10 ms). Returns ``(plan thrusts, plan qpos trajectory, env states while holding
    (hold_steps + 1, 16))``."""
    thrusts, qs, _ = quadrotor_plan(goal, start, **plan_kwargs)
    model = load_mjcf(builtin_model("quadrotor"), dtype=torch.float64)
    q, v = rollout(model, qs[None, 0], torch.zeros(1, 6, dtype=torch.float64), thrusts[None])
    dyn, ctrl = hover_lqr(goal, heading=q[0, -1, 3:7].numpy())
    x = np.concatenate([q[0, -1].numpy(), v[0, -1].numpy(), np.asarray(goal, dtype=np.float64)])[None]
    held = [x[0]]
    with torch.no_grad():
        for _ in range(hold_steps):
            x = dyn.transition(torch.as_tensor(x), torch.as_tensor(ctrl(x)))[0].numpy()
            held.append(x[0])
    return thrusts, qs, np.stack(held)


class MPC:
    """Receding-horizon control: plan ``task.steps`` steps, apply the first ``execute``, shift, repeat."""

    def __init__(self, task: QuadrotorGoal, iterations: int = 10, lr: float = 0.01, execute: int = 10):
        if not 1 <= execute <= task.steps:
            raise ValueError(f"execute must be in [1, task.steps={task.steps}], got {execute}")
        self.task, self.iterations, self.lr, self.execute = task, iterations, lr, execute
        self.c = task.initial()

    def act(self, qpos, qvel):
        """Re-plan from the current state; returns the thrusts (execute, 4) to apply now."""
        self.c, _ = optimize_controls(lambda c: self.task(qpos, qvel, c), self.c, self.iterations, "adam", self.lr)
        plan = self.task.thrust(self.c)[0, :self.execute].detach()
        self.c = self.task.shift(self.c, self.execute)  # warm start
        return plan

    def run(self, qpos, qvel, total_steps: int):
        """Closed loop on the true simulator for ``total_steps`` steps; returns the position trajectory."""
        positions = [qpos[0, :3].clone()]
        for _ in range(0, total_steps, self.execute):
            u = self.act(qpos, qvel)
            with torch.no_grad():
                qs, vs = rollout(self.task.model, qpos, qvel, u[None])
            qpos, qvel = qs[:, -1], vs[:, -1]
            positions.append(qpos[0, :3].clone())
        return torch.stack(positions), qpos, qvel


def main(argv=None):
    """``python -m controllers.trajopt --goal 1 0.5 1.2``: plan a flight, hold the goal by LQR, print and plot it."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Least-energy quadrotor flight to a goal, optimised through diffsim")
    parser.add_argument("--goal", type=float, nargs=3, default=[1.0, 0.5, 1.2], help="goal position (m)")
    parser.add_argument("--start", type=float, nargs=3, default=[0.0, 0.0, 1.0], help="start position (m), at rest")
    parser.add_argument("--steps", type=int, default=1000, help="horizon in 2 ms steps")
    parser.add_argument("--knots", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=Path("outputs/quadrotor_plan"))
    args = parser.parse_args(argv)
    thrusts, qs, held = fly_to(args.goal, args.start, steps=args.steps, knots=args.knots,
                               iterations=args.iterations, lr=args.lr)
    goal = np.asarray(args.goal)
    energy = float((thrusts ** 2).sum()) * 0.002
    end = qs[-1, :3].numpy()
    print(f"plan: end position {end.round(4).tolist()} (miss {np.linalg.norm(end - goal):.4f} m)"
          f", sum thrust^2 dt = {energy:.2f} N^2 s; after {0.01 * (held.shape[0] - 1):.0f} s of LQR hover: "
          f"{held[-1, :3].round(4).tolist()} "
          f"(miss {np.linalg.norm(held[-1, :3] - goal):.4f} m)")
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(qs.shape[0]) * 0.002
    t_hold = t[-1] + np.arange(held.shape[0]) * 0.01
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, name in enumerate("xyz"):
        a.plot(np.concatenate([t, t_hold]), np.concatenate([qs[:, i].numpy(), held[:, i]]), label=name)
        a.axhline(args.goal[i], ls=":", lw=0.8, color=a.lines[-1].get_color())
    a.axvline(t[-1], color="k", lw=0.6)
    a.set_xlabel("time (s): plan, then LQR hover")
    a.set_ylabel("position (m)")
    a.legend()
    for r in range(4):
        b.plot(t[:-1], thrusts[:, r].numpy(), label=f"rotor {r + 1}")
    b.set_xlabel("time (s)")
    b.set_ylabel("thrust (N)")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "flight.png", dpi=120)
    plt.close(fig)
    print(f"wrote {args.out / 'flight.png'}")


if __name__ == "__main__":
    main()
