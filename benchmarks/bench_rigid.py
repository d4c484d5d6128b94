"""Rigid-body rollouts: diffsim (Warp) vs MuJoCo's ``mujoco.rollout``, side by side in one run.

Cart-pole, double pendulum and quadrotor (the built-in MJCF files, same file in
both), RK4, 500 steps, random controls, at 1, 64, 1 024 and 4 096 worlds
(``--worlds``). Reported: steps per second (worlds x steps / wall time) of the
forward rollout for both, diffsim's forward+backward (gradient of the summed final
state w.r.t. initial state, controls and masses), and the ratio. MuJoCo runs with
one ``MjData`` per thread (``--threads``, default: all cores); it computes no
gradients, said so in the table. Float64 for both (MuJoCo's only precision) and
float32 for diffsim.

Usage: ``python -m benchmarks.bench_rigid [--worlds 1 64 1024 4096] [--steps 500]``
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import mujoco
import mujoco.rollout
import numpy as np
import torch

from diffsim.rigid import builtin_model, load_mjcf, rollout


def _best(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _inputs(name, n, steps, rng):
    mj = mujoco.MjModel.from_xml_path(builtin_model(name))
    q0 = np.tile(mj.qpos0, (n, 1))
    q0[:, :min(mj.nq, 2)] += rng.uniform(-0.3, 0.3, (n, min(mj.nq, 2)))
    ctrl = rng.uniform(0.2, 0.8, (n, steps, mj.nu)) * (3.0 if name == "quadrotor" else 1.0)
    return mj, q0, np.zeros((n, mj.nv)), ctrl


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, mujoco {mujoco.__version__}, "
          f"torch {torch.__version__}; {args.steps} RK4 steps; MuJoCo threads: {args.threads}")
    print("| model | worlds | MuJoCo fwd steps/s | diffsim fwd f64 | diffsim fwd f32 | ratio f32/MuJoCo "
          "| diffsim fwd+bwd f32 | bwd cost (fwd+bwd / fwd) | MuJoCo gradients |")
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name in ("cartpole", "double_pendulum", "quadrotor"):
        for n in args.worlds:
            mj, q0, v0, ctrl = _inputs(name, n, args.steps, rng)
            mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
            datas = [mujoco.MjData(mj) for _ in range(args.threads)]
            state0 = np.zeros((n, mujoco.mj_stateSize(mj, mujoco.mjtState.mjSTATE_FULLPHYSICS)))
            for i in range(n):
                d = datas[0]
                d.qpos[:], d.qvel[:] = q0[i], v0[i]
                mujoco.mj_getState(mj, d, state0[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
            t_mj = _best(lambda: mujoco.rollout.rollout(mj, datas, state0, ctrl), args.repeats)

            res = {}
            for dtype in (torch.float64, torch.float32):
                model = load_mjcf(builtin_model(name), num_worlds=n, dtype=dtype)
                q, v, u = (torch.tensor(x, dtype=dtype) for x in (q0, v0, ctrl))
                res[dtype] = _best(lambda: rollout(model, q, v, u), args.repeats)
            model = load_mjcf(builtin_model(name), num_worlds=n, dtype=torch.float32)
            q, v, u = (torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in (q0, v0, ctrl))
            model.body_mass.requires_grad_(True)

            def fwd_bwd():
                qs, vs = rollout(model, q, v, u)
                (qs[:, -1].sum() + vs[:, -1].sum()).backward()

            t_grad = _best(fwd_bwd, args.repeats)
            steps = n * args.steps
            print(f"| {name} | {n} | {steps / t_mj:,.0f} | {steps / res[torch.float64]:,.0f} | "
                  f"{steps / res[torch.float32]:,.0f} | {t_mj / res[torch.float32]:.2f}x | {steps / t_grad:,.0f} | "
                  f"{t_grad / res[torch.float32]:.1f}x | none (mujoco.rollout is forward-only) |", flush=True)


if __name__ == "__main__":
    main()
