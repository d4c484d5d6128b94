import os

import pytest
import torch

from diffsim.runtime import RIGID_OPTIMIZATION_LEVEL_ENV

os.environ.setdefault("MPLBACKEND", "Agg")
# ODE kernels take one fixed step per launch instead of unrolling 16: the same states and gradients (checked in
# tests/ode/test_ode_gradients.py) and a cold Warp compile of the ODE tests ~40 % shorter than at 4
os.environ.setdefault("DIFFSIM_ODE_STEPS_PER_LAUNCH", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one pytest-xdist worker per core: each worker computes on one thread (torch and Warp's CPU launches), so
    # the workers do not oversubscribe the cores; tests of the multi-thread paths set their thread counts
    os.environ.setdefault("DIFFSIM_CPU_THREADS", "1")
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def rigid_modules_at_O0(monkeypatch):
    """The rigid-body modules built while the test runs compile at -O0
    (:func:`diffsim.runtime.rigid_optimization_level`): a first gradient of four steps of Gymnasium's hopper (its
    module with adjoints compiled) took 5.4 s against 44 s at Warp's -O2, the next ones 21x longer (one core shared
    with a training, 2026-12-01), so -O0 suits tests whose time is the compile (tests/rigid/, and tests marked
    ``compile_bound``); where running dominates (training, long rollouts) -O2 is faster.
    tests/test_optimised_build.py compares the two levels. A level set in the environment wins
    (``DIFFSIM_RIGID_OPTIMIZATION_LEVEL=`` empty: Warp's default)."""
    if os.environ.get(RIGID_OPTIMIZATION_LEVEL_ENV) is None:
        monkeypatch.setenv(RIGID_OPTIMIZATION_LEVEL_ENV, "0")


@pytest.fixture(autouse=True)
def _compile_bound(request):
    if request.node.get_closest_marker("compile_bound"):
        request.getfixturevalue("rigid_modules_at_O0")


# Test files that share Warp modules (the learned models' fields and solvers; the rigid-body envs' models) run on one
# pytest-xdist worker, so each module compiles once; every other file is a group of its own (`--dist loadgroup`
# then works as loadfile).
SHARED_WORKER = {"learned-dynamics": ("tests/controllers/dynamics/", "tests/test_demo_hnn.py",
                                      "tests/test_demo_learned_models.py", "tests/test_demo_neural_ode_lv.py",
                                      "tests/test_demo_chain_pendulum.py"),
                 "rigid-envs": ("tests/envs/test_env_rigid.py", "tests/envs/test_env_mujoco_v5.py",
                                "tests/controllers/test_alpha_order.py")}


def _group(path: str) -> str:
    for group, prefixes in SHARED_WORKER.items():
        if path.startswith(prefixes):
            return group
    return path


# A rigid model's forward-only module is not compiled once the process uses the model's module with adjoints
# (diffsim.rigid.codegen.load_for_call): in these folders a file's gradient tests run before its other tests, and
# the shared groups run first (the longest, which also balances the workers), their files in the order listed.
ADJOINTS_FIRST = ("tests/rigid/", "tests/envs/")


def _order(items) -> list:
    files = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))
    shared = dict.fromkeys(f for prefixes in SHARED_WORKER.values() for p in prefixes for f in files if f.startswith(p))
    rank = {f: i for i, f in enumerate([*shared, *(f for f in files if f not in shared)])}

    def key(item):
        path = item.nodeid.split("::")[0]
        adjoints = path.startswith(ADJOINTS_FIRST) and ("gradient" in item.name or "gradcheck" in item.name)
        return rank[path], not adjoints

    return sorted(items, key=key)  # stable: otherwise the collection order


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the groups into node ids
def pytest_collection_modifyitems(config, items):
    """``slow`` tests (long reproductions) run only when asked for: ``pytest -m slow``; xdist groups and order
    (above)."""
    items[:] = _order(items)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item.nodeid.split("::")[0])))
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
