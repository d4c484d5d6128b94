"""CUDA check of the rigid-body engine and the Warp envs: same numbers as on the CPU, and GPU timings.

Run on a machine with a GPU: ``python -m benchmarks.gpu_check_sim [--json out.json] [--quick]``.
Parity (float64, against the CPU): ``rigid.rollout`` outputs and gradients w.r.t. the initial state,
the controls and the body masses for the built-in models, contacts included, in both structures (generated code
and loops; Gymnasium's hopper and ant files as loops); the vector envs'
observations, rewards and flags over a few hundred steps with autoresets (initial states come from the
same PCG64 streams on both devices); the differentiable env step's gradients. Timings (float32 rigid,
float64 envs): rollout forward and forward+backward (the gradient's cost in forward steps), vector-env
steps per second and a differentiable step.

``--device cpu`` runs the whole script on the CPU against itself (a check of the script, used by the
test suite with ``--quick``). ``--save-reference FILE`` computes only the CPU side of the parity parts and saves
it; ``--reference FILE`` compares the device against those saved CPU results instead of computing them again
(CPU kernels need no compiling on the GPU machine then).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.gpu_check import run_parts
from benchmarks.timing import best_time
from envs.ant import AntDynamics

RIGID_MODELS = ("cartpole", "double_pendulum", "quadrotor", "ball_and_box")
# (label, model, structure): the built-in models as generated code (their default), then as loops, and two of
# Gymnasium's contact models (ant runs as loops by default; hopper is asked to)
RIGID_CASES = tuple((name, name, "auto") for name in RIGID_MODELS) + (
    ("cartpole_loops", "cartpole", "loops"), ("ball_and_box_loops", "ball_and_box", "loops"),
    ("hopper_loops", "gym:hopper", "loops"), ("ant", "gym:ant", "auto"))
SUBSTEPS = {"gym:ant": AntDynamics.substeps}  # run at the step its env takes (the file's blows up: explicit contacts)
ENVS = ("diffsim/CartPole-v0", "diffsim/Pendulum-v0", "diffsim/Acrobot-v0")
_REFERENCE: dict = {}  # CPU results by key, loaded by --reference or filled by --save-reference
_SAVE_ONLY = False


def _on_cpu(key, fn):
    """The CPU side of a parity check: from the saved reference if one was loaded, else computed (and kept for
    --save-reference)."""
    if key not in _REFERENCE:
        _REFERENCE[key] = fn()
    return _REFERENCE[key]


def _rigid_inputs(model, steps, seed=0, dtype=torch.float64):
    """Initial state (qpos0 plus noise on hinge/slide angles, free bodies at their pose), velocities, controls."""
    from diffsim.rigid.state import FREE, default_state

    gen = torch.Generator().manual_seed(seed)
    W = model.num_worlds
    q0 = default_state(model, dtype=dtype).qpos.cpu()
    for b, jt in enumerate(model.joint_type):
        if 0 <= jt != FREE:
            q0[:, model.qpos_adr[b]] += 0.1 * torch.randn(W, generator=gen, dtype=dtype)
    v0 = 0.1 * torch.randn(W, model.nv, generator=gen, dtype=dtype)
    u = torch.rand(W, steps, model.nu, generator=gen, dtype=dtype)
    return q0, v0, u


def _rollout_with_grads(name, device, worlds, steps, structure="auto"):
    from diffsim.rigid import builtin_model, load_mjcf, rollout
    from envs.rigid_core import gymnasium_asset

    path = gymnasium_asset(name[4:]) if name.startswith("gym:") else builtin_model(name)
    model = load_mjcf(path, num_worlds=worlds, device=device, dtype=torch.float64, structure=structure)
    q0, v0, u = (x.to(device).requires_grad_(True) for x in _rigid_inputs(model, steps))
    model.body_mass.requires_grad_(True)
    qs, vs = rollout(model, q0, v0, u, timestep=model.timestep / SUBSTEPS.get(name, 1))
    loss = (qs[:, -1] ** 2).sum() + vs[:, -1].sum() + 0.01 * (qs ** 2).sum()
    inputs = (q0, v0, u, model.body_mass)
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)  # a model without actuators ignores u
    grads = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]
    return [t.detach().cpu() for t in (qs, vs, *grads)]


def _rel_diff(got, ref, zero=1e-10):
    """Largest difference relative to the reference's largest entry; absolute where that entry is below ``zero``
    (a gradient that is zero up to rounding, e.g. a free body's mass in flight, would otherwise show noise as
    O(1))."""
    scale = float(ref.abs().max())
    diff = float((got - ref).abs().max())
    return diff / scale if scale >= zero else diff


def rigid_parity(report, device, quick):
    cases = (RIGID_CASES[:2] + RIGID_CASES[4:5]) if quick else RIGID_CASES
    for label, name, structure in cases:
        steps = 50 if quick else 200
        ref = _on_cpu(f"rigid_{label}", lambda: _rollout_with_grads(name, "cpu", 4, steps, structure))
        if _SAVE_ONLY:
            continue
        got = _rollout_with_grads(name, device, 4, steps, structure)
        labels = ("qpos", "qvel", "grad_qpos0", "grad_qvel0", "grad_ctrl", "grad_body_mass")
        report[f"rigid_{label}"] = {f"max_rel_diff_{k}": _rel_diff(a, b) for k, a, b in zip(labels, got, ref)
                                    if a.numel()}
        print(f"rigid_{label}", report[f"rigid_{label}"], flush=True)  # each model as it finishes


def rigid_timing(report, device, quick):
    from diffsim.rigid import builtin_model, load_mjcf, rollout

    rows, steps = [], 50 if quick else 500
    for name in ("cartpole",) if quick else ("cartpole", "double_pendulum", "quadrotor"):
        for worlds in (64,) if quick else (1024, 4096, 16384, 65536):
            model = load_mjcf(builtin_model(name), num_worlds=worlds, device=device, dtype=torch.float32)
            q0, v0, u = (x.to(device) for x in _rigid_inputs(model, steps, dtype=torch.float32))
            fwd = best_time(lambda: rollout(model, q0, v0, u), 3, device)
            qg, vg, ug = (x.clone().requires_grad_(True) for x in (q0, v0, u))
            model.body_mass.requires_grad_(True)

            def fwd_bwd():
                qs, vs = rollout(model, qg, vg, ug)
                (qs[:, -1].sum() + vs[:, -1].sum()).backward()

            both = best_time(fwd_bwd, 3, device)
            rows.append(dict(model=name, worlds=worlds, fwd_steps_per_s=worlds * steps / fwd,
                             fwd_bwd_steps_per_s=worlds * steps / both, gradient_cost_in_forwards=both / fwd))
            print(rows[-1], flush=True)
    report["rigid_timing"] = rows


def _vector_run(env_id, device, n, steps, seed=3):
    import gymnasium as gym

    import envs  # noqa: F401

    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", device=device)
    rng = np.random.default_rng(seed)
    obs, _ = venv.reset(seed=seed)
    out = [obs]
    space = venv.single_action_space
    for _ in range(steps):
        if hasattr(space, "n"):
            act = rng.integers(0, space.n, n)
        else:
            act = rng.uniform(space.low, space.high, (n, *space.shape)).astype(np.float32)
        o, r, term, trunc, _ = venv.step(act)
        out += [o, r, term, trunc]
    return out


def env_parity(report, device, quick):
    from envs.cartpole import CartPoleDynamics

    for env_id in ENVS[:1] if quick else ENVS:
        steps = 60 if quick else 400
        ref = _on_cpu(f"env_{env_id}", lambda: [torch.from_numpy(np.asarray(x)) for x in
                                                _vector_run(env_id, "cpu", 16, steps)])
        ref = [x.numpy() for x in ref]
        if _SAVE_ONLY:
            continue
        got = _vector_run(env_id, device, 16, steps)
        floats = [(a, b) for a, b in zip(got, ref) if a.dtype.kind == "f"]
        flags = [(a, b) for a, b in zip(got, ref) if a.dtype.kind == "b"]
        report[f"env_{env_id}"] = dict(
            max_abs_diff=max(float(np.abs(a.astype(np.float64) - b).max()) for a, b in floats),
            flag_mismatches=int(sum(int((a != b).sum()) for a, b in flags)))
        print(f"env_{env_id}", report[f"env_{env_id}"], flush=True)

    def diff_step_grads(dev):
        dyn = CartPoleDynamics(device=dev)
        state = dyn.reset(64, torch.Generator().manual_seed(0)).requires_grad_(True)
        action = torch.linspace(-1, 1, 64, dtype=torch.float64, device=dev)[:, None].requires_grad_(True)
        params = dyn.params.clone().requires_grad_(True)
        _, obs, reward, _ = dyn.step(state, action, params)
        return [g.cpu() for g in torch.autograd.grad(reward.sum() + obs.square().sum(), (state, action, params))]

    ref = _on_cpu("env_diff_step_grads", lambda: diff_step_grads("cpu"))
    if _SAVE_ONLY:
        return
    report["env_diff_step_grad_max_abs_diff"] = max(float((a - b).abs().max())
                                                    for a, b in zip(ref, diff_step_grads(device)))


def env_timing(report, device, quick):
    import gymnasium as gym

    import envs  # noqa: F401
    from envs.cartpole import CartPoleDynamics
    from envs.pendulum import PendulumDynamics

    rows = []
    for env_id, cls in (("diffsim/CartPole-v0", CartPoleDynamics), ("diffsim/Pendulum-v0", PendulumDynamics)):
        for n in (64,) if quick else (1024, 16384, 262144):
            venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", device=device)
            venv.reset(seed=0)
            space = venv.single_action_space
            rng = np.random.default_rng(0)
            acts = [rng.integers(0, 2, n) if hasattr(space, "n") else
                    rng.uniform(-2, 2, (n, 1)).astype(np.float32) for _ in range(20)]
            plain = best_time(lambda: [venv.step(a) for a in acts], 3, device) / len(acts)
            dyn = cls(device=device)
            state = dyn.reset(n, torch.Generator().manual_seed(0))
            action = torch.zeros(n, 1, dtype=torch.float64, device=device, requires_grad=True)

            def diff_step():
                for _ in range(20):
                    dyn.step(state, action)[2].sum().backward()

            diff = best_time(diff_step, 3, device) / 20
            rows.append(dict(env=env_id, n=n, plain_steps_per_s=n / plain, diff_steps_per_s=n / diff,
                             diff_over_plain=diff / plain))
            print(rows[-1], flush=True)
    report["env_timing"] = rows


PARTS = dict(rigid_parity=rigid_parity, env_parity=env_parity, rigid_timing=rigid_timing, env_timing=env_timing)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="small sizes (a check of the script itself)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--save-reference", default=None, metavar="FILE",
                        help="compute the CPU side of the parity parts only and save it to FILE")
    parser.add_argument("--reference", default=None, metavar="FILE",
                        help="CPU results saved by --save-reference (same sizes: --quick or not, as saved)")
    args = parser.parse_args(argv)
    global _SAVE_ONLY
    _REFERENCE.clear()
    _SAVE_ONLY = args.save_reference is not None
    if args.reference:
        _REFERENCE.update(torch.load(args.reference, weights_only=True))
    parts = [p for p in args.parts if p.endswith("_parity")] if _SAVE_ONLY else args.parts
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    report = dict(device=name, torch=torch.__version__)
    report = run_parts([(p, lambda p=p: PARTS[p](report, args.device, args.quick)) for p in parts], report,
                       args.json)
    if _SAVE_ONLY:
        torch.save(dict(_REFERENCE), args.save_reference)
    return report


if __name__ == "__main__":
    main()
