import os

import pytest

from diffsim.runtime import RIGID_OPTIMIZATION_LEVEL_ENV


@pytest.fixture(autouse=True)
def _rigid_modules_at_O0(monkeypatch):
    """The models built in these tests compile at -O0: here compiling dominates (a cold run of test_rigid_model.py and
    test_rigid_dynamics.py took 68 s against 162 s at the default -O2, one process, 2026-12-01); where running
    dominates (training, long rollouts: tests/controllers, tests/envs) -O0 is slower, so the rest of the suite keeps
    Warp's level. tests/test_optimised_build.py compares the two levels. A level set in the environment wins
    (``DIFFSIM_RIGID_OPTIMIZATION_LEVEL=`` empty: Warp's default)."""
    if os.environ.get(RIGID_OPTIMIZATION_LEVEL_ENV) is None:
        monkeypatch.setenv(RIGID_OPTIMIZATION_LEVEL_ENV, "0")
