"""How the gradient of a rollout's return w.r.t. its actions grows with the window: what sets a first-order
method's window (SHAC's short horizon) on a task.

For each task, from ``--worlds`` start states of its differentiable env and random actions (``N(0, 0.3^2)``,
clipped to the control range), the undiscounted return of ``H`` env steps is differentiated w.r.t. every action;
printed per ``H``: the mean per-step reward, the gradient's norm per world and that of the first action's
gradient alone (what the window's end does to its start). Through smooth dynamics the norms grow about linearly
with ``H``; exponential growth means the window is past the system's Lyapunov time (or its stiff contacts) and the
gradient is mostly noise.

Usage: ``python -m benchmarks.bench_gradient_growth --tasks diffsim/HalfCheetah-v0 [--windows 1 2 4 8 16 32]``
"""
from __future__ import annotations

import argparse
import os
import platform

import torch

from envs import make_functional


def growth(env_id: str, windows, worlds: int, seed: int = 0):
    dyn = make_functional(env_id)
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
                     float(grad[0].norm()) / worlds ** 0.5))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["diffsim/HalfCheetah-v0"])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--worlds", type=int, default=16)
    args = parser.parse_args(argv)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"{args.worlds} worlds, actions N(0, 0.3^2)")
    print("| task | window (env steps) | mean reward per step | gradient norm per world | first action's |")
    print("|---|---|---|---|---|")
    for task in args.tasks:
        for H, reward, norm, first in growth(task, args.windows, args.worlds):
            print(f"| {task} | {H} | {reward:.3f} | {norm:.3g} | {first:.3g} |", flush=True)


if __name__ == "__main__":
    main()
