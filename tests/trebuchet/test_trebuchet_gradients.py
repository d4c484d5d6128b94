"""Gradients of both trebuchet models vs central finite differences, and gradcheck through torch."""
import math

import pytest
import torch

from diffsim.trebuchet import LB, simulate

F64 = torch.float64
POINTS = [(0.0, 45.0, 200.0), (-3.0, 25.0, 120.0), (4.0, 60.0, 300.0), (-8.0, 35.0, 250.0)]


def _inputs(points):
    return (torch.tensor([p[0] for p in points], dtype=F64),
            torch.tensor([math.radians(p[1]) for p in points], dtype=F64),
            torch.tensor([p[2] * LB for p in points], dtype=F64))


@pytest.mark.parametrize("model", ["original", "physical"])
def test_gradients_match_central_differences(model):
    x = [t.clone().requires_grad_(True) for t in _inputs(POINTS)]
    simulate(*x, model=model).sum().backward()
    eps = (1e-6, 1e-7, 1e-6)  # m/s, rad, kg
    for k in range(3):
        plus = [t.detach().clone() for t in x]
        minus = [t.detach().clone() for t in x]
        plus[k] += eps[k]
        minus[k] -= eps[k]
        fd = (simulate(*plus, model=model) - simulate(*minus, model=model)) / (2 * eps[k])
        torch.testing.assert_close(x[k].grad, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["original", "physical"])
def test_gradcheck(model):
    x = [t.clone().requires_grad_(True) for t in _inputs(POINTS[:2])]
    assert torch.autograd.gradcheck(lambda w, a, m: simulate(w, a, m, model=model), x, eps=1e-6, atol=1e-5,
                                    rtol=1e-4)


def test_broadcast_gradients_reduce():
    wind = torch.tensor([[-2.0], [0.0], [3.0]], dtype=F64, requires_grad=True)  # (3, 1)
    angle = torch.tensor([0.5, 0.7], dtype=F64, requires_grad=True)  # (2,)
    mass = torch.tensor(90.0, dtype=F64, requires_grad=True)  # ()
    d = simulate(wind, angle, mass)
    assert d.shape == (3, 2)
    d.sum().backward()
    assert wind.grad.shape == (3, 1) and angle.grad.shape == (2,) and mass.grad.shape == ()
    d2 = simulate(wind.detach().expand(3, 2), angle.detach().expand(3, 2), mass.detach().expand(3, 2))
    torch.testing.assert_close(d.detach(), d2, rtol=0, atol=0)
