"""MPC on a learned model of the pendulum vs MPC on the simulator: ``python -m demos.learned_mpc``.

1. Data: ``--trajectories`` runs of ``diffsim/Pendulum-v0``'s differentiable step (Gymnasium's Pendulum-v1
   dynamics, dt = 0.05 s) of ``--steps`` steps each, from the env's random starts under uniformly random
   torques in [-2, 2] N m, seeded.
2. Model: a :class:`~controllers.dynamics.controlled.ControlledHNN` (learned H(theta, theta_dot) with the angle
   fed as cos/sin, learned input gain G(theta), learned damping), fitted by trajectory matching through one
   RK4 step per env step (``fit(mode="trajectory", window=2)``) with the torque held over the step.
3. Control: the same gradient-shooting MPC (:class:`controllers.mpc.ShootingMPC`: horizon, Adam iterations)
   plans either on the simulator or on the learned model (:class:`~controllers.dynamics.learned.LearnedDynamics`,
   the env's reward), and acts on the simulator for ``--episode-steps`` (200) steps from the same
   ``--episodes`` start states.

Prints the model's held-out one-step error and both controllers' returns; writes ``results.json`` and a
plot of the angle over time to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from controllers.dynamics import ControlledHNN, fit
from controllers.dynamics.learned import LearnedDynamics
from controllers.mpc import ShootingMPC
from controllers.shac import closed_loop
from envs.pendulum import PendulumDynamics


def collect(dyn, trajectories: int, steps: int, seed: int):
    """States ``(N, steps + 1, 2)`` and torques ``(N, steps + 1, 1)`` (the last one unused) under random torques."""
    gen = torch.Generator().manual_seed(seed)
    state = dyn.reset(trajectories, gen)
    u = 4 * torch.rand(trajectories, steps + 1, 1, generator=gen, dtype=torch.float64) - 2
    states = [state]
    with torch.no_grad():
        for k in range(steps):
            state, _ = dyn.transition(state, u[:, k])
            states.append(state)
    return torch.stack(states, 1), u


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--fit-steps", type=int, default=1500)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--episode-steps", type=int, default=200)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/learned_mpc"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    dyn = PendulumDynamics()
    dt = float(dyn.params[3])
    ys, u = collect(dyn, args.trajectories, args.steps, args.seed)
    test_ys, test_u = collect(dyn, 16, args.steps, args.seed + 1)
    t = torch.arange(args.steps + 1, dtype=torch.float64) * dt
    torch.manual_seed(args.seed)
    model = ControlledHNN(dof=1, control_dim=1, hidden=64, periodic=[True])
    t0 = time.perf_counter()
    hist = fit(model, t, ys, mode="trajectory", controls=u, window=2, method="rk4", step_size=dt,
               steps=args.fit_steps, lr=3e-3, seed=args.seed, progress=not args.no_progress,
               test={"ys": test_ys, "controls": test_u})
    fit_s = time.perf_counter() - t0
    rmse = float(np.sqrt(hist["test"][-1]))
    print(f"fitted in {fit_s:.0f} s; held-out one-step RMSE {rmse:.2e} (theta rad, theta_dot rad/s)")

    starts = dyn.reset(args.episodes, torch.Generator().manual_seed(args.seed + 2))
    results = dict(fit_seconds=fit_s, one_step_rmse=rmse, settings=vars(args) | {"out": str(args.out)})
    curves = {}
    for name, planner in (("simulator", dyn), ("learned model", LearnedDynamics(model, dyn, dt))):
        mpc = ShootingMPC(planner, horizon=args.horizon, iterations=args.iterations, seed=args.seed)
        t0 = time.perf_counter()
        returns, states = closed_loop(dyn, mpc.act, starts, args.episode_steps)
        seconds = time.perf_counter() - t0
        results[name] = dict(returns=returns.tolist(), mean=float(returns.mean()), std=float(returns.std()),
                             ms_per_step=1e3 * seconds / args.episode_steps)
        curves[name] = states[:, :, 0].numpy()
        print(f"MPC planning on the {name}: return {returns.mean():.1f} ± {returns.std():.1f} over {args.episodes} "
              f"episodes ({1e3 * seconds / args.episode_steps:.0f} ms per control step for all episodes)")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    _plot(curves, dt, args.out / "angle.png")
    print(f"results.json and angle.png written to {args.out}/")
    return results


def _plot(curves, dt, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (name, theta), style in zip(curves.items(), ("-", "--")):
        wrapped = (theta + np.pi) % (2 * np.pi) - np.pi
        ax.plot(np.arange(len(theta)) * dt, wrapped, style, lw=0.8, label=[name] + [None] * (theta.shape[1] - 1))
    ax.set(xlabel="t (s)", ylabel="angle from upright (rad)", title="MPC: simulator (solid) vs learned model (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
