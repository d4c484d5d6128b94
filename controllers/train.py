"""Train a controller through a differentiable diffsim env with the task's best recipe:

    python -m controllers.train --env diffsim/Pendulum-v0 [--algo apg|shac|sapo] [--iterations N] [--resume]
    torchrun --nproc_per_node=2 -m controllers.train --env diffsim/DoublePendulum-v0     # the same, on 2 ranks

With only ``--env``, the per-task recipe of :mod:`controllers.recipes` runs; any other flag
overrides one setting of it. Writes ``checkpoint.pt`` (loaded with ``weights_only=True`` on
``--resume``, which also extends a finished run to a larger ``--iterations``), ``log.csv`` and
``learning_curve.png`` to ``--out`` (default ``outputs/<env>_<algo>``), with a progress bar, then
evaluates the deterministic policy on the Gymnasium env (and on Gymnasium's own twin of it,
e.g. ``Pendulum-v1``) over ``--eval-episodes`` episodes. Torch runs on ``--threads`` threads (1:
the networks are small, so more threads only add overhead). Under ``torchrun`` each rank simulates its
share of the worlds on a share of the cores and rank 0 alone writes and reports
(:mod:`controllers.distributed`); a checkpoint resumes on any number of ranks.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from controllers import distributed
from controllers.evaluate import evaluate_on_gymnasium
from controllers.recipes import recipe
from controllers.shac import ALGOS, Trainer, plot_curve
from envs import FUNCTIONAL, make_functional

OVERRIDES = (("algo", str), ("iterations", int), ("num_envs", int), ("window", int), ("actor_lr", float),
             ("critic_lr", float), ("seed", int), ("friction_smoothing", float),
             ("substeps", int), ("integrator", str), ("structure", str),
             ("world_clip", float))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="diffsim/Pendulum-v0", choices=sorted(FUNCTIONAL))
    for name, kind in OVERRIDES:
        flag = "--" + name.replace("_", "-")
        if name == "algo":
            parser.add_argument(flag, choices=ALGOS, default=None, help="default: the recipe's")
        else:
            parser.add_argument(flag, type=kind, default=None, help="default: the recipe's")
    parser.add_argument("--reference", choices=("mujoco", "none"), default=None,
                        help="Gymnasium MuJoCo tasks: windows start in MuJoCo's copy of the task and the critic "
                             "learns MuJoCo's returns (controllers.reference); default: the recipe's")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default 1; under torchrun: the rank's share of the cores)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if (args.threads is not None and args.threads < 1) or args.eval_episodes < 0:
        parser.error("--threads must be >= 1 and --eval-episodes >= 0")
    overrides = {name: getattr(args, name) for name, _ in OVERRIDES if getattr(args, name) is not None}
    if args.reference is not None:
        overrides["reference"] = None if args.reference == "none" else args.reference
    try:
        cfg = recipe(args.env, **overrides)
    except ValueError as exc:
        parser.error(str(exc))
    ctx = distributed.init()
    if args.threads is not None or not ctx.distributed:
        torch.set_num_threads(args.threads or 1)
    out = args.out or Path("outputs") / f"{args.env.replace('/', '_')}_{cfg.algo}"
    try:
        trainer = Trainer(cfg, make_functional(args.env, device=ctx.device, **cfg.env_kwargs()), ctx)
    except ValueError as exc:  # e.g. worlds that do not split evenly over the ranks
        parser.error(str(exc))
    if args.resume:
        try:
            trainer.resume(out)
        except (FileNotFoundError, ValueError) as exc:
            parser.error(f"--resume: {exc}")
    start = time.perf_counter()
    try:
        rows = trainer.train(out, progress=not args.no_progress, log_every=max(1, cfg.iterations // 10))
    except FloatingPointError as exc:
        raise SystemExit(f"training stopped{f' (rank {ctx.rank})' if ctx.distributed else ''}: {exc}")
    finally:
        distributed.close(ctx)
    wall = time.perf_counter() - start
    if not ctx.is_main:
        return rows, {}
    plot_curve(rows, out / "learning_curve.png", f"{cfg.algo} on {args.env}")
    print(f"trained {cfg.algo} on {args.env}: {rows[-1]['env_steps']:,} env steps in {wall:.0f} s; "
          f"files in {out}/")
    results = {}
    if args.eval_episodes:
        results = evaluate_on_gymnasium(args.env, trainer.actor, args.eval_episodes)
        for name, returns in results.items():
            print(f"  {name}: mean return {returns.mean():.1f} ± {returns.std():.1f} over {len(returns)} "
                  f"episodes (deterministic policy, seeds 1000-{999 + len(returns)})")
    return rows, results


if __name__ == "__main__":
    main()
