"""Gradients of the discrete solvers: finite differences, gradcheck, analytic, both paths."""
import numpy as np
import pytest
import torch

from diffsim.ode import fields, odeint, warp_solver
from diffsim.ode.tableaus import DOPRI5

F64 = torch.float64
FIXED = ["euler", "midpoint", "rk4", "semi_implicit_euler", "verlet"]


def _problem():
    mus = torch.tensor([[0.7], [1.3], [2.1]], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.5, 0.0], [0.3, -0.8], [-1.0, 0.5]], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 0.4, 1.0, 1.7], dtype=F64)
    w = torch.randn(4, 3, 2, dtype=F64)
    return mus, y0, t, w


def _torch_vdp_batched(mus):
    def f(t, y):
        return torch.stack([y[..., 1], mus[:, 0] * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], -1)
    return f


def _central_fd(loss_fn, x, eps=1e-6):
    g = torch.zeros_like(x)
    flat = g.view(-1)
    for i in range(x.numel()):
        xp, xm = x.detach().clone(), x.detach().clone()
        xp.view(-1)[i] += eps
        xm.view(-1)[i] -= eps
        flat[i] = (loss_fn(xp) - loss_fn(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("path", ["warp", "torch"])
@pytest.mark.parametrize("method", FIXED)
def test_fixed_step_gradients_match_central_fd(method, path):
    mus, y0, t, w = _problem()

    def loss(y0_, mus_):
        func = fields.van_der_pol(mus_) if path == "warp" else _torch_vdp_batched(mus_)
        return (odeint(func, y0_, t, method=method, step_size=0.05) * w).sum()

    gy, gp = torch.autograd.grad(loss(y0, mus), (y0, mus))
    torch.testing.assert_close(gy, _central_fd(lambda x: loss(x, mus.detach()), y0), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(gp, _central_fd(lambda x: loss(y0.detach(), x), mus), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", FIXED)
def test_gradcheck_warp_path(method):
    mus, y0, t, _ = _problem()
    assert torch.autograd.gradcheck(
        lambda a, b: odeint(fields.van_der_pol(b), a, t, method=method, step_size=0.1), (y0, mus),
        eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("path", ["warp", "torch"])
def test_dopri5_gradient_on_frozen_grid_gradcheck(path):
    """The adaptive solver's gradient is that of the replayed grid (step sizes held constant)."""
    mus, y0, t, _ = _problem()
    field = fields.van_der_pol(mus.detach())
    kern = warp_solver.kernels_for(field, DOPRI5, F64)
    grid = warp_solver.adaptive_grid(kern, y0.detach(), mus.detach(), t.numpy(), 1e-6, 1e-8, 10_000, "cpu")
    if path == "warp":
        def run(a, b):
            return warp_solver.integrate(kern, grid, a, b, "cpu", None)
    else:
        from diffsim.ode import torch_solver

        def run(a, b):
            return torch_solver.integrate(_torch_vdp_batched(b), DOPRI5, grid, a, None)
    assert torch.autograd.gradcheck(run, (y0, mus), eps=1e-6, atol=1e-7)


def test_dopri5_gradients_match_fd_of_adaptive_solve_at_tight_tolerance():
    mus, y0, t, w = _problem()

    def loss(y0_, mus_):
        return (odeint(fields.van_der_pol(mus_), y0_, t, rtol=1e-11, atol=1e-11) * w).sum()

    gy, gp = torch.autograd.grad(loss(y0, mus), (y0, mus))
    torch.testing.assert_close(gy, _central_fd(lambda x: loss(x, mus.detach()), y0, 1e-4), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gp, _central_fd(lambda x: loss(y0.detach(), x), mus, 1e-4), rtol=1e-5, atol=1e-6)


def test_dopri5_matches_analytic_sensitivity():
    """y' = -k y: dy(T)/dk = -T y0 exp(-kT), dy(T)/dy0 = exp(-kT)."""
    k = torch.tensor([0.8], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[2.0]], dtype=F64, requires_grad=True)
    T = 3.0
    yT = odeint(fields.exponential_decay(k), y0, [0.0, T], rtol=1e-10, atol=1e-12)[-1, 0, 0]
    gk, gy = torch.autograd.grad(yT, (k, y0))
    assert abs(float(gk) - (-T * 2.0 * np.exp(-0.8 * T))) < 1e-8
    assert abs(float(gy) - np.exp(-0.8 * T)) < 1e-9


def test_shared_params_gradient_accumulates_over_batch():
    mu = torch.tensor([1.1], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    g = torch.autograd.grad(odeint(fields.van_der_pol(mu), y0, t, method="rk4", step_size=0.1)[-1].sum(), mu)[0]
    g_parts = sum(torch.autograd.grad(odeint(fields.van_der_pol(mu), y0[i], t, method="rk4",
                                             step_size=0.1)[-1].sum(), mu)[0] for i in range(2))
    torch.testing.assert_close(g, g_parts, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("path", ["warp", "torch"])
@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_checkpoint_segments_give_identical_gradients(method, path):
    mus, y0, t, w = _problem()
    func = fields.van_der_pol(mus) if path == "warp" else _torch_vdp_batched(mus)
    outs = {}
    for seg in (None, 4):
        ys = odeint(func, y0, t, method=method, step_size=0.05, checkpoint_segments=seg)
        outs[seg] = (ys.detach(), torch.autograd.grad((ys * w).sum(), (y0, mus)))
    assert torch.equal(outs[None][0], outs[4][0])
    for a, b in zip(outs[None][1], outs[4][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", FIXED + ["dopri5"])
def test_warp_and_torch_paths_give_the_same_numbers(method):
    mus, y0, t, w = _problem()
    yw, sw = odeint(fields.van_der_pol(mus), y0, t, method=method, step_size=0.05, return_stats=True)
    yt, st = odeint(_torch_vdp_batched(mus), y0, t, method=method, step_size=0.05, return_stats=True)
    # Fixed grids: the same steps, so the same numbers up to rounding. Dormand-Prince: each path
    # chooses its own steps from its error estimate, a difference of nearly equal stage sums in
    # which the two backends' last-bit differences become ~1e-7 relative; the PI controller turns
    # that into step sizes ~1e-6 apart, hence outputs ~1e-11 apart (six orders below rtol=1e-6).
    # The accept/reject decisions, and so the step counts, must still be identical.
    atol = 1e-10 if method == "dopri5" else 1e-12
    torch.testing.assert_close(yw, yt, rtol=0, atol=atol)
    assert torch.equal(sw["n_steps"], st["n_steps"]) and torch.equal(sw["n_rejected"], st["n_rejected"])
    gw = torch.autograd.grad((yw * w).sum(), (y0, mus))
    gt = torch.autograd.grad((yt * w).sum(), (y0, mus))
    for a, b in zip(gw, gt):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=atol)


def test_gradients_reach_nn_module_parameters():
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    y0 = torch.randn(5, 2, dtype=F64)
    ys = odeint(lambda t, y: net(y), y0, [0.0, 0.5, 1.0], rtol=1e-8, atol=1e-9)
    ys.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in net.parameters())


def test_fixed_step_batch_lanes_give_each_trajectory_its_own_solution_and_gradient():
    """Six trajectories with their own parameters (one full four-trajectory thread, one partial):
    each equals its solve alone, outputs and gradients."""
    gen = torch.Generator().manual_seed(3)
    mus = (0.5 + 2 * torch.rand(6, 1, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y0 = torch.randn(6, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    ys = odeint(fields.van_der_pol(mus), y0, t, method="rk4", step_size=0.01)
    g_y0, g_mu = torch.autograd.grad((ys ** 2).sum(), (y0, mus))
    for i in range(6):
        mu_i, y_i = mus[i].detach().requires_grad_(True), y0[i].detach().requires_grad_(True)
        alone = odeint(fields.van_der_pol(mu_i), y_i, t, method="rk4", step_size=0.01)
        assert torch.equal(ys[:, i].detach(), alone.detach())
        a_y0, a_mu = torch.autograd.grad((alone ** 2).sum(), (y_i, mu_i))
        torch.testing.assert_close(g_y0[i], a_y0, rtol=1e-14, atol=0)
        torch.testing.assert_close(g_mu[i], a_mu, rtol=1e-14, atol=0)


def test_steps_unrolled_per_launch_change_nothing(monkeypatch):
    """The suite compiles ODE kernels with 1 step per launch (tests/conftest.py); users get 16. Same
    outputs and initial-state gradients bit for bit, over a step count that is a multiple of neither (37
    steps); parameter gradients sum the steps' contributions in other groups, so they agree to rounding."""
    gen = torch.Generator().manual_seed(4)
    rates = (0.5 + 2 * torch.rand(5, 1, generator=gen, dtype=torch.float64)).requires_grad_(True)
    y0 = torch.randn(5, 1, generator=gen, dtype=torch.float64).requires_grad_(True)
    t = torch.linspace(0.0, 0.37, 3, dtype=torch.float64)
    results = []
    for unroll in (16, 1):
        monkeypatch.setattr(warp_solver, "STEPS_PER_LAUNCH", unroll)
        ys = odeint(fields.exponential_decay(rates), y0, t, method="rk4", step_size=0.01)
        results.append((ys.detach(), *torch.autograd.grad((ys ** 2).sum(), (y0, rates))))
    (ys16, gy16, gr16), (ys1, gy1, gr1) = results
    assert torch.equal(ys16, ys1) and torch.equal(gy16, gy1)
    torch.testing.assert_close(gr16, gr1, rtol=1e-13, atol=0)
