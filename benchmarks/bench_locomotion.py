"""Gymnasium's locomotion models: diffsim rollouts vs MuJoCo's ``mujoco.rollout``, side by side in one run.

Each model is Gymnasium's own MJCF file (``gymnasium/envs/mujoco/assets``), stepped the way each simulator's env
steps it: MuJoCo with the file's integrator and timestep (Euler at 10 ms for half_cheetah, RK4 otherwise), diffsim
with RK4 at the file's timestep divided by the env's ``substeps`` (its explicit penalty contacts need shorter steps
on HalfCheetah and Ant; see ``envs/``; ``--substeps`` overrides; ``--integrator`` adds rows for ``euler`` or
``implicit_contacts``, whose linearly implicit contacts stay stable at the file's step, each optionally at its own
number of steps, ``implicit_contacts:1``). Both simulate the same time from the same starts (qpos0 + U(-0.1, 0.1),
qvel 0.1 N(0, 1)) under the same random bang-bang controls (held 5 steps); throughput is given in *file steps* per
second (worlds x simulated time / file timestep / wall time) so the two are comparable whatever step each takes.
MuJoCo runs one ``MjData`` per thread (``--threads``, default all cores) and computes no gradients; diffsim's
forward+backward is the gradient of the summed final state w.r.t. initial state and controls (float32). Compilation
is excluded (one untimed warm-up call). What a larger step costs in accuracy: ``|dq| 0.2 s`` is the mean absolute
difference of diffsim's float64 qpos from MuJoCo's after 20 file steps (0.2 s; mean over worlds and coordinates),
the trajectories of the timed runs.

``--device cuda`` runs diffsim on the GPU (MuJoCo stays on the CPU's cores, as ``mujoco.rollout`` runs).

Where NVIDIA Newton is installed (``pip install newton``), its ``SolverFeatherstone`` (generalised coordinates,
semi-implicit Euler, its own contact model; float32, forward only) steps the same file on diffsim's device at
diffsim's step, the controls entering as joint forces (``gear x ctrl``), contacts found by its
``CollisionPipeline`` every step; ``finite`` says whether every world's state stayed finite.

Usage: ``python -m benchmarks.bench_locomotion [--models half_cheetah ant] [--worlds 64 1024] [--steps 200]
[--device cuda] [--structure generated loops] [--integrator rk4 implicit_contacts:1] [--no-newton]``
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
from diffsim import runtime
from diffsim.rigid import load_mjcf, loops, rollout
from diffsim.rigid.rollout import INTEGRATORS
from envs.ant import AntDynamics
from envs.half_cheetah import HalfCheetahDynamics
from envs.hopper import HopperDynamics
from envs.humanoid import HumanoidDynamics
from envs.rigid_core import gymnasium_asset
from envs.walker2d import Walker2dDynamics

SUBSTEPS = {"half_cheetah": HalfCheetahDynamics.substeps, "ant": AntDynamics.substeps,  # as the envs run them
            "hopper": HopperDynamics.substeps, "walker2d_v5": Walker2dDynamics.substeps,
            "humanoid": HumanoidDynamics.substeps}


def _inputs(mj, n, steps, rng):
    q0 = mj.qpos0 + rng.uniform(-0.1, 0.1, (n, mj.nq))
    if mj.nq > mj.nv:  # a free root: keep its quaternion normalised
        q0[:, 3:7] /= np.linalg.norm(q0[:, 3:7], axis=1, keepdims=True)
    v0 = 0.1 * rng.standard_normal((n, mj.nv))
    ctrl = np.sign(rng.uniform(-1, 1, (n, steps // 5 + 1, mj.nu))).repeat(5, axis=1)[:, :steps]
    return q0, v0, ctrl


def _device_name(device: str) -> str:
    if str(device).startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({platform.processor() or platform.machine()})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["half_cheetah", "ant"], choices=sorted(SUBSTEPS))
    parser.add_argument("--worlds", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--steps", type=int, default=200, help="file steps per rollout")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--substeps", type=int, default=None, help="diffsim steps per file step (default: the env's)")
    parser.add_argument("--device", default="cpu", help="diffsim's device (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--structure", nargs="+", default=["auto"], choices=("auto", "generated", "loops"),
                        help="Model.structure(s) to run: each gets its rows")
    parser.add_argument("--integrator", nargs="+", default=["rk4"], metavar="NAME[:SUBSTEPS]",
                        help=f"diffsim integrator(s) to run, each with its rows: one of {INTEGRATORS}, optionally "
                             "with its own steps per file step (default: --substeps or the env's)")
    parser.add_argument("--newton", action=argparse.BooleanOptionalAction, default=True,
                        help="time Newton's Featherstone solver on the same file where it is installed")
    args = parser.parse_args(argv)
    runs = []
    for item in args.integrator:
        name, _, sub = item.partition(":")
        if name not in INTEGRATORS or (sub and not (sub.isdigit() and int(sub) >= 1)):
            parser.error(f"--integrator takes NAME[:SUBSTEPS] with NAME one of {INTEGRATORS} and SUBSTEPS >= 1, "
                         f"got {item!r}")
        runs.append((name, int(sub) if sub else None))
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, mujoco {mujoco.__version__}, "
          f"torch {torch.__version__}; {args.steps} file steps; MuJoCo threads: {args.threads}; diffsim on "
          f"{_device_name(args.device)}")
    print("| model | structure | worlds | MuJoCo (integrator, dt) | diffsim (integrator, dt) | MuJoCo fwd file-steps/s "
          "| diffsim fwd f64 | diffsim fwd f32 | ratio f32/MuJoCo | diffsim fwd+bwd f32 | bwd cost (fwd+bwd / fwd) "
          "| \\|dq\\| 0.2 s | Newton Featherstone fwd f32 (finite) | ratio diffsim f32/Newton |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name in args.models:
        path = gymnasium_asset(name)
        mj = mujoco.MjModel.from_xml_path(path)
        default_sub = args.substeps or SUBSTEPS[name]
        for n in args.worlds:
            q0, v0, ctrl = _inputs(mj, n, args.steps, rng)
            datas = [mujoco.MjData(mj) for _ in range(args.threads)]
            state0 = np.zeros((n, mujoco.mj_stateSize(mj, mujoco.mjtState.mjSTATE_FULLPHYSICS)))
            for i in range(n):
                datas[0].qpos[:], datas[0].qvel[:] = q0[i], v0[i]
                mujoco.mj_getState(mj, datas[0], state0[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
            t_mj = best_time(lambda: mujoco.rollout.rollout(mj, datas, state0, ctrl), args.repeats)
            states, _ = mujoco.rollout.rollout(mj, datas, state0, ctrl)
            mj_q = states[:, :, 1:1 + mj.nq]  # (n, steps, nq): after each file step
            newton = (_newton_time(path, mj, n, q0, v0, ctrl, default_sub, args.repeats, args.device)
                      if args.newton else None)
            for structure in args.structure:
                for integrator, sub in runs:
                    _row(args, name, path, mj, sub or default_sub, n, q0, v0, ctrl, t_mj, structure, integrator, mj_q,
                         newton if (sub or default_sub) == default_sub else None)


def _newton_time(path, mj, n, q0, v0, ctrl, sub, repeats, device):
    """``(seconds, finite)`` of Newton's Featherstone rollout of ``ctrl`` (file steps) at ``sub`` steps per file
    step, or None where Newton is not installed."""
    runtime.init()  # Warp without its module-load chatter, before Newton initialises it
    try:
        import newton
        import warp as wp
    except ImportError:
        return None
    single = newton.ModelBuilder()
    single.add_mjcf(path)
    builder = newton.ModelBuilder()
    builder.replicate(single, n)
    model = builder.finalize(device=device)
    if model.joint_coord_count != n * mj.nq or model.joint_dof_count != n * mj.nv:
        raise RuntimeError(f"Newton's {path} has {model.joint_coord_count // n} coordinates and "
                           f"{model.joint_dof_count // n} dofs per world, MuJoCo's {mj.nq} and {mj.nv}")
    solver = newton.solvers.SolverFeatherstone(model)
    pipeline = newton.CollisionPipeline(model)
    control = model.control()
    forces = np.zeros((ctrl.shape[1], n, mj.nv), dtype=np.float32)  # joint forces per file step
    for a in range(mj.nu):
        forces[:, :, mj.jnt_dofadr[mj.actuator_trnid[a, 0]]] += mj.actuator_gear[a, 0] * ctrl[:, :, a].T
    forces = [wp.array(f.reshape(-1), dtype=wp.float32, device=device) for f in forces]
    dt = mj.opt.timestep / sub
    q0 = q0.copy()
    for j in np.flatnonzero(mj.jnt_type == mujoco.mjtJoint.mjJNT_FREE):  # Newton's quaternions are (x, y, z, w)
        a = mj.jnt_qposadr[j] + 3
        q0[:, a:a + 4] = q0[:, [a + 1, a + 2, a + 3, a]]

    def run():
        s0, s1 = model.state(), model.state()
        s0.joint_q.assign(q0.reshape(-1).astype(np.float32))
        s0.joint_qd.assign(v0.reshape(-1).astype(np.float32))
        newton.eval_fk(model, s0.joint_q, s0.joint_qd, s0)
        contacts = pipeline.contacts()
        for f in forces:
            wp.copy(control.joint_f, f)
            for _ in range(sub):
                pipeline.collide(s0, contacts)
                solver.step(s0, s1, control, contacts, dt)
                s0, s1 = s1, s0
        return s0

    final = run()  # compiles
    seconds = best_time(run, repeats, device)
    return seconds, bool(np.isfinite(final.joint_q.numpy()).all() and np.isfinite(final.joint_qd.numpy()).all())


def _row(args, name, path, mj, sub, n, q0, v0, ctrl, t_mj, structure, integrator, mj_q, newton=None):
    res = {}
    for dtype in (torch.float64, torch.float32):
        model = load_mjcf(path, num_worlds=n, dtype=dtype, device=args.device, structure=structure)
        structure = "loops" if loops.use_loops(model) else "generated"
        q, v, u = (torch.tensor(x, dtype=dtype, device=args.device)
                   for x in (q0, v0, np.repeat(ctrl, sub, axis=1)))
        res[dtype] = best_time(lambda: rollout(model, q, v, u, integrator=integrator,
                                               timestep=mj.opt.timestep / sub), args.repeats, args.device)
        if dtype == torch.float64 and args.steps >= 20:
            qs, _ = rollout(model, q, v, u, integrator=integrator, timestep=mj.opt.timestep / sub)
            dq = float(np.abs(qs[:, 20 * sub].cpu().numpy() - mj_q[:, 19]).mean())
    q, v, u = (torch.tensor(x, dtype=torch.float32, device=args.device, requires_grad=True)
               for x in (q0, v0, np.repeat(ctrl, sub, axis=1)))

    def fwd_bwd():
        qs, vs = rollout(model, q, v, u, integrator=integrator, timestep=mj.opt.timestep / sub)
        (qs[:, -1].sum() + vs[:, -1].sum()).backward()

    t_grad = best_time(fwd_bwd, args.repeats, args.device)
    steps = n * args.steps
    integ = "Euler" if mj.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER else "RK4"
    accuracy = f"{dq:.3g}" if args.steps >= 20 else "—"
    peer = (f"{steps / newton[0]:,.0f} ({'yes' if newton[1] else 'no'}) | {newton[0] / res[torch.float32]:.2f}x"
            if newton else "— | —")
    print(f"| {name} | {structure} | {n} | {integ}, {mj.opt.timestep * 1e3:g} ms "
          f"| {integrator}, {mj.opt.timestep / sub * 1e3:g} ms "
          f"| {steps / t_mj:,.0f} | {steps / res[torch.float64]:,.0f} | {steps / res[torch.float32]:,.0f} "
          f"| {t_mj / res[torch.float32]:.2f}x | {steps / t_grad:,.0f} | {t_grad / res[torch.float32]:.1f}x "
          f"| {accuracy} | {peer} |", flush=True)


if __name__ == "__main__":
    main()
