"""Learned models on the constrained-HNN paper's 2-link chain pendulum: ``python -m demos.chain_pendulum``.

The protocol of Finzi, Wang and Wilson (NeurIPS 2020), on data from diffsim's ``double_pendulum`` field
(:func:`~controllers.dynamics.data.chain_pendulum_task`: their masses, lengths and start distribution, 800
training trajectories each reduced to one 5-sample chunk at dt = 0.03 s). Every model is trained the same way
through :func:`~controllers.dynamics.fit` on those chunks: its field integrated by RK4 on the sample grid, L1 loss,
AdamW (lr 3e-3, decoupled weight decay 1e-4) with a cosine schedule, minibatches of 200, 8 000 steps (the authors'
``pl_trainer.py`` defaults, which the README's numbers come from: 2 000 epochs of 4 batches; their older
``train.py`` ran 100).
Models (3 x 256 networks):

* ``neural_ode`` -- :class:`~controllers.dynamics.MLPField` on angles and rates (angles fed as cos/sin);
* ``hnn`` -- :class:`~controllers.dynamics.HNN` on angles and canonical momenta (computed with the true mass matrix:
  the paper's HNN had to learn that matrix, so this HNN is given more than the paper's);
* ``chnn`` -- :class:`~controllers.dynamics.CHNN` in Cartesian coordinates with the rods as known constraints.

Test as the paper: from each of 100 test chunks' first state, roll out with dopri5 (rtol 1e-7, atol 1e-9); per
sample the relative error ``|z_pred - z| / |z_pred + z|`` of the Cartesian positions and velocities of both masses;
per trajectory the geometric mean over time (0 < t <= horizon); reported: the mean over trajectories (the paper's
table) and the geometric mean over trajectories, for two horizons: 3 s (100 samples, ``pl_trainer.py``'s test
rollout) and 30 s (1 000 samples, ``train.py``'s). The chaos floor rolls out the true system from the start
perturbed as the authors' ``compare_rollouts`` does (1e-4 Gaussian noise on the Cartesian positions and velocities,
projected back onto the rods: :func:`~controllers.dynamics.data.chain_perturbed`); the published floor (8e-5) is
what a 3 s horizon gives on this data, a 30 s one gives far more (the motion is chaotic). Writes
``results.json``, ``rollout_error.png`` and each trained model's checkpoint (``--resume`` continues from them).

The weight decay is decoupled from the gradient as in the authors' AdamW; ``--optimizer adam`` adds it to the
gradient as L2 instead (Adam then normalises the decay with the gradient, so its pull towards zero weights does not
shrink as the data's gradient does; BENCHMARKS.md's "Adam + L2" rows). ``--chnn-method rattle4`` trains CHNN
through a symplectic, rod-keeping integrator (RATTLE composed to fourth order) instead of RK4.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

from controllers.dynamics import CHNN, HNN, MLPField, fit
from controllers.dynamics.data import CHAIN_DT, chain_cartesian, chain_pendulum_task, chain_perturbed
from diffsim.ode import odeint

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# the paper's committed CSV (notebooks/pendulum-geom-mean.csv), 2-pendulum: mean over trajectories of each
# trajectory's geometric-mean rollout error, geometric mean over trajectories in the second place (3 s horizon)
PAPER = {"chnn": (5.3e-4, 1.2e-4), "clnn": (1.8e-4, 1.1e-4), "hnn": (1.3e-2, 1.9e-3), "delan": (7.1e-3, 1.3e-3),
         "neural_ode": (1.2e-1, 6.5e-2), "floor": (8.0e-5, None)}
MODELS = ("neural_ode", "hnn", "chnn")
HORIZONS = {"3s": 100, "30s": 1000}  # samples of 0.03 s


def mass_matrix(q: torch.Tensor, p: dict) -> torch.Tensor:
    """The double pendulum's generalized mass matrix at angles ``q`` ``(..., 2)`` -> ``(..., 2, 2)``."""
    c = p["m2"] * p["l1"] * p["l2"] * torch.cos(q[..., 0] - q[..., 1])
    a = torch.full_like(c, (p["m1"] + p["m2"]) * p["l1"] ** 2)
    d = torch.full_like(c, p["m2"] * p["l2"] ** 2)
    return torch.stack([torch.stack([a, c], -1), torch.stack([c, d], -1)], -2)


