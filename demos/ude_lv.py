"""A universal differential equation finds Lotka-Volterra's missing terms: ``python -m demos.ude_lv``.

The UDE paper's "scenario 1" (Rackauckas et al., arXiv 2001.04385): x' = a x - b x y, y' = c x y - d y with
a = 1.3, b = 0.9, c = 0.8, d = 1.8 from u0 = (0.44249296, 4.6280594), sampled every 0.1 on t in [0, 3]
(31 points, diffsim's Dormand-Prince at rtol 1e-12), each state perturbed by Gaussian noise of standard
deviation ``noise`` x its mean over the samples
(:func:`controllers.dynamics.data.lotka_volterra_scenario1`, one noise draw per run). Per run:

1. **Train through the solver.** A :class:`~controllers.dynamics.ude.UDE` keeps the known terms a x and
   -d y fixed and learns the rest with a 2-5-5-5-2 network of ``exp(-x^2)`` units; the loss is the sum of
   squared errors of its RK4 solution (step ``--step``) from the first noisy sample against all 31. Adam (0.1)
   for ``--adam-steps``, then L-BFGS-B to convergence (the paper: ADAM then BFGS). All runs train at once:
   one :func:`diffsim.ode.odeint` call integrates every run's UDE (by default with the networks compiled into
   the Warp solver kernels, :mod:`diffsim.ode.mlp_field`; ``--path torch``: the package's ``UDE`` modules under
   ``torch.func.vmap``) and :func:`~controllers.dynamics.batched_minimize.minimize_batched` gives each run its
   own L-BFGS-B.
2. **Recover the equation.** The network's output along the UDE's solution (61 points on [0, 3]) is regressed
   on polynomials up to degree 5 and sin x, sin y by PySINDy
   (:func:`~controllers.dynamics.discovery.sparse_terms`). Success: exactly the term x y in both equations.
3. **Extrapolate.** For each success the two coefficients are re-fitted to the run's noisy data through the
   solver (as the paper does), and the recovered model and the UDE are integrated to t = 50 by scipy's
   ``solve_ivp`` against the truth.

Recovery rate per noise level beside the paper's (read off its 100-run bar chart) goes to ``--out`` with a
bar chart and one run's extrapolation plot.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import warp as wp
from scipy.integrate import solve_ivp
from torch.func import functional_call, stack_module_state, vmap

from controllers.dynamics import UDE
from controllers.dynamics.batched_minimize import minimize_batched
from controllers.dynamics.data import LV_SCENARIO1, lotka_volterra_scenario1
from controllers.dynamics.discovery import sparse_terms
from diffsim.ode import odeint
from diffsim.ode.mlp_field import flatten_linears, mlp_field, torch_mlp

A, B, C, D = (LV_SCENARIO1[k] for k in ("alpha", "beta", "gamma", "delta"))
U0 = LV_SCENARIO1["u0"]
NOISE_LEVELS = (0.001, 0.005, 0.01, 0.025, 0.05)
PAPER_RATE = {0.001: 0.75, 0.005: 0.72, 0.01: 0.58, 0.025: 0.29, 0.05: 0.18}  # read off the bar chart, +- 0.02


def known(t, y):
    """The terms a x and -d y the UDE is given; ``y`` is ``(..., 2)`` = ``[x, y]``."""
    return torch.stack([A * y[..., 0], -D * y[..., 1]], -1)


def truth(t_end: float, points: int) -> torch.Tensor:
    """The true trajectory at ``points`` times on ``[0, t_end]``, shape ``(points, 2)``."""
    return lotka_volterra_scenario1(0.0, t_end=t_end, points=points)["clean"][0]


@wp.func
def known_warp(t: Any, y: Any):
    """The known terms as a Warp function, for the network compiled into the solver (``path="warp"``)."""
    return type(y)(type(t)(A) * y[0], type(t)(-D) * y[1])


class Ensemble:
    """``R`` UDEs (2-5-5-5-2 networks of ``exp(-x^2)`` units), their parameters one ``(R, P)`` matrix for the
    optimisers, in :mod:`diffsim.ode.mlp_field`'s flat layout.

    ``path="warp"``: the networks run inside the Warp solver kernels
    (:func:`~diffsim.ode.mlp_field.mlp_field`, one network per trajectory); ``"torch"``: the package's
    :class:`~controllers.dynamics.ude.UDE` modules, evaluated together by ``torch.func.vmap`` on the same
    parameters. Both start from the same UDE modules' initial weights.
    """

    SIZES = (2, 5, 5, 5, 2)

    def __init__(self, runs: int, seed: int, path: str = "warp"):
        if path not in ("warp", "torch"):
            raise ValueError(f"path must be 'warp' or 'torch', got {path!r}")
        torch.manual_seed(seed)
        models = [UDE(known, dof=1, hidden=5, layers=3, activation="gaussian") for _ in range(runs)]
        params, _ = stack_module_state(models)
        self.linears = [f"net.{name}" for name, m in models[0].net.named_children() if isinstance(m, torch.nn.Linear)]
        self.theta = flatten_linears([(params[f"{k}.weight"], params[f"{k}.bias"]) for k in self.linears]).detach()
        self.base = copy.deepcopy(models[0]).to("meta")
        self.runs, self.path = runs, path
        self.warp_field = mlp_field(self.SIZES, "gaussian", known=known_warp) if path == "warp" else None

    def module_params(self, theta):
        """The flat parameters as the stacked UDE modules' named parameters (``nn.Linear`` weights ``(out, in)``)."""
        out, off = {}, 0
        for name, (a, b) in zip(self.linears, zip(self.SIZES[:-1], self.SIZES[1:])):
            out[f"{name}.weight"] = theta[:, off:off + a * b].reshape(self.runs, a, b).transpose(1, 2)
            out[f"{name}.bias"] = theta[:, off + a * b:off + a * b + b]
            off += a * b + b
        return out

    def field(self, theta):
        """The UDEs as one field: a Warp field with one network per trajectory, or a torch ``f(t, y)`` with
        ``y`` ``(R, 2)`` whose row ``r`` is run ``r``'s UDE at ``y[r]``."""
        if self.path == "warp":
            return self.warp_field.with_params(theta)
        call = vmap(lambda pr, yr: functional_call(self.base, pr, (0.0, yr)))
        p = self.module_params(theta)
        return lambda t, y: call(p, y.unsqueeze(1)).squeeze(1)

    def unknown(self, theta, y):
        """Each run's network part at its rows of ``y`` ``(R, n, 2)``."""
        return torch_mlp(theta, y, self.SIZES, "gaussian")

    def solve(self, theta, y0, t, step):
        """Every run's RK4 solution from its ``y0`` row, shape ``(R, len(t), 2)``."""
        return odeint(self.field(theta), y0, t, method="rk4", step_size=step).transpose(0, 1)


