import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# ODE kernels unroll 4 fixed steps per launch instead of 16: the same states and gradients (checked in
# tests/ode/test_ode_gradients.py) and a much shorter cold Warp compile
os.environ.setdefault("DIFFSIM_ODE_STEPS_PER_LAUNCH", "4")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    """``slow`` tests (long reproductions) run only when asked for: ``pytest -m slow``."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
