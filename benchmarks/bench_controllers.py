"""First-order (APG, SHAC through diffsim) vs model-free RL (stable-baselines3 SAC, PPO), one run.

Every method trains on the same diffsim env and is evaluated the same way: mean return of
its deterministic policy over ``--eval-episodes`` episodes of the Gymnasium env (fixed
seeds), logged against environment steps and wall-clock time. SB3 runs single-env through
the Gymnasium API; APG/SHAC use the batched differentiable step (their env steps count
every simulated world step). ``--sanity`` also trains SAC on Gymnasium's own
``Pendulum-v1``, to confirm the baseline reaches its usual return there.

Writes ``<out>/results.csv`` and ``<out>/curves.png`` after every run; prints a summary table
(final return over seeds; env steps to reach SAC's final mean return and wall-clock to reach
PPO's final mean return, each against the baseline's own). ``--summarize DIR [DIR ...]``
merges earlier runs' results instead of training (a task and method measured in several
runs is taken from the last directory given).
Usage: ``python -m benchmarks.bench_controllers --tasks diffsim/Pendulum-v0 --seeds 0 1 2``
(needs the ``rl`` extra: ``pip install -e .[rl]``).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from controllers.apg import APGConfig, train_apg
from envs import make_functional

BUDGETS = {  # env steps per method (first-order methods count every world step of their batch)
    "sac": 30_000, "ppo": 200_000, "apg": 800_000, "shac": 800_000,
}


def episode_returns(env_id, act, episodes, steps=None, seed=1000):
    env = gym.make(env_id)
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(act(obs))
            total += r
            done = term or trunc
        out.append(total)
    return float(np.mean(out))


def run_sb3(algo, env_id, seed, budget, eval_episodes, log, wall0):
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.callbacks import BaseCallback

    cls = {"sac": SAC, "ppo": PPO}[algo]
    model = cls("MlpPolicy", gym.make(env_id), seed=seed, verbose=0, device="cpu")
    points = np.linspace(budget / 5, budget, 5).astype(int)

    class Eval(BaseCallback):
        def _on_step(self):
            if self.num_timesteps in points:
                ret = episode_returns(env_id, lambda o: model.predict(o, deterministic=True)[0], eval_episodes)
                log(algo, seed, self.num_timesteps, time.perf_counter() - wall0, ret)
            return True

    model.learn(total_timesteps=budget, callback=Eval())


def run_first_order(algo, env_id, seed, budget, eval_episodes, log, wall0, out):
    cfg = APGConfig(env_id=env_id, algo=algo, seed=seed, num_envs=64, window=32)
    cfg = dataclasses.replace(cfg, iterations=max(1, budget // (cfg.num_envs * cfg.window)))
    dyn = make_functional(env_id)

    def on_log(row, policy):  # evaluate on the Gymnasium env like the SB3 baselines, wall-clock included
        def act(obs):
            with torch.no_grad():
                a = policy(torch.as_tensor(obs, dtype=torch.float64)[None])[0].numpy()
            return a.astype(np.float32)

        log(algo, seed, row["env_steps"], time.perf_counter() - wall0, episode_returns(env_id, act, eval_episodes))

    train_apg(cfg, dyn, out / f"{env_id.replace('/', '_')}_{algo}_{seed}", progress=False,
              log_every=max(1, cfg.iterations // 5), on_log=on_log)


def _curve(rows):
    """Mean over seeds at each logged env-step count: sorted ``[(env_steps, wall_s, return, n_seeds)]``."""
    by_steps = {}
    for r in rows:
        if np.isfinite(r["eval_return"]):
            by_steps.setdefault(int(r["env_steps"]), []).append((float(r["wall_s"]), float(r["eval_return"])))
    return [(k, float(np.mean([w for w, _ in v])), float(np.mean([x for _, x in v])), len(v))
            for k, v in sorted(by_steps.items())]


def _first_reaching(curve, target):
    """(env_steps, wall_s) of the first point of ``curve`` whose mean return reaches ``target``, else None."""
    for steps, wall, ret, _ in curve:
        if ret >= target:
            return steps, wall
    return None


def summarize(results) -> str:
    """Markdown table per task and method: final return over seeds, and the issue's two criteria."""
    lines = ["| task | method | seeds | env steps | wall-clock | final return (mean ± sd) | "
             "env steps to SAC's final mean (SAC's own / this) | wall-clock to PPO's final mean (PPO's own / this) |",
             "|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in results):
        rows = [r for r in results if r["task"] == task]
        curves = {m: _curve([r for r in rows if r["method"] == m]) for m in dict.fromkeys(r["method"] for r in rows)}
        sac, ppo = curves.get("sac"), curves.get("ppo")
        for method, curve in curves.items():
            if not curve:
                continue
            last = max(int(r["env_steps"]) for r in rows if r["method"] == method)
            finals = [float(r["eval_return"]) for r in rows if r["method"] == method and int(r["env_steps"]) == last]
            steps, wall, _, n = curve[-1]
            cells = []
            for base, col in ((sac, 0), (ppo, 1)):
                if not base:
                    cells.append("n/a")
                    continue
                target = base[-1][2]
                own, this = _first_reaching(base, target), _first_reaching(curve, target)
                if this is None:
                    cells.append("never reached")
                else:
                    fmt = (lambda x: f"{x:,}") if col == 0 else (lambda x: f"{x:.0f} s")
                    cells.append(f"{fmt(own[col])} / {fmt(this[col])} ({own[col] / max(this[col], 1e-9):.2g}×)")
            lines.append(f"| {task} | {method} | {n} | {steps:,} | {wall:.0f} s | {np.mean(finals):.1f} ± "
                         f"{np.std(finals):.1f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def _read(path: Path):
    with open(path) as f:
        return [dict(r, seed=int(r["seed"]), env_steps=int(r["env_steps"]), wall_s=float(r["wall_s"]),
                     eval_return=float(r["eval_return"])) for r in csv.DictReader(f)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="DIR",
                        help="only merge these runs' results.csv: print the summary, write curves.png to --out")
    parser.add_argument("--tasks", nargs="+", default=["diffsim/Pendulum-v0", "diffsim/CartPoleSwingUp-v0",
                                                        "diffsim/DoublePendulum-v0", "diffsim/Quadrotor-v0"])
    parser.add_argument("--methods", nargs="+", default=["apg", "shac", "sac", "ppo"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget-scale", type=float, default=1.0, help="scale every method's env-step budget")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--sanity", action="store_true", help="also SAC on Gymnasium's Pendulum-v1")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_controllers"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summarize:  # a (task, method) measured in several runs is taken from the last one given
        runs = [_read(d / "results.csv") for d in args.summarize]
        merged = [r for i, rows in enumerate(runs) for r in rows
                  if not any((r["task"], r["method"]) in {(x["task"], x["method"]) for x in later}
                             for later in runs[i + 1:])]
        _plot(merged, args.out / "curves.png")
        print(summarize(merged))
        return merged
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, cores))
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores ({cores} usable by this run), "
          f"torch {torch.__version__}")
    results = []
    tasks = list(args.tasks) + (["Pendulum-v1"] if args.sanity else [])
    for task in tasks:
        methods = ["sac"] if task == "Pendulum-v1" else args.methods
        for method in methods:
            for seed in args.seeds:
                budget = int(BUDGETS[method] * args.budget_scale)
                wall0 = time.perf_counter()

                def log(algo, s, steps, wall, ret, task=task):
                    results.append(dict(task=task, method=algo, seed=s, env_steps=int(steps), wall_s=wall,
                                        eval_return=ret))

                if method in ("sac", "ppo"):
                    run_sb3(method, task, seed, budget, args.eval_episodes, log, wall0)
                else:
                    run_first_order(method, task, seed, budget, args.eval_episodes, log, wall0, args.out)
                last = results[-1]
                print(f"| {task} | {method} | {seed} | {last['env_steps']} | {last['wall_s']:.0f} s | "
                      f"{last['eval_return']:.1f} |", flush=True)
                _write(results, args.out)  # after every run: an interrupted comparison keeps what it measured
    print(summarize(results))
    return results


def _write(results, out):
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0]))
        w.writeheader()
        w.writerows(results)
    _plot(results, out / "curves.png")


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in results})
    fig, axes = plt.subplots(len(tasks), 2, figsize=(10, 3.2 * len(tasks)), squeeze=False)
    for row, task in zip(axes, tasks):
        for method in sorted({r["method"] for r in results if r["task"] == task}):
            pts = [r for r in results if r["task"] == task and r["method"] == method and np.isfinite(r["eval_return"])]
            row[0].scatter([p["env_steps"] for p in pts], [p["eval_return"] for p in pts], label=method, s=12)
            row[1].scatter([p["wall_s"] for p in pts], [p["eval_return"] for p in pts], label=method, s=12)
        row[0].set_xscale("log")
        row[0].set_xlabel("environment steps")
        row[1].set_xlabel("wall-clock (s)")
        row[0].set_ylabel(f"{task}\nreturn")
        row[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
