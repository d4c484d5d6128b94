"""Controllers trained through diffsim (the per-task recipes: SHAC/APG/SAPO) and MPC vs model-free RL
(stable-baselines3 SAC and PPO), in one run.

Every method trains on the same diffsim env and is evaluated the same way, as SB3 does: mean return
of its deterministic policy over ``--eval-episodes`` episodes of the Gymnasium env (seeds 1000, 1001,
...), logged against environment steps and wall-clock training time. SB3 runs
single-env through the Gymnasium API; the first-order methods use the batched differentiable step
(their env steps count every simulated world step). Wall-clock is training time: evaluations are left out,
for every method (the trainers' own periodic check on the differentiable env, which is cheap, stays in).
``mpc`` (gradient-shooting MPC) and ``ilqr`` (iLQR MPC) plan on the exact model, no training
(Pendulum and the acrobot swing-up): one row each, the return on the same episodes and the compute per
control step. SAC's and PPO's env-step budgets are the same for every task but the one-step throw
(``SB3_TASK_BUDGETS``). ``--sanity`` also trains SAC on Gymnasium's own ``Pendulum-v1``. Torch runs on one
thread (``--threads``); pin the process to cores with ``taskset`` to give every method the same ones.

Writes ``<out>/results.csv`` and ``<out>/curves.png`` after every run; prints a summary table
(final return over seeds; wall-clock to reach SAC's final mean return and to reach PPO's, each against
the baseline's own; the goal: SAC's final mean in <= 1/10 of SAC's wall-clock). ``--summarize DIR
[DIR ...]`` merges earlier runs' results instead of training (a task, method and seed measured in several
runs is taken from the last directory given; different seeds merge).
Usage: ``python -m benchmarks.bench_controllers --tasks diffsim/Pendulum-v0 --seeds 0 1 2``
(needs the ``rl`` extra: ``pip install -e .[rl]``). Locomotion: ``--tasks diffsim/HalfCheetah-v0 --methods shac
sac ppo --wall-clock 1200 --sb3-on-twin``: every method trains for the same 20 minutes, SAC and PPO on
Gymnasium's MuJoCo env, and every policy is evaluated on both engines (``summarize_twin``). ``--set FIELD=VALUE
...`` changes fields of the first-order recipe's :class:`~controllers.shac.TrainConfig` (SAPO's own settings, say:
``--methods sapo --set state_std=True "activation='silu'" critic_lr=5e-4 grad_clip=0.5``).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

import envs  # noqa: F401
from controllers.evaluate import episode_returns, policy_act
from controllers.recipes import recipe
from controllers.shac import Trainer
from envs import make_functional

SB3_BUDGETS = {"sac": 30_000, "ppo": 200_000}  # env steps (first-order methods: their recipe's iterations)
SB3_TASK_BUDGETS = {"diffsim/Throw-v0": {"sac": 10_000, "ppo": 40_000}}  # one-step episodes of 1 500 substeps
MUJOCO_TWIN = {"diffsim/HalfCheetah-v0": "HalfCheetah-v5", "diffsim/Hopper-v0": "Hopper-v5",
               "diffsim/Walker2d-v0": "Walker2d-v5", "diffsim/Ant-v0": "Ant-v5", "diffsim/Humanoid-v0": "Humanoid-v5"}
"""diffsim tasks with Gymnasium's MuJoCo env of the same definitions: every policy is evaluated there too
(``twin_return``), and ``--sb3-on-twin`` trains SAC and PPO there."""


class TrainClock:
    """Wall-clock of training alone: the time spent evaluating (``with clock.paused():``) is left out."""

    def __init__(self):
        self.start, self.paused_for = time.perf_counter(), 0.0

    def __call__(self) -> float:
        return time.perf_counter() - self.start - self.paused_for

    @contextlib.contextmanager
    def paused(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.paused_for += time.perf_counter() - t


def run_sb3(algo, env_id, seed, budget, eval_episodes, log, clock, n_points, train_env=None, wall_clock=None):
    """SB3 ``algo`` for ``budget`` env steps on ``train_env`` (default ``env_id``), or, with ``wall_clock`` (s), for
    that much training time (evaluated every ``wall_clock / n_points`` s instead of every ``budget / n_points``
    steps)."""
    import gymnasium as gym
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.callbacks import BaseCallback

    cls = {"sac": SAC, "ppo": PPO}[algo]
    model = cls("MlpPolicy", gym.make(train_env or env_id), seed=seed, verbose=0, device="cpu")
    points = set(np.linspace(budget / n_points, budget, n_points).astype(int))
    times = list(np.linspace(wall_clock / n_points, wall_clock, n_points)) if wall_clock else []

    def act(o):
        return model.predict(o, deterministic=True)[0]

    class Eval(BaseCallback):
        def _on_step(self):
            due = (times and clock() >= times[0]) or (not times and self.num_timesteps in points)
            if due:
                while times and clock() >= times[0]:
                    times.pop(0)
                with clock.paused():
                    ret, twin = _returns(env_id, act, eval_episodes)
                log(algo, seed, self.num_timesteps, clock(), ret, twin)
            return not (wall_clock and not times)

    model.learn(total_timesteps=budget if not wall_clock else 10 ** 9, callback=Eval())


def _returns(env_id, act, episodes):
    """Mean return on ``env_id`` and on its MuJoCo twin (NaN where it has none)."""
    ret = float(episode_returns(env_id, act, episodes).mean())
    twin = MUJOCO_TWIN.get(env_id)
    return ret, float(episode_returns(twin, act, episodes).mean()) if twin else float("nan")


def run_first_order(algo, env_id, seed, eval_episodes, log, clock, out, n_points, wall_clock=None, log_every=None,
                    overrides=None):
    """The task's recipe, as ``python -m controllers.train`` runs it (``algo`` may differ from the recipe's own;
    ``overrides``: other :class:`TrainConfig` fields changed); with ``wall_clock`` (s), stopped after that much
    training time if the recipe's iterations take longer."""
    cfg = recipe(env_id, algo=algo, seed=seed, **(overrides or {}))
    if wall_clock:  # the recipe's iterations still set the learning-rate decay; the run stops at the budget
        cfg = dataclasses.replace(cfg, eval_episodes=min(cfg.eval_episodes, 4))
    trainer = Trainer(cfg, make_functional(env_id, **cfg.env_kwargs()))

    def on_log(row, actor):  # evaluated on the Gymnasium env like the SB3 baselines, wall-clock included
        with clock.paused():
            ret, twin = _returns(env_id, policy_act(actor), eval_episodes)
        log(algo, seed, row["env_steps"], clock(), ret, twin)

    every = log_every or max(1, cfg.iterations // n_points)  # the iterations asked for, overrides included
    trainer.train(out / f"{env_id.replace('/', '_')}_{algo}_{seed}", progress=False, log_every=every, on_log=on_log,
                  stop=(lambda: clock() >= wall_clock) if wall_clock else None)


def parse_overrides(items) -> dict:
    """``["field=value", ...]`` -> ``{field: value}``: each field a :class:`TrainConfig` field, each value a Python
    literal (checked by ``TrainConfig`` itself when the run starts)."""
    import ast

    from controllers.shac import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"env_id", "algo", "seed"}
    out = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or field not in names:
            raise ValueError(f"--set takes FIELD=VALUE with FIELD one of {sorted(names)}, got {item!r}")
        try:
            out[field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"--set {field}: the value must be a Python literal, got {value!r}") from None
    return out


