"""Rigid-body rollouts: diffsim (Warp) vs MuJoCo's ``mujoco.rollout`` and Newton, side by side in one run.

Cart-pole, double pendulum and quadrotor (the built-in MJCF files, same file in
both), RK4, 500 steps, random controls, at 1, 64, 1 024 and 4 096 worlds
(``--worlds``). Reported: steps per second (worlds x steps / wall time) of the
forward rollout for both, diffsim's forward+backward (gradient of the summed final
state w.r.t. initial state, controls and masses), and the ratio. MuJoCo runs with
one ``MjData`` per thread (``--threads``, default: all cores); it computes no
gradients, said so in the table. Float64 for both (MuJoCo's only precision) and
float32 for diffsim. Newton (if installed; ``newton.solvers.SolverFeatherstone`` on the
same MJCF via ``ModelBuilder.add_mjcf`` + ``replicate``) integrates with semi-implicit
Euler, one dynamics evaluation per step, so it is compared with diffsim's
``integrator="euler"`` (RK4 costs four); its forward+backward records all steps on a
``wp.Tape`` with one state per step. Newton runs with zero controls (its MJCF actuator
mapping differs); the cost of a step does not depend on them.

Usage: ``python -m benchmarks.bench_rigid [--worlds 1 64 1024 4096] [--steps 500]``
"""
from __future__ import annotations

import argparse
import os
import platform

import mujoco
import mujoco.rollout
import numpy as np
import torch

from benchmarks.timing import best_time
from diffsim.rigid import builtin_model, load_mjcf, rollout


def _newton(name, n, steps, repeats):
    """(forward seconds, forward+backward seconds) of Newton's Featherstone solver, or None if absent."""
    try:
        import newton
        import warp as wp
    except ImportError:
        return None

    @wp.kernel
    def _sum(q: wp.array(dtype=float), out: wp.array(dtype=float)):
        wp.atomic_add(out, 0, q[wp.tid()])

    def build(grad):
        sub = newton.ModelBuilder()
        sub.add_mjcf(builtin_model(name))
        b = newton.ModelBuilder()
        b.replicate(sub, n)
        return b.finalize(device="cpu", requires_grad=grad)

    dt = mujoco.MjModel.from_xml_path(builtin_model(name)).opt.timestep
    m = build(False)
    solver = newton.solvers.SolverFeatherstone(m)
    s0, s1, c = m.state(), m.state(), m.control()

    def fwd():
        nonlocal s0, s1
        for _ in range(steps):
            s0.clear_forces()
            solver.step(s0, s1, c, None, dt)
            s0, s1 = s1, s0

    mg = build(True)
    solver_g = newton.solvers.SolverFeatherstone(mg)
    states = [mg.state(requires_grad=True) for _ in range(steps + 1)]
    cg = mg.control()
    loss = wp.zeros(1, dtype=float, requires_grad=True)

    def fwd_bwd():
        loss.zero_()
        tape = wp.Tape()
        with tape:
            for t in range(steps):
                solver_g.step(states[t], states[t + 1], cg, None, dt)
            wp.launch(_sum, states[-1].joint_q.shape[0], inputs=[states[-1].joint_q], outputs=[loss])
        tape.backward(loss)
        tape.zero()

    return best_time(fwd, repeats), best_time(fwd_bwd, repeats)


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
          "| diffsim fwd+bwd f32 | bwd cost (fwd+bwd / fwd) | MuJoCo gradients | Newton fwd (Euler) "
          "| diffsim Euler fwd f32 | ratio Euler/Newton | Newton fwd+bwd | diffsim Euler fwd+bwd f32 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
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
            t_mj = best_time(lambda: mujoco.rollout.rollout(mj, datas, state0, ctrl), args.repeats)

            res = {}
            for dtype in (torch.float64, torch.float32):
                model = load_mjcf(builtin_model(name), num_worlds=n, dtype=dtype)
                q, v, u = (torch.tensor(x, dtype=dtype) for x in (q0, v0, ctrl))
                res[dtype] = best_time(lambda: rollout(model, q, v, u), args.repeats)
            model = load_mjcf(builtin_model(name), num_worlds=n, dtype=torch.float32)
            q, v, u = (torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in (q0, v0, ctrl))
            model.body_mass.requires_grad_(True)

            def fwd_bwd():
                qs, vs = rollout(model, q, v, u)
                (qs[:, -1].sum() + vs[:, -1].sum()).backward()

            t_grad = best_time(fwd_bwd, args.repeats)
            q32, v32, u32 = (torch.tensor(x, dtype=torch.float32) for x in (q0, v0, ctrl))
            t_euler = best_time(lambda: rollout(model, q32, v32, u32, integrator="euler"), args.repeats)

            def euler_fwd_bwd():
                qs, vs = rollout(model, q, v, u, integrator="euler")
                (qs[:, -1].sum() + vs[:, -1].sum()).backward()

            t_euler_grad = best_time(euler_fwd_bwd, args.repeats)
            nt = _newton(name, n, args.steps, args.repeats)
            steps = n * args.steps
            newton_cols = "not installed | - | - | - | -"
            if nt:
                newton_cols = (f"{steps / nt[0]:,.0f} | {steps / t_euler:,.0f} | {nt[0] / t_euler:.2f}x | "
                               f"{steps / nt[1]:,.0f} | {steps / t_euler_grad:,.0f}")
            print(f"| {name} | {n} | {steps / t_mj:,.0f} | {steps / res[torch.float64]:,.0f} | "
                  f"{steps / res[torch.float32]:,.0f} | {t_mj / res[torch.float32]:.2f}x | {steps / t_grad:,.0f} | "
                  f"{t_grad / res[torch.float32]:.1f}x | none (mujoco.rollout is forward-only) | {newton_cols} |",
                  flush=True)


if __name__ == "__main__":
    main()
