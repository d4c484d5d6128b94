"""The learned models' data sets: the papers' recipes, and physics checks of the simulators behind them."""
import math

import pytest
import torch

from controllers.dynamics.data import (
    LV_SCENARIO1,
    chain_angles,
    chain_cartesian,
    chain_pendulum_params,
    chain_pendulum_task,
    chain_perturbed,
    double_pendulum_accelerations,
    double_pendulum_energy,
    double_pendulum_test_set,
    hnn_task,
    lotka_volterra_scenario1,
)
from diffsim.ode import fields, odeint

F64 = torch.float64


def test_hnn_spring_and_pendulum_follow_the_papers_recipe():
    for name, points, lo, hi in (("spring", 30, 0.1, 1.0), ("pendulum", 45, 1.3, 2.3)):
        d = hnn_task(name, seed=0)
        assert d["x_train"].shape == (25, points, 2) and d["x_test"].shape == (25, points, 2)
        clean = torch.cat([d["clean_train"], d["clean_test"]])
        radius = clean[:, 0].norm(dim=-1)
        assert lo <= float(radius.min()) and float(radius.max()) <= hi
        q, p = clean[..., 0], clean[..., 1]
        H = q ** 2 + p ** 2 if name == "spring" else 3 * (1 - torch.cos(q)) + p ** 2  # the code's Hamiltonians
        assert float((H - H[:, :1]).abs().max()) < 1e-8  # conserved along the simulator's trajectories
        dq, dp = (2 * p, -2 * q) if name == "spring" else (2 * p, -3 * torch.sin(q))
        torch.testing.assert_close(torch.cat([d["dx_train"], d["dx_test"]]), torch.stack([dq, dp], -1))
        noise = torch.cat([d["x_train"] - d["clean_train"], d["x_test"] - d["clean_test"]])
        assert abs(float(noise.std()) - 0.1) < 0.01 and abs(float(noise.mean())) < 0.01


def test_two_body_conserves_energy_momentum_and_angular_momentum():
    field = fields.two_body()
    y0 = torch.tensor([[1.0, 0.2, -1.0, -0.2, 0.05, 0.4, -0.05, -0.4]], dtype=F64)
    ys = odeint(field, y0, torch.linspace(0, 20, 201, dtype=F64), method="rk4", step_size=0.005)[:, 0]
    q, p = ys[:, :4], ys[:, 4:]
    energy = 0.5 * p.square().sum(-1) - 1.0 / (q[:, 2:] - q[:, :2]).norm(dim=-1)
    momentum = p[:, :2] + p[:, 2:]
    angular = q[:, 0] * p[:, 1] - q[:, 1] * p[:, 0] + q[:, 2] * p[:, 3] - q[:, 3] * p[:, 2]
    for conserved in (energy, momentum, angular):
        assert float((conserved - conserved[0]).abs().max()) < 1e-8


def test_double_pendulum_conserves_energy_and_matches_small_angle_normal_modes():
    d = double_pendulum_test_set(seed=0, n=4, t_end=20.0)
    assert d["ys"].shape == (4, 201, 4)
    assert float((d["energy"] - d["energy"][:, :1]).abs().max()) < 1e-7 * 29.4
    # small oscillations of m = l = 1: normal modes at omega^2 = (2 -+ sqrt 2) g; start on the slow mode
    g = 9.8
    w = math.sqrt((2 - math.sqrt(2)) * g)
    a = 1e-4
    y0 = torch.tensor([[a, math.sqrt(2) * a, 0.0, 0.0]], dtype=F64)
    t = torch.linspace(0, 3, 31, dtype=F64)
    ys = odeint(fields.double_pendulum(), y0, t, rtol=1e-11, atol=1e-14)[:, 0]
    torch.testing.assert_close(ys[:, 0], a * torch.cos(w * t), rtol=0, atol=1e-3 * a)
    torch.testing.assert_close(ys[:, 1], math.sqrt(2) * a * torch.cos(w * t), rtol=0, atol=1e-3 * a)
    assert float(double_pendulum_energy(y0)) < -29.4 + 1e-6  # hanging straight down: the minimum, -3 g


