"""Kernels give the same numbers at Warp's default optimisation level (-O2 on CPU, what users run) as at -O0.

The two levels differ where generated code has undefined behaviour (Warp 1.19 left a module-level constant first
used inside a branch uninitialised on the other path; -O2 folded it into the intended value, -O0 did not) and where
the rigid-body modules' fast-math flags let the compiler round a forward kernel and the forward replayed in its
adjoint differently (gradcheck's reentrancy check: two backward passes must agree to the bit). Each case runs here
and in a fresh process at the other level: every Warp module at -O0 (``wp.config.optimization_level``, with an
empty kernel cache) for the ODE case; for the rigid-body case the rigid modules' level
(``DIFFSIM_RIGID_OPTIMIZATION_LEVEL``), which tests/rigid/ sets to 0 for its own tests (compiling dominates there).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from diffsim.runtime import RIGID_OPTIMIZATION_LEVEL_ENV, rigid_optimization_level

# each case leaves its numbers in ``result``
DOPRI5 = """
import torch
from diffsim.ode import fields, odeint
t = torch.tensor([0.0, 0.4, 1.0, 3.0], dtype=torch.float64)
y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8]], dtype=torch.float64)
ys, st = odeint(fields.van_der_pol(torch.tensor([[0.7], [3.0]], dtype=torch.float64)), y0, t, method="dopri5",
                return_stats=True)
result = dict(ys=ys.tolist(), n_steps=st["n_steps"].tolist())
"""

# a contact scene through the generated code and a chain through the loops: states and gradients of a rollout,
# and gradcheck (with its reentrancy check) of a short one
RIGID = """
import torch
from diffsim.rigid import builtin_model, load_mjcf, rollout
from diffsim.rigid.state import default_state
F64 = torch.float64
result = {}
for name, structure in (("ball_and_box", "generated"), ("acrobot", "loops")):
    model = load_mjcf(builtin_model(name), num_worlds=2, dtype=F64, structure=structure)
    g = torch.Generator().manual_seed(0)
    q0 = default_state(model).qpos
    if name == "ball_and_box":  # both 1 cm above the ground, sliding into it
        q0[:, [2, 9]] = 0.11
    q0.requires_grad_(True)
    v0 = (0.3 * torch.randn(2, model.nv, dtype=F64, generator=g)).requires_grad_(True)
    ctrl = (0.3 * torch.randn(2, 300, model.nu, dtype=F64, generator=g)).requires_grad_(True)
    qs, vs = rollout(model, q0, v0, ctrl)
    grads = torch.autograd.grad(qs[:, -1].square().sum() + vs[:, -1].sum(), (q0, v0, ctrl), materialize_grads=True)
    short = lambda q, v: rollout(model, q, v, ctrl[:, :4].detach())
    ok = torch.autograd.gradcheck(short, (qs[:, -1].detach().clone().requires_grad_(True),
                                          vs[:, -1].detach().clone().requires_grad_(True)), eps=1e-6, atol=1e-6,
                                  rtol=1e-5)
    result[name] = dict(qs=qs.tolist(), vs=vs.tolist(), gradcheck=bool(ok), grads=[g_.tolist() for g_ in grads])
"""


def _elsewhere(case: str, cache: Path | None, prelude: str = "", **env) -> dict:
    """Run ``prelude`` then ``case`` in a fresh process with ``env`` added, and an empty kernel cache at ``cache``
    (``None``: the suite's cache)."""
    code = f"{prelude}\n{case}\nimport json\nprint(json.dumps(result))"
    if cache is not None:
        env["WARP_CACHE_PATH"] = str(cache)
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         env=dict(os.environ, **env), text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _here(case: str) -> dict:
    scope = {}
    exec(case, scope)
    return scope["result"]


def _close(a, b, tol):
    torch.testing.assert_close(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64),
                               rtol=tol, atol=tol)


def test_dopri5_step_control_is_the_same_at_O0(tmp_path):
    got = _elsewhere(DOPRI5, tmp_path / "warp", "import warp as wp\nwp.config.optimization_level = 0")
    ref = _here(DOPRI5)
    assert got["n_steps"] == ref["n_steps"]
    _close(got["ys"], ref["ys"], 1e-12)


def test_rigid_rollouts_and_gradients_are_the_same_at_both_levels(tmp_path):
    other = "" if rigid_optimization_level() == 0 else "0"  # "": Warp's default
    # the level is written into the rigid modules' source, so their cached binaries are the level's own: the fresh
    # process shares the suite's cache (tests/rigid/ compiles these models at -O0)
    got = _elsewhere(RIGID, None, **{RIGID_OPTIMIZATION_LEVEL_ENV: other})
    ref = _here(RIGID)
    for name in ("ball_and_box", "acrobot"):
        assert got[name]["gradcheck"] and ref[name]["gradcheck"], name
        for key in ("qs", "vs"):
            _close(got[name][key], ref[name][key], 1e-10)
        for g_got, g_ref in zip(got[name]["grads"], ref[name]["grads"]):
            _close(g_got, g_ref, 1e-8)