MPC_TASKS = {  # the tasks MPC runs on (Warp-function envs: cheap steps), with its settings per method
    "diffsim/Pendulum-v0": dict(make=dict(float32_torque=True),  # what Gymnasium's env computes with its float32 action
                                mpc=dict(horizon=25, iterations=30, lr=0.3), ilqr=dict(horizon=30, iterations=3)),
    "diffsim/AcrobotSwingUp-v0": dict(make={}, mpc=dict(horizon=25, iterations=30, lr=0.3, gamma=0.99),
                                      ilqr=dict(horizon=30, iterations=3, gamma=0.99)),
}


def run_mpc(method, env_id, eval_episodes, log, clock):
    """Gradient-shooting MPC (``mpc``) or iLQR MPC (``ilqr``) on the episodes the policies are evaluated on, batched."""
    import gymnasium as gym

    from controllers.evaluate import EVAL_SEED
    from controllers.ilqr import ILQRMPC
    from controllers.mpc import ShootingMPC

    settings = MPC_TASKS[env_id]
    dyn = make_functional(env_id, **settings["make"])
    env = gym.make(env_id).unwrapped  # the start states of the evaluation episodes, drawn as the env draws them
    starts = torch.tensor(np.stack([(env.reset(seed=EVAL_SEED + i), env.state)[1] for i in range(eval_episodes)]))
    controller = (ShootingMPC if method == "mpc" else ILQRMPC)(dyn, **settings[method])
    steps = gym.spec(env_id).max_episode_steps
    returns, _ = controller.rollout(starts, steps)
    wall = clock()
    log(method, 0, 0, wall, float(returns.mean()))
    print(f"# {method} on {env_id}: {wall / steps * 1e3:.0f} ms per control step for {eval_episodes} worlds")


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
    """Markdown table per task and method: final return over seeds, when the mean curve first reaches SAC's
    and PPO's final mean return, and the goal: at least SAC's final mean, reached in <= 1/10 of SAC's
    wall-clock and in less than PPO's."""
    lines = ["| task | method | seeds | env steps | wall-clock | final return (mean ± sd) | "
             "reaches SAC's final mean at (env steps, wall-clock; SAC's wall ÷ this) | "
             "reaches PPO's final mean at (wall-clock; PPO's wall ÷ this) | goal |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in results):
        rows = [r for r in results if r["task"] == task]
        curves = {m: _curve([r for r in rows if r["method"] == m]) for m in dict.fromkeys(r["method"] for r in rows)}
        sac, ppo = curves.get("sac"), curves.get("ppo")
        for method, curve in curves.items():
            if not curve:
                continue
            last = max(int(r["env_steps"]) for r in rows if r["method"] == method)
            finals = [float(r["eval_return"]) for r in rows if r["method"] == method and int(r["env_steps"]) == last]
            steps, wall, final, n = curve[-1]
            cells, reached = [], {}
            for name, base in (("sac", sac), ("ppo", ppo)):
                hit = _first_reaching(curve, base[-1][2]) if base else None
                reached[name] = hit
                if not base:
                    cells.append("n/a")
                elif hit is None:
                    cells.append("never")
                elif name == "sac":
                    cells.append(f"{hit[0]:,}, {hit[1]:.0f} s ({base[-1][1] / max(hit[1], 1e-9):.1f}×)")
                else:
                    cells.append(f"{hit[1]:.0f} s ({base[-1][1] / max(hit[1], 1e-9):.1f}×)")
            if method in ("sac", "ppo", "mpc", "ilqr") or not (sac and ppo):
                goal = "—"
            else:
                met = (final >= sac[-1][2] and reached["sac"] is not None and reached["sac"][1] <= sac[-1][1] / 10
                       and reached["sac"][1] < ppo[-1][1])
                goal = "met" if met else "not met"
            lines.append(f"| {task} | {method} | {n} | {steps:,} | {wall:.0f} s | {np.mean(finals):.1f} ± "
                         f"{np.std(finals):.1f} | {cells[0]} | {cells[1]} | {goal} |")
    return "\n".join(lines)


def _read(path: Path):
    with open(path) as f:
        return [dict(r, seed=int(r["seed"]), env_steps=int(r["env_steps"]), wall_s=float(r["wall_s"]),
                     eval_return=float(r["eval_return"]), twin_return=float(r.get("twin_return") or "nan"))
                for r in csv.DictReader(f)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="DIR",
                        help="only merge these runs' results.csv: print the summary, write curves.png to --out")
    parser.add_argument("--tasks", nargs="+", default=["diffsim/Pendulum-v0", "diffsim/CartPoleSwingUp-v0",
                                                        "diffsim/DoublePendulum-v0", "diffsim/Quadrotor-v0"])
    parser.add_argument("--methods", nargs="+", default=["recipe", "sac", "ppo"],
                        help="recipe (each task's own algorithm), apg, shac, sapo, mpc, ilqr, sac, ppo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="scale SAC's and PPO's env-step budgets (the recipes run as they are)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every method")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--points", type=int, default=10, help="evaluations per training run, evenly spaced")
    parser.add_argument("--sanity", action="store_true", help="also SAC on Gymnasium's Pendulum-v1")
    parser.add_argument("--wall-clock", type=float, default=None, metavar="S",
                        help="train every method for S seconds of training time instead of its step budget")
    parser.add_argument("--sb3-on-twin", action="store_true",
                        help="SAC and PPO train on the task's Gymnasium MuJoCo twin (MUJOCO_TWIN), not on diffsim's")
    parser.add_argument("--log-every", type=int, default=None,
                        help="first-order methods: iterations between evaluations (default: the recipe's / --points)")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", dest="overrides",
                        help="first-order methods: TrainConfig fields changed from the recipe, values as Python "
                             "literals (e.g. state_std=True activation='silu' hidden=(128,64))")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_controllers"))
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summarize:  # a (task, method, seed) measured in several runs is taken from the last one given
        runs = [_read(d / "results.csv") for d in args.summarize]

        def key(r):
            return r["task"], r["method"], r["seed"]

        merged = [r for i, rows in enumerate(runs) for r in rows
                  if not any(key(r) in {key(x) for x in later} for later in runs[i + 1:])]
        _plot(merged, args.out / "curves.png")
        print(summarize(merged))
        if any(np.isfinite(r["twin_return"]) for r in merged):
            print(summarize_twin(merged))
        return merged
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(args.threads)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores ({cores} usable by this run), "
          f"torch {torch.__version__} on {args.threads} thread(s)")
    results = []
    tasks = list(args.tasks) + (["Pendulum-v1"] if args.sanity else [])
    for task in tasks:
        methods = ["sac"] if task == "Pendulum-v1" else [recipe(task).algo if m == "recipe" else m
                                                           for m in args.methods]
        for method in methods:
            if method in ("mpc", "ilqr") and task not in MPC_TASKS:
                continue
            for seed in (args.seeds if method not in ("mpc", "ilqr") else [0]):
                clock = TrainClock()

                def log(algo, s, steps, wall, ret, twin=float("nan"), task=task):
                    results.append(dict(task=task, method=algo, seed=s, env_steps=int(steps), wall_s=wall,
                                        eval_return=ret, twin_return=twin))

                if method in SB3_BUDGETS:
                    budget = int(SB3_TASK_BUDGETS.get(task, SB3_BUDGETS)[method] * args.budget_scale)
                    twin = MUJOCO_TWIN.get(task) if args.sb3_on_twin else None
                    run_sb3(method, task, seed, budget, args.eval_episodes, log, clock, args.points, twin,
                            args.wall_clock)
                elif method in ("mpc", "ilqr"):
                    run_mpc(method, task, args.eval_episodes, log, clock)
                else:
                    run_first_order(method, task, seed, args.eval_episodes, log, clock, args.out, args.points,
                                    args.wall_clock, args.log_every, overrides)
                last = results[-1]
                print(f"| {task} | {method} | {seed} | {last['env_steps']} | {last['wall_s']:.0f} s | "
                      f"{last['eval_return']:.1f} | {last['twin_return']:.1f} |", flush=True)
                _write(results, args.out)  # after every run: an interrupted comparison keeps what it measured
    print(summarize(results))
    if any(np.isfinite(r["twin_return"]) for r in results):
        print(summarize_twin(results))
    return results


