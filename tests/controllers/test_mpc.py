"""Gradient-shooting MPC: swings the pendulum up from hanging with no training; argument checks."""
import math

import pytest
import torch

from controllers.mpc import ShootingMPC
from envs import make_functional


def _wrapped(theta):
    return ((theta + math.pi) % (2 * math.pi) - math.pi).abs()


def test_mpc_swings_the_pendulum_up_from_hanging_and_holds_it():
    """From hanging still (theta = pi), upright (|theta| < 0.3 rad) by 90 steps (4.5 s) and held there to 120,
    in two worlds at once (exactly hanging, and slightly off)."""
    dyn = make_functional("diffsim/Pendulum-v0")
    mpc = ShootingMPC(dyn, horizon=20, iterations=10, lr=0.5)
    start = torch.tensor([[math.pi, 0.0], [math.pi - 0.2, 0.0]], dtype=torch.float64)
    returns, states = mpc.rollout(start, 120)
    theta = _wrapped(states[:, :, 0])
    assert torch.all(theta[90:] < 0.3), theta[::10]
    assert torch.all(theta[:20] > 1.5)  # it had to pump energy first (cannot lift straight up: |u| <= 2 N m)
    assert torch.all(returns > -500), returns


def test_mpc_arguments():
    dyn = make_functional("diffsim/Pendulum-v0")
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        ShootingMPC(dyn, horizon=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        ShootingMPC(dyn, lr=0.0)
    action = ShootingMPC(dyn, horizon=3, iterations=2, restarts=3).act(torch.zeros(4, 2, dtype=torch.float64))
    assert action.shape == (4, 1) and torch.all(action.abs() <= 2.0)