def test_double_pendulum_closed_form_accelerations_equal_the_warp_field():
    gen = torch.Generator().manual_seed(0)
    y = torch.cat([2 * math.pi * torch.rand(64, 2, generator=gen, dtype=F64),
                   20 * torch.rand(64, 2, generator=gen, dtype=F64) - 10], -1)
    params = [1.3, 0.7, 0.9, 1.2, 9.81]
    for p in ([1.0, 1.0, 1.0, 1.0, 9.8], params):
        expected = fields.double_pendulum(p).evaluate(y)[:, 2:]
        got = double_pendulum_accelerations(y, *p)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_lotka_volterra_scenario1():
    d = lotka_volterra_scenario1(noise_level=0.0)
    assert d["clean"].shape == (1, 31, 2) and float(d["t"][-1]) == 3.0
    torch.testing.assert_close(d["clean"][0, 0], torch.tensor(LV_SCENARIO1["u0"], dtype=F64))
    x, y = d["clean"][0, :, 0], d["clean"][0, :, 1]
    c = LV_SCENARIO1  # the conserved quantity of Lotka-Volterra
    V = c["gamma"] * x - c["delta"] * torch.log(x) + c["beta"] * y - c["alpha"] * torch.log(y)
    assert float((V - V[0]).abs().max()) < 1e-9
    noisy = lotka_volterra_scenario1(noise_level=0.05, seed=1)
    rel = (noisy["noisy"] - noisy["clean"]) / noisy["clean"].mean(1, keepdim=True)
    assert 0.03 < float(rel.std()) < 0.07


def test_chain_pendulum_task_follows_the_papers_recipe():
    d = chain_pendulum_task(n_train=30, n_test=10, seed=3)
    p = d["params"]
    assert all(0.6 <= p[k] <= 1.4 for k in ("m1", "m2", "l1", "l2")) and p["g"] == 9.81
    assert d["train"].shape == (30, 5, 4) and d["test_xy"].shape == (10, 5, 8)
    torch.testing.assert_close(d["t"], 0.03 * torch.arange(5, dtype=torch.float64))
    # every chunk is a piece of the true motion, on the rods
    ys = odeint(d["field"], d["train"][:, 0], d["t"], method="dopri5", rtol=1e-11, atol=1e-12).transpose(0, 1)
    torch.testing.assert_close(ys, d["train"], rtol=0, atol=1e-8)
    xy = d["train_xy"]
    torch.testing.assert_close(xy[..., 0:2].norm(dim=-1), torch.full((30, 5), p["l1"], dtype=torch.float64))
    torch.testing.assert_close((xy[..., 2:4] - xy[..., 0:2]).norm(dim=-1), torch.full((30, 5), p["l2"],
                                                                                     dtype=torch.float64))
    back = chain_angles(xy)
    torch.testing.assert_close(chain_cartesian(back, p["l1"], p["l2"]), xy)
    torch.testing.assert_close(back[..., 2:], d["train"][..., 2:])
    with pytest.raises(ValueError, match=r"chunk must be an int in \[2, 100\]"):
        chain_pendulum_task(chunk=1)


def test_chain_perturbed_is_isotropic_cartesian_noise_on_the_tangent_space():
    """The paper's floor perturbation: 8 Cartesian coordinates nudged by eps N(0, 1), projected onto the 4 rod and
    rate constraints, leaves a Gaussian on the 4-dimensional tangent space: E |dz|^2 = 4 eps^2 (an angle-and-rate
    perturbation of the same eps gives another size)."""
    p = chain_pendulum_params()
    y = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0), dtype=F64)  # the paper's start draw
    eps = 1e-4
    moved = chain_perturbed(y, p["l1"], p["l2"], eps, torch.Generator().manual_seed(1))
    dz = chain_cartesian(moved, p["l1"], p["l2"]) - chain_cartesian(y, p["l1"], p["l2"])
    assert 0.94 < float(dz.square().sum(-1).mean()) / (4 * eps ** 2) < 1.06  # chi-square, 4 dof: sd of mean 1.6 %
    again = chain_perturbed(y, p["l1"], p["l2"], eps, torch.Generator().manual_seed(1))
    torch.testing.assert_close(again, moved, rtol=0, atol=0)
    angle_noise = y + eps * torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    dz_angles = chain_cartesian(angle_noise, p["l1"], p["l2"]) - chain_cartesian(y, p["l1"], p["l2"])
    assert float(dz_angles.square().sum(-1).mean()) / (4 * eps ** 2) > 1.5
