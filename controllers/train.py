"""Train a controller through a differentiable diffsim env:

    python -m controllers.train --env diffsim/Pendulum-v0 --algo apg|shac [--iterations N] [--resume]

Writes ``checkpoint.pt`` (loaded with ``weights_only=True`` on ``--resume``), ``log.csv`` and
``learning_curve.png`` to ``--out`` (default ``outputs/<env>_<algo>``), with a progress bar.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from controllers.apg import APGConfig, plot_curve, train_apg
from envs import FUNCTIONAL, make_functional

ALGOS = ("apg", "shac")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="diffsim/Pendulum-v0", choices=sorted(FUNCTIONAL))
    parser.add_argument("--algo", default="apg", choices=ALGOS)
    parser.add_argument("--iterations", type=int, default=APGConfig.iterations)
    parser.add_argument("--num-envs", type=int, default=APGConfig.num_envs)
    parser.add_argument("--window", type=int, default=APGConfig.window)
    parser.add_argument("--lr", type=float, default=APGConfig.lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    for name in ("iterations", "num_envs", "window"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    cfg = dataclasses.replace(APGConfig(), env_id=args.env, iterations=args.iterations, num_envs=args.num_envs,
                              window=args.window, lr=args.lr, seed=args.seed, algo=args.algo)
    out = args.out or Path("outputs") / f"{args.env.replace('/', '_')}_{args.algo}"
    try:
        policy, rows = train_apg(cfg, make_functional(args.env), out, resume=args.resume,
                                 progress=not args.no_progress)
    except FloatingPointError as exc:
        raise SystemExit(f"training stopped: {exc}")
    plot_curve(rows, out / "learning_curve.png", f"{args.algo} on {args.env}")
    print(f"final evaluation return {rows[-1]['eval_return']:.1f} after {rows[-1]['env_steps']} env steps; "
          f"files in {out}/")
    return rows


if __name__ == "__main__":
    main()
