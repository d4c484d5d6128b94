"""Gymnasium's MuJoCo models with contacts in diffsim and in MuJoCo: rest states and trajectory divergence.

For each model, from MuJoCo's qpos0 with zero velocity: both engines run ``--seconds`` of simulated time
under the same open-loop controls (zero, or a seeded smooth random signal with ``--controls random``).
MuJoCo steps at the file's timestep with the file's integrator; diffsim runs RK4 at the file's timestep
divided by ``--substeps`` (its penalty contacts are explicit springs: MuJoCo's implicit constraint solver
is stable at steps where they are not). Printed: the final root height and joint angles of both, their
largest difference, the final speeds, and the time at which the two trajectories first differ by more than
5 mm / 0.01 rad. The divergence curve (largest |qpos difference| over time) is saved to
``benchmarks/results/mjcf_parity/<model>_<controls>.png``.

Usage: ``python -m benchmarks.bench_mjcf_parity [--models half_cheetah ant ...] [--controls zero|random]``.
"""
from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).parent / "results" / "mjcf_parity"
MODELS = ("half_cheetah", "ant", "walker2d", "hopper")


def smooth_controls(nu: int, steps: int, dt: float, seed: int) -> np.ndarray:
    """A sum of three random sinusoids per actuator in [-1, 1], periods 0.3-2 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None] * dt
    out = np.zeros((steps, nu))
    for _ in range(3):
        out += np.sin(2 * np.pi * t / rng.uniform(0.3, 2.0, nu) + rng.uniform(0, 2 * np.pi, nu)) / 3
    return out


def run(name: str, seconds: float, substeps: int, controls: str, seed: int, friction_smoothing: float,
        integrator: str = "rk4") -> dict:
    import gymnasium
    import mujoco

    from diffsim.rigid import load_mjcf, rollout

    path = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", f"{name}.xml")
    mj = mujoco.MjModel.from_xml_path(path)
    data = mujoco.MjData(mj)
    steps = int(round(seconds / mj.opt.timestep))
    u = np.zeros((steps, mj.nu)) if controls == "zero" else smooth_controls(mj.nu, steps, mj.opt.timestep, seed)
    ref = np.zeros((steps + 1, mj.nq))
    ref[0] = data.qpos
    for k in range(steps):
        data.ctrl[:] = u[k]
        mujoco.mj_step(mj, data)
        ref[k + 1] = data.qpos
    model = load_mjcf(path, dtype=torch.float64, friction_smoothing=friction_smoothing)
    ctrl = torch.tensor(np.repeat(u, substeps, axis=0), dtype=torch.float64)[None]
    q0, v0 = torch.tensor(mj.qpos0, dtype=torch.float64)[None], torch.zeros(1, mj.nv, dtype=torch.float64)
    qs, vs = rollout(model, q0, v0, ctrl, integrator=integrator, timestep=mj.opt.timestep / substeps)
    ours = qs[0, ::substeps].numpy()
    free = mj.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    height = 2 if free else 1  # the root's z: free joint qpos[2], planar roots (rootx, rootz, rooty) qpos[1]
    angles = slice(7, None) if free else slice(2, None)
    diff = np.abs(ours - ref)
    apart = np.maximum(diff[:, height] / 0.005, diff[:, angles].max(axis=1) / 0.01) > 1
    t = np.arange(steps + 1) * mj.opt.timestep
    OUT.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(t, np.maximum(diff[:, height], 1e-12), label="root height (m)")
    ax.semilogy(t, np.maximum(diff[:, angles].max(axis=1), 1e-12), label="largest joint angle (rad)")
    ax.axhline(0.005, color="gray", lw=0.5)
    ax.axhline(0.01, color="gray", lw=0.5, ls="--")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("|diffsim - MuJoCo|")
    ax.set_title(f"{name}, {controls} controls, diffsim {integrator} at dt/{substeps}, friction smoothing "
                 f"{model.friction_smoothing:g} m/s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    suffix = "" if integrator == "rk4" else f"_{integrator}"
    fig.savefig(OUT / f"{name}_{controls}{suffix}.png", dpi=120)
    plt.close(fig)
    return dict(model=name, steps=steps, height=(ref[-1, height], ours[-1, height]),
                angle_diff=float(diff[-1, angles].max()), height_diff=float(diff[-1, height]),
                speed=(float(np.abs(data.qvel).max()), float(vs[0, -1].abs().max())),
                apart=float(t[np.argmax(apart)]) if apart.any() else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--substeps", type=int, default=4)
    parser.add_argument("--controls", choices=("zero", "random"), default="zero")
    parser.add_argument("--seed", type=int, default=0)
    from diffsim.rigid.model import FRICTION_SMOOTHING

    parser.add_argument("--friction-smoothing", type=float, default=FRICTION_SMOOTHING,
                        help="slip speed eps of diffsim's smooth Coulomb friction, m/s")
    parser.add_argument("--integrator", choices=("rk4", "implicit_contacts"), default="rk4",
                        help="diffsim's integrator")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}; {args.seconds} s, {args.controls} controls, diffsim "
          f"{args.integrator} "
          f"at dt/{args.substeps}, float64, friction smoothing {args.friction_smoothing:g} m/s")
    print("| model | root height MuJoCo / diffsim (m) | height diff (mm) | largest joint angle diff (rad) | "
          "final speed MuJoCo / diffsim | first apart by 5 mm / 0.01 rad (s) |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        r = run(name, args.seconds, args.substeps, args.controls, args.seed, args.friction_smoothing,
                args.integrator)
        apart = "never" if r["apart"] is None else f"{r['apart']:.2f}"
        print(f"| {name} | {r['height'][0]:.4f} / {r['height'][1]:.4f} | {1e3 * r['height_diff']:.1f} | "
              f"{r['angle_diff']:.4f} | {r['speed'][0]:.2g} / {r['speed'][1]:.2g} | {apart} |", flush=True)


if __name__ == "__main__":
    main()
