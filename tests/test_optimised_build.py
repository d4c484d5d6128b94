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

# one case, run here (default -O2) and in a fresh process at -O0; it leaves its numbers in ``result``
DOPRI5 = """
import torch
from diffsim.ode import fields, odeint
t = torch.tensor([0.0, 0.4, 1.0, 3.0], dtype=torch.float64)
y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8]], dtype=torch.float64)
ys, st = odeint(fields.van_der_pol(torch.tensor([[0.7], [3.0]], dtype=torch.float64)), y0, t, method="dopri5",
                return_stats=True)
result = dict(ys=ys.tolist(), n_steps=st["n_steps"].tolist())
"""


def _at_O0(case: str, cache: Path) -> dict:
    code = f"import warp as wp\nwp.config.optimization_level = 0\n{case}\nimport json\nprint(json.dumps(result))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         env=dict(os.environ, WARP_CACHE_PATH=str(cache)), text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dopri5_step_control_is_the_same_at_O0(tmp_path):
    got = _at_O0(DOPRI5, tmp_path / "warp")
    here = {}
    exec(DOPRI5, here)
    ref = here["result"]
    assert got["n_steps"] == ref["n_steps"]
    ys, ys_ref = (torch.tensor(r["ys"], dtype=torch.float64) for r in (got, ref))
    torch.testing.assert_close(ys, ys_ref, rtol=1e-12, atol=1e-12)
