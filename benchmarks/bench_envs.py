"""Vector-env throughput: diffsim (Warp) vs Gymnasium, side by side in one run.

* ``diffsim/CartPole-v0`` native vector env vs Gymnasium's native numpy ``CartPole-v1``
  vector env (``vectorization_mode="vector_entry_point"``);
* ``diffsim/Pendulum-v0`` native vector env vs ``Pendulum-v1`` under ``SyncVectorEnv``;
* the differentiable step (forward + backward of the summed reward through
  ``Dynamics.step``) vs a plain vector-env step, same N.

Env steps per second = N x steps / wall time (random actions drawn beforehand).
Usage: ``python -m benchmarks.bench_envs [--sizes 1 64 1024 16384] [--steps 200]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from envs.cartpole import CartPoleDynamics
from envs.pendulum import PendulumDynamics


def _rate(venv, actions):
    venv.reset(seed=0)
    venv.step(actions[0])
    t0 = time.perf_counter()
    for a in actions:
        venv.step(a)
    return venv.num_envs * len(actions) / (time.perf_counter() - t0)


def _actions(kind, n, steps, rng):
    if kind == "cartpole":
        return [rng.integers(0, 2, n) for _ in range(steps)]
    return [rng.uniform(-2, 2, (n, 1)).astype(np.float32) for _ in range(steps)]


def _diff_rate(dyn, n, steps):
    state = dyn.reset(n, torch.Generator().manual_seed(0))
    action = torch.zeros(n, 1, dtype=torch.float64, requires_grad=True)
    dyn.step(state, action)[2].sum().backward()  # warm-up (kernel load)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, reward, _ = dyn.step(state, action)
        reward.sum().backward()
    return n * steps / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 16384])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"gymnasium {gym.__version__}")
    print("| env | N | diffsim steps/s | Gymnasium steps/s | ratio | diff. step steps/s | plain/diff. |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for kind, ours, theirs, mode in (("cartpole", "diffsim/CartPole-v0", "CartPole-v1", "vector_entry_point"),
                                     ("pendulum", "diffsim/Pendulum-v0", "Pendulum-v1", "sync")):
        dyn = CartPoleDynamics() if kind == "cartpole" else PendulumDynamics()
        for n in args.sizes:
            steps = args.steps if n <= 1024 or kind == "cartpole" else max(10, args.steps // 10)
            acts = _actions(kind, n, steps, rng)
            r_ours = _rate(gym.make_vec(ours, num_envs=n, vectorization_mode="vector_entry_point"), acts)
            their_steps = acts if mode == "vector_entry_point" or n <= 64 else acts[:max(5, steps // 10)]
            r_theirs = _rate(gym.make_vec(theirs, num_envs=n, vectorization_mode=mode), their_steps)
            r_diff = _diff_rate(dyn, n, max(5, steps // 4))
            print(f"| {ours} vs {theirs} ({mode}) | {n} | {r_ours:,.0f} | {r_theirs:,.0f} | "
                  f"{r_ours / r_theirs:.2f}x | {r_diff:,.0f} | {r_ours / r_diff:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
