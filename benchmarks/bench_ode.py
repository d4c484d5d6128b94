"""Batched ODE solves: diffsim (Warp and torch vector fields) vs torchdiffeq vs a scipy loop.

Measured side by side in one run, on one machine:

* problems: Van der Pol (mu = 1) and a pendulum (g/l = 1), t in [0, 10];
* batch sizes 1, 100, 10 000 trajectories (``--sizes``);
* RK4 with 1 000 fixed steps (float32; torchdiffeq's ``rk4`` is the 3/8 variant,
  same step count) and Dormand-Prince at rtol 1e-6 / atol 1e-8 (float64);
* forward and forward+backward (loss = sum of the final state, gradients w.r.t.
  y0 and the parameter) wall time, best of ``--repeats``;
* scipy ``solve_ivp`` (RK45 at the same tolerances; it has no fixed-step RK4 and
  no gradients) in a Python loop, timed on at most 200 trajectories and scaled
  linearly (marked "extrap.");
* total trajectory-steps of the adaptive solvers: diffsim's per-trajectory
  (accepted + rejected) vs torchdiffeq's shared steps x batch;
* peak RSS increase of one forward+backward at the largest batch, each in a fresh
  subprocess (``--memory``), also with ``checkpoint_segments=32``.

Usage: ``python -m benchmarks.bench_ode [--sizes 1 100 10000] [--repeats 3] [--memory]``
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time

import numpy as np
import torch

from diffsim.ode import fields, odeint

T_END, RK4_STEPS = 10.0, 1000
RTOL, ATOL = 1e-6, 1e-8


def _torch_rhs(problem, param):
    if problem == "vdp":
        return lambda t, y: torch.stack([y[..., 1], param * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], -1)
    return lambda t, y: torch.stack([y[..., 1], -param * torch.sin(y[..., 0])], -1)


def _np_rhs(problem, param):
    if problem == "vdp":
        return lambda t, y: [y[1], param * (1 - y[0] ** 2) * y[1] - y[0]]
    return lambda t, y: [y[1], -param * np.sin(y[0])]


def _y0(problem, n, dtype):
    g = torch.Generator().manual_seed(0)
    if problem == "vdp":
        return (torch.tensor([2.0, 0.0]) + 0.5 * torch.randn(n, 2, generator=g)).to(dtype)
    return torch.stack([torch.rand(n, generator=g) * 2.5, torch.zeros(n)], -1).to(dtype)


class _Counted(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f, self.nfe = f, 0

    def forward(self, t, y):
        self.nfe += 1
        return self.f(t, y)


def _run(impl, problem, method, n, backward):
    """One solve; returns (seconds, trajectory_steps or None)."""
    dtype = torch.float32 if method == "rk4" else torch.float64
    y0 = _y0(problem, n, dtype).requires_grad_(backward)
    param = torch.tensor([1.0], dtype=dtype, requires_grad=backward)
    t = torch.tensor([0.0, T_END], dtype=dtype)
    kw = dict(method="rk4", step_size=T_END / RK4_STEPS) if method == "rk4" else dict(rtol=RTOL, atol=ATOL)
    start = time.perf_counter()
    steps = None
    if impl.startswith("diffsim-warp"):
        field = (fields.van_der_pol if problem == "vdp" else fields.pendulum)(param)
        segments = 32 if impl.endswith("checkpointed") else None
        ys, stats = odeint(field, y0, t, return_stats=True, checkpoint_segments=segments, **kw)
        steps = int((stats["n_steps"] + stats["n_rejected"]).sum())
    elif impl == "diffsim-torch":
        ys, stats = odeint(_torch_rhs(problem, param), y0, t, return_stats=True, **kw)
        steps = int((stats["n_steps"] + stats["n_rejected"]).sum())
    elif impl == "torchdiffeq":
        import torchdiffeq

        f = _Counted(_torch_rhs(problem, param))
        if method == "rk4":
            ys = torchdiffeq.odeint(f, y0, t, method="rk4", options=dict(step_size=T_END / RK4_STEPS))
        else:
            ys = torchdiffeq.odeint(f, y0, t, method="dopri5", rtol=RTOL, atol=ATOL)
        steps = (f.nfe - 2) // 6 * n if method == "dopri5" else RK4_STEPS * n
    else:
        raise ValueError(impl)
    if backward:
        ys[-1].sum().backward()
    return time.perf_counter() - start, steps


def _scipy_loop(problem, n, limit=200):
    from scipy.integrate import solve_ivp

    y0 = _y0(problem, min(n, limit), torch.float64).numpy()
    f = _np_rhs(problem, 1.0)
    start = time.perf_counter()
    for row in y0:
        solve_ivp(f, (0.0, T_END), row, method="RK45", rtol=RTOL, atol=ATOL)
    return (time.perf_counter() - start) * n / len(y0), n > limit


def _best(fn, repeats):
    results = [fn() for _ in range(repeats)]
    return min(r[0] for r in results), results[0][1]


_PEAK_SNIPPET = """
import sys, threading, time
sys.path.insert(0, '.')
from benchmarks.bench_ode import _run

