"""Warp runtime helpers: device choice, quiet initialisation, dtypes.

Every simulator in diffsim takes a ``device`` argument. ``resolve_device`` turns
``None`` into the default device, which is, in order:

1. the ``DIFFSIM_DEVICE`` environment variable (``"cpu"``, ``"cuda"``, ``"cuda:1"``...),
2. ``"cuda:0"`` when Warp sees a CUDA device,
3. ``"cpu"``.

Warp is initialised lazily and quietly (``wp.config.log_level``), and its kernel
cache lives in ``~/.cache/warp`` unless ``WARP_CACHE_PATH`` says otherwise.
``DIFFSIM_RIGID_OPTIMIZATION_LEVEL`` (0-3), when set, is the compiler optimisation level
of the rigid-body engine's generated modules (:func:`rigid_optimization_level`); unset,
Warp's (``wp.config.optimization_level``; by default -O2 on CPU, -O3 on CUDA).

Floating point: float32 is the default everywhere; float64 is available for
verification (gradient checks, reference comparisons). ``warp_scalar`` maps a
torch dtype to the matching Warp scalar type.
"""
from __future__ import annotations

import contextlib
import os

import torch
import warp as wp

_initialised = False

DEFAULT_DTYPE = torch.float32
SUPPORTED_DTYPES = (torch.float32, torch.float64)

# CPU compiler flags for the generated rigid-body dynamics modules (a Warp module option, so
# other Warp code in the process keeps its own): Warp's defaults plus the value-safe part of
# -ffast-math: no NaN/inf operands (inputs are checked finite before any launch), no signed
# zeros. On the 2-core test machine a 1 024-world RK4 rollout runs 1.3-1.5x faster forward and
# 1.3-1.7x faster forward+backward (benchmarks/bench_rigid.py, measured with -freciprocal-math too).
# Not included: reassociation (-ffast-math, -mreassociate), -fapprox-func and -freciprocal-math:
# each lets the compiler round the forward kernel and the forward replayed inside its adjoint
# differently, so a second backward pass over the same graph differed in the last bits (gradcheck's
# reentrancy check caught it: reassociation on every model, reciprocal division once the mass
# matrix was solved by a sparse L^T D L with one division per dof).
FAST_MATH_CPU_FLAGS = ("-march=native -Wno-nan-infinity-disabled -mllvm=-inline-threshold=9000 "
                       "-mllvm=-inline-cold-callsite-threshold=3000 "
                       "-menable-no-infs -menable-no-nans -fno-signed-zeros")


RIGID_OPTIMIZATION_LEVEL_ENV = "DIFFSIM_RIGID_OPTIMIZATION_LEVEL"


def rigid_optimization_level() -> int | None:
    """``$DIFFSIM_RIGID_OPTIMIZATION_LEVEL`` as an int (unset or empty: ``None``, Warp's level): the compiler
    optimisation level of the rigid-body modules (the code generator's and the loops'), a module option read when a
    module's source is written. These modules are large: at 0 a cold cache compiles about 2.4x faster (the
    rigid-body tests on 2026-12-01: 68 s against 162 s, one process) and runs slower, which suits a test suite;
    users keep the default. Other Warp code (ODE solvers, the trebuchet) keeps Warp's level: its kernels loop
    inside one launch and run ~150x slower at 0."""
    env = os.environ.get(RIGID_OPTIMIZATION_LEVEL_ENV, "").strip()
    if env == "":
        return None
    if env not in ("0", "1", "2", "3"):
        raise ValueError(f"{RIGID_OPTIMIZATION_LEVEL_ENV} must be one of 0, 1, 2, 3 (or unset), got {env!r}")
    return int(env)


def rigid_module_options(backward: bool | None = None) -> str:
    """The ``wp.set_module_options`` dictionary literal of a generated rigid-body module: the fast-math CPU flags,
    ``enable_backward`` when given and :func:`rigid_optimization_level` when set."""
    options = {"cpu_compiler_flags": FAST_MATH_CPU_FLAGS}
    if backward is not None:
        options["enable_backward"] = backward
    level = rigid_optimization_level()
    if level is not None:
        options["optimization_level"] = level
    return repr(options)


def init() -> None:
    """Initialise Warp once, without its banner and module-load chatter."""
    global _initialised
    if _initialised:
        return
    wp.config.log_level = wp.LOG_WARNING
    wp.init()
    _initialised = True


def resolve_device(device: str | torch.device | None = None) -> str:
    """Return a Warp device string (``"cpu"`` or ``"cuda:N"``) for ``device``.

    ``None`` picks ``$DIFFSIM_DEVICE``, else CUDA when present, else CPU.
    Raises ``ValueError`` for an unknown device or CUDA requested without a GPU.
    """
    init()
    if device is None:
        device = os.environ.get("DIFFSIM_DEVICE") or None
    if device is None:
        return "cuda:0" if wp.is_cuda_available() else "cpu"
    name = str(device)
    if name == "cuda":
        name = "cuda:0"
    if name == "cpu":
        return name
    if name.startswith("cuda:"):
        if not wp.is_cuda_available():
            raise ValueError(f"device={device!r} requested but Warp finds no CUDA device; use device='cpu'")
        return name
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def warp_scalar(dtype: torch.dtype):
    """Warp scalar type for a torch floating dtype (float32 or float64 only)."""
    if dtype == torch.float32:
        return wp.float32
    if dtype == torch.float64:
        return wp.float64
    raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")


def torch_stream(device: torch.device | str):
    """Context in which Warp launches on ``device`` run on PyTorch's current CUDA stream.

    Keeps torch and Warp work ordered without device-wide syncs; a no-op on the CPU.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return contextlib.nullcontext()
    init()
    return wp.ScopedStream(wp.stream_from_torch(device))


def import_generated(source: str, kind: str, prefix: str, name_suffix: str = "", globals_: dict | None = None):
    """Import generated Warp source as a module: written once, atomically, to ``$DIFFSIM_CACHE`` (default
    ``~/.cache/diffsim``) ``/<kind>/<prefix>_<hash>.py`` (Warp needs a file to read kernel source from) and
    executed with ``globals_`` set first (names the generated code refers to, resolved by Warp at build time).
    ``name_suffix`` makes the module's name unique when the same source is imported with other globals.
    Returns ``(module, hash)``."""
    import hashlib
    import importlib.util
    from pathlib import Path

    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("DIFFSIM_CACHE", Path.home() / ".cache" / "diffsim")) / kind
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{prefix}_{key}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        tmp.replace(path)
    spec = importlib.util.spec_from_file_location(f"diffsim_{kind}_{prefix}_{key}{name_suffix}", path)
    module = importlib.util.module_from_spec(spec)
    for name, value in (globals_ or {}).items():
        setattr(module, name, value)
    spec.loader.exec_module(module)
    return module, key
