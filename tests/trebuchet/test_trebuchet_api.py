"""Batching, dtypes, flags and bad input of diffsim.trebuchet.simulate."""
import dataclasses
import math

import pytest
import torch

from diffsim.trebuchet import LANDED, LB, ORIGINAL, STEP_CAP, simulate
from diffsim.trebuchet.kernel import shot_kernel

F64 = torch.float64


def test_batch_equals_one_by_one():
    g = torch.Generator().manual_seed(1)
    wind = torch.randn(64, generator=g, dtype=F64) * 5
    angle = torch.rand(64, generator=g, dtype=F64) * 1.4 + 0.05
    mass = (torch.rand(64, generator=g, dtype=F64) * 300 + 50) * LB
    batch = simulate(wind, angle, mass)
    for i in range(0, 64, 7):
        assert torch.equal(batch[i:i + 1], simulate(wind[i:i + 1], angle[i:i + 1], mass[i:i + 1]))


def test_float32_follows_inputs_and_is_close():
    args64 = (torch.tensor([0.0, -4.0]), torch.tensor([0.7, 0.5]), torch.tensor([90.0, 150.0]))
    d32 = simulate(*[a.float() for a in args64])
    d64 = simulate(*[a.double() for a in args64])
    assert d32.dtype == torch.float32 and d64.dtype == F64
    assert float((d32.double() - d64).abs().max()) < 0.05


def test_python_numbers_accepted():
    d = simulate(0.0, math.radians(45), 200 * LB)
    assert d.shape == () and abs(float(d) - 82.79904064062524) < 1e-3  # default dtype float32


def test_angle_is_folded_like_the_original():
    a = torch.tensor([0.6], dtype=F64)
    torch.testing.assert_close(simulate(0.0, a, torch.tensor([90.0], dtype=F64)),
                               simulate(0.0, math.pi - a, torch.tensor([90.0], dtype=F64)), rtol=0, atol=1e-12)


def test_step_cap_flags_nan_not_garbage():
    """The cap is a launch argument: the capped model runs the original's compiled kernel, stops every shot after
    exactly ``max_steps`` steps, and the same kernel with the original cap lands them."""
    capped = dataclasses.replace(ORIGINAL, max_steps=100)
    assert shot_kernel(capped, F64) is shot_kernel(ORIGINAL, F64)
    args = torch.zeros(2, dtype=F64), torch.full((2,), 0.7, dtype=F64), torch.full((2,), 90.0, dtype=F64)
    d, info = simulate(*args, model=capped, return_info=True)
    assert (info["status"] == STEP_CAP).all() and torch.isnan(d).all() and (info["steps"] == 100).all()
    d, info = simulate(*args, model=ORIGINAL, return_info=True)
    assert (info["status"] == LANDED).all() and torch.isfinite(d).all() and (info["steps"] > 100).all()
    with pytest.raises(ValueError, match="model.max_steps must be >= 1"):
        simulate(*args, model=dataclasses.replace(ORIGINAL, max_steps=0))
    with pytest.raises(TypeError, match="model must be a name or a TrebuchetModel"):
        simulate(*args, model=42)


def test_recorded_path_starts_on_ground_and_ends_at_distance():
    d, info = simulate(torch.tensor([0.0], dtype=F64), torch.tensor([0.8], dtype=F64),
                       torch.tensor([90.0], dtype=F64), return_info=True, record=True)
    path = info["path"][0]
    n = int(info["steps"][0])
    assert abs(float(path[0, 1]) + 1.524) < 1e-9  # on the ground, y = -pivot height
    assert abs(float(path[n, 0]) - float(d[0])) < 1e-12
    assert torch.isnan(path[n + 1:]).all()


@pytest.mark.parametrize("bad", ["wind", "angle", "mass"])
def test_nan_input_names_argument(bad):
    args = dict(wind=torch.zeros(3), angle=torch.full((3,), 0.7), mass=torch.full((3,), 90.0))
    args[bad][1] = float("nan")
    with pytest.raises(ValueError, match=f"{bad} must be finite"):
        simulate(**args)


def test_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="do not broadcast"):
        simulate(torch.zeros(3), torch.zeros(4), torch.ones(3))


def test_unknown_model_and_mixed_dtypes():
    with pytest.raises(ValueError, match="model must be one of"):
        simulate(0.0, 0.7, 90.0, model="julia")
    with pytest.raises(TypeError, match="share one dtype"):
        simulate(torch.zeros(1), torch.zeros(1, dtype=F64), torch.ones(1))


@pytest.mark.parametrize("mass", [-5.0, 0.0])
def test_nonpositive_counterweight_is_refused(mass):
    with pytest.raises(ValueError, match="mass must be > 0"):
        simulate(0.0, 0.7, mass)
    with pytest.raises(ValueError, match="nonpositive_mass must be 'raise' or 'flag'"):
        simulate(0.0, 0.7, 90.0, nonpositive_mass="ignore")
