"""``mlp_field``: the network compiled into the Warp solver gives the torch path's solution and gradients, and
its gradients match central finite differences in float64."""
from typing import Any

import pytest
import torch
import warp as wp
from torch import nn

from diffsim.ode import odeint
from diffsim.ode.mlp_field import flatten_linears, mlp_field, parameter_count, torch_mlp

F64 = torch.float64
SIZES = (2, 4, 4, 2)


@wp.func
def _decay_known(t: Any, y: Any):
    return type(y)(type(t)(-0.5) * y[0], type(t)(-0.2) * y[1])


def _known(y):
    return torch.stack([-0.5 * y[..., 0], -0.2 * y[..., 1]], -1)


def _setup(R, shared):
    g = torch.Generator().manual_seed(0)
    P = parameter_count(SIZES)
    theta = 0.6 * torch.randn(P if shared else (R, P), generator=g, dtype=F64)
    y0 = 0.5 + torch.rand(R, 2, generator=g, dtype=F64)
    return theta, y0, torch.linspace(0, 1, 6, dtype=F64)


@pytest.mark.parametrize("shared,activation", [(True, "tanh"), (False, "gaussian")])
def test_warp_path_equals_the_torch_path(shared, activation):
    """One network for all trajectories (no known terms) and one per trajectory (plus known terms)."""
    theta, y0, t = _setup(3, shared)
    results = []
    for path in ("warp", "torch"):
        th, y = theta.clone().requires_grad_(True), y0.clone().requires_grad_(True)
        if path == "warp":
            f = mlp_field(SIZES, activation, known=None if shared else _decay_known, params=th)
        elif shared:
            f = lambda _, z: torch_mlp(th, z, SIZES, activation)  # noqa: E731
        else:
            f = lambda _, z: _known(z) + torch_mlp(th, z.unsqueeze(1), SIZES, activation).squeeze(1)  # noqa: E731
        ys = odeint(f, y, t, method="rk4", step_size=0.05)
        loss = (ys * torch.linspace(1, 2, 6, dtype=F64)[:, None, None]).square().sum()
        results.append((ys.detach(), *torch.autograd.grad(loss, (th, y))))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradient_matches_central_differences():
    theta, y0, t = _setup(2, shared=False)
    th = theta.clone().requires_grad_(True)

    def loss(p):
        field = mlp_field(SIZES, "gaussian", known=_decay_known, params=p)  # the kernels compiled above
        return odeint(field, y0, t, method="rk4", step_size=0.05)[-1].square().sum()

    (grad,) = torch.autograd.grad(loss(th), th)
    eps = 1e-6
    for r, i in [(0, 0), (0, 9), (1, 17), (1, parameter_count(SIZES) - 1)]:
        plus, minus = theta.clone(), theta.clone()
        plus[r, i] += eps
        minus[r, i] -= eps
        fd = (loss(plus) - loss(minus)) / (2 * eps)
        assert abs(float(grad[r, i]) - float(fd)) <= 1e-7 * max(1.0, abs(float(fd)))


def test_flatten_linears_matches_the_torch_modules():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    y = torch.randn(5, 2, dtype=F64)
    theta = flatten_linears([m for m in net if isinstance(m, nn.Linear)])
    assert theta.shape == (parameter_count(SIZES),)
    torch.testing.assert_close(torch_mlp(theta, y, SIZES, "tanh"), net(y), rtol=1e-14, atol=1e-14)
    stacked = [(torch.stack([m.weight, 2 * m.weight]), torch.stack([m.bias, m.bias])) for m in net
               if isinstance(m, nn.Linear)]
    assert torch.equal(flatten_linears(stacked)[0], theta)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="start and end with the state width"):
        mlp_field((2, 4, 3))
    with pytest.raises(ValueError, match="sizes must list"):
        mlp_field((2,))
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp_field(SIZES, "relu")
    with pytest.raises(ValueError, match=r"params must have shape \(\.\.\., 42\)"):
        mlp_field(SIZES, params=torch.zeros(41, dtype=F64))
    with pytest.raises(TypeError, match="known must be"):
        mlp_field(SIZES, known=_known)


def test_gradcheck_through_the_solver():
    """torch.autograd.gradcheck of the Warp-adjoint gradient to the per-trajectory parameters and the start."""
    theta, y0, t = _setup(2, shared=False)

    def solve(th, y):
        return odeint(mlp_field(SIZES, "gaussian", known=_decay_known, params=th), y, t, method="rk4",
                      step_size=0.05)[-1]

    assert torch.autograd.gradcheck(solve, (theta.clone().requires_grad_(True), y0.clone().requires_grad_(True)),
                                    eps=1e-6, atol=1e-7, rtol=1e-6)