def to_model(name: str, ys: torch.Tensor, prm: dict) -> torch.Tensor:
    """Angle states ``[theta, omega]`` -> the model's own coordinates."""
    if name == "chnn":
        return chain_cartesian(ys, prm["l1"], prm["l2"])
    if name == "hnn":
        mom = (mass_matrix(ys[..., :2], prm) @ ys[..., 2:, None]).squeeze(-1)
        return torch.cat([ys[..., :2], mom], -1)
    return ys


def to_cartesian(name: str, zs: torch.Tensor, prm: dict) -> torch.Tensor:
    """The model's coordinates -> Cartesian positions and velocities ``(..., 8)``."""
    if name == "chnn":
        return zs
    if name == "hnn":
        omega = torch.linalg.solve(mass_matrix(zs[..., :2], prm), zs[..., 2:, None]).squeeze(-1)
        zs = torch.cat([zs[..., :2], omega], -1)
    return chain_cartesian(zs, prm["l1"], prm["l2"])


def make(name: str, prm: dict, hidden: int):
    if name == "chnn":
        return CHNN(points=2, dim=2, rods=[(0, 1, prm["l2"])], tethers=[(0, (0.0, 0.0), prm["l1"])],
                    hidden=hidden, layers=3)
    if name == "hnn":
        return HNN(dof=2, hidden=hidden, layers=3, periodic=[True, True])
    return MLPField(dof=2, hidden=hidden, layers=3, periodic=[True, True])


def relative_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """``|pred - true| / |pred + true|`` over the last axis."""
    return (pred - true).norm(dim=-1) / (pred + true).norm(dim=-1)


def summarize(err: torch.Tensor) -> dict:
    """For each horizon: per-trajectory geometric mean over 0 < t <= horizon of ``err`` ``(T, n)``, then its mean and
    geometric mean over trajectories, and the per-trajectory values (``per_start``: the mean over a few chaotic
    starts can rest on one of them); and the median error curve."""
    out = {}
    for name, samples in HORIZONS.items():
        if samples <= err.shape[0]:
            per_traj = err[1:samples].clamp_min(1e-300).log().mean(0).exp()
            out[name] = dict(mean=float(per_traj.mean()), geometric_mean=float(per_traj.log().mean().exp()),
                             per_start=per_traj.tolist())
    return dict(horizons=out, median_curve=err.median(1).values.tolist())


