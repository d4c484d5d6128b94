"""How the gradient of a rollout's return w.r.t. its actions grows with the window: what sets a first-order
method's window (SHAC's short horizon) on a task.

For each task, from ``--worlds`` start states of its differentiable env and random actions (``N(0, 0.3^2)``,
clipped to the control range), the undiscounted return of ``H`` env steps is differentiated w.r.t. every action;
printed per ``H``: the mean per-step reward, the gradient's norm per world (root mean square over the worlds: one
exploding world dominates it), the median world's, and the first action's gradient alone (what the window's end
does to its start; root mean square). Through smooth dynamics the norms grow about linearly
with ``H``; exponential growth means the window is past the system's Lyapunov time (or its stiff contacts) and the
gradient is mostly noise.

``--friction-smoothing`` sets the contact tasks' friction slip speed (m/s; default: the env's,
``diffsim.rigid.Model.friction_smoothing``): through sliding feet the friction is a damping of ``mu fn / eps`` per
contact, much of what makes HalfCheetah's and Hopper's gradients explode (not Ant's; BENCHMARKS.md).

``--scale NAME=FACTOR`` (repeatable) runs the Gymnasium MuJoCo tasks with one physical parameter scaled in every
world (any name of ``envs.rigid_core.RANDOMIZABLE``: ``contact_stiffness``, ``limit_damping``, ...): which of them
drives the growth.

``--optimize N`` then also asks whether the gradient is usable: open-loop actions over the longest window (``tanh``
of free variables, from zero) optimised by Adam (``--lr``) for ``N`` iterations from the same start states through
:func:`controllers.trajopt.optimize_controls`; printed: the mean reward per step every ``N / 5`` iterations and the
best. ``--substeps`` sets the contact tasks' diffsim steps per MuJoCo step and ``--integrator`` what each runs
(``rk4`` or ``euler``; default: the env's).

Usage: ``python -m benchmarks.bench_gradient_growth --tasks diffsim/HalfCheetah-v0 [--windows 1 2 4 8 16 32]
[--friction-smoothing 0.1] [--substeps 4] [--integrator euler] [--scale contact_stiffness=0.25]
[--optimize 100 --lr 0.02]``
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from controllers.trajopt import optimize_controls
from diffsim.rigid.rollout import INTEGRATORS
from envs import make_functional


def growth(env_id: str, windows, worlds: int, seed: int = 0, **env_kwargs):
    dyn = make_functional(env_id, **env_kwargs)
    g = torch.Generator().manual_seed(seed)
    state0 = dyn.reset(worlds, g)
    space = dyn.action_space  # the clip range of the actions
    low, high = (torch.as_tensor(b, dtype=torch.float64) for b in (space.low, space.high))
    rows = []
    for H in windows:
        actions = (0.3 * torch.randn(H, worlds, dyn.action_dim, generator=g, dtype=torch.float64)).requires_grad_(True)
        state, total = state0, 0.0
        for t in range(H):
            state, _, reward, _ = dyn.step(state, torch.minimum(torch.maximum(actions[t], low), high))
            total = total + reward.sum()
        (grad,) = torch.autograd.grad(total, actions)
        rows.append((H, float(total.detach()) / (H * worlds), float(grad.norm()) / worlds ** 0.5,
                     float(grad.transpose(0, 1).reshape(worlds, -1).norm(dim=1).median()),
                     float(grad[0].norm()) / worlds ** 0.5))
    return rows


def open_loop(env_id: str, window: int, iterations: int, lr: float, worlds: int, seed: int = 0, **env_kwargs):
    """Mean reward per step of each Adam iteration on open-loop actions ``tanh(z)`` (scaled into the control range)
    over ``window`` env steps from ``worlds`` start states, ``z`` starting at zero."""
    dyn = make_functional(env_id, **env_kwargs)
    state0 = dyn.reset(worlds, torch.Generator().manual_seed(seed))
    space = dyn.action_space
    low, high = (torch.as_tensor(b, dtype=torch.float64) for b in (space.low, space.high))

    def cost(z):
        state, total = state0, 0.0
        for t in range(window):
            state, _, reward, _ = dyn.step(state, low + (high - low) * (torch.tanh(z[t]) + 1) / 2)
            total = total + reward.mean()
        return -total / window

    _, costs = optimize_controls(cost, torch.zeros(window, worlds, dyn.action_dim, dtype=torch.float64),
                                 iterations=iterations, lr=lr)
    return [-c for c in costs]


def scales(items) -> dict:
    """``["NAME=FACTOR", ...]`` as the envs' ``randomize=`` with every world at that factor."""
    out = {}
    for item in items:
        name, _, factor = item.partition("=")
        try:
            value = float(factor) if name else None
        except ValueError:
            value = None
        if value is None:
            raise ValueError(f"--scale takes NAME=FACTOR (FACTOR a number), got {item!r}")
        out[name] = (value, value)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["diffsim/HalfCheetah-v0"])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--worlds", type=int, default=16)
    parser.add_argument("--friction-smoothing", type=float, default=None, help="m/s (default: the env's)")
    parser.add_argument("--substeps", type=int, default=None, help="diffsim steps per MuJoCo step (default: the env's)")
    parser.add_argument("--integrator", choices=INTEGRATORS, default=None, help="default: the env's")
    parser.add_argument("--scale", action="append", default=[], metavar="NAME=FACTOR",
                        help="scale one physical parameter of the Gymnasium MuJoCo tasks in every world (repeatable)")
    parser.add_argument("--optimize", type=int, default=0, metavar="N", help="also N Adam steps on open-loop actions")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam's step size for --optimize")
    args = parser.parse_args(argv)
    env_kwargs = {k: getattr(args, k) for k in ("friction_smoothing", "substeps", "integrator")
                  if getattr(args, k) is not None}
    if args.scale:
        try:
            env_kwargs["randomize"] = scales(args.scale)
        except ValueError as exc:
            parser.error(str(exc))
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"{args.worlds} worlds, actions N(0, 0.3^2)"
          + "".join(f", {k} {v}" for k, v in env_kwargs.items()))
    print("| task | window (env steps) | mean reward per step | gradient norm per world | median world's | "
          "first action's |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        for H, reward, norm, median, first in growth(task, args.windows, args.worlds, **env_kwargs):
            print(f"| {task} | {H} | {reward:.3f} | {norm:.3g} | {median:.3g} | {first:.3g} |", flush=True)
    if args.optimize:
        window, every = max(args.windows), max(1, args.optimize // 5)
        print(f"\nOpen-loop actions over {window} env steps, Adam lr {args.lr}: mean reward per step")
        print("| task | " + " | ".join(f"iteration {i}" for i in range(0, args.optimize, every)) + " | best |")
        print("|---|" + "---|" * (len(range(0, args.optimize, every)) + 1))
        for task in args.tasks:
            rewards = open_loop(task, window, args.optimize, args.lr, args.worlds, **env_kwargs)
            print(f"| {task} | " + " | ".join(f"{r:.3f}" for r in rewards[::every]) + f" | {max(rewards):.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
