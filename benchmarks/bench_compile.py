"""First use of a rigid model: code generation and Warp's compile, with cold caches.

Each row runs in a fresh process with empty Warp and diffsim caches (``WARP_CACHE_PATH``,
``DIFFSIM_CACHE`` in a temporary folder): ``load_mjcf`` (which compiles the small forward-only
kinematics module when solref/solimp contacts need ``body_invweight0``), then the first float32
``rollout`` of 64 worlds x 10 RK4 steps without gradients (the dynamics module compiled without adjoint
kernels: what a user who only simulates waits for), then the first one with gradients (the module with
forward and adjoint kernels), then its first backward (``--forward-only``: stop after the first rollout).
Models: hinge chains of 4, 8 and 16 links (capsules, no contacts) and Gymnasium's MuJoCo files that load.
Usage: ``python -m benchmarks.bench_compile [--models chain4 ant ...] [--forward-only] [--structure auto]``
(``Model.structure``: large models run as loops by default, one module for every model; ``generated`` forces
the per-model code).
The goal this is measured against: under 20 s for Ant and under 60 s for Humanoid.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, sys, time
import torch
t0 = time.time()
from diffsim.rigid import load_mjcf, rollout, codegen
from diffsim.rigid.state import default_state
name = sys.argv[1]
if name.startswith("chain"):
    n = int(name[5:])
    body = "".join(f'<body pos="0 0 {-0.5 if i else 0}"><joint type="hinge" axis="0 1 0" damping="0.1"/>'
                   f'<geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.05" contype="0" conaffinity="0"/>'
                   for i in range(n))
    xml = f"<mujoco><option timestep='0.01'/><worldbody>{body}{'</body>' * n}</worldbody></mujoco>"
else:
    import gymnasium
    xml = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", name + ".xml")
t_import = time.time() - t0
t = time.time()
model = load_mjcf(xml, num_worlds=64, dtype=torch.float32, structure=os.environ.get("BENCH_STRUCTURE", "auto"))
from diffsim.rigid import loops
structure = "loops" if loops.use_loops(model) else "generated"
t_load = time.time() - t
src = codegen.generate(model, "float32")
state = default_state(model)
t = time.time()
with torch.no_grad():  # what simulating without gradients compiles: the module without adjoint kernels
    rollout(model, state.qpos, state.qvel, torch.zeros(64, 10, model.nu))
t_forward = time.time() - t
if sys.argv[2:] == ["--forward-only"]:
    print(json.dumps(dict(model=name, structure=structure, nv=model.nv, bodies=model.nbody, pairs=len(model.geom_pairs),
                          plane_geoms=sum(any(m is not None for m in ms) for ms in model.geom_plane_margin),
                          source_kb=len(src) / 1000, load_s=t_load, forward_s=t_forward)))
    sys.exit(0)
q = state.qpos.clone().requires_grad_(True)
t = time.time()
qs, vs = rollout(model, q, state.qvel, torch.zeros(64, 10, model.nu))
t_first = time.time() - t
t = time.time()
qs[:, -1].sum().backward()
t_back = time.time() - t
print(json.dumps(dict(model=name, structure=structure, nv=model.nv, bodies=model.nbody, pairs=len(model.geom_pairs),
                      plane_geoms=sum(any(m is not None for m in ms) for ms in model.geom_plane_margin),
                      source_kb=len(src) / 1000, load_s=t_load, forward_s=t_forward, first_rollout_s=t_first,
                      first_backward_s=t_back)))
"""

MODELS = ("chain4", "chain8", "chain16", "walker2d", "hopper", "half_cheetah", "ant", "humanoid")


def measure(name: str, timeout: float, forward_only: bool = False, structure: str = "auto") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, WARP_CACHE_PATH=os.path.join(tmp, "warp"), DIFFSIM_CACHE=os.path.join(tmp, "diffsim"),
                   BENCH_STRUCTURE=structure)
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, name] + (["--forward-only"] if forward_only else []),
                                 env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return dict(model=name, error=f"not finished after {timeout:.0f} s")
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else dict(model=name, error=out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per model")
    parser.add_argument("--forward-only", action="store_true", help="only the first rollout without gradients")
    parser.add_argument("--structure", choices=("auto", "generated", "loops"), default="auto",
                        help="Model.structure: the generated code, the loops module, or auto (loops for large models)")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, cold caches, float32")
    print("| model | structure | nv | bodies | body pairs | geoms on the floor | dynamics source (kB) "
          "| load_mjcf (s) | first rollout without gradients, forward compile (s) "
          "| first rollout with gradients, forward+adjoint compile (s) | first backward (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        r = measure(name, args.timeout, args.forward_only, args.structure)
        if "error" in r:
            print(f"| {name} | {r['error']} |", flush=True)
            continue
        rest = ("– | –" if args.forward_only else f"{r['first_rollout_s']:.1f} | {r['first_backward_s']:.1f}")
        print(f"| {name} | {r['structure']} | {r['nv']} | {r['bodies']} | {r['pairs']} | {r['plane_geoms']} "
              f"| {r['source_kb']:.0f} | {r['load_s']:.1f} | {r['forward_s']:.1f} | {rest} |", flush=True)


if __name__ == "__main__":
    main()