def _line(r: dict, name: str) -> str:
    return "; ".join(f"{h}: mean {v['mean']:.2e}, geometric mean {v['geometric_mean']:.2e}"
                     for h, v in r["horizons"].items()) + f" (paper, 3 s: {PAPER[name][0]:.1e})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--n-train", type=int, default=800)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--substeps", type=int, default=1,
                        help="RK4 steps per 0.03 s sample interval in training (1: the paper's grid)")
    parser.add_argument("--chnn-method", choices=("rk4", "rattle", "rattle4"), default="rk4",
                        help="integrator CHNN is trained through (rattle, rattle4: symplectic, rods kept exactly)")
    parser.add_argument("--optimizer", choices=("adam", "adamw"), default="adamw",
                        help="adamw: weight decay 1e-4 decoupled (the authors' AdamW); adam: as L2 in the gradient")
    parser.add_argument("--rollout", type=int, default=1000, help="test rollout length in samples of 0.03 s")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("outputs/chain_pendulum"))
    parser.add_argument("--resume", action="store_true", help="continue each model from its checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.substeps < 1:
        parser.error(f"--substeps must be >= 1, got {args.substeps}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {name: [] for name in [*args.models, "floor"]}
    t_long = CHAIN_DT * torch.arange(args.rollout, dtype=torch.float64)
    for seed in args.seeds:
        data = chain_pendulum_task(n_train=args.n_train, n_test=args.n_test, seed=seed)
        prm = data["params"]
        start = data["test"][:, 0]
        truth = chain_cartesian(odeint(data["field"], start, t_long, method="dopri5", rtol=1e-10, atol=1e-12),
                                prm["l1"], prm["l2"])  # (T, n, 8)
        nudged = chain_perturbed(start, prm["l1"], prm["l2"], generator=torch.Generator().manual_seed(seed))
        perturbed = odeint(data["field"], nudged, t_long, method="dopri5", rtol=1e-10, atol=1e-12)
        results["floor"].append(dict(seed=seed, **summarize(relative_error(
            chain_cartesian(perturbed, prm["l1"], prm["l2"]), truth))))
        for name in args.models:
            torch.manual_seed(seed)
            model = make(name, prm, args.hidden)
            checkpoint = args.out / f"{name}_seed{seed}.pt"
            t0 = time.perf_counter()
            history = fit(model, data["t"], to_model(name, data["train"], prm), mode="trajectory",
                          method=args.chnn_method if name == "chnn" else "rk4",
                          step_size=CHAIN_DT / args.substeps if args.substeps > 1 else None,
                          window=data["t"].numel(), steps=args.steps, lr=3e-3, weight_decay=1e-4,
                          batch_size=args.batch, seed=seed, loss="l1", schedule="cosine", optimizer=args.optimizer,
                          checkpoint=checkpoint, resume=args.resume and checkpoint.exists(),
                          progress=not args.no_progress)
            train_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            with torch.no_grad():
                zs = odeint(model, to_model(name, start, prm), t_long, method="dopri5", rtol=1e-7, atol=1e-9)
            err = relative_error(to_cartesian(name, zs, prm), truth)
            r = dict(seed=seed, final_loss=history["train"][-1], train_seconds=train_s,
                     test_seconds=time.perf_counter() - t0, **summarize(err))
            if name == "chnn":
                r["masses"] = model.masses.tolist()
            results[name].append(r)
            print(f"seed {seed} {name}: L1 {r['final_loss']:.2e} ({train_s:.0f} s); rollout error " + _line(r, name)
                  + f" ({r['test_seconds']:.0f} s)", flush=True)
        print(f"seed {seed} chaos floor: " + _line(results["floor"][-1], "floor"), flush=True)
    summary = {}
    for name, rs in results.items():
        summary[name] = {h: dict(mean=float(np.mean([r["horizons"][h]["mean"] for r in rs])),
                                 mean_std=float(np.std([r["horizons"][h]["mean"] for r in rs])),
                                 geometric_mean=float(np.mean([r["horizons"][h]["geometric_mean"] for r in rs])))
                         for h in rs[0]["horizons"]}
        summary[name]["paper_3s"] = PAPER.get(name)
        print(f"{name:>10}: " + "; ".join(f"{h} mean {s['mean']:.2e} +- {s['mean_std']:.1e}, geometric mean "
                                          f"{s['geometric_mean']:.2e}" for h, s in summary[name].items()
                                          if h in HORIZONS) + f" over {len(args.seeds)} seeds; paper (3 s) "
              f"{PAPER[name][0]:.1e}")
    (args.out / "results.json").write_text(json.dumps(dict(settings={k: str(v) for k, v in vars(args).items()},
                                                           summary=summary, runs=results), indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rs in results.items():
        curve = np.median(np.array([r["median_curve"] for r in rs]), 0)
        ax.semilogy(t_long.numpy()[1:], curve[1:], label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("relative error (median over test starts)")
    ax.set_title("2-link chain pendulum, rollouts from 5-sample training chunks")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "rollout_error.png", dpi=120)
    plt.close(fig)
    print(f"results.json and rollout_error.png written to {args.out}/")
    return summary


if __name__ == "__main__":
    main()
