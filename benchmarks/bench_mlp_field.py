"""Neural-ODE solves with the network inside the Warp solver vs in torch (diffsim's torch path, torchdiffeq).

One measurement = RK4 from ``N`` initial states over t in [0, 3] (31 outputs, step 0.05: 60 steps, 240
network evaluations per trajectory), the squared outputs summed, and the gradient of that sum with respect
to the network's parameters: forward + backward, best of ``--repeats``, float64, torch on ``--threads``
thread(s). The same network three ways:

* ``warp``: :func:`diffsim.ode.mlp_field.mlp_field`, the network emitted into the solver kernels;
* ``diffsim torch``: :func:`diffsim.ode.odeint` with a torch ``nn.Sequential`` field;
* ``torchdiffeq``: ``torchdiffeq.odeint(..., method="rk4", options={"step_size": 0.05})`` (its 3/8-rule RK4,
  same step count) with the same ``nn.Sequential``.

* ``torchdyn`` (when importable): ``torchdyn.core.NeuralODE(..., solver="rk4", sensitivity="autograd")`` on a
  61-point grid (its fixed-step solvers step on the output grid: the same 60 steps), every other output kept.

Rows: one network shared by every trajectory (a neural ODE's training batch) and ``N`` networks, one per
trajectory (an ensemble, e.g. the UDE demo's independent runs; torch evaluates them with ``torch.baddbmm``).
Usage: ``python -m benchmarks.bench_mlp_field [--batches 1 10 100 1000] [--repeats 5]`` (needs torchdiffeq;
torchdyn is optional: its declared dependencies include torchvision and pytorch-lightning, which conflict with the
pinned torch, so it is not a project dependency; ``pip install --no-deps torchdyn torchcde torchsde trampoline
pytorch-lightning torchmetrics lightning-utilities`` makes ``torchdyn.core`` importable beside torch 2.13).
"""
from __future__ import annotations

import argparse
import platform

import torch
import warp as wp
from torch import nn

from benchmarks.timing import best_time
from diffsim.ode import odeint
from diffsim.ode.mlp_field import flatten_linears, mlp_field, parameter_count, torch_mlp

NETWORKS = {"2-16-16-2 tanh": ((2, 16, 16, 2), "tanh"), "2-5-5-5-2 gaussian": ((2, 5, 5, 5, 2), "gaussian")}

class _Gaussian(nn.Module):
    def forward(self, x):
        return torch.exp(-x * x)


def _sequential(sizes, activation):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh() if activation == "tanh" else _Gaussian())
    return nn.Sequential(*layers).double()


class _Field(nn.Module):
    """A torch field ``f(t, y)`` as the module torchdyn wants (``forward(t, x, args)``)."""

    def __init__(self, f, net=None):
        super().__init__()
        self.f, self.net = f, net  # ``net`` registered so that torchdyn sees its parameters

    def forward(self, t, x, args=None):
        return self.f(t, x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torchdiffeq

    try:
        from torchdyn.core import NeuralODE
    except ImportError:
        NeuralODE = None
    torch.set_num_threads(args.threads)
    t = torch.linspace(0, 3, 31, dtype=torch.float64)
    h = 0.05
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__} ({args.threads} thread(s)), "
          f"warp {wp.config.version}; RK4, 60 steps, forward + backward, best of {args.repeats}")
    print("\n| network | parameters | networks | N trajectories | warp ms | diffsim torch ms | torchdiffeq ms | "
          "torchdyn ms | torchdiffeq / warp | torchdyn / warp | diffsim torch / warp |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for label, (sizes, act) in NETWORKS.items():
        for shared in (True, False):
            for n in args.batches:
                if not shared and n == 1:
                    continue
                torch.manual_seed(0)
                nets = [_sequential(sizes, act) for _ in range(1 if shared else n)]
                linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
                if shared:
                    theta = flatten_linears(linears[0]).detach().requires_grad_(True)
                else:
                    stacked = [(torch.stack([ls[k].weight for ls in linears]),
                                torch.stack([ls[k].bias for ls in linears])) for k in range(len(linears[0]))]
                    theta = flatten_linears(stacked).detach().requires_grad_(True)
                y0 = 0.5 + torch.rand(n, 2, dtype=torch.float64)
                field = mlp_field(sizes, act, params=theta)
                if shared:
                    params = list(nets[0].parameters())
                    torch_field = lambda _, y, net=nets[0]: net(y)  # noqa: E731
                else:
                    params = [theta]
                    torch_field = lambda _, y, th=theta: torch_mlp(th, y.unsqueeze(1), sizes, act).squeeze(1)  # noqa: E731

                def run_warp():
                    torch.autograd.grad(odeint(field, y0, t, method="rk4", step_size=h).square().sum(), theta)

                def run_torch():
                    torch.autograd.grad(odeint(torch_field, y0, t, method="rk4", step_size=h).square().sum(), params)

                def run_torchdiffeq():
                    ys = torchdiffeq.odeint(torch_field, y0, t, method="rk4", options={"step_size": h})
                    torch.autograd.grad(ys.square().sum(), params)

                if NeuralODE is not None:
                    node = NeuralODE(_Field(torch_field, nets[0] if shared else None), solver="rk4",
                                     sensitivity="autograd", return_t_eval=False)
                    t_fine = torch.linspace(0, 3, 61, dtype=torch.float64)

                    def run_torchdyn():
                        torch.autograd.grad(node(y0, t_fine)[::2].square().sum(), params)

                w, d, td = (best_time(f, args.repeats) * 1e3 for f in (run_warp, run_torch, run_torchdiffeq))
                dyn = best_time(run_torchdyn, args.repeats) * 1e3 if NeuralODE is not None else float("nan")
                rows.append(dict(network=label, shared=shared, n=n, warp=w, torch=d, torchdiffeq=td, torchdyn=dyn))
                dyn_ms, dyn_ratio = (f"{dyn:.2f}", f"{dyn / w:.1f}x") if NeuralODE is not None else ("-", "-")
                print(f"| {label} | {parameter_count(sizes)} | {'1 shared' if shared else n} | {n} | {w:.2f} | "
                      f"{d:.2f} | {td:.2f} | {dyn_ms} | {td / w:.1f}x | {dyn_ratio} | {d / w:.1f}x |", flush=True)
    return rows


if __name__ == "__main__":
    main()
