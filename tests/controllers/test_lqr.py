"""LQR from autodiff Jacobians: Jacobians vs finite differences; balancing three systems."""
import math

import numpy as np
import pytest
import torch

from controllers.lqr import (
    LQRController,
    linearize,
    linearize_fd,
    lqr_gain,
    quaternion_tangent_maps,
)
from envs.cartpole_swingup import CartPoleSwingUpDynamics
from envs.double_pendulum import DoublePendulumDynamics
from envs.quadrotor import HOVER, QuadrotorDynamics


def _simulate(dyn, ctrl, x, steps):
    xs = [x]
    for _ in range(steps):
        with torch.no_grad():
            x = dyn.transition(torch.as_tensor(x), torch.as_tensor(ctrl(x)))[0].numpy()
        xs.append(x)
    return np.stack(xs)


@pytest.mark.parametrize("dyn,x_eq,u_eq", [
    (CartPoleSwingUpDynamics(), np.zeros(4), np.zeros(1)),
    (DoublePendulumDynamics(), np.array([math.pi, 0, 0, 0]), np.zeros(2)),
], ids=["cartpole", "double_pendulum"])
def test_autodiff_jacobians_match_finite_differences(dyn, x_eq, u_eq):
    A, B = linearize(dyn, x_eq, u_eq)
    Af, Bf = linearize_fd(dyn, x_eq, u_eq)
    np.testing.assert_allclose(A, Af, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(B, Bf, rtol=1e-6, atol=1e-8)


def test_lqr_balances_linearised_and_nonlinear_cartpole():
    dyn = CartPoleSwingUpDynamics()
    ctrl = LQRController(dyn, np.zeros(4), np.zeros(1), np.diag([1.0, 10.0, 1.0, 1.0]), 0.1 * np.eye(1))
    assert ctrl.closed_loop_spectral_radius() < 1.0
    # linearised closed loop
    x = np.array([0.1, 0.2, 0.0, 0.0])
    for _ in range(2000):
        x = (ctrl.A - ctrl.B @ ctrl.K) @ x
    assert np.abs(x).max() < 1e-6
    # nonlinear cart-pole from several small perturbations
    for x0 in ([0.1, 0.2, 0.0, 0.0], [-0.2, -0.15, 0.1, 0.3], [0.0, 0.25, -0.2, 0.0]):
        xs = _simulate(dyn, ctrl, np.array([x0]), 1000)
        assert np.abs(xs[-1]).max() < 1e-3 and np.abs(xs[:, 0, 1]).max() < 0.5


def test_lqr_balances_double_pendulum_upright():
    dyn = DoublePendulumDynamics()
    x_eq = np.array([math.pi, 0.0, 0.0, 0.0])
    ctrl = LQRController(dyn, x_eq, np.zeros(2), np.diag([10.0, 10.0, 1.0, 1.0]), 0.01 * np.eye(2))
    xs = _simulate(dyn, ctrl, np.array([[math.pi + 0.05, -0.05, 0.0, 0.0]]), 500)
    assert np.abs(xs[-1, 0] - x_eq).max() < 1e-5


def test_lqr_holds_quadrotor_hover_against_a_push():
    dyn = QuadrotorDynamics()
    goal = [0.0, 0.0, 1.0]
    x_eq = np.array([0, 0, 1, 1, 0, 0, 0] + [0] * 6 + goal, dtype=np.float64)
    to_q, from_q = quaternion_tangent_maps(slice(3, 7))
    goal_t = torch.tensor(goal, dtype=torch.float64)

    def to_z(x):  # position, rotation vector, velocities: the goal is a constant, not a state to control
        return to_q(x)[:, :12]

    def from_z(z):
        return from_q(torch.cat([z, goal_t.expand(z.shape[0], 3)], dim=1))

    Q = np.diag([10.0] * 3 + [1.0] * 3 + [1.0] * 6)
    ctrl = LQRController(dyn, x_eq, np.full(4, HOVER), Q, 0.1 * np.eye(4), state_map=to_z, state_unmap=from_z)
    assert ctrl.closed_loop_spectral_radius() < 1.0
    x0 = x_eq.copy()
    x0[:3] += [0.2, -0.1, 0.1]
    x0[7:10] = [0.3, 0.0, -0.2]  # pushed
    xs = _simulate(dyn, ctrl, x0[None], 600)
    assert np.abs(xs[-1, 0, :3] - goal).max() < 1e-2


def test_gain_shape_errors():
    with pytest.raises(ValueError, match="Q must be"):
        lqr_gain(np.eye(2), np.ones((2, 1)), np.eye(3), np.eye(1))
