"""iLQR MPC: near upright it reproduces LQR (scipy's Riccati solution on the autodiff linearisation), it
balances the pendulum, and it checks its arguments."""
import math

import numpy as np
import pytest
import torch

from controllers.ilqr import ILQRMPC
from controllers.lqr import linearize, lqr_gain
from envs import make_functional


def test_first_action_near_upright_is_the_lqr_action():
    """Pendulum-v1's cost is quadratic at the top (theta^2 + 0.1 theta_dot^2 + 0.001 u^2 of the state before
    the step), so with a long horizon and a small offset iLQR's first action is the infinite-horizon LQR
    action -K x (what is left is tanh's curvature on the action box and the finite horizon)."""
    dyn = make_functional("diffsim/Pendulum-v0")
    A, B = linearize(dyn, [0.0, 0.0], [0.0])
    K = lqr_gain(A, B, np.diag([1.0, 0.1]), np.array([[0.001]]))[0]
    x = np.array([[0.02, -0.05], [-0.01, 0.08], [0.005, 0.0]])
    mpc = ILQRMPC(dyn, horizon=80, first_iterations=10)
    ours = mpc.act(torch.tensor(x))[:, 0].numpy()
    lqr = -(x @ K.T)[:, 0]
    assert np.all(np.abs(lqr) < 1.0)  # inside the box, where tanh is nearly linear
    np.testing.assert_allclose(ours, lqr, rtol=0.05, atol=0.01)


def test_balances_the_pendulum_from_off_upright():
    dyn = make_functional("diffsim/Pendulum-v0")
    start = torch.tensor([[0.4, 0.0], [-0.6, 1.0]], dtype=torch.float64)
    _, states = ILQRMPC(dyn, horizon=20, iterations=2).rollout(start, 60)
    theta = ((states[:, :, 0] + math.pi) % (2 * math.pi) - math.pi).abs()
    assert torch.all(theta[-10:] < 0.02), theta[::10]


def test_arguments():
    dyn = make_functional("diffsim/Pendulum-v0")
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        ILQRMPC(dyn, horizon=0)
    with pytest.raises(ValueError, match="reg must be > 0"):
        ILQRMPC(dyn, reg=0.0)
    with pytest.raises(ValueError, match="alphas"):
        ILQRMPC(dyn, alphas=())
    with pytest.raises(ValueError, match="gamma"):
        ILQRMPC(dyn, gamma=1.5)
    action = ILQRMPC(dyn, horizon=3, iterations=1, first_iterations=1).act(torch.zeros(4, 2, dtype=torch.float64))
    assert action.shape == (4, 1) and torch.all(action.abs() <= 2.0)
