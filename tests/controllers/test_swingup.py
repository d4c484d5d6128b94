"""Energy swing-up + LQR catch on the rigid-body cart-pole: from hanging to balanced."""
import math

import numpy as np
import torch

from controllers.swingup import EnergySwingUp
from envs.cartpole_swingup import CartPoleSwingUpDynamics


def test_swings_up_from_hanging_and_balances():
    dyn = CartPoleSwingUpDynamics()
    ctrl = EnergySwingUp(dyn)
    x = np.array([[0.0, math.pi - 0.01, 0.0, 0.0], [0.1, math.pi + 0.05, 0.0, 0.2]])
    thetas = []
    for _ in range(1200):  # 12 s
        with torch.no_grad():
            x = dyn.transition(torch.as_tensor(x), torch.as_tensor(ctrl(x)))[0].numpy()
        thetas.append((x[:, 1] + math.pi) % (2 * math.pi) - math.pi)
    thetas = np.array(thetas)
    assert np.abs(thetas[-200:]).max() < 0.05  # upright for the last 2 s
    assert np.abs(x[:, 0]).max() < 1.0  # the cart stayed near the centre


def test_energy_is_zero_gap_at_rest_upright():
    ctrl = EnergySwingUp(CartPoleSwingUpDynamics())
    assert abs(ctrl.energy(0.0, 0.0) - ctrl.mass * ctrl.g * ctrl.lc) < 1e-12
