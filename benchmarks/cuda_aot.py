"""Compile the CUDA kernels a script uses ahead of time on a machine without a GPU; run it on a GPU from them.

Warp compiles a module for CUDA with NVRTC (shipped inside warp-lang) the first time it is loaded on a GPU.
diffsim's generated rigid-body modules are large: on a 2-core Xeon NVRTC took 197 s for Ant's dynamics with
adjoints and 284-290 s for each of its contact-kinematics modules (sm_90, 2026-11-29). NVRTC needs no GPU, so
that time can be spent beforehand, on any machine with the same warp-lang:

    WARP_CACHE_PATH=cache python -m benchmarks.cuda_aot compile --arch 90 -- \\
        benchmarks.bench_locomotion --models ant --worlds 4 --steps 5
    WARP_CACHE_PATH=cache python -m benchmarks.cuda_aot run -- \\
        benchmarks.bench_locomotion --models ant --device cuda

``compile`` runs the module on the CPU (give it small sizes: kernels depend on the models, dtypes and code paths
taken, not on world counts or steps), then compiles every Warp module it loaded to an ``sm_<arch>`` cubin in
Warp's kernel cache (``$WARP_CACHE_PATH``; carry it to the GPU machine). A script path (``.py``) works in place of
a module. ``run`` runs the module with Warp loading cubins
(``warp.config.cuda_output = "cubin"``: with a driver newer than Warp's NVRTC, Warp would otherwise build PTX for
sm_75 and compile again) and logs every module load as ``(cached)`` or ``(compiled)``.
"""
from __future__ import annotations

import argparse
import runpy
import sys
import time

import warp as wp


def _run_module(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("name the module to run after '--', e.g. -- benchmarks.bench_locomotion --device cuda")
    module, *args = argv
    saved = sys.argv
    sys.argv = [module, *args]
    t0 = time.perf_counter()
    try:
        if module.endswith(".py"):
            runpy.run_path(module, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:  # a script's own exit (argparse, sys.exit(0)) ends the run, not this tool
        if exc.code not in (None, 0):
            raise
    finally:
        sys.argv = saved
    print(f"[cuda_aot] ran {module} in {time.perf_counter() - t0:.1f} s", flush=True)


def compile_loaded(arch: int) -> list[str]:
    """Compile every Warp module loaded so far in this process to ``sm_<arch>`` cubins in Warp's kernel cache;
    returns their paths."""
    from warp._src.context import user_modules  # noqa: PLC0415 (Warp 1.19 has no public list of modules)

    paths = []
    for name, module in list(user_modules.items()):
        if not module.execs:  # defined but never loaded: nothing ran it
            continue
        t0 = time.perf_counter()
        out = wp.compile_aot_module(module, arch=arch, use_ptx=False)
        paths += [str(p) for p in out]
        print(f"[cuda_aot] {name}: sm_{arch} cubin in {time.perf_counter() - t0:.1f} s", flush=True)
    return paths


def main(argv=None) -> list[str] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     usage="%(prog)s {compile,run} [--arch N] -- MODULE_OR_SCRIPT.py [ARGS...]")
    parser.add_argument("mode", choices=("compile", "run"))
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability to compile for (90: H100/H200)")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]  # -- MODULE_OR_SCRIPT.py [ARGS...]
    if args.mode == "run":
        wp.config.cuda_output = "cubin"
        wp.config.log_level = wp.LOG_INFO
        wp.init()
        from diffsim import runtime  # noqa: PLC0415

        runtime._initialised = True  # keep the module-load log that diffsim would silence
        _run_module(command)
        return None
    _run_module(command)
    return compile_loaded(args.arch)


if __name__ == "__main__":
    main()
