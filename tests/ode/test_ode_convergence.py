"""Order of convergence of every fixed-step method (float64, analytic or tight references)."""
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from diffsim.ode import fields, odeint

ORDERS = {"euler": 1, "midpoint": 2, "rk4": 4, "semi_implicit_euler": 1, "verlet": 2}
F64 = torch.float64


def _slope(hs, errs):
    return np.polyfit(np.log(hs), np.log(errs), 1)[0]


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_order_exponential_decay(method):
    rate, T = 1.3, 2.0
    field = fields.exponential_decay([rate])
    y0 = torch.tensor([[1.0]], dtype=F64)
    hs = [2.0 ** -k for k in range(3, 8)]
    errs = [abs(float(odeint(field, y0, [0.0, T], method=method, step_size=h)[-1, 0, 0]) - np.exp(-rate * T))
            for h in hs]
    assert abs(_slope(hs, errs) - ORDERS[method]) <= 0.2, errs


@pytest.mark.parametrize("method", list(ORDERS))
def test_order_harmonic_oscillator(method):
    w, T = 2.0, 3.0
    field = fields.harmonic_oscillator([w])
    y0 = torch.tensor([[1.0, 0.5]], dtype=F64)
    exact = np.array([np.cos(w * T) + 0.5 / w * np.sin(w * T), -w * np.sin(w * T) + 0.5 * np.cos(w * T)])
    hs = [2.0 ** -k for k in range(5, 10)]
    errs = [np.abs(odeint(field, y0, [0.0, T], method=method, step_size=h)[-1, 0].numpy() - exact).max() for h in hs]
    assert abs(_slope(hs, errs) - ORDERS[method]) <= 0.2, errs


@pytest.mark.parametrize("method", list(ORDERS))
def test_order_pendulum_torch_path(method):
    """Nonlinear problem, torch vector-field path, against scipy DOP853 at 1e-13."""
    T, y0 = 2.0, [1.2, 0.0]
    ref = solve_ivp(lambda t, y: [y[1], -9.81 * np.sin(y[0])], (0, T), y0, method="DOP853",
                    rtol=1e-13, atol=1e-13).y[:, -1]

    def f(t, y):
        return torch.stack([y[..., 1], -9.81 * torch.sin(y[..., 0])], -1)

    hs = [2.0 ** -k for k in range(6, 11)]
    errs = [np.abs(odeint(f, torch.tensor(y0, dtype=F64), [0.0, T], method=method, step_size=h)[-1].numpy()
                   - ref).max() for h in hs]
    assert abs(_slope(hs, errs) - ORDERS[method]) <= 0.2, errs


def test_dopri5_error_scales_with_tolerance():
    field = fields.van_der_pol([1.0])
    y0 = torch.tensor([[2.0, 0.0]], dtype=F64)
    ref = solve_ivp(lambda t, y: [y[1], (1 - y[0] ** 2) * y[1] - y[0]], (0, 5), [2.0, 0.0], method="DOP853",
                    rtol=1e-13, atol=1e-13).y[:, -1]
    errs = [np.abs(odeint(field, y0, [0.0, 5.0], rtol=tol, atol=tol)[-1, 0].numpy() - ref).max()
            for tol in (1e-5, 1e-7, 1e-9)]
    assert errs[0] > errs[1] > errs[2]
    assert _slope([1e-5, 1e-7, 1e-9], errs) > 0.7  # tolerance proportionality
