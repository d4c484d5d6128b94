"""Training on several ranks (``torchrun``, gloo on the CPU) vs one process, in one run.

For one task (default: the double pendulum, whose step is compute-bound), trains its recipe for
``--iterations`` iterations of ``--num-envs`` worlds in three layouts -- 1 rank x 1 thread, 1 rank x 2
threads (torch and Warp's CPU launches), 2 ranks x 1 thread (each rank half the worlds), and, as the ceiling,
2 independent one-process runs of half the worlds each started together (nothing exchanged) -- and prints
iterations/s and world-steps/s of each (training iterations alone, after two warm-up ones: process start,
imports, Warp's module loading and evaluations left out). Then measures, with two gloo ranks, the all-reduce time of
the gradients one iteration averages (the actor once, the critic once per minibatch), for the scaling
estimate in ``BENCHMARKS.md``.

Usage: ``python -m benchmarks.bench_distributed [--env diffsim/DoublePendulum-v0] [--num-envs 256]``
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ALLREDUCE = r'''
import sys, time, torch, torch.distributed as dist
from controllers import distributed
from controllers.recipes import recipe
from controllers.shac import Trainer
from envs import make_functional
ctx = distributed.init()
cfg = recipe(sys.argv[1], num_envs=2 * ctx.world_size)
tr = Trainer(cfg, make_functional(sys.argv[1], **cfg.env_kwargs()), ctx)
sizes = {"actor": sum(p.numel() * p.element_size() for p in tr.actor.parameters())}
if tr.critic is not None:
    sizes["critic"] = sum(p.numel() * p.element_size() for p in tr.critic.parameters())
for name, net in (("actor", tr.actor), ("critic", tr.critic)):
    if net is None:
        continue
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    for _ in range(20):
        dist.all_reduce(flat)
    t = time.perf_counter()
    for _ in range(200):
        dist.all_reduce(flat)
    if ctx.is_main:
        print(f"{name} {sizes[name]} {(time.perf_counter() - t) / 200 * 1e6:.1f}")
if ctx.is_main:
    print(f"per_window {cfg.critic_iterations * cfg.critic_minibatches}")
distributed.close(ctx)
'''


TRAIN = r'''
import sys, time, torch
from controllers import distributed
from controllers.recipes import recipe
from controllers.shac import Trainer
from envs import make_functional
env, num_envs, iterations, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ctx = distributed.init()
if not ctx.distributed:
    torch.set_num_threads(threads)
cfg = recipe(env, num_envs=num_envs)
tr = Trainer(cfg, make_functional(env, device=ctx.device, **cfg.env_kwargs()), ctx)
for _ in range(2):  # warm-up
    tr.step()
t = time.perf_counter()
for _ in range(iterations):
    tr.step()
if ctx.is_main:
    print(f"seconds {time.perf_counter() - t:.4f} threads {ctx.threads} torch {torch.get_num_threads()}")
distributed.close(ctx)
'''


def _pythonpath() -> str:
    """The repository first, then the caller's own PYTHONPATH (packages installed outside site-packages)."""
    return os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p)


def _train(script, env, num_envs, iterations, ranks, threads, independent=False):
    """Training seconds of ``iterations`` iterations (after two warm-up ones) in one layout. ``independent``: ``ranks``
    separate one-process runs of ``num_envs / ranks`` worlds each, started together and never communicating (the
    slowest one's seconds): what the machine's cores give when nothing is exchanged, the ceiling of any layout."""
    env_vars = dict(os.environ, DIFFSIM_CPU_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                    PYTHONPATH=_pythonpath())
    if independent:
        cmds = [[sys.executable, str(script), env, str(num_envs // ranks), str(iterations), str(threads)]] * ranks
    else:
        args = [str(script), env, str(num_envs), str(iterations), str(threads)]
        cmds = [[sys.executable, *args] if ranks == 1 else
                [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", *args]]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_vars)
            for cmd in cmds]
    outs = [run.communicate(timeout=3600) + (run.returncode,) for run in runs]
    for _, err, rc in outs:
        if rc:
            raise RuntimeError(err[-3000:])
    return max(float(re.search(r"seconds ([0-9.]+)", out).group(1)) for out, _, _ in outs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="diffsim/DoublePendulum-v0")
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds of the four layouts, each round's ratios against its own 1 x 1 run")
    args = parser.parse_args(argv)
    from controllers.recipes import recipe

    cfg = recipe(args.env)
    window = cfg.window
    print(f"# {args.env}, {args.num_envs} worlds x {window}-step windows, {args.iterations} iterations, "
          f"{os.cpu_count()} cores")
    print("| layout | training s | iterations/s | world-steps/s | vs 1 x 1 |")
    print("|---|---|---|---|---|")
    base = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        train_script = Path(tmp) / "train.py"
        train_script.write_text(TRAIN)
        layouts = ((1, 1, False), (1, 2, False), (2, 1, False), (2, 1, True))
        for k, (ranks, threads, independent) in enumerate(layouts * args.repeats):
            secs = _train(train_script, args.env, args.num_envs, args.iterations, ranks, threads, independent)
            its = args.iterations / secs
            base = its if k % len(layouts) == 0 else base  # each round against its own 1 x 1 run
            name = (f"{ranks} independent processes x {threads} thread, {args.num_envs // ranks} worlds each, "
                    "no communication"
                    if independent else
                    f"{ranks} rank{'s' if ranks > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}")
            print(f"| {name} | {secs:.1f} | {its:.2f} | {its * args.num_envs * window:,.0f} | {its / base:.2f}x |",
                  flush=True)
        script = Path(tmp) / "allreduce.py"
        script.write_text(ALLREDUCE)
        run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              str(script), args.env], capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, PYTHONPATH=_pythonpath()))
        if run.returncode:
            raise RuntimeError(run.stderr[-3000:])
        print("\n| gradient | bytes | gloo all-reduce, 2 ranks, loopback (µs) |")
        print("|---|---|---|")
        for line in run.stdout.splitlines():
            parts = line.split()
            if parts[0] in ("actor", "critic"):
                print(f"| {parts[0]} | {int(parts[1]):,} | {float(parts[2]):.1f} |")
            elif parts[0] == "per_window":
                print(f"\nall-reduces per iteration: 1 actor + {parts[1]} critic (one per critic minibatch)")


if __name__ == "__main__":
    main()
