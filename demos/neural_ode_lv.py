"""A neural ODE learns Lotka-Volterra from a few points: ``python -m demos.neural_ode_lv``.

The SciML "Lotka-Volterra learned via a neural ODE" setting: x' = 1.5 x - x y, y' = -3 y + x y from (1, 1),
sampled 100 times on [0, 10] by diffsim's Dormand-Prince (rtol 1e-10); only the samples with t <= 3.5 are
shown to the model. The whole right-hand side is an MLP (:class:`~controllers.dynamics.mlp_field.MLPField`,
2 x ``--hidden`` tanh), trained by matching every ``--window``-sample stretch of the 3.5 s trajectory through
diffsim's RK4 (multiple shooting; Adam). Reported:
RMSE inside the training window and on the extrapolation to t = 10; the phase portrait (learned vs true flow,
data, both trajectories) goes to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from controllers.dynamics import MLPField, fit
from diffsim.ode import fields, odeint

LV = [1.5, 1.0, 3.0, 1.0]  # x' = a x - b x y, y' = d x y - c y with [a, b, c, d]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--t-train", type=float, default=3.5)
    parser.add_argument("--window", type=int, default=6, help="samples per training window (multiple shooting)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/neural_ode_lv"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    field = fields.lotka_volterra(LV)
    t = torch.linspace(0, 10, 100, dtype=torch.float64)
    truth = odeint(field, torch.tensor([[1.0, 1.0]], dtype=torch.float64), t, rtol=1e-10, atol=1e-12)[:, 0]
    k = int((t <= args.t_train).sum())
    torch.manual_seed(args.seed)
    model = MLPField(dof=1, hidden=args.hidden)
    step = float(t[1] - t[0]) / 2
    t0 = time.perf_counter()
    hist = fit(model, t[:k], truth[None, :k], mode="trajectory", window=args.window, method="rk4", step_size=step,
               steps=args.steps, lr=1e-2, seed=args.seed, progress=not args.no_progress)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        learned = odeint(model, truth[:1], t, method="rk4", step_size=step)[:, 0]
    err = (learned - truth).norm(dim=-1)
    inside, outside = float(err[:k].square().mean().sqrt()), float(err[k:].square().mean().sqrt())
    scale = float(truth.norm(dim=-1).mean())
    print(f"trained {args.steps} steps in {seconds:.0f} s (final loss {hist['train'][-1]:.2e}); RMSE inside the "
          f"{args.t_train} s window {inside:.3e}, on the extrapolation to t = 10 {outside:.3e} "
          f"(mean |state| {scale:.2f})")
    results = dict(seconds=seconds, rmse_window=inside, rmse_extrapolation=outside, mean_state_norm=scale,
                   train_points=k, loss=hist["train"], t=t.tolist(), truth=truth.tolist(), learned=learned.tolist())
    (args.out / "results.json").write_text(json.dumps(results))
    _plot(model, field, truth.numpy(), learned.numpy(), k, args.out / "phase_portrait.png")
    print(f"results.json and phase_portrait.png written to {args.out}/")
    return results


def _plot(model, field, truth, learned, k, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = np.meshgrid(np.linspace(0.2, 7, 18), np.linspace(0.2, 6, 18))
    grid = torch.tensor(np.stack([xs.ravel(), ys.ravel()], 1), dtype=torch.float64)
    with torch.no_grad():
        flows = {"true field": field.evaluate(grid).numpy(), "learned field": model(0.0, grid).numpy()}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, (title, f) in zip(axes, flows.items()):
        ax.streamplot(xs, ys, f[:, 0].reshape(xs.shape), f[:, 1].reshape(xs.shape), color="0.7", density=0.8)
        ax.plot(truth[:, 0], truth[:, 1], "k", lw=1, label="true trajectory")
        ax.plot(learned[:, 0], learned[:, 1], "C1--", lw=1, label="learned, extrapolated to t = 10")
        ax.plot(truth[:k, 0], truth[:k, 1], "C0o", ms=3, label="training points")
        ax.set(title=title, xlabel="x (prey)")
    axes[0].set_ylabel("y (predator)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
