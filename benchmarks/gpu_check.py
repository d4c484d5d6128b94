"""CUDA check: the same code on ``cuda`` and ``cpu`` gives the same numbers; GPU timings.

Run on a machine with a GPU: ``python -m benchmarks.gpu_check [--json out.json]``.
Checks (float64): every ODE method's outputs, step counts and gradients on CUDA
vs CPU; the trebuchet's Julia reference distances and ForwardDiff gradient on
CUDA; a 10 000-shot batch CUDA vs CPU. Then times, side by side on the GPU:
RK4 (1 000 steps) and dopri5 Van der Pol solves, diffsim-warp vs torchdiffeq,
forward and forward+backward, and trebuchet throughput.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from benchmarks.timing import best_time
from diffsim.ode import fields, odeint
from diffsim.trebuchet import LB, simulate

JULIA = [(0, 30, 400, 98.60072421662713), (-5, 30, 400, 80.56450229660992), (0, 45, 200, 82.79904064062524),
         (1, 45, 200, 86.85243634331043), (-10, 38.87147537724561, 200, 49.99665431592441)]
FORWARDDIFF = (4.047851617574818, -0.9290087918693511, 0.0579786190513199)


def ode_parity(report):
    t = torch.tensor([0.0, 0.4, 1.0, 1.7], dtype=torch.float64)
    for method in ("euler", "midpoint", "rk4", "semi_implicit_euler", "verlet", "dopri5"):
        res = {}
        for dev in ("cpu", "cuda"):
            mus = torch.tensor([[0.7], [1.3], [2.1]], dtype=torch.float64, device=dev, requires_grad=True)
            y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8], [-1.0, 0.5]], dtype=torch.float64, device=dev,
                              requires_grad=True)
            ys, st = odeint(fields.van_der_pol(mus), y0, t, method=method, step_size=0.05, return_stats=True)
            g = torch.autograd.grad(ys.square().sum(), (y0, mus))
            res[dev] = (ys.detach().cpu(), [x.cpu() for x in g], st["n_steps"].cpu())
        report[f"ode_{method}"] = dict(
            max_abs_diff_y=float((res["cpu"][0] - res["cuda"][0]).abs().max()),
            max_abs_diff_grad=max(float((a - b).abs().max()) for a, b in zip(res["cpu"][1], res["cuda"][1])),
            same_steps=bool(torch.equal(res["cpu"][2], res["cuda"][2])))


def trebuchet_parity(report):
    dev = "cuda"
    w = torch.tensor([r[0] for r in JULIA], dtype=torch.float64, device=dev)
    a = torch.tensor([math.radians(r[1]) for r in JULIA], dtype=torch.float64, device=dev)
    m = torch.tensor([r[2] * LB for r in JULIA], dtype=torch.float64, device=dev)
    d = simulate(w, a, m).cpu()
    report["trebuchet_julia_max_err_m"] = max(abs(float(x) - r[3]) for x, r in zip(d, JULIA))
    x = [torch.tensor([v], dtype=torch.float64, device=dev, requires_grad=True)
         for v in (0.0, math.radians(45), 200 * LB)]
    simulate(*x).sum().backward()
    got = (float(x[0].grad), float(x[1].grad) * math.pi / 180, float(x[2].grad) * LB)
    report["trebuchet_forwarddiff_max_rel_err"] = max(abs(g - r) / abs(r) for g, r in zip(got, FORWARDDIFF))
    gen = torch.Generator().manual_seed(0)
    args = (torch.randn(10_000, generator=gen) * 5, torch.rand(10_000, generator=gen) * 1.3 + 0.1,
            (torch.rand(10_000, generator=gen) * 400 + 50) * LB)
    for dtype in (torch.float32, torch.float64):
        cpu = simulate(*[z.to(dtype) for z in args])
        gpu = simulate(*[z.to(dtype).to(dev) for z in args]).cpu()
        report[f"trebuchet_10k_cuda_vs_cpu_max_abs_diff_{dtype}"] = float((cpu - gpu).abs().nan_to_num().max())


def ode_timing(report):
    import torchdiffeq

    rows = []
    for method in ("rk4", "dopri5"):
        dtype = torch.float32 if method == "rk4" else torch.float64
        for n in (100, 10_000, 100_000):
            gen = torch.Generator().manual_seed(0)
            y0c = (torch.tensor([2.0, 0.0]) + 0.5 * torch.randn(n, 2, generator=gen)).to(dtype).cuda()
            t = torch.tensor([0.0, 10.0], dtype=dtype, device="cuda")

            def run(impl, backward):
                y0 = y0c.clone().requires_grad_(backward)
                mu = torch.tensor([1.0], dtype=dtype, device="cuda", requires_grad=backward)
                if impl == "diffsim-warp":
                    kw = dict(method="rk4", step_size=0.01) if method == "rk4" else dict(rtol=1e-6, atol=1e-8)
                    ys = odeint(fields.van_der_pol(mu), y0, t, **kw)
                else:
                    def f(tt, y):
                        return torch.stack([y[..., 1], mu * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], -1)
                    if method == "rk4":
                        ys = torchdiffeq.odeint(f, y0, t, method="rk4", options=dict(step_size=0.01))
                    else:
                        ys = torchdiffeq.odeint(f, y0, t, rtol=1e-6, atol=1e-8)
                if backward:
                    ys[-1].sum().backward()

            r = {impl: (best_time(lambda: run(impl, False), 3, "cuda"), best_time(lambda: run(impl, True), 3, "cuda"))
                 for impl in ("diffsim-warp", "torchdiffeq")}
            rows.append(dict(method=method, n=n, warp_fwd=r["diffsim-warp"][0], warp_fwdbwd=r["diffsim-warp"][1],
                             torchdiffeq_fwd=r["torchdiffeq"][0], torchdiffeq_fwdbwd=r["torchdiffeq"][1]))
            print(rows[-1], flush=True)
    report["ode_timing_gpu"] = rows


def trebuchet_timing(report):
    rows = []
    for n in (10_000, 1_000_000):
        gen = torch.Generator().manual_seed(0)
        args = [x.cuda() for x in (torch.randn(n, generator=gen) * 5, torch.rand(n, generator=gen) * 1.3 + 0.1,
                                   (torch.rand(n, generator=gen) * 400 + 50) * LB)]
        s = best_time(lambda: simulate(*args), 3, "cuda")
        rows.append(dict(n=n, seconds=s, us_per_shot=s / n * 1e6))
        print(rows[-1], flush=True)
    report["trebuchet_timing_gpu"] = rows


def run_parts(parts, report: dict, json_path: str | None = None) -> dict:
    """Run each ``(name, fn)``; ``fn()`` adds its results to ``report``. A part that raises is reported as
    ``{name}_error`` and the next one runs (one failing part must not hide the others); the report is
    printed, and saved to ``json_path``, after every part."""
    for name, fn in parts:
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:
            report[f"{name}_error"] = repr(exc)
        print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
        print(json.dumps({k: v for k, v in report.items() if not isinstance(v, list)}, indent=1), flush=True)
        if json_path:
            with open(json_path, "w") as f:
                json.dump(report, f, indent=1)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    report = dict(device=torch.cuda.get_device_name(0), torch=torch.__version__)
    steps = (ode_parity, trebuchet_parity, ode_timing, trebuchet_timing)
    run_parts([(s.__name__, lambda s=s: s(report)) for s in steps], report, args.json)


if __name__ == "__main__":
    main()