def train(data: torch.Tensor, t, args, seed: int):
    """Fit one UDE per row of ``data`` ``(R, T, 2)``; returns the ensemble, its parameters and the results."""
    ens = Ensemble(len(data), seed, args.path)

    def losses(theta):
        return (ens.solve(theta, data[:, 0], t, args.step) - data).square().sum((1, 2))

    theta = ens.theta.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=0.1)
    for _ in _progress(range(args.adam_steps), "Adam", args):
        opt.zero_grad()
        loss = losses(theta)
        if not bool(torch.isfinite(loss).all()):
            raise FloatingPointError("a run's loss became non-finite during the Adam phase")
        loss.sum().backward()
        opt.step()
    results = minimize_batched(losses, theta.detach().numpy(), options=dict(maxiter=args.maxiter),
                               progress=not args.no_progress)
    return ens, torch.tensor(np.stack([r.x for r in results])), results


def refit(coef0: np.ndarray, data: torch.Tensor, t, step: float) -> np.ndarray:
    """Re-fit ``x' = a x + c1 x y, y' = c2 x y - d y`` to each row of ``data`` through the solver."""
    def losses(c):
        field = lambda _, y: known(0.0, y) + c * (y[:, :1] * y[:, 1:])  # noqa: E731
        sol = odeint(field, data[:, 0], t, method="rk4", step_size=step).transpose(0, 1)
        return (sol - data).square().sum((1, 2))
    return np.stack([r.x for r in minimize_batched(losses, coef0)])


