"""Reproduce the differentiable-trebuchet demo: ``python -m demos.trebuchet [--faithful] [--resume]``.

Trains a network that maps (wind, target distance) to (release angle, counterweight
mass) by back-propagating the miss through the batched Warp trebuchet, then reports
(a) mean and median |miss| over 1000 fresh shots, split into reachable and
unreachable targets, (b) the learning curve, (c) a few shots drawn as
trajectories, and (d) aiming time per shot, network vs direct optimisation
through the simulator. Figures, the checkpoint and ``results.json`` go to ``--out``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import torch

from demos.trebuchet import plots
from demos.trebuchet.aiming import RECIPES, train
from demos.trebuchet.evaluate import accuracy, aiming_speed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faithful", action="store_true",
                        help="the original recipe: batch 1, float64, raw inputs, 100 000 steps")
    parser.add_argument("--steps", type=int, default=None, help="override the number of training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/trebuchet"), help="folder for figures and files")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")

    recipe = RECIPES["faithful" if args.faithful else "default"]
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, steps=args.steps, log_every=min(recipe.log_every, args.steps))
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / f"aimnet_{recipe.name}.pt"
    print(f"recipe {recipe.name}: {recipe.steps} steps x batch {recipe.batch}, {recipe.dtype}, "
          f"MLP 2-{'-'.join(map(str, recipe.hidden))}-2 ({recipe.activation}), model '{recipe.model}'")

    t0 = time.perf_counter()
    try:
        net, curve = train(recipe, seed=args.seed, checkpoint=ckpt, resume=args.resume,
                           progress=not args.no_progress)
    except FloatingPointError as exc:
        raise SystemExit(f"training stopped: {exc}")
    train_s = time.perf_counter() - t0

    acc = accuracy(net)
    speed = aiming_speed(net)
    print(f"\ntraining time (this run{', resumed' if args.resume else ''}): {train_s:.1f} s "
          f"on {os.cpu_count()} CPU cores ({platform.machine()})")
    print("(a) |miss| over 1000 fresh shots (wind ~ N(0, 5^2) m/s, target ~ U(20, 100) m):")
    for k in ("reachable", "unreachable", "all"):
        a = acc[k]
        print(f"    {k:11s} n={a['count']:4d}  mean {a['mean']:.3f} m   median {a['median']:.3f} m")
    print(f"(d) aiming: network {speed['network_total_s'] * 1e3:.2f} ms for 10 000 shots "
          f"({speed['network_per_shot_s'] * 1e6:.2f} us/shot)")
    for name, label in (("gradient_descent", "direct, notebooks' 30 gradient steps"),
                        ("newton", "direct, damped Newton to 1 cm")):
        s = speed[name]
        print(f"    {label}: {s['per_shot_s'] * 1e3:.1f} ms/shot ({s['mean_steps']:.1f} simulator calls, "
              f"mean |miss| {s['mean_abs_miss']:.3f} m) -> network is {s['speedup']:,.0f}x faster")

    plots.learning_curve(curve, args.out / f"learning_curve_{recipe.name}.png",
                         f"trebuchet aiming, {recipe.name} recipe")
    plots.miss_map(acc, args.out / f"miss_map_{recipe.name}.png")
    plots.trajectories(net, [(-8.0, 45.0), (0.0, 80.0), (6.0, 95.0), (3.0, 25.0)],
                       args.out / f"trajectories_{recipe.name}.png")
    results = dict(recipe=dataclasses.asdict(recipe), train_seconds=train_s, curve=curve,
                   accuracy={k: acc[k] for k in ("reachable", "unreachable", "all")}, aiming=speed,
                   machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    (args.out / f"results_{recipe.name}.json").write_text(json.dumps(results, indent=2))
    print(f"(b, c) figures, checkpoint and results_{recipe.name}.json written to {args.out}/")
    return results


if __name__ == "__main__":
    main()
