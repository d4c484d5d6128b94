"""The hybrid predictor: the bare simulator at initialisation, gradients through the simulator into the force
network (central differences, float64), and a short fit that learns part of a remembered friction."""
import pytest
import torch

from controllers.predictors import fit, windows
from controllers.predictors.data import free_pendulum, memory_friction_pendulum
from controllers.predictors.fit import _loss
from controllers.predictors.hybrid import HybridModel


def test_untrained_hybrid_is_the_bare_simulator():
    dyn = free_pendulum()
    states, u = memory_friction_pendulum(3, 12, seed=0, coef=0.0)
    past, future, exog = windows(states, 4, 6, u)
    model = HybridModel(dyn, window=4, embed=8)
    pred, attention = model(past, 6, exog)
    torch.testing.assert_close(pred, future, rtol=1e-12, atol=1e-12)
    assert attention["memory"].shape == (past.shape[0], 6, 4)
    torch.testing.assert_close(attention["memory"].sum(-1), torch.ones(past.shape[0], 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="history must hold at least window = 4 steps"):
        model(past[:, :3], 6, exog[:, 1:])


def test_gradient_through_the_simulator_matches_finite_differences():
    """d(loss)/d(force parameters) by back-propagation through every Warp step against central differences."""
    torch.manual_seed(0)
    states, u = memory_friction_pendulum(2, 8, seed=1)
    past, future, exog = windows(states, 3, 3, u, stride=3)
    model = HybridModel(free_pendulum(), window=3, embed=4)
    model.set_scale(past, exog)
    with torch.no_grad():
        for p in model.force.parameters():
            p.add_(0.3 * torch.randn_like(p))
    params = [model.force.out.weight, model.force.key[0].weight]
    loss = _loss(model, past, future, exog)
    grads = torch.autograd.grad(loss, params)
    assert all(float(g.abs().max()) > 0 for g in grads)
    for p, g in zip(params, grads):
        for idx in [(0, 0), (0, 1), (p.shape[0] - 1, p.shape[1] - 1)]:
            h = 1e-6
            with torch.no_grad():
                p[idx] += h
                up = float(_loss(model, past, future, exog))
                p[idx] -= 2 * h
                down = float(_loss(model, past, future, exog))
                p[idx] += h
            fd = (up - down) / (2 * h)
            assert abs(fd - float(g[idx])) <= 1e-6 + 1e-5 * abs(fd), (idx, fd, float(g[idx]))


def test_short_fit_learns_part_of_the_remembered_friction():
    states, u = memory_friction_pendulum(8, 60, seed=2)
    past, future, exog = windows(states, 8, 5, u, stride=2)
    torch.manual_seed(0)
    model = HybridModel(free_pendulum(), window=8, embed=16)
    model.set_scale(past, exog)
    with torch.no_grad():
        before = float(_loss(model, past, future, exog))
    fit(model, past, future, exog, steps=60, lr=3e-3, batch_size=64, progress=False)
    with torch.no_grad():
        after = float(_loss(model, past, future, exog))
    assert after < 0.3 * before, (after, before)
