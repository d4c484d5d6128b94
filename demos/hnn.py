"""Reproduce the HNN paper's Table 1: ``python -m demos.hnn [--tasks spring pendulum two_body] [--seeds 0 1 2]``.

For each task and seed: the paper's data recipe (:func:`controllers.dynamics.data.hnn_task`), a baseline
MLP field and an HNN (2 x 200 tanh, orthogonal initialisation, Adam 1e-3; spring and pendulum: full batch,
2 000 steps, weight decay 1e-4; two-body: batches of 200, 10 000 steps, no weight decay), trained by
derivative matching. Reported as the paper does: derivative MSE on the train and test halves, and the energy
MSE along rollouts of the learned field from 15 new starts (spring, pendulum: each coordinate +-U[0.2, 1],
t in [0, 20], 100 points, Dormand-Prince at rtol 1e-12, "energy" q^2 + p^2 as the paper's notebooks compute
it; two-body: 15 test orbits, t in [0, 25], 500 points, rtol 1e-9, the true energy). The table beside the
paper's numbers and an energy-over-time figure go to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from controllers.dynamics import HNN, MLPField, fit
from controllers.dynamics.data import energy_initial_states, hnn_task
from diffsim.ode import odeint

# the paper's Table 1 (the repository README's raw values): test loss and energy MSE, baseline / HNN
PAPER = {"spring": dict(test=(3.6656e-02, 3.5928e-02), energy=(1.7077e-01, 3.8416e-04)),
         "pendulum": dict(test=(3.5273e-02, 3.5586e-02), energy=(4.1519e-02, 2.4852e-02)),
         "two_body": dict(test=(2.9575e-05, 2.8218e-06), energy=(6.3276e-02, 3.8751e-05))}
ENERGY_RTOL = {"spring": 1e-12, "pendulum": 1e-12, "two_body": 1e-9}  # the notebooks' solve_ivp tolerances
TRAINING = {"spring": dict(steps=2000, batch_size=None, weight_decay=1e-4),
            "pendulum": dict(steps=2000, batch_size=None, weight_decay=1e-4),
            "two_body": dict(steps=10_000, batch_size=200, weight_decay=0.0)}


def _energy(task: str, y: torch.Tensor) -> torch.Tensor:
    if task == "two_body":  # kinetic + potential of two unit masses, G = 1
        q, p = y[..., :4], y[..., 4:]
        r = (q[..., 2:] - q[..., :2]).norm(dim=-1)
        return 0.5 * p.square().sum(-1) - 1.0 / r
    return y.square().sum(-1)  # the notebooks' q^2 + p^2


def energy_mse(task: str, model, data: dict, seed: int):
    """Mean over starts of the MSE between the true and the learned rollout's energy series, with the
    notebooks' spread (std of 5 group means / sqrt 5); also returns both energy series."""
    rtol = ENERGY_RTOL[task]
    if task == "two_body":
        y0, t = data["x_test"][:15, 0], torch.linspace(0, 25, 500, dtype=torch.float64)
    else:
        y0, t = energy_initial_states(task, seed), torch.linspace(0, 20, 100, dtype=torch.float64)
    with torch.no_grad():
        true = odeint(data["field"], y0, t, method="dopri5", rtol=rtol, atol=1e-12)
        learned = odeint(model, y0, t, method="dopri5", rtol=rtol, atol=1e-12)
    e_true, e_learned = _energy(task, true), _energy(task, learned)  # (T, 15)
    per_start = (e_true - e_learned).square().mean(0).numpy()
    groups = [g.mean() for g in np.array_split(per_start, 5)]
    return float(per_start.mean()), float(np.std(groups) / np.sqrt(5)), t.numpy(), e_true.numpy(), e_learned.numpy()


def run(task: str, seed: int, progress: bool) -> dict:
    data = hnn_task(task, seed)
    dof = data["x_train"].shape[-1] // 2
    out = {}
    for name, cls in (("baseline", MLPField), ("hnn", HNN)):
        torch.manual_seed(seed)
        model = cls(dof=dof)
        t0 = time.perf_counter()
        fit(model, data["t"], data["x_train"], dys=data["dx_train"], lr=1e-3, seed=seed, progress=progress,
            **TRAINING[task])
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            mse = {k: float((model(0.0, data[f"x_{k}"].reshape(-1, 2 * dof))
                             - data[f"dx_{k}"].reshape(-1, 2 * dof)).square().mean()) for k in ("train", "test")}
        e_mse, e_spread, t, e_true, e_learned = energy_mse(task, model, data, seed)
        out[name] = dict(train=mse["train"], test=mse["test"], energy=e_mse, energy_spread=e_spread,
                         seconds=seconds, t=t.tolist(), e_true=e_true[:, 0].tolist(),
                         e_learned=e_learned[:, 0].tolist())
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["spring", "pendulum"], choices=sorted(PAPER))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("outputs/hnn"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    results = {task: {seed: run(task, seed, not args.no_progress) for seed in args.seeds} for task in args.tasks}
    print("\n| task | model | seeds | train MSE | test MSE (paper) | energy MSE, mean ± sd over seeds (paper) | "
          "train s |")
    print("|---|---|---|---|---|---|---|")
    for task, by_seed in results.items():
        for i, name in enumerate(("baseline", "hnn")):
            rows = [by_seed[s][name] for s in by_seed]
            col = {k: np.array([r[k] for r in rows]) for k in ("train", "test", "energy", "seconds")}
            print(f"| {task} | {name} | {len(rows)} | {col['train'].mean():.4e} | {col['test'].mean():.4e} "
                  f"({PAPER[task]['test'][i]:.4e}) | {col['energy'].mean():.3e} ± {col['energy'].std():.1e} "
                  f"({PAPER[task]['energy'][i]:.3e}) | {col['seconds'].mean():.0f} |")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    _plot(results, args.out / "energy.png")
    print(f"results.json and energy.png written to {args.out}/")
    return results


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.5), squeeze=False)
    for ax, (task, by_seed) in zip(axes[0], results.items()):
        first = by_seed[next(iter(by_seed))]
        ax.plot(first["hnn"]["t"], first["hnn"]["e_true"], "k", label="true")
        ax.plot(first["baseline"]["t"], first["baseline"]["e_learned"], label="baseline MLP")
        ax.plot(first["hnn"]["t"], first["hnn"]["e_learned"], label="HNN")
        ax.set(title=task, xlabel="t", ylabel="energy")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
