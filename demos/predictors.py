"""Attention, memory and recurrent predictors on trajectories simulated by diffsim: error against horizon.

    python -m demos.predictors --system double_pendulum --window 10 --seeds 0 1 2

Simulates training and held-out trajectories (different seeds) of one system under random smooth inputs
(:mod:`controllers.predictors.data`), trains every model of ``--models`` on windows of ``--window`` past steps
to predict ``--train-horizon`` steps, then rolls each out to the largest of ``--horizons`` on the held-out
windows. Prints a table of the normalised RMSE (each state component divided by its training standard
deviation) at each horizon, mean +- std over ``--seeds``, and writes ``results.csv``, ``rmse.png`` (error
against horizon) and ``attention.png`` (each attention model's weights on one held-out window) to ``--out``.

Systems: ``double_pendulum`` and ``cartpole`` (the rigid-body envs ``diffsim/DoublePendulum-v0`` and
``diffsim/CartPoleSwingUp-v0``, joint torques / cart force as inputs) and ``delayed_pendulum`` (Pendulum-v0
driven by the input of 1 step ago in its upper half and 8 steps ago in its lower half: a coupling that
changes in time) and ``quadrotor`` (``diffsim/Quadrotor-v0`` under a hover LQR chasing a random smooth reference,
with thrust disturbances; the applied thrusts as inputs).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from controllers.predictors import MODELS, fit, predict, windows
from controllers.predictors.data import controlled_quadrotor, delayed_pendulum, driven_trajectories

SYSTEMS = {
    "double_pendulum": lambda n, steps, seed: driven_trajectories("diffsim/DoublePendulum-v0", n, steps, seed),
    "cartpole": lambda n, steps, seed: driven_trajectories("diffsim/CartPoleSwingUp-v0", n, steps, seed),
    "delayed_pendulum": lambda n, steps, seed: delayed_pendulum(n, steps, seed),
    "quadrotor": lambda n, steps, seed: controlled_quadrotor(n, steps, seed),
}
VARIANTS = {"lstm": ("lstm", {}), "additive": ("attention", {"score": "additive"}),
            "cosine": ("attention", {"score": "cosine"}), "dot": ("attention", {"score": "dot"}),
            "darnn": ("darnn", {}), "memory": ("memory", {}), "transformer": ("transformer", {})}


def build(name: str, dim: int, exog: int, window: int, hidden: int):
    family, kwargs = VARIANTS[name]
    size = {"lstm": "hidden", "attention": "hidden", "darnn": "hidden", "memory": "embed", "transformer": "dim"}
    kwargs = dict(kwargs, **{size[family]: hidden})
    if family == "darnn":
        kwargs["window"] = window
    return MODELS[family](input_dim=dim, exog_dim=exog, **kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=sorted(SYSTEMS), default="double_pendulum")
    parser.add_argument("--models", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--train-horizon", type=int, default=10)
    parser.add_argument("--horizons", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per model")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--trajectories", type=int, default=64, help="training trajectories (a quarter held out)")
    parser.add_argument("--length", type=int, default=300, help="samples per trajectory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("outputs/predictors"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if min(args.horizons) < 1 or args.window < 1 or args.train_horizon < 1:
        parser.error("--window, --train-horizon and --horizons must be >= 1")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    horizon = max(args.horizons)
    states, inputs = SYSTEMS[args.system](args.trajectories, args.length, 1)
    test_states, test_inputs = SYSTEMS[args.system](max(1, args.trajectories // 4), args.length, 2)
    states, inputs, test_states, test_inputs = (x.float() for x in (states, inputs, test_states, test_inputs))
    past, future, exog = windows(states, args.window, args.train_horizon, inputs, stride=2)
    t_past, t_future, t_exog = windows(test_states, args.window, horizon, test_inputs, stride=10)
    scale = states.reshape(-1, states.shape[-1]).std(0)
    print(f"# {args.system}: {past.shape[0]} training windows, {t_past.shape[0]} held-out windows, "
          f"state {states.shape[-1]}, inputs {inputs.shape[-1]}, window {args.window}")
    rows, examples = [], {}
    for name in args.models:
        for seed in args.seeds:
            torch.manual_seed(seed)
            model = build(name, states.shape[-1], inputs.shape[-1], args.window, args.hidden)
            start = time.perf_counter()
            fit(model, past, future, exog, steps=args.steps, seed=seed, progress=not args.no_progress)
            seconds = time.perf_counter() - start
            pred, attention = predict(model, t_past, horizon, t_exog)
            err = ((pred - t_future) / scale) ** 2  # (M, horizon, D)
            rmse = err.mean((0, 2)).sqrt()
            rows.append(dict(model=name, seed=seed, seconds=seconds,
                             **{f"h{h}": float(rmse[h - 1]) for h in args.horizons}))
            if seed == args.seeds[0] and attention:
                examples[name] = {k: v[0].numpy() for k, v in attention.items()}
            print(f"{name:12s} seed {seed}: " + "  ".join(f"h{h} {float(rmse[h - 1]):.4f}" for h in args.horizons)
                  + f"  ({seconds:.0f} s)", flush=True)
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n| model | " + " | ".join(f"RMSE h={h}" for h in args.horizons) + " | train s |")
    print("|---|" + "---|" * (len(args.horizons) + 1))
    for name in args.models:
        mine = [r for r in rows if r["model"] == name]
        cells = [f"{np.mean([r[f'h{h}'] for r in mine]):.4f} ± {np.std([r[f'h{h}'] for r in mine]):.4f}"
                 for h in args.horizons]
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean([r['seconds'] for r in mine]):.0f} |")
    plot(rows, examples, args)


def plot(rows, examples, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in args.models:
        mine = [r for r in rows if r["model"] == name]
        ax.errorbar(args.horizons, [np.mean([r[f"h{h}"] for r in mine]) for h in args.horizons],
                    yerr=[np.std([r[f"h{h}"] for r in mine]) for h in args.horizons], marker="o", label=name,
                    capsize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("prediction step")
    ax.set_ylabel("normalised RMSE (held-out)")
    ax.set_title(f"{args.system}, window {args.window}")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / "rmse.png", dpi=120)
    plt.close(fig)
    panels = [(name, key, w) for name, att in examples.items() for key, w in att.items()]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), squeeze=False)
    for ax, (name, key, w) in zip(axes[0], panels):
        ax.imshow(w, aspect="auto", cmap="viridis", vmin=0)
        ax.set_title(f"{name}: {key}", fontsize=9)
        ax.set_xlabel("series" if key == "input" else "history step (oldest first)")
        ax.set_ylabel("history step" if key == "input" else "predicted step")
    fig.tight_layout()
    fig.savefig(args.out / "attention.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
