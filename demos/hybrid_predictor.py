"""A learned force inside the simulator vs the same attention used as a black box: a pendulum with a friction
that remembers.

    python -m demos.hybrid_predictor

The system (:func:`controllers.predictors.data.memory_friction_pendulum`): diffsim's pendulum driven by random
smooth torques plus a friction proportional to an exponentially weighted average of its last 8 velocities. Three
predictors of the next states from the last ``--window`` states and the torques:

* ``simulator``: the pendulum simulator alone (the friction missing), nothing learned;
* ``hybrid``: the simulator plus a learned attention force over the window
  (:class:`~controllers.predictors.hybrid.HybridModel`), trained through the simulator's Warp steps;
* ``black box``: a memory network over the same window predicting the states directly
  (:class:`~controllers.predictors.MemoryNetwork`).

Each learned model is trained on ``--train-horizon``-step windows of few (``--small``) or many (``--large``)
trajectories and scored on held-out trajectories at steps 1, 10 and 50 (50 is 5x past the trained horizon):
RMSE of ``[theta, theta_dot]``, each component divided by its training standard deviation, mean +- std over
``--seeds``. Writes ``results.csv`` and ``rollout.png`` (one held-out rollout of each) to ``--out``.
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from controllers.predictors import MemoryNetwork, fit, predict, windows
from controllers.predictors.data import free_pendulum, memory_friction_pendulum
from controllers.predictors.hybrid import HybridModel

HORIZONS = (1, 10, 50)


def score(pred, future, scale):
    err = ((pred.double() - future.double()) / scale) ** 2
    rmse = err.mean((0, 2)).sqrt()
    return {f"h{h}": float(rmse[h - 1]) for h in HORIZONS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--train-horizon", type=int, default=10)
    parser.add_argument("--small", type=int, default=4, help="training trajectories, few")
    parser.add_argument("--large", type=int, default=32, help="training trajectories, many")
    parser.add_argument("--length", type=int, default=200, help="samples per trajectory")
    parser.add_argument("--steps", type=int, default=400, help="Adam steps per model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("outputs/hybrid_predictor"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    horizon = max(HORIZONS)
    states, u = memory_friction_pendulum(args.large, args.length, seed=1)
    t_states, t_u = memory_friction_pendulum(8, args.length, seed=2)
    t_past, t_future, t_exog = windows(t_states, args.window, horizon, t_u, stride=10)
    scale = states.reshape(-1, 2).std(0)
    dyn = free_pendulum()
    rows = []
    bare = HybridModel(dyn, window=args.window)  # zero force: the simulator alone
    rows.append(dict(model="simulator", trajectories=0, seed=-1, seconds=0.0,
                     **score(predict(bare, t_past, horizon, t_exog)[0], t_future, scale)))
    examples = {"simulator": predict(bare, t_past[:1], horizon, t_exog[:1])[0][0]}
    for n in (args.small, args.large):
        past, future, exog = windows(states[:n], args.window, args.train_horizon, u[:n], stride=2)
        for seed in args.seeds:
            for name in ("hybrid", "black box"):
                torch.manual_seed(seed)
                model = HybridModel(dyn, window=args.window) if name == "hybrid" else \
                    MemoryNetwork(input_dim=2, exog_dim=1, embed=32).double()
                start = time.perf_counter()
                fit(model, past, future, exog, steps=args.steps, lr=3e-3, seed=seed, progress=not args.no_progress)
                seconds = time.perf_counter() - start
                pred, _ = predict(model, t_past, horizon, t_exog)
                rows.append(dict(model=name, trajectories=n, seed=seed, seconds=seconds,
                                 **score(pred, t_future, scale)))
                print(f"{name:10s} {n:3d} trajectories, seed {seed}: "
                      + "  ".join(f"h{h} {rows[-1][f'h{h}']:.4f}" for h in HORIZONS) + f"  ({seconds:.0f} s)",
                      flush=True)
                if n == args.large and seed == args.seeds[0]:
                    examples[name] = pred[0]
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n| model | training trajectories | " + " | ".join(f"RMSE step {h}" for h in HORIZONS) + " | train s |")
    print("|---|---|" + "---|" * (len(HORIZONS) + 1))
    for name, n in [("simulator", 0)] + [(m, k) for k in (args.small, args.large) for m in ("hybrid", "black box")]:
        mine = [r for r in rows if r["model"] == name and r["trajectories"] == n]
        cells = [f"{np.mean([r[f'h{h}'] for r in mine]):.4f} ± {np.std([r[f'h{h}'] for r in mine]):.4f}"
                 for h in HORIZONS]
        print(f"| {name} | {n} | " + " | ".join(cells) + f" | {np.mean([r['seconds'] for r in mine]):.0f} |")
    plot(examples, t_future[0], args.out / "rollout.png")


def plot(examples, truth, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    for i, label in enumerate(("theta (rad)", "theta_dot (rad/s)")):
        axes[i].plot(truth[:, i].numpy(), "k", lw=2, label="true")
        for name, pred in examples.items():
            axes[i].plot(pred[:, i].numpy(), label=name)
        axes[i].set_ylabel(label)
        axes[i].grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("predicted step (0.05 s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
