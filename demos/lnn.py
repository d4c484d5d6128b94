"""Lagrangian neural network on the double pendulum (the LNN paper's test): ``python -m demos.lnn``.

Training as the paper's notebook, on a smaller budget (and, by default, with a kinetic prior c |qdot|^2 / 2 added to
the learned L, see :class:`~controllers.dynamics.lnn.LNN`): every step draws a fresh batch of states
(theta ~ U[0, 2 pi)^2, omega ~ U[-10, 10]^2) with the exact accelerations of diffsim's ``double_pendulum`` field
(m = l = 1, g = 9.8) as targets, L1 loss, Adam with a one-cycle learning rate. Models: the LNN (``--hidden``
units x 3 softplus layers, angles fed as cos/sin) and the baseline MLP predicting the accelerations directly
(same width, ReLU as the paper's baseline). Test as the notebook: 40 starts theta ~ U[0, 2 pi), omega ~ U[0, 0.1],
t in [0, 100] at 10 fps, each model's field integrated with RK4 (``--dt``), metric |E(T) - E_true(T)| / 29.4 at the
final time (29.4 J = the largest potential energy). The paper's numbers: 0.43 % (LNN), 7.4 % (baseline), after
300 epochs of 2 000 batches of 512.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from controllers.dynamics import LNN, MLPField
from controllers.dynamics.data import double_pendulum_energy, double_pendulum_test_set
from diffsim.ode import fields, odeint

PAPER = {"lnn": 0.0043, "baseline": 0.0736}


def train(model, steps: int, batch: int, lr: float, seed: int, progress: bool) -> list:
    field = fields.double_pendulum()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    losses = []
    for step in tqdm(range(steps), disable=not progress, desc=type(model).__name__, mininterval=1.0):
        theta = 2 * math.pi * torch.rand(batch, 2, generator=gen, dtype=torch.float64)
        omega = 20 * torch.rand(batch, 2, generator=gen, dtype=torch.float64) - 10
        y = torch.cat([theta, omega], -1)
        target = field.evaluate(y)[:, 2:]
        loss = (model(0.0, y)[:, 2:] - target).abs().mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def final_energy_error(model, test: dict, dt: float) -> np.ndarray:
    with torch.no_grad():
        ys = odeint(model, test["ys"][:, 0], test["t"], method="rk4", step_size=dt)  # (T, n, 4)
    e_pred = double_pendulum_energy(ys[-1])
    return ((e_pred - test["energy"][:, -1]).abs() / 29.4).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--kinetic-prior", type=float, default=1.0,
                        help="c |qdot|^2 / 2 added to the learned L (0: the paper's LNN, which stalls at this budget)")
    parser.add_argument("--dt", type=float, default=0.01)
    parser.add_argument("--t-end", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/lnn"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    test = double_pendulum_test_set(seed=args.seed, t_end=args.t_end)
    results = {}
    for name, make in (("lnn", lambda: LNN(dof=2, hidden=args.hidden, layers=3, periodic=[True, True],
                                           kinetic_prior=args.kinetic_prior)),
                       ("baseline", lambda: MLPField(dof=2, hidden=args.hidden, layers=3, activation="relu",
                                                     periodic=[True, True]))):
        torch.manual_seed(args.seed)
        model = make()
        t0 = time.perf_counter()
        losses = train(model, args.steps, args.batch, args.lr, args.seed, not args.no_progress)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        err = final_energy_error(model, test, args.dt)
        blown = ~np.isfinite(err) | (err > 1.0)  # more than the whole potential-energy range: the rollout blew up
        results[name] = dict(final_l1=float(np.mean(losses[-50:])), energy_error_mean=float(np.mean(err)),
                             energy_error_median=float(np.median(err)), blown_up=int(blown.sum()),
                             train_seconds=train_s, test_seconds=time.perf_counter() - t0, errors=err.tolist())
        r = results[name]
        print(f"{name}: L1 {r['final_l1']:.3e} after {args.steps} steps ({train_s:.0f} s); final-time energy error / "
              f"29.4 over {len(err)} starts: mean {100 * r['energy_error_mean']:.3g} %, median "
              f"{100 * r['energy_error_median']:.3g} %, {r['blown_up']} blown up (paper: mean "
              f"{100 * PAPER[name]:.2f} %)", flush=True)
    (args.out / "results.json").write_text(json.dumps(dict(settings={k: str(v) for k, v in vars(args).items()},
                                                           **results), indent=1))
    print(f"results.json written to {args.out}/")
    return results


if __name__ == "__main__":
    main()
