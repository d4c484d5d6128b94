"""One-step calls: ``diffsim.rigid.step`` vs MuJoCo's ``mj_step``, side by side in one run.

What a step-by-step user (an env, an MPC loop) pays per call, overheads included, for the
built-in cart-pole, double pendulum and quadrotor with RK4: diffsim's ``step`` on all
worlds at once (float32; forward under ``torch.no_grad``, and forward+backward of the summed
next state w.r.t. state and control), against ``mujoco.mj_step`` called once per world from
Python (one ``MjData`` per world; MuJoCo computes no gradients). Microseconds per call,
best of ``--repeats`` loops of ``--calls`` calls.

Usage: ``python -m benchmarks.bench_rigid_step [--worlds 1 64 1024] [--calls 200]``
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import mujoco
import numpy as np
import torch

from diffsim.rigid import Control, State, builtin_model, load_mjcf, step


def _per_call(fn, calls, repeats):
    for _ in range(max(10, calls // 10)):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, mujoco {mujoco.__version__}, "
          f"torch {torch.__version__}; RK4, one step per call")
    print("| model | worlds | MuJoCo mj_step loop (us/call) | diffsim step fwd f32 (us/call) | ratio MuJoCo/diffsim "
          "| diffsim step fwd+bwd f32 (us/call) | MuJoCo gradients |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name in ("cartpole", "double_pendulum", "quadrotor"):
        mj = mujoco.MjModel.from_xml_path(builtin_model(name))
        mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
        for n in args.worlds:
            datas = [mujoco.MjData(mj) for _ in range(n)]
            ctrl = rng.uniform(0.2, 0.8, (n, mj.nu)) * (3.0 if name == "quadrotor" else 1.0)
            for d, c in zip(datas, ctrl):
                d.ctrl[:] = c

            def mj_calls():
                for d in datas:
                    mujoco.mj_step(mj, d)

            t_mj = _per_call(mj_calls, max(1, args.calls // max(1, n // 64)), args.repeats)
            model = load_mjcf(builtin_model(name), num_worlds=n)
            state = State(torch.tensor(np.tile(mj.qpos0, (n, 1)), dtype=torch.float32),
                          torch.zeros(n, mj.nv, dtype=torch.float32))
            control = Control(torch.tensor(ctrl, dtype=torch.float32))

            def fwd():
                with torch.no_grad():
                    step(model, state, control)

            t_fwd = _per_call(fwd, args.calls, args.repeats)
            qpos, qvel, u = (t.clone().requires_grad_(True) for t in (state.qpos, state.qvel, control.ctrl))

            def fwd_bwd():
                nxt = step(model, State(qpos, qvel), Control(u))
                (nxt.qpos.sum() + nxt.qvel.sum()).backward()

            t_grad = _per_call(fwd_bwd, args.calls, args.repeats)
            print(f"| {name} | {n} | {t_mj:,.1f} | {t_fwd:,.1f} | {t_mj / t_fwd:.2f}x | {t_grad:,.1f} | "
                  f"none (mj_step is forward-only) |", flush=True)


if __name__ == "__main__":
    main()
