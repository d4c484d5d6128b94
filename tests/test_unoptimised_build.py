"""Kernels give the same numbers compiled without optimisation (``wp.config.optimization_level = 0``).

clang -O2 may fold undefined behaviour in generated code into the intended result (Warp 1.19 leaves a module-level
constant first used inside a branch uninitialised on the other path); -O0 does not. Each case runs in a fresh
process with an empty kernel cache at -O0 and must match this process's (default -O2) numbers.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from diffsim.ode import fields, odeint

CASE = """
import json, sys, torch
import warp as wp
wp.config.optimization_level = 0
from diffsim.ode import fields, odeint
t = torch.tensor([0.0, 0.4, 1.0, 3.0], dtype=torch.float64)
y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8]], dtype=torch.float64)
ys, st = odeint(fields.van_der_pol(torch.tensor([[0.7], [3.0]], dtype=torch.float64)), y0, t, method="dopri5",
                return_stats=True)
print(json.dumps(dict(ys=ys.tolist(), n_steps=st["n_steps"].tolist())))
"""


def test_dopri5_step_control_is_the_same_at_O0(tmp_path):
    env = dict(os.environ, WARP_CACHE_PATH=str(tmp_path / "warp"))
    out = subprocess.run([sys.executable, "-c", CASE], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    t = torch.tensor([0.0, 0.4, 1.0, 3.0], dtype=torch.float64)
    y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8]], dtype=torch.float64)
    ys, st = odeint(fields.van_der_pol(torch.tensor([[0.7], [3.0]], dtype=torch.float64)), y0, t, method="dopri5",
                    return_stats=True)
    assert got["n_steps"] == st["n_steps"].tolist()
    torch.testing.assert_close(torch.tensor(got["ys"], dtype=torch.float64), ys, rtol=1e-12, atol=1e-12)