def summarize_twin(results) -> str:
    """Markdown table per task and method with a MuJoCo twin: the last evaluation's mean return (over seeds) on
    diffsim's env and on Gymnasium's MuJoCo env, the transfer gap, and whether the method's MuJoCo return beats
    both SAC's and PPO's (the locomotion goal, at equal wall-clock)."""
    lines = ["| task | method | seeds | env steps | wall-clock | return on diffsim | return in MuJoCo | "
             "transfer gap (diffsim - MuJoCo) | beats SAC and PPO in MuJoCo |", "|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in results if np.isfinite(r.get("twin_return", float("nan")))):
        finals = {}
        for method in dict.fromkeys(r["method"] for r in results if r["task"] == task):
            rows = [r for r in results if r["task"] == task and r["method"] == method]
            last = {}
            for r in rows:  # each seed's last evaluation
                last[r["seed"]] = r
            finals[method] = list(last.values())
        mj = {m: float(np.mean([r["twin_return"] for r in rs])) for m, rs in finals.items()}
        for method, rs in finals.items():
            ours = float(np.mean([r["eval_return"] for r in rs]))
            beats = ("—" if method in ("sac", "ppo") or not {"sac", "ppo"} <= set(mj)
                     else ("yes" if mj[method] > max(mj["sac"], mj["ppo"]) else "no"))
            lines.append(f"| {task} | {method} | {len(rs)} | {np.mean([r['env_steps'] for r in rs]):,.0f} | "
                         f"{np.mean([r['wall_s'] for r in rs]):.0f} s | {ours:.1f} | {mj[method]:.1f} | "
                         f"{ours - mj[method]:.1f} | {beats} |")
    return "\n".join(lines)


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
            twin = [p for p in pts if np.isfinite(p.get("twin_return", float("nan")))]
            if twin:  # the same policies in Gymnasium's MuJoCo env
                row[0].scatter([p["env_steps"] for p in twin], [p["twin_return"] for p in twin], marker="x", s=14,
                               label=f"{method} in MuJoCo")
                row[1].scatter([p["wall_s"] for p in twin], [p["twin_return"] for p in twin], marker="x", s=14,
                               label=f"{method} in MuJoCo")
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