def long_run(rhs, t_end: float, t_eval) -> np.ndarray:
    sol = solve_ivp(rhs, (0.0, t_end), list(U0), t_eval=t_eval, method="DOP853", rtol=1e-10, atol=1e-12)
    out = np.full((len(t_eval), 2), np.nan)
    out[:sol.y.shape[1]] = sol.y.T
    return out


def _progress(it, desc, args):
    from tqdm import tqdm
    return tqdm(it, desc=desc, disable=args.no_progress, leave=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per noise level")
    parser.add_argument("--noise", type=float, nargs="+", default=list(NOISE_LEVELS))
    parser.add_argument("--adam-steps", type=int, default=200)
    parser.add_argument("--maxiter", type=int, default=2000, help="L-BFGS-B iterations per run, at most")
    parser.add_argument("--step", type=float, default=0.05, help="RK4 step (s)")
    parser.add_argument("--t-end", type=float, default=50.0, help="extrapolation horizon (s)")
    parser.add_argument("--path", choices=("warp", "torch"), default="warp",
                        help="networks inside the Warp solver kernels, or torch UDE modules (same model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/ude_lv"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    if any(not (n >= 0) for n in args.noise):
        parser.error(f"--noise levels must be >= 0, got {args.noise}")
    if not (0 < args.step <= 0.1):
        parser.error(f"--step must be in (0, 0.1] s (the sample spacing), got {args.step}")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", module="pysindy")
    levels = [float(n) for n in args.noise]
    runs = [lotka_volterra_scenario1(n, seed=[args.seed, i, r]) for i, n in enumerate(levels) for r in range(args.runs)]
    t = runs[0]["t"]
    data = torch.cat([d["noisy"] for d in runs])  # (R, 31, 2)
    t0 = time.perf_counter()
    ens, theta, results = train(data, t, args, args.seed)
    train_s = time.perf_counter() - t0

    dense = torch.linspace(0, 3, 61, dtype=torch.float64)
    with torch.no_grad():
        states = ens.solve(theta, data[:, 0], dense, args.step)
        missing = ens.unknown(theta, states)
        true_missing = torch.stack([-B * states[..., 0] * states[..., 1], C * states[..., 0] * states[..., 1]], -1)
        net_error = ((missing - true_missing).norm(dim=(1, 2)) / true_missing.norm(dim=(1, 2))).numpy()
    finite = torch.isfinite(states).all((1, 2)) & torch.isfinite(missing).all((1, 2))
    # a fit that blew up (non-finite solution) recovers nothing; say so rather than stop the other runs
    found = [sparse_terms(states[r].numpy(), missing[r].numpy(), ["x", "y"]) if finite[r] else None
             for r in range(len(data))]
    success = np.array([f is not None and f.supports() == [["x y"], ["x y"]] for f in found])
    coef = np.array([[f.terms[0][0][1], f.terms[1][0][1]] if ok else [np.nan, np.nan]
                     for f, ok in zip(found, success)])
    refitted = np.full_like(coef, np.nan)
    if success.any():
        refitted[success] = refit(coef[success], data[torch.as_tensor(success)], t, args.step)

    t_long = np.linspace(0, args.t_end, int(args.t_end * 10) + 1)
    true_long = truth(args.t_end, len(t_long)).numpy()
    errors, recovered = np.full(len(data), np.nan), {}
    for r in np.flatnonzero(success):
        c1, c2 = refitted[r]
        rec = long_run(lambda _, u: [A * u[0] + c1 * u[0] * u[1], c2 * u[0] * u[1] - D * u[1]], args.t_end, t_long)
        errors[r] = np.nanmax(np.abs(rec - true_long)) if np.isfinite(rec).all() else np.inf
        recovered[int(r)] = rec

    rows = []
    print(f"trained {len(data)} UDEs in {train_s:.0f} s (Adam {args.adam_steps} steps, then L-BFGS-B: "
          f"median {int(np.median([r.nit for r in results]))} iterations)")
    print("| noise | runs | recovered x y in both | paper (100 runs) | median network error on the trajectory "
          "| refitted b, c (median) | max |error| to t = 50 (median of successes) |")
    print("|---|---|---|---|---|---|---|")
    for i, n in enumerate(levels):
        sl = slice(i * args.runs, (i + 1) * args.runs)
        ok = success[sl]
        row = dict(noise=n, runs=args.runs, recovered=int(ok.sum()), rate=float(ok.mean()),
                   paper=PAPER_RATE.get(n), network_error=float(np.median(net_error[sl])),
                   coef=np.nanmedian(refitted[sl], 0).tolist() if ok.any() else None,
                   extrapolation_error=float(np.median(errors[sl][ok])) if ok.any() else None,
                   losses=[float(r.fun) for r in results[sl]],
                   terms=[f.equations(["dx", "dy"]) if f else "non-finite fit" for f in found[sl]])
        rows.append(row)
        paper = f"{row['paper']:.0%}" if row["paper"] is not None else "-"
        coefs = f"{-row['coef'][0]:.3f}, {row['coef'][1]:.3f}" if row["coef"] else "-"
        ext = f"{row['extrapolation_error']:.2e}" if row["extrapolation_error"] is not None else "-"
        print(f"| {n:.1%} | {args.runs} | {row['recovered']} ({row['rate']:.0%}) | {paper} | "
              f"{row['network_error']:.1%} | {coefs} | {ext} |")
    out = dict(train_seconds=train_s, levels=rows, settings=vars(args) | {"out": str(args.out)})
    (args.out / "results.json").write_text(json.dumps(out, indent=1))
    torch.save({"theta": theta, "data": data, "noise": levels, "runs": args.runs}, args.out / "networks.pt")
    _plot(rows, args, t, data, ens, theta, recovered, t_long, true_long)
    print(f"results.json, networks.pt (every run's trained parameters), recovery.png and extrapolation.png "
          f"written to {args.out}/")
    return out


def _plot(rows, args, t, data, ens, theta, recovered, t_long, true_long):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["rate"] for r in rows], 0.4, label=f"diffsim ({args.runs} runs each)")
    ax.bar(x + 0.2, [r["paper"] or 0 for r in rows], 0.4, label="paper (100 runs each)")
    ax.set(xticks=x, xticklabels=[f"{r['noise']:.1%}" for r in rows], xlabel="noise level",
           ylabel="runs recovering x y exactly", ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "recovery.png", dpi=120)
    plt.close(fig)
    if not recovered:
        return
    r = min(recovered)  # the first run that recovered the terms
    rec = recovered[r]
    with torch.no_grad():
        ude = ens.solve(theta, data[:, 0], torch.as_tensor(t_long), args.step)[r].numpy()
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for k, name in enumerate(["x (prey)", "y (predator)"]):
        axes[k].plot(t_long, true_long[:, k], "k", lw=1, label="truth")
        axes[k].plot(t_long, ude[:, k], "C1--", lw=1, label="UDE (network)")
        axes[k].plot(t_long, rec[:, k], "C2:", lw=1.5, label="recovered equation")
        axes[k].plot(t.numpy(), data[r, :, k].numpy(), "C0o", ms=2, label="training data")
        axes[k].axvline(3.0, color="0.6", lw=0.5)
        top = 1.3 * float(np.nanmax(true_long[:, k]))  # the UDE alone may leave the chart: keep the truth's scale
        axes[k].set(ylabel=name, ylim=(-0.1 * top, top))
    axes[0].legend(fontsize=7, ncol=4)
    axes[1].set_xlabel("t (s)")
    fig.tight_layout()
    fig.savefig(args.out / "extrapolation.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
