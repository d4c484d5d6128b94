"""Training the learned fields: time per epoch through diffsim.ode vs torchdiffeq, same network and data.

Measured side by side in one run: the HNN paper's spring data (25 trajectories x 30 samples), the baseline MLP
field and the HNN (2 x 200 tanh, float64), one epoch = one full-batch Adam step.

* derivative matching (the paper's training; no solver involved), for reference;
* trajectory matching: windows of ``--window`` samples (all 25 x (30 - window + 1) of them), integrated with
  RK4 at one step per sample interval, through ``diffsim.ode.odeint`` (torch path: a torch module is a torch
  field) and through ``torchdiffeq.odeint`` (``method="rk4"``, its 3/8-rule variant, same step count),
  forward + backward, best of ``--repeats``.

Both solvers run the network in torch here; diffsim's Warp path needs fields written as Warp functions
(``diffsim.ode.WarpVectorField``), which a torch network is not. Usage:
``python -m benchmarks.bench_dynamics [--window 5] [--repeats 5] [--threads 1]`` (needs ``torchdiffeq``).
"""
from __future__ import annotations

import argparse
import platform

import torch

from benchmarks.timing import best_time
from controllers.dynamics import HNN, MLPField
from controllers.dynamics.data import hnn_task
from controllers.dynamics.fit import windows
from diffsim.ode import odeint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torchdiffeq

    torch.set_num_threads(args.threads)
    data = hnn_task("spring", seed=0)
    chunks = windows(data["x_train"], args.window)
    y0, target = chunks[:, 0], chunks[:, 1:]
    t = data["t"][:args.window] - data["t"][0]
    x, dx = data["x_train"].reshape(-1, 2), data["dx_train"].reshape(-1, 2)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__} ({args.threads} thread(s)), "
          f"torchdiffeq {torchdiffeq.__version__ if hasattr(torchdiffeq, '__version__') else '?'}; "
          f"{len(chunks)} windows of {args.window} samples, {len(x)} derivative samples")
    print("\n| model | derivative epoch ms | trajectory epoch ms, diffsim.ode | trajectory epoch ms, torchdiffeq | "
          "torchdiffeq / diffsim |")
    print("|---|---|---|---|---|")
    for cls in (MLPField, HNN):
        torch.manual_seed(0)
        model = cls(dof=1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def derivative_step():
            loss = (model(0.0, x) - dx).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        def diffsim_step():
            pred = odeint(model, y0, t, method="rk4")
            loss = (pred[1:].transpose(0, 1) - target).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        def torchdiffeq_step():
            pred = torchdiffeq.odeint(model, y0, t, method="rk4")
            loss = (pred[1:].transpose(0, 1) - target).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        d = best_time(derivative_step, args.repeats)
        a = best_time(diffsim_step, args.repeats)
        b = best_time(torchdiffeq_step, args.repeats)
        print(f"| {cls.__name__} | {d * 1e3:.1f} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