def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20

_run({impl!r}, {problem!r}, {method!r}, 2, True)
base, peak, stop = rss(), [0.0], [False]

def sample():
    while not stop[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.0005)

th = threading.Thread(target=sample)
th.start()
_run({impl!r}, {problem!r}, {method!r}, {n}, True)
stop[0] = True
th.join()
print(peak[0] - base)
"""


def _peak_rss_mb(impl, problem, method, n):
    """Peak resident-memory increase of one forward+backward, sampled in a fresh subprocess."""
    code = _PEAK_SNIPPET.format(impl=impl, problem=problem, method=method, n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 10_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS of forward+backward")
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    print(f"# machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    impls = ["diffsim-warp", "diffsim-torch", "torchdiffeq"]
    for impl in impls:  # warm-up: Warp compiles, torch allocators
        for method in ("rk4", "dopri5"):
            for problem in ("vdp", "pendulum"):
                _run(impl, problem, method, 2, True)
    header = ("| problem | method | N | impl | fwd s | fwd+bwd s | torchdiffeq/this fwd | torchdiffeq/this fwd+bwd "
              "| traj-steps |")
    print(header)
    print("|" + "---|" * 9)
    for problem in ("vdp", "pendulum"):
        for method in ("rk4", "dopri5"):
            for n in args.sizes:
                rows = {}
                for impl in impls:
                    fwd, steps = _best(lambda: _run(impl, problem, method, n, False), args.repeats)
                    both, _ = _best(lambda: _run(impl, problem, method, n, True), args.repeats)
                    rows[impl] = (fwd, both, steps)
                ref_f, ref_b, _ = rows["torchdiffeq"]
                for impl, (fwd, both, steps) in rows.items():
                    print(f"| {problem} | {method} | {n} | {impl} | {fwd:.4f} | {both:.4f} | {ref_f / fwd:.1f}x "
                          f"| {ref_b / both:.1f}x | {steps} |", flush=True)
                sc, extrap = _scipy_loop(problem, n)
                print(f"| {problem} | {method} | {n} | scipy solve_ivp RK45 loop{' (extrap.)' if extrap else ''} "
                      f"| {sc:.4f} | n/a (no gradients) | {ref_f / sc:.1f}x | n/a | - |", flush=True)
    if args.memory:
        n = max(args.sizes)
        print(f"\n| peak RSS increase, forward+backward, N={n} | method | impl | MB |\n|---|---|---|---|")
        for method in ("rk4", "dopri5"):
            for impl in impls + ["diffsim-warp-checkpointed"]:
                print(f"| vdp | {method} | {impl} | {_peak_rss_mb(impl, 'vdp', method, n):.0f} |", flush=True)


if __name__ == "__main__":
    main()
