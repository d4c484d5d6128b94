"""Bad input and solver failures give clear errors naming the argument or trajectory."""
from typing import Any

import pytest
import torch
import warp as wp

from diffsim.ode import WarpVectorField, fields, odeint

F64 = torch.float64


@wp.func
def _blow_up(t: Any, y: Any, p: Any):
    return type(y)(y[0] * y[0] * p[0])


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        odeint(fields.van_der_pol(), torch.zeros(2, dtype=F64), [0.0, 1.0], method="rk45")


@pytest.mark.parametrize("t", [[0.0, 1.0, 1.0], [1.0, 0.0], [0.0, float("nan")]])
def test_bad_times(t):
    with pytest.raises(ValueError, match="t must be"):
        odeint(fields.van_der_pol(), torch.zeros(2, dtype=F64), t)


def test_state_size_mismatch():
    with pytest.raises(ValueError, match="state size 3 but the vector field 'van_der_pol' has dim=2"):
        odeint(fields.van_der_pol(), torch.zeros(3, dtype=F64), [0.0, 1.0])


def test_params_shape_mismatch():
    field = fields.van_der_pol(torch.ones(4, 1, dtype=F64))
    with pytest.raises(ValueError, match="params must have shape"):
        odeint(field, torch.zeros(3, 2, dtype=F64), [0.0, 1.0])


def test_non_finite_y0_names_trajectory():
    y0 = torch.zeros(4, 2, dtype=F64)
    y0[2, 1] = float("nan")
    with pytest.raises(ValueError, match="trajectory 2"):
        odeint(fields.van_der_pol(), y0, [0.0, 1.0])


def test_integer_y0_rejected():
    with pytest.raises(TypeError, match="float32 or float64"):
        odeint(fields.van_der_pol(), torch.zeros(2, dtype=torch.int64), [0.0, 1.0])


def test_odd_state_for_symplectic_method():
    with pytest.raises(ValueError, match="even state size"):
        odeint(fields.exponential_decay(), torch.ones(1, dtype=F64), [0.0, 1.0], method="verlet")


@pytest.mark.parametrize("name,value", [("rtol", 0.0), ("atol", -1.0), ("step_size", float("inf"))])
def test_bad_tolerances(name, value):
    with pytest.raises(ValueError, match=name):
        odeint(fields.van_der_pol(), torch.zeros(2, dtype=F64), [0.0, 1.0], **{name: value})


def test_max_steps_overrun_names_trajectory():
    mus = torch.tensor([[0.1], [0.1], [50.0]], dtype=F64)
    with pytest.raises(RuntimeError, match=r"trajectory 2 \(of 1 failing\).*max_steps=300"):
        odeint(fields.van_der_pol(mus), torch.tensor([[2.0, 0.0]] * 3, dtype=F64), [0.0, 10.0], max_steps=300)


@pytest.mark.parametrize("path", ["warp", "torch"])
def test_step_size_underflow_on_finite_time_blow_up(path):
    """y' = y^2, y(0) = 1 blows up at t = 1: the solver must stop and say so, not loop."""
    if path == "warp":
        func = WarpVectorField(_blow_up, 1, [1.0])
    else:
        def func(t, y):
            return y * y
    y0 = torch.tensor([[0.1], [1.0]], dtype=F64)
    with pytest.raises(RuntimeError, match="trajectory 1 .*(underflow|max_steps)"):
        odeint(func, y0, [0.0, 2.0])


def test_vector_field_constructor_checks():
    with pytest.raises(TypeError, match="@wp.func"):
        WarpVectorField(lambda t, y, p: y, 1)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        WarpVectorField(_blow_up, 0)


@pytest.mark.parametrize("make,params,match", [
    (fields.mass_spring, [2.0, -0.5], r"mass_spring: m \(params\[\.\.\., 1\]\) must be > 0, got -0.5"),
    (fields.hamiltonian_pendulum, [[0.5, 1.0, 6.0], [0.5, 0.0, 6.0]],
     r"hamiltonian_pendulum: l .* must be > 0, got 0.0"),
    (fields.two_body, [1.0, float("nan"), 1.0], r"two_body: m2 .* must be > 0, got nan"),
    (fields.double_pendulum, [1.0, 1.0, 1.0, -1.0, 9.8], r"double_pendulum: l2 .* must be > 0"),
    (fields.van_der_pol, [0.5, 2.0, 8.0], r"van_der_pol params must have shape \(\.\.\., 1\), got \(3,\)"),
])
def test_physical_field_parameters_are_checked(make, params, match):
    with pytest.raises(ValueError, match=match):
        make(params)
