"""Lagrangian neural network on the double pendulum (the LNN paper's test): ``python -m demos.lnn``.

Training as the paper's notebook on a smaller network and budget (3 x 128 units, 40 000 steps of 256 against 3 x 600
and 600 000 x 512): every step draws a fresh batch of states (theta ~ U[0, 2 pi)^2, omega ~ U[-10, 10]^2) with the
exact accelerations of the double pendulum (m = l = 1, g = 9.8) as targets, L1 loss, Adam with a one-cycle learning
rate. Two changes keep the training from collapsing at the peak learning rate: an acceleration error beyond
``--loss-cap`` (100 rad/s^2) counts as the cap, without gradient -- a state where the learned d2L/dqdot2 is nearly
singular otherwise swamps the batch's gradient -- and each step's gradient is clipped at ``--clip-factor`` (2) times
the median norm of the last 100 steps. One addition makes it converge from every initialisation tried:
``--inverse-weight`` (1) times the batch's mean :func:`~controllers.dynamics.lnn.inverse_dynamics_error` (Deep
Lagrangian Networks' inverse-dynamics loss: the learned Euler-Lagrange residual at the exact accelerations, which
needs no inverse of d2L/dqdot2 and so keeps a gradient where it is singular) is added to the capped L1; without it
a network whose d2L/dqdot2 starts indefinite over most states can stay so (0: the loss as the paper's).
``--definite-weight w`` (off by default) adds ``w`` times the batch's
:func:`~controllers.dynamics.lnn.indefiniteness` of the learned mass matrix d2L/dqdot2 (``--definite-margin``: the
share of the eigenvalues' magnitude each must reach) to the LNN's loss: the matrix must be definite for the
accelerations to be right, but a network whose matrix starts indefinite over most states can stay so (an eigenvalue
changes sign only through states where the matrix is singular); BENCHMARKS.md has what it did.

Models: the LNN (``--hidden`` units x 3 softplus layers, angles fed as cos/sin; ``--kinetic-prior c`` adds
c |qdot|^2 / 2 to its L, see :class:`~controllers.dynamics.lnn.LNN`) and the baseline MLP predicting the
accelerations directly (``MLPField(second_order=True)``: dq/dt = qdot; same width, ReLU as the paper's baseline).
Test as the notebook: 40 starts theta ~ U[0, 2 pi), omega ~ U[0, 0.1], t in [0, 100] at 10 fps, each model's field
integrated with RK4 (``--dt``), metric |E(T) - E_true(T)| / 29.4 at the final time (29.4 J = the largest potential
energy), the truth from diffsim's ``double_pendulum`` field. The paper's numbers: 0.43 % (LNN), 7.4 % (baseline).
Writes ``results.json`` and each model's checkpoint (``--resume`` continues from them); at the defaults the LNN
trains in ~16-22 minutes on one CPU core, the baseline in ~3 (``--device cuda``: on a GPU).
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

from controllers import fit_checkpoint
from controllers.dynamics import LNN, MLPField
from controllers.dynamics.data import (
    double_pendulum_accelerations,
    double_pendulum_energy,
    double_pendulum_test_set,
)
from controllers.dynamics.lnn import check_margin, indefiniteness, inverse_dynamics_error, solve_euler_lagrange
from diffsim.ode import odeint

PAPER = {"lnn": 0.0043, "baseline": 0.0736}


def _batch(batch: int, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """Fresh states theta ~ U[0, 2 pi)^2, omega ~ U[-10, 10]^2, shape ``(batch, 4)``."""
    u = torch.rand(batch, 4, generator=gen, dtype=dtype, device=device)
    return torch.cat([2 * math.pi * u[:, :2], 20 * u[:, 2:] - 10], -1)


CLIP_WINDOW = 100  # steps whose gradient norms set clip_factor's reference (their median)


def _clip_to_recent_median(params, recent: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the gradients of ``params`` down to ``factor`` x the median of ``recent`` norms (NaN = not yet seen;
    none seen: no clipping), on the device without a host sync; returns the norm before clipping."""
    grads = [q.grad for q in params if q.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    med = torch.nanmedian(recent)
    cap = torch.where(torch.isnan(med), torch.full_like(med, math.inf), factor * med)
    torch._foreach_mul_(grads, torch.clamp(cap / norm, max=1.0))
    return norm


def train(model, steps: int, batch: int, lr: float, seed: int, progress: bool = True, *, weight_decay: float = 0.0,
          loss_cap: float | None = None, clip_factor: float | None = None, definite_weight: float | None = None,
          definite_margin: float = 0.0, inverse_weight: float | None = None, checkpoint: Path | None = None,
          resume: bool = False, check_every: int = 100,
          checkpoint_every: int = 1000) -> list:
    """Train ``model`` for ``steps`` Adam steps (one-cycle to ``lr``, ``weight_decay`` as L2) on fresh batches with
    the exact accelerations as targets, on the model's device and dtype; returns the per-step L1 losses.

    ``loss_cap`` (rad/s^2) counts a larger error of one acceleration as the cap (no gradient through it): a state
    where the learned d2L/dqdot2 is nearly singular gives accelerations of thousands, and its gradient, through the
    inverse, swamps the whole batch's; the returned losses are the plain L1 of every sample all the same.
    ``clip_factor`` scales a step's gradient down to that factor times the median norm of the previous
    ``CLIP_WINDOW`` steps (a state just inside the cap can still give a gradient hundreds of times the usual).
    ``definite_weight`` (LNN only) adds that weight times the batch's :func:`~controllers.dynamics.lnn.indefiniteness`
    of the learned mass matrix ``d2L/dqdot2`` (with ``definite_margin``) to the objective: a network whose mass matrix
    starts indefinite over the state space can stay so, since flipping an eigenvalue's sign means crossing states
    where the matrix is singular. ``inverse_weight`` (LNN only) adds that weight times the batch's mean
    :func:`~controllers.dynamics.lnn.inverse_dynamics_error` of the exact accelerations (Deep Lagrangian Networks'
    inverse-dynamics loss: no inverse of the learned mass matrix, so a gradient also where it is singular).

    The losses stay on the device between checks: every ``check_every`` steps (and at the end) a non-finite loss
    stops the run with ``FloatingPointError`` naming its step and the last checkpoint; ``checkpoint`` (if given) is
    written every ``checkpoint_every`` steps and at the end (model, optimizer, step, losses, generator;
    :mod:`controllers.fit_checkpoint`), and ``resume=True`` continues from it bit for bit."""
    p = next(model.parameters())
    gen = torch.Generator(device=p.device).manual_seed(seed)
    fused = {"fused": True} if p.device.type == "cuda" else {}
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, **fused)
    for name, value in (("loss_cap", loss_cap), ("clip_factor", clip_factor), ("definite_weight", definite_weight),
                        ("inverse_weight", inverse_weight)):
        if value is not None and not 0 < value < math.inf:
            raise ValueError(f"{name} must be > 0 or None, got {value!r}")
        needs_mass = name in ("definite_weight", "inverse_weight")
        if value is not None and needs_mass and not hasattr(model, "euler_lagrange"):
            raise ValueError(f"{name} needs a model with a learned mass matrix (an LNN), got {type(model).__name__}")
    check_margin(definite_margin, model.dof, "definite_margin")
    config = dict(steps=steps, batch=batch, lr=lr, seed=seed, weight_decay=weight_decay,
                  loss_cap=-1.0 if loss_cap is None else float(loss_cap),
                  clip_factor=-1.0 if clip_factor is None else float(clip_factor))
    if definite_weight is not None:  # (absent from checkpoints written before the option existed)
        config["definite_weight"] = float(definite_weight)
        if definite_margin:
            config["definite_margin"] = float(definite_margin)
    if inverse_weight is not None:
        config["inverse_weight"] = float(inverse_weight)
    if getattr(model, "kinetic_prior", 0.0):  # a resumed run must keep the model's prior
        config["kinetic_prior"] = float(model.kinetic_prior)
    start, history = 0, {"loss": [], "grad_norm": [], "seconds": []}
    if resume:
        start, history, _ = fit_checkpoint.restore(checkpoint, config, model, opt, gen)
    recent = torch.full((CLIP_WINDOW,), math.nan, dtype=torch.float64, device=p.device)  # ring of gradient norms
    for k, g in enumerate(history["grad_norm"][-CLIP_WINDOW:][::-1]):
        recent[(start - 1 - k) % CLIP_WINDOW] = g
    # a resumed optimizer holds the schedule's initial_lr, so the schedule picks up at step `start`
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, last_epoch=start - 1)
    t0 = time.perf_counter() - (history["seconds"][-1] if history["seconds"] else 0.0)
    pending, pending_norms = [], []
    params = list(model.parameters())
    bar = tqdm(range(start, steps), disable=not progress, desc=type(model).__name__, mininterval=1.0)
    for step in bar:
        y = _batch(batch, gen, p.dtype, p.device)
        target = double_pendulum_accelerations(y)
        if definite_weight is None and inverse_weight is None:
            qddot = model(0.0, y)[:, 2:]
        else:
            mass, rhs = model.euler_lagrange(*model.split(model.check(y)))
            qddot = solve_euler_lagrange(mass, rhs)
        err = (qddot - target).abs()
        loss = err.mean()
        objective = err.clamp_max(loss_cap).mean() if loss_cap is not None else loss
        if definite_weight is not None:
            objective = objective + definite_weight * indefiniteness(mass, definite_margin)
        if inverse_weight is not None:
            objective = objective + inverse_weight * inverse_dynamics_error(mass, rhs, target).abs().mean()
        opt.zero_grad()
        objective.backward()
        if clip_factor is not None:
            norm = _clip_to_recent_median(params, recent, clip_factor)
            recent[step % CLIP_WINDOW] = norm.double()
            pending_norms.append(norm.detach())
        opt.step()
        sched.step()
        pending.append(loss.detach())
        if len(pending) == check_every or step == steps - 1:
            chunk = torch.stack(pending).double().cpu()
            if pending_norms:
                history["grad_norm"] += torch.stack(pending_norms).double().cpu().tolist()
            pending, pending_norms = [], []
            bad = (~torch.isfinite(chunk)).nonzero()
            if len(bad):
                where = checkpoint if checkpoint is not None and checkpoint.exists() else "none"
                raise FloatingPointError(f"non-finite loss at step {step + 1 - len(chunk) + int(bad[0])}; last "
                                         f"checkpoint: {where}")
            history["loss"] += chunk.tolist()
            history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(l1=f"{history['loss'][-1]:.3g}", refresh=False)
            if checkpoint is not None and ((step + 1) % checkpoint_every < check_every or step == steps - 1):
                fit_checkpoint.save(checkpoint, model, opt, step + 1, history, gen, config)
    return history["loss"]


