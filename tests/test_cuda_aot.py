"""benchmarks.cuda_aot compiles the Warp modules a script loaded to sm_90 cubins on a machine without a GPU."""
import os
import subprocess
import sys
from pathlib import Path

import warp as wp

SCRIPT = '''
import warp as wp
wp.config.log_level = wp.LOG_WARNING

@wp.kernel
def scale(x: wp.array(dtype=float), k: float):
    i = wp.tid()
    x[i] = k * x[i]

@wp.kernel
def never_launched(x: wp.array(dtype=float)):
    x[wp.tid()] = 0.0

x = wp.ones(4, dtype=float, device="cpu")
wp.launch(scale, 4, inputs=[x, 3.0], device="cpu")
assert x.numpy().tolist() == [3.0] * 4
'''


def test_compile_writes_a_cubin_per_loaded_module(tmp_path):
    script = tmp_path / "target.py"
    script.write_text(SCRIPT)
    cache = tmp_path / "cache"
    env = dict(os.environ, WARP_CACHE_PATH=str(cache))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "benchmarks.cuda_aot", "compile", "--arch", "90", "--", str(script)],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    cubins = list((cache / wp.config.version).glob("*/*.sm90.cubin"))
    assert len(cubins) == 1, out.stdout  # the script's one module; nothing else was loaded
    data = cubins[0].read_bytes()
    assert data[:4] == b"\x7fELF"  # a CUDA binary (ELF), not PTX text
    assert b"scale" in data  # the launched kernel's code is in it
    assert "[cuda_aot] ran" in out.stdout and "sm_90 cubin" in out.stdout
