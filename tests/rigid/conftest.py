import pytest


@pytest.fixture(autouse=True)
def _rigid_modules_at_O0(rigid_modules_at_O0):
    """Every model built in these tests compiles at -O0 (see tests/conftest.py): here compiling dominates (a cold
    run of test_rigid_model.py and test_rigid_dynamics.py took 68 s against 162 s at -O2, one process,
    2026-12-01)."""