def steps_for_budget(make_model, batch: int, seconds: float, timed_steps: int = 50, **train_options) -> int:
    """How many training steps of a fresh ``make_model()`` fit in ``seconds``, timed on a throwaway model (after
    a few warm-up steps) with the run's own ``train_options`` (``loss_cap``, ``clip_factor``, ...), so that a
    one-cycle schedule spans the whole budget."""
    model = make_model()
    train(model, 5, batch, 1e-4, 0, False, **train_options)
    p = next(model.parameters())
    sync = torch.cuda.synchronize if p.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    train(model, timed_steps, batch, 1e-4, 0, False, **train_options)
    sync()
    return max(1, int(seconds / ((time.perf_counter() - t0) / timed_steps)))


def final_energy_error(model, test: dict, dt: float) -> np.ndarray:
    """|E(T) - E_true(T)| / 29.4 per test start, the model's field integrated by RK4 at ``dt`` on its device."""
    p = next(model.parameters())
    with torch.no_grad():
        ys = odeint(model, test["ys"][:, 0].to(p.device, p.dtype), test["t"], method="rk4", step_size=dt)
    e_pred = double_pendulum_energy(ys[-1]).double().cpu()
    return ((e_pred - test["energy"][:, -1]).abs() / 29.4).numpy()


MODELS = ("lnn", "baseline")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40000)
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds of training per model: sets --steps from a timing of a few steps")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--loss-cap", type=float, default=100.0,
                        help="rad/s^2: larger errors of one acceleration count as this, without gradient (0: plain L1)")
    parser.add_argument("--clip-factor", type=float, default=2.0,
                        help="clip each step's gradient norm at this factor x the last 100 steps' median (0: off)")
    parser.add_argument("--definite-weight", type=float, default=0.0,
                        help="weight of the learned mass matrix's indefiniteness in the LNN's loss (0: off)")
    parser.add_argument("--definite-margin", type=float, default=0.0,
                        help="share of the eigenvalues' magnitude each must reach (indefiniteness's margin)")
    parser.add_argument("--inverse-weight", type=float, default=1.0,
                        help="weight of the inverse-dynamics error (Deep Lagrangian Networks') in the LNN's loss "
                             "(0: off, the paper's loss)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (the paper's notebook: 1e-6)")
    parser.add_argument("--kinetic-prior", type=float, default=0.0,
                        help="c |qdot|^2 / 2 added to the learned L (0: the paper's LNN)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--device", default="cpu", help="torch device to train and integrate on (e.g. cuda)")
    parser.add_argument("--dt", type=float, default=0.01)
    parser.add_argument("--t-end", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/lnn"),
                        help="results.json and one checkpoint per model (<name>.pt) go here")
    parser.add_argument("--resume", action="store_true", help="continue each model from its checkpoint in --out")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="training steps between checkpoints")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.resume and args.time_budget is not None:
        parser.error("--resume continues a run of known --steps; drop --time-budget")
    for name in ("steps", "batch", "hidden", "checkpoint_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    test = double_pendulum_test_set(seed=args.seed, t_end=args.t_end)
    makers = {"lnn": lambda: LNN(dof=2, hidden=args.hidden, layers=3, periodic=[True, True],
                                 kinetic_prior=args.kinetic_prior).to(args.device),
              "baseline": lambda: MLPField(dof=2, hidden=args.hidden, layers=3, activation="relu",
                                           periodic=[True, True], second_order=True).to(args.device)}
    results = {}
    for name in args.models:
        steps = args.steps
        options = dict(weight_decay=args.weight_decay, loss_cap=args.loss_cap or None,
                       clip_factor=args.clip_factor or None,
                       definite_weight=(args.definite_weight or None) if name == "lnn" else None,
                       definite_margin=args.definite_margin,
                       inverse_weight=(args.inverse_weight or None) if name == "lnn" else None)
        if args.time_budget is not None:
            steps = steps_for_budget(makers[name], args.batch, args.time_budget, **options)
            print(f"{name}: {steps} steps fit in {args.time_budget:.0f} s", flush=True)
        torch.manual_seed(args.seed)
        model = makers[name]()
        t0 = time.perf_counter()
        losses = train(model, steps, args.batch, args.lr, args.seed, not args.no_progress, **options,
                       checkpoint=args.out / f"{name}.pt", resume=args.resume, checkpoint_every=args.checkpoint_every)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        err = final_energy_error(model, test, args.dt)
        blown = ~np.isfinite(err) | (err > 1.0)  # more than the whole potential-energy range: the rollout blew up
        results[name] = dict(steps=steps, final_l1=float(np.mean(losses[-50:])),
                             energy_error_mean=float(np.mean(err)), energy_error_median=float(np.median(err)),
                             blown_up=int(blown.sum()), train_seconds=train_s, test_seconds=time.perf_counter() - t0,
                             errors=err.tolist(), l1_per_1000_steps=[float(np.mean(losses[i:i + 1000]))
                                                                      for i in range(0, len(losses), 1000)])
        r = results[name]
        print(f"{name}: L1 {r['final_l1']:.3e} after {steps} steps ({train_s:.0f} s); final-time energy error / "
              f"29.4 over {len(err)} starts: mean {100 * r['energy_error_mean']:.3g} %, median "
              f"{100 * r['energy_error_median']:.3g} %, {r['blown_up']} blown up (paper: mean "
              f"{100 * PAPER[name]:.2f} %)", flush=True)
    (args.out / "results.json").write_text(json.dumps(dict(settings={k: str(v) for k, v in vars(args).items()},
                                                           **results), indent=1))
    print(f"results.json written to {args.out}/")
    return results


if __name__ == "__main__":
    main()
